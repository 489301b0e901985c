import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { expect, test, vi } from "vitest";
import { EventHub } from "../../lib/runs/event-hub.ts";
import { appendEvent, finalEvent, type RunEvent } from "../../lib/runs/events.ts";
import { eventStream, type EventStreamOptions } from "../../lib/runs/sse.ts";
import { REDIS_TEST_URL, testRedis, type TestRedis } from "./support/namespaces.ts";

interface Frame {
  id?: string;
  event?: string;
  data?: unknown;
  comment?: string;
}

function parse(block: string): Frame {
  const frame: Frame = {};
  for (const line of block.split("\n")) {
    const [, field, value = ""] = /^([^:]*):? ?(.*)$/.exec(line) ?? [];
    if (field === "") frame.comment = value;
    else if (field === "id") frame.id = value;
    else if (field === "event") frame.event = value;
    else if (field === "data") frame.data = JSON.parse(value);
  }
  return frame;
}

/** Reads SSE frames one at a time, as a browser would. */
function frames(stream: ReadableStream<Uint8Array>) {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  return {
    async next(): Promise<Frame | null> {
      while (!buffer.includes("\n\n")) {
        const { done, value } = await reader.read();
        if (done) return null;
        buffer += decoder.decode(value, { stream: true });
      }
      const end = buffer.indexOf("\n\n");
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      return parse(block);
    },
    async rest(): Promise<Frame[]> {
      const out: Frame[] = [];
      for (let f = await this.next(); f; f = await this.next()) out.push(f);
      return out;
    },
  };
}

const noFinal = async (): Promise<RunEvent | null> => null;
const end: RunEvent = { type: "end", status: "pass", seed: 7, ms: 120 };
const tick = (ms = 100) => new Promise((res) => setTimeout(res, ms));

/**
 * A web process's stream plumbing on the test namespace: a shared client named so its
 * connections can be found in CLIENT LIST, and one hub over it.
 */
function web(r: TestRedis, blockMs = 500) {
  const name = `fl-test-web-${randomBytes(4).toString("hex")}`;
  const shared = new Redis(REDIS_TEST_URL, { maxRetriesPerRequest: 1, connectionName: name });
  const hub = new EventHub(shared, { blockMs });
  const open = (runId: string, afterId = "0", signal = new AbortController().signal, finalFromDb = noFinal, options: EventStreamOptions = {}) =>
    eventStream({ redis: shared, keys: r.keys, hub }, runId, afterId, signal, finalFromDb, { blockMs, ...options });
  /** This web's connections to Redis, as the server counts them. */
  const connections = async () => ((await r.redis.client("LIST")) as string).split("\n").filter((line) => line.includes(` name=${name}`)).length;
  return {
    hub,
    open,
    connections,
    [Symbol.dispose]() {
      hub.close();
      shared.disconnect();
    },
  };
}

test("events from before and after connecting arrive in order with their ids, and the stream closes after end", async () => {
  await using r = await testRedis();
  using w = web(r);
  const ids = [await appendEvent(r.redis, r.keys, "run-1", { type: "queued" })];
  const sse = frames(w.open("run-1"));
  expect(await sse.next()).toEqual({ id: ids[0], event: "queued", data: { type: "queued" } });
  await tick();
  ids.push(await appendEvent(r.redis, r.keys, "run-1", { type: "check-start", id: "no-shared-task", title: "consumers never share a task" }));
  ids.push(await appendEvent(r.redis, r.keys, "run-1", end));
  ids.push(await appendEvent(r.redis, r.keys, "run-1", { type: "log", stream: "stdout", text: "after the end" }));
  const rest = await sse.rest();
  expect(rest.map((f) => [f.id, f.event])).toEqual([
    [ids[1], "check-start"],
    [ids[2], "end"],
  ]);
  expect(rest[1]?.data).toEqual(end);
  expect(w.hub.watching).toEqual({ streams: 0, waiters: 0 });
});

test("resuming from an id skips the events before it; resuming at the end gets the final event again and closes", async () => {
  await using r = await testRedis();
  using w = web(r);
  const ids = [];
  for (let i = 0; i < 4; i++) ids.push(await appendEvent(r.redis, r.keys, "run-2", { type: "log", stream: "stdout", text: `line ${i}` }));
  ids.push(await appendEvent(r.redis, r.keys, "run-2", { type: "cancelled", message: "Cancelled: you started a newer run." }));
  const resumed = await frames(w.open("run-2", ids[1]!)).rest();
  expect(resumed.map((f) => f.id)).toEqual(ids.slice(2));
  expect(resumed.at(-1)?.event).toBe("cancelled");
  // The browser's EventSource treats a final event repeating its last id as the end, and stops.
  expect((await frames(w.open("run-2", ids[4]!)).rest()).map((f) => [f.id, f.event])).toEqual([[ids[4], "cancelled"]]);
});

test("a Last-Event-ID past the end of a finished run gets the final event and closes, instead of waiting forever", async () => {
  await using r = await testRedis();
  using w = web(r);
  await appendEvent(r.redis, r.keys, "run-7", { type: "queued" });
  const endId = await appendEvent(r.redis, r.keys, "run-7", end);
  const got = await frames(w.open("run-7", "18446744073709551615-18446744073709551615")).rest();
  expect(got).toEqual([{ id: endId, event: "end", data: end }]);
});

test("a Last-Event-ID past the end of a live run waits for the run's next events, and ends with its final one", async () => {
  await using r = await testRedis();
  using w = web(r);
  await appendEvent(r.redis, r.keys, "run-8", { type: "queued" });
  const sse = frames(w.open("run-8", "18446744073709551615-0"));
  await tick();
  const next = await appendEvent(r.redis, r.keys, "run-8", { type: "started" });
  const last = await appendEvent(r.redis, r.keys, "run-8", end);
  expect((await sse.rest()).map((f) => f.id)).toEqual([next, last]);
});

test("a client that goes away closes the stream and leaves the shared reader", async () => {
  await using r = await testRedis();
  using w = web(r);
  await appendEvent(r.redis, r.keys, "run-3", { type: "queued" });
  const abort = new AbortController();
  const sse = frames(w.open("run-3", "0", abort.signal));
  expect((await sse.next())?.event).toBe("queued");
  await tick(); // now waiting in the hub
  expect(w.hub.watching).toEqual({ streams: 1, waiters: 1 });
  abort.abort();
  expect(await sse.next()).toBeNull();
  expect(w.hub.watching).toEqual({ streams: 0, waiters: 0 });
});

test("a quiet stream sends keepalive comments, each refreshing its lease", async () => {
  await using r = await testRedis();
  using w = web(r);
  await appendEvent(r.redis, r.keys, "run-4", { type: "queued" });
  const abort = new AbortController();
  const onKeepalive = vi.fn();
  const sse = frames(w.open("run-4", "0", abort.signal, noFinal, { keepaliveMs: 100, onKeepalive }));
  expect((await sse.next())?.event).toBe("queued");
  expect(await sse.next()).toEqual({ comment: "keepalive" });
  expect(onKeepalive).toHaveBeenCalled();
  abort.abort();
});

test("a finished run whose stream expired gets its final event from the database", async () => {
  await using r = await testRedis();
  using w = web(r);
  const finished = finalEvent({
    id: "run-5",
    userId: "u-1",
    lab: "pq",
    mode: "check",
    status: "fail",
    seed: 4127,
    message: null,
    durationMs: 213,
    createdAt: new Date(),
    finishedAt: new Date(),
    checks: [],
  });
  expect(finished).toEqual({ type: "end", status: "fail", seed: 4127, ms: 213 });
  const got = await frames(w.open("run-5", "0", new AbortController().signal, async () => finished)).rest();
  expect(got).toEqual([{ event: "end", data: finished }]); // no id: a reconnect asks again
  // The same for a cursor the expired stream once handed out.
  expect(await frames(w.open("run-5", "1700000000000-3", new AbortController().signal, async () => finished)).rest()).toEqual([
    { event: "end", data: finished },
  ]);
  expect(
    finalEvent({
      id: "run-6",
      userId: "u-1",
      lab: "pq",
      mode: "run",
      status: "running",
      seed: null,
      message: null,
      durationMs: null,
      createdAt: new Date(),
      finishedAt: null,
      checks: [],
    }),
  ).toBeNull();
});

test("a run whose row ended while its stream never got the end event still ends, from the row", async () => {
  await using r = await testRedis();
  using w = web(r, 100);
  await appendEvent(r.redis, r.keys, "run-9", { type: "queued" });
  let row: RunEvent | null = null;
  const sse = frames(w.open("run-9", "0", new AbortController().signal, async () => row, { rowCheckMs: 300 }));
  expect((await sse.next())?.event).toBe("queued");
  row = { type: "end", status: "error", seed: 0, ms: 0, message: "The runner stopped." };
  expect(await sse.rest()).toEqual([{ event: "end", data: row }]);
});

test("300 streams on one run share one blocking connection, and every stream gets every event", async () => {
  await using r = await testRedis();
  using w = web(r, 2000);
  await appendEvent(r.redis, r.keys, "run-10", { type: "queued" });
  const streams = Array.from({ length: 300 }, () => frames(w.open("run-10")));
  for (const s of streams) expect((await s.next())?.event).toBe("queued");
  await vi.waitFor(() => expect(w.hub.watching).toEqual({ streams: 1, waiters: 300 }));
  // The shared client and the hub's one blocking reader (named once it has connected), however many streams.
  await vi.waitFor(async () => expect(await w.connections()).toBe(2));
  await appendEvent(r.redis, r.keys, "run-10", { type: "started" });
  await appendEvent(r.redis, r.keys, "run-10", end);
  const rests = await Promise.all(streams.map((s) => s.rest()));
  expect(rests.every((rest) => rest.map((f) => f.event).join() === "started,end")).toBe(true);
  expect(await w.connections()).toBe(2);
});

test("a viewer of another run is not kept waiting for the reader's block to time out", async () => {
  await using r = await testRedis();
  using w = web(r, 10_000); // a block far longer than the test allows
  await appendEvent(r.redis, r.keys, "run-11", { type: "queued" });
  await appendEvent(r.redis, r.keys, "run-12", { type: "queued" });
  const first = frames(w.open("run-11"));
  expect((await first.next())?.event).toBe("queued");
  await tick(); // the reader is blocked on run-11 only
  const second = frames(w.open("run-12"));
  expect((await second.next())?.event).toBe("queued");
  await tick();
  const started = performance.now();
  await appendEvent(r.redis, r.keys, "run-12", end);
  expect((await second.next())?.event).toBe("end");
  expect(performance.now() - started).toBeLessThan(1000);
  await appendEvent(r.redis, r.keys, "run-11", end);
  expect((await first.next())?.event).toBe("end");
});
