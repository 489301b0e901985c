import { expect, test } from "vitest";
import { safeCallback } from "./callback.ts";

test("same-site paths are kept and anything else goes home", () => {
  expect(safeCallback("/admin?tab=users")).toBe("/admin?tab=users");
  expect(safeCallback("https://evil.example")).toBe("/");
  expect(safeCallback("//evil.example")).toBe("/");
  expect(safeCallback("/\\evil.example")).toBe("/");
  expect(safeCallback(undefined)).toBe("/");
});
