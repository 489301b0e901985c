import { expect, test } from "vitest";
import { decoyHash, hashPassword, passwordProblem, verifyPassword } from "./password.ts";

test("a hashed password verifies and a different one does not", async () => {
  const hashed = await hashPassword("correct horse battery");
  expect(hashed).toMatch(/^\$argon2id\$/);
  expect(await verifyPassword(hashed, "correct horse battery")).toBe(true);
  expect(await verifyPassword(hashed, "correct horse battery!")).toBe(false);
});

test("a malformed stored hash fails verification instead of throwing", async () => {
  expect(await verifyPassword("not-a-hash", "anything")).toBe(false);
  expect(await verifyPassword(await decoyHash(), "anything")).toBe(false);
});

test.each([
  ["short", "Use at least 10 characters"],
  ["password123", "most common"],
  ["Password123!", "most common"],
  ["aaaaaaaaaaaa", "more variety"],
  ["ada.lovelace-2024", "email address"],
  ["x".repeat(201), "at most 200"],
])("weak password %s is refused with a reason", (password, reason) => {
  expect(passwordProblem(password, "ada.lovelace@example.org")).toContain(reason);
});

test("a long unusual password is accepted", () => {
  expect(passwordProblem("tidal-ember-47-quartz", "ada@example.org")).toBeNull();
});
