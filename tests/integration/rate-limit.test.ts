import { expect, test } from "vitest";
import { hit } from "../../lib/redis/rate-limit.ts";
import { testRedis } from "./support/namespaces.ts";

test("concurrent hits from several clients are each counted exactly once", async () => {
  await using r = await testRedis();
  const limit = { bucket: "burst", max: 25, windowMs: 60_000 };
  const results = await Promise.all(Array.from({ length: 60 }, () => hit(r.redis, r.keys, limit, "10.9.0.1")));
  expect(results.filter((x) => x.allowed)).toHaveLength(25);
  expect(Number(await r.redis.get(r.keys.rateLimit("burst", "10.9.0.1")))).toBe(60);
});

test("a window resets after it expires", async () => {
  await using r = await testRedis();
  const limit = { bucket: "short", max: 1, windowMs: 200 };
  expect((await hit(r.redis, r.keys, limit, "s")).allowed).toBe(true);
  expect((await hit(r.redis, r.keys, limit, "s")).allowed).toBe(false);
  await new Promise((res) => setTimeout(res, 300));
  expect((await hit(r.redis, r.keys, limit, "s")).allowed).toBe(true);
});
