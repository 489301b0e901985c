import { Redis } from "ioredis";
import { expect, test } from "vitest";
import { announceEnded, appendEvent, compareIds, parseLastEventId, readEvents, RUN_EVENTS_TTL_SECONDS } from "../../lib/runs/events.ts";
import { REDIS_TEST_URL, testRedis } from "./support/namespaces.ts";

test("a reader that reconnects with the last id it saw gets every later event exactly once", async () => {
  await using r = await testRedis();
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push(await appendEvent(r.redis, r.keys, "run-1", { type: "log", stream: "stdout", text: `line ${i}` }));
  const first = await readEvents(r.redis, r.keys, "run-1", "0");
  expect(first.map((e) => e.id)).toEqual(ids);
  const resumed = await readEvents(r.redis, r.keys, "run-1", ids[2]);
  expect(resumed.map((e) => (e.event.type === "log" ? e.event.text : ""))).toEqual(["line 3", "line 4"]);
  expect(await r.redis.ttl(r.keys.runEvents("run-1"))).toBeGreaterThan(RUN_EVENTS_TTL_SECONDS - 5);
});

test("a blocked reader wakes up when the runner appends", async () => {
  await using r = await testRedis();
  const reader = new Redis(REDIS_TEST_URL); // XREAD BLOCK holds its connection
  const waiting = readEvents(reader, r.keys, "run-2", "0", 5000);
  await new Promise((res) => setTimeout(res, 100));
  await appendEvent(r.redis, r.keys, "run-2", { type: "end", status: "pass", seed: 42, ms: 120 });
  const [got] = await waiting;
  expect(got?.event).toEqual({ type: "end", status: "pass", seed: 42, ms: 120 });
  reader.disconnect();
});

test("a forged Last-Event-ID reads from the start instead of failing", () => {
  expect(parseLastEventId("1700000000000-0")).toBe("1700000000000-0");
  expect(parseLastEventId("$")).toBe("0");
  expect(parseLastEventId("0-0; FLUSHALL")).toBe("0");
  expect(parseLastEventId(null)).toBe("0");
});

test("a Last-Event-ID is checked as Redis checks stream ids: both parts unsigned 64-bit", async () => {
  await using r = await testRedis();
  // 20 digits pass a length check but overflow 2^64-1, which XREAD refuses ("Invalid stream ID").
  expect(parseLastEventId("99999999999999999999-0")).toBe("0");
  expect(parseLastEventId("1-99999999999999999999")).toBe("0");
  const max = "18446744073709551615-18446744073709551615";
  expect(parseLastEventId(max)).toBe(max);
  expect(parseLastEventId("0001700000000000-007")).toBe("1700000000000-7");
  // Whatever parseLastEventId lets through, Redis reads without an error.
  for (const id of [max, parseLastEventId("99999999999999999999-0"), "1700000000000-7"])
    await expect(readEvents(r.redis, r.keys, "run-3", id)).resolves.toEqual([]);
  expect(compareIds("1700000000000-10", "1700000000000-9")).toBeGreaterThan(0);
  expect(compareIds("0", "0-1")).toBeLessThan(0);
  expect(compareIds(max, "1-0")).toBeGreaterThan(0);
});

test("a stored run whose runner died before announcing it gets its final event once, from the row", async () => {
  await using r = await testRedis();
  await appendEvent(r.redis, r.keys, "run-3", { type: "check-start", id: "a", title: "A" });
  const row = { status: "pass" as const, seed: 7, message: "All 4 checks passed.", durationMs: 1500 };
  expect(await announceEnded(r.redis, r.keys, "run-3", row)).toBe(true);
  expect(await announceEnded(r.redis, r.keys, "run-3", row)).toBe(false); // already ends: nothing twice
  const events = (await readEvents(r.redis, r.keys, "run-3")).map((e) => e.event);
  expect(events.filter((e) => e.type === "end")).toEqual([{ type: "end", status: "pass", seed: 7, message: "All 4 checks passed.", ms: 1500 }]);
  expect(await announceEnded(r.redis, r.keys, "run-4", { ...row, status: "running" })).toBe(false); // still live: the runner will end it
});
