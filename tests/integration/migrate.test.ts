import { cpSync, mkdtempSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { migrate } from "../../lib/db/migrate.ts";
import { providers, testDatabase } from "./support/namespaces.ts";

const realMigrations = path.resolve(import.meta.dirname, "../../prisma/migrations");

function copyOfMigrations(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "fl-migrations-"));
  cpSync(realMigrations, dir, { recursive: true });
  return dir;
}

describe.each(providers)("migrations on %s", (provider) => {
  test("a fresh database gets every migration once, and a second run changes nothing", async () => {
    await using t = await testDatabase(provider, { migrated: false });
    const first = await migrate(t.url);
    expect(first.applied).toContain("0001_init");
    const second = await migrate(t.url);
    expect(second.applied).toEqual([]);
    expect(second.alreadyApplied).toBe(first.applied.length);
    expect(await t.db.user.count()).toBe(0);
  });

  test("processes starting together apply each migration exactly once", async () => {
    await using t = await testDatabase(provider, { migrated: false });
    const results = await Promise.all([migrate(t.url), migrate(t.url), migrate(t.url)]);
    expect(results.flatMap((r) => r.applied).filter((n) => n === "0001_init")).toHaveLength(1);
  });

  test("an applied migration that was edited afterwards stops start-up with the fix", async () => {
    await using t = await testDatabase(provider, { migrated: false });
    const dir = copyOfMigrations();
    await migrate(t.url, dir);
    writeFileSync(path.join(dir, provider, "0001_init", "migration.sql"), "-- edited\n", { flag: "a" });
    await expect(migrate(t.url, dir)).rejects.toThrow(/0001_init was changed after it was applied.*db:diff/s);
  });

  test("a new migration is applied on the next start", async () => {
    await using t = await testDatabase(provider, { migrated: false });
    const dir = copyOfMigrations();
    await migrate(t.url, dir);
    mkdirSync(path.join(dir, provider, "0099_extra"));
    writeFileSync(path.join(dir, provider, "0099_extra", "migration.sql"), `CREATE TABLE "Extra" ("id" TEXT PRIMARY KEY);`);
    expect((await migrate(t.url, dir)).applied).toEqual(["0099_extra"]);
    // and the old code, which lacks that migration, refuses to run against the newer database
    await expect(migrate(t.url)).rejects.toThrow(/0099_extra, which this version of Faultline does not know/);
  });
});
