/**
 * The grader's own view of a run's Redis (lib/grader/redis-view.ts), against a real redis-server:
 * values found whatever the key names, types and encodings, member counts, and ignored keys.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import type { Redis } from "ioredis";
import { startPrivateRedis, type PrivateRedis } from "../../lib/runner/private-redis.ts";
import { viewRedis } from "../../lib/grader/redis-view.ts";

// A private redis-server of its own: the view scans the whole keyspace, so never a shared one.
let server: PrivateRedis;
let redis: Redis;
beforeAll(async () => {
  server = await startPrivateRedis();
  redis = server.adminClient();
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

test("finds values wherever a learner keeps them, counts members by type, and skips ignored keys", async () => {
  await redis.flushall();
  // A hash past the compact encoding: HSCAN then answers in pages, which the view must follow.
  const big = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`field-${i}`, `value-${i}`]));
  await redis.hset("jobs/body", big);
  await redis.zadd("jobs/order", 1, "seq-1", 2, "seq-2");
  await redis.set("blob", `prefix {"id":"task-in-a-string"} suffix`);
  await redis.rpush("log", "task-in-a-list");
  await redis.xadd("events", "*", "task", "task-in-a-stream");
  await redis.sadd("members", "task-in-a-set");
  await redis.rpush("effects:done", "task-only-in-effects");
  await redis.set("task-in-a-key-name", "1");

  const wanted = [
    "value-2999",
    "seq-2",
    "task-in-a-string",
    "task-in-a-list",
    "task-in-a-stream",
    "task-in-a-set",
    "task-in-a-key-name",
    "task-only-in-effects",
    "never-stored",
  ];
  const all = await viewRedis(redis, wanted);
  expect(all.missing).toEqual(["never-stored"]);
  expect(all.sizes).toEqual({ hash: 3000, zset: 2, string: 2, list: 2, stream: 1, set: 1 });

  const learnerOnly = await viewRedis(redis, wanted, { ignore: ["effects:*"] });
  expect(learnerOnly.missing).toEqual(["task-only-in-effects", "never-stored"]);
  expect(learnerOnly.sizes.list).toBe(1);
  expect((await viewRedis(redis, ["seq-1"], { ignore: ["jobs/order"] })).missing).toEqual(["seq-1"]);
});
