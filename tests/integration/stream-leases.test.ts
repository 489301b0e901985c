/**
 * Caps on open run streams, counted in the platform Redis so every web replica enforces the same
 * count: per run and per user, freed on close, and freed by expiry when a web process dies.
 */
import { expect, test } from "vitest";
import { acquireStreamLease, StreamLimitError } from "../../lib/runs/stream-leases.ts";
import { testRedis } from "./support/namespaces.ts";

const caps = { perUser: 10, perRun: 5 };
const tick = (ms: number) => new Promise((res) => setTimeout(res, ms));

test("a run takes streams up to its cap; the next is refused with what to do, and closing one frees a slot", async () => {
  await using r = await testRedis();
  const leases = [];
  for (let i = 0; i < 5; i++) leases.push(await acquireStreamLease(r.redis, r.keys, "u1", "run-a", caps));
  const refused = await acquireStreamLease(r.redis, r.keys, "u1", "run-a", caps).catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(StreamLimitError);
  expect(refused).toMatchObject({ status: 429, scope: "run" });
  expect((refused as Error).message).toMatch(/already open live in 5 tabs.*Close the other tabs/);
  await leases[0]!.release();
  await leases[0]!.release(); // twice is harmless: it frees one slot, not two
  leases[0] = await acquireStreamLease(r.redis, r.keys, "u1", "run-a", caps);
  await expect(acquireStreamLease(r.redis, r.keys, "u1", "run-a", caps)).rejects.toThrow(StreamLimitError);
});

test("one user's streams are capped over all runs", async () => {
  await using r = await testRedis();
  for (const run of ["r1", "r2"]) for (let i = 0; i < 5; i++) await acquireStreamLease(r.redis, r.keys, "u2", run, caps);
  await expect(acquireStreamLease(r.redis, r.keys, "u2", "r3", caps)).rejects.toMatchObject({
    scope: "user",
    message: expect.stringMatching(/10 live run views open.*Close Faultline tabs/),
  });
  // Another user is not affected.
  await acquireStreamLease(r.redis, r.keys, "u3", "r3", caps);
});

test("concurrent opens from several replicas never exceed the cap", async () => {
  await using r = await testRedis();
  const results = await Promise.allSettled(Array.from({ length: 40 }, () => acquireStreamLease(r.redis, r.keys, "u4", "run-b", caps)));
  expect(results.filter((x) => x.status === "fulfilled")).toHaveLength(5);
  expect(await r.redis.zcard(r.keys.streamLeases("run", "run-b"))).toBe(5);
});

test("a web process that dies without closing its streams frees their slots when the leases expire; a refreshed lease stays", async () => {
  await using r = await testRedis();
  const kept = await acquireStreamLease(r.redis, r.keys, "u5", "run-c", { perUser: 2, perRun: 2 }, 400);
  await acquireStreamLease(r.redis, r.keys, "u5", "run-c", { perUser: 2, perRun: 2 }, 400); // never released: its process "died"
  await expect(acquireStreamLease(r.redis, r.keys, "u5", "run-c", { perUser: 2, perRun: 2 }, 400)).rejects.toThrow(StreamLimitError);
  for (let i = 0; i < 3; i++) {
    await tick(200);
    await kept.refresh();
  }
  await acquireStreamLease(r.redis, r.keys, "u5", "run-c", { perUser: 2, perRun: 2 }, 400);
  await expect(acquireStreamLease(r.redis, r.keys, "u5", "run-c", { perUser: 2, perRun: 2 }, 400)).rejects.toThrow(StreamLimitError);
  // The sets themselves expire with the last lease, so nothing is left behind.
  expect(await r.redis.pttl(r.keys.streamLeases("run", "run-c"))).toBeLessThanOrEqual(400);
});
