import { expect, test } from "vitest";
import { hasRole } from "./roles.ts";

test("roles are ordered learner < instructor < admin", () => {
  expect(hasRole("admin", "instructor")).toBe(true);
  expect(hasRole("instructor", "instructor")).toBe(true);
  expect(hasRole("learner", "instructor")).toBe(false);
  expect(hasRole("instructor", "admin")).toBe(false);
});
