import { Redis } from "ioredis";
import { describe, expect, test } from "vitest";
import { readiness } from "../../lib/health.ts";
import { beat } from "../../lib/runner/heartbeat.ts";
import { providers, testDatabase, testRedis } from "./support/namespaces.ts";

describe.each(providers)("readiness on %s", (provider) => {
  test("ready when the database and Redis answer, listing live runners", async () => {
    await using t = await testDatabase(provider);
    await using r = await testRedis();
    const none = await readiness(t.db, r.redis, r.keys);
    expect(none).toMatchObject({ ready: true, checks: { database: "ok", redis: "ok" }, runners: { count: 0, tiers: {} } });
    expect(none.warning).toMatch(/No runner is connected/);
    await beat(r.redis, r.keys, { id: "r1", host: "h", pid: 1, startedAt: new Date().toISOString(), concurrency: 2, sandbox: "none" });
    const one = await readiness(t.db, r.redis, r.keys);
    expect(one.runners).toEqual({ count: 1, tiers: { none: 1 } });
    expect(one.warning).toBeUndefined();
    // Which host and process a runner is, only when asked for details (an operator).
    expect(JSON.stringify(one)).not.toMatch(/"r1"|"host"|"pid"/);
    const details = await readiness(t.db, r.redis, r.keys, { details: true });
    expect(details.fleet).toEqual([expect.objectContaining({ id: "r1", host: "h", pid: 1, sandbox: "none" })]);
  });

  test("not ready, with the reason, when Redis is unreachable", async () => {
    await using t = await testDatabase(provider);
    await using r = await testRedis();
    const dead = new Redis("redis://127.0.0.1:1", { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    dead.on("error", () => {});
    const result = await readiness(t.db, dead, r.keys);
    expect(result.ready).toBe(false);
    expect(result.checks.database).toBe("ok");
    expect(result.checks.redis).toMatch(/^error: /);
    dead.disconnect();
  });
});

test("not ready, with the reason, when the database is unreachable", async () => {
  await using r = await testRedis();
  const { createDb } = await import("../../lib/db/client.ts");
  const db = createDb("postgresql://postgres@127.0.0.1:1/nowhere");
  const result = await readiness(db, r.redis, r.keys);
  expect(result.ready).toBe(false);
  expect(result.checks.database).toMatch(/^error: /);
  expect(result.checks.redis).toBe("ok");
  await db.$disconnect();
});
