import { readFileSync } from "node:fs";
import path from "node:path";
import { expect, test } from "vitest";

const prisma = path.resolve(import.meta.dirname, "../../prisma");

test("every model change has a migration for both databases", () => {
  const models = readFileSync(path.join(prisma, "models.prisma"), "utf8");
  const snapshot = readFileSync(path.join(prisma, "migrations/models.snapshot.prisma"), "utf8");
  // If this fails: run `npm run db:diff <name>` and commit the migrations it writes.
  expect(models === snapshot, "prisma/models.prisma changed since the last migration; run `npm run db:diff <name>`").toBe(true);
});
