import { expect, test, vi } from "vitest";
import { appendEvent, type RunEvent } from "../../lib/runs/events.ts";
import { blockingConnection, eventStream, finalEvent } from "../../lib/runs/sse.ts";
import { testRedis } from "./support/namespaces.ts";

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

test("events from before and after connecting arrive in order with their ids, and the stream closes after end", async () => {
  await using r = await testRedis();
  const ids = [await appendEvent(r.redis, r.keys, "run-1", { type: "queued" })];
  const conn = blockingConnection(r.redis);
  const sse = frames(eventStream(conn, r.keys, "run-1", "0", new AbortController().signal, noFinal, { blockMs: 500 }));
  expect(await sse.next()).toEqual({ id: ids[0], event: "queued", data: { type: "queued" } });
  await tick();
  ids.push(await appendEvent(r.redis, r.keys, "run-1", { type: "check-start", id: "no-shared-task", title: "consumers never share a task" }));
  ids.push(await appendEvent(r.redis, r.keys, "run-1", end));
  ids.push(await appendEvent(r.redis, r.keys, "run-1", { type: "log", stream: "stdout", text: "after the end" }));
  const rest = await sse.rest();
  expect(rest.map((f) => [f.id, f.event])).toEqual([[ids[1], "check-start"], [ids[2], "end"]]);
  expect(rest[1]?.data).toEqual(end);
  await vi.waitFor(() => expect(conn.status).toBe("end"));
});

test("resuming from an id skips the events before it, and resuming after the end closes at once", async () => {
  await using r = await testRedis();
  const ids = [];
  for (let i = 0; i < 4; i++) ids.push(await appendEvent(r.redis, r.keys, "run-2", { type: "log", stream: "stdout", text: `line ${i}` }));
  ids.push(await appendEvent(r.redis, r.keys, "run-2", { type: "cancelled", message: "Cancelled: you started a newer run." }));
  const resumed = await frames(eventStream(blockingConnection(r.redis), r.keys, "run-2", ids[1]!, new AbortController().signal, noFinal)).rest();
  expect(resumed.map((f) => f.id)).toEqual(ids.slice(2));
  expect(resumed.at(-1)?.event).toBe("cancelled");
  expect(await frames(eventStream(blockingConnection(r.redis), r.keys, "run-2", ids[4]!, new AbortController().signal, noFinal)).rest()).toEqual([]);
});

test("a client that goes away closes the stream and its Redis connection", async () => {
  await using r = await testRedis();
  await appendEvent(r.redis, r.keys, "run-3", { type: "queued" });
  const conn = blockingConnection(r.redis);
  const abort = new AbortController();
  const sse = frames(eventStream(conn, r.keys, "run-3", "0", abort.signal, noFinal));
  expect((await sse.next())?.event).toBe("queued");
  await tick(); // now blocked in XREAD
  abort.abort();
  expect(await sse.next()).toBeNull();
  await vi.waitFor(() => expect(conn.status).toBe("end"));
});

test("a quiet stream sends keepalive comments", async () => {
  await using r = await testRedis();
  await appendEvent(r.redis, r.keys, "run-4", { type: "queued" });
  const abort = new AbortController();
  const sse = frames(eventStream(blockingConnection(r.redis), r.keys, "run-4", "0", abort.signal, noFinal, { keepaliveMs: 100 }));
  expect((await sse.next())?.event).toBe("queued");
  expect(await sse.next()).toEqual({ comment: "keepalive" });
  abort.abort();
});

test("a finished run whose stream expired gets its final event from the database", async () => {
  await using r = await testRedis();
  const finished = finalEvent({ id: "run-5", userId: "u-1", lab: "pq", mode: "check", status: "fail", seed: 4127, message: null, durationMs: 213, createdAt: new Date(), finishedAt: new Date(), checks: [] });
  expect(finished).toEqual({ type: "end", status: "fail", seed: 4127, ms: 213 });
  const got = await frames(eventStream(blockingConnection(r.redis), r.keys, "run-5", "0", new AbortController().signal, async () => finished)).rest();
  expect(got).toEqual([{ event: "end", data: finished }]); // no id: a reconnect asks again
  expect(finalEvent({ id: "run-6", userId: "u-1", lab: "pq", mode: "run", status: "running", seed: null, message: null, durationMs: null, createdAt: new Date(), finishedAt: null, checks: [] })).toBeNull();
});
