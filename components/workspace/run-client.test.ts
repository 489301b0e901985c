import { afterEach, beforeEach, expect, test, vi } from "vitest";
import type { RunEvent } from "@/lib/runs/events";
import { initialRunState, runReducer, type RunAction, type RunState } from "@/lib/runs/run-state";
import { CANCELLED_BY_LEARNER } from "@/lib/runs/messages";
import { RunClient, type EventSourceLike } from "./run-client";

/** An EventSource the test drives: deliver events, drop the connection, fail it for good. */
class FakeSource implements EventSourceLike {
  static all: FakeSource[] = [];
  readyState = 0;
  onopen: EventSourceLike["onopen"] = null;
  onerror: EventSourceLike["onerror"] = null;
  closed = false;
  private listeners = new Map<string, ((ev: MessageEvent<string>) => void)[]>();
  private lastEventId = "";
  constructor(readonly url: string) {
    FakeSource.all.push(this);
  }
  addEventListener(type: string, listener: (ev: MessageEvent<string>) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  close() {
    this.closed = true;
    this.readyState = 2;
  }
  open() {
    this.readyState = 1;
    this.onopen?.call(this, new Event("open"));
  }
  send(event: RunEvent, id?: string) {
    if (id) this.lastEventId = id;
    const message = { data: JSON.stringify(event), lastEventId: this.lastEventId } as MessageEvent<string>;
    for (const l of this.listeners.get(event.type) ?? []) l(message);
  }
  drop() {
    this.readyState = 0;
    this.onerror?.call(this, new Event("error"));
  }
  fail() {
    this.readyState = 2;
    this.onerror?.call(this, new Event("error"));
  }
}

type Route = (init: RequestInit | undefined, url: string) => Response | Promise<Response>;

function setup(routes: Record<string, Route>) {
  let state: RunState = initialRunState;
  const actions: RunAction[] = [];
  const calls: string[] = [];
  const fetch = vi.fn<typeof globalThis.fetch>(async (input, init) => {
    const url = String(input);
    const key = `${init?.method ?? "GET"} ${url}`;
    calls.push(key);
    const route = routes[key];
    if (!route) return new Response("not found", { status: 404 });
    return route(init, url);
  });
  const client = new RunClient({
    lab: "priority-queue",
    dispatch: (a) => {
      actions.push(a);
      state = runReducer(state, a);
    },
    fetch,
    EventSource: FakeSource,
    now: () => 0,
    batchMs: 10,
    cancelWaitMs: 100,
  });
  return {
    client,
    calls,
    actions,
    get state() {
      return state;
    },
  };
}

const accepted = (id: string) => () => Response.json({ id, lab: "priority-queue", mode: "check", eventsUrl: `/api/runs/${id}/events` }, { status: 202 });

beforeEach(() => {
  FakeSource.all = [];
  vi.useFakeTimers();
});
afterEach(() => vi.useRealTimers());

test("a run streams to its end and the stream is closed so the browser does not reconnect", async () => {
  const t = setup({ "POST /api/runs": accepted("r1") });
  await t.client.start("check", { "queue.ts": "x" }, 7);
  expect(t.state).toMatchObject({ phase: "queued", runId: "r1" });
  const source = FakeSource.all[0]!;
  expect(source.url).toBe("/api/runs/r1/events");
  source.open();
  source.send({ type: "queued" }, "1-0");
  source.send({ type: "build", ok: true, ms: 5 }, "2-0");
  source.send({ type: "check-start", id: "a", title: "A" }, "3-0");
  await vi.advanceTimersByTimeAsync(20);
  expect(t.state.checks).toHaveLength(1);
  source.send({ type: "end", status: "fail", seed: 7, ms: 100 }, "4-0");
  expect(t.state).toMatchObject({ phase: "done", verdict: { status: "fail", seed: 7 } });
  expect(source.closed).toBe(true);
  expect(t.client.live).toBe(false);
});

test("a run with a seed the learner chose is a replay; the next run without one is not", async () => {
  const bodies: unknown[] = [];
  const t = setup({ "POST /api/runs": (init) => (bodies.push(JSON.parse(String(init?.body))), accepted(`r${bodies.length}`)()) });
  await t.client.start("check", { "queue.ts": "x" }, 4127);
  expect(bodies[0]).toMatchObject({ mode: "check", seed: 4127 });
  expect(t.state).toMatchObject({ phase: "queued", replay: true });
  FakeSource.all[0]!.send({ type: "end", status: "pass", seed: 4127, ms: 100 }, "1-0");
  expect(t.state).toMatchObject({ phase: "done", replay: true, verdict: { status: "pass", seed: 4127 } });
  await t.client.start("check", { "queue.ts": "x" });
  expect(bodies[1]).not.toHaveProperty("seed");
  expect(t.state.replay).toBeUndefined();
});

test("a dropped connection resumes without duplicating output", async () => {
  const t = setup({ "POST /api/runs": accepted("r1") });
  await t.client.start("run", {});
  const first = FakeSource.all[0]!;
  first.open();
  first.send({ type: "log", stream: "stdout", text: "one\n" }, "1-0");
  first.send({ type: "log", stream: "stdout", text: "two\n" }, "2-0");
  first.drop();
  expect(t.state.connection).toBe("reconnecting");
  // The browser reconnected with Last-Event-ID; a server replaying from an older point is harmless.
  first.open();
  first.send({ type: "log", stream: "stdout", text: "two\n" }, "2-0");
  first.send({ type: "log", stream: "stdout", text: "three\n" }, "3-0");
  await vi.advanceTimersByTimeAsync(20);
  expect(t.state.output.map((l) => l.text)).toEqual(["one", "two", "three"]);
  expect(t.state.connection).toBe("open");
});

test("a stream that fails for good is reopened from the last id, then settled from the run's row", async () => {
  const t = setup({
    "POST /api/runs": accepted("r1"),
    "GET /api/runs/r1": () => Response.json({ status: "fail", seed: 3, message: "1 of 4 checks did not pass.", durationMs: 900 }),
  });
  await t.client.start("check", {});
  FakeSource.all[0]!.send({ type: "log", stream: "stdout", text: "a\n" }, "5-0");
  FakeSource.all[0]!.fail();
  await vi.advanceTimersByTimeAsync(600);
  expect(FakeSource.all[1]!.url).toBe("/api/runs/r1/events?lastEventId=5-0");
  FakeSource.all[1]!.send({ type: "log", stream: "stdout", text: "b\n" }, "6-0");
  for (let i = 1; i <= 4; i++) {
    FakeSource.all[i]!.fail();
    await vi.advanceTimersByTimeAsync(10_000);
  }
  expect(FakeSource.all).toHaveLength(5);
  expect(FakeSource.all[4]!.url).toContain("lastEventId=6-0");
  expect(t.state).toMatchObject({ phase: "done", verdict: { status: "fail", seed: 3, message: "1 of 4 checks did not pass." } });
  expect(t.state.output.map((l) => l.text)).toEqual(["a", "b"]);
});

test("a stream refused for too many live views says what to do, not that the connection was lost", async () => {
  const message = "This run is already open live in 5 tabs. Close the other tabs showing it, then reload this page.";
  const t = setup({
    "POST /api/runs": accepted("r1"),
    "GET /api/runs/r1": () => Response.json({ status: "running" }),
    "GET /api/runs/r1/events": () => Response.json({ error: message }, { status: 429 }),
  });
  await t.client.start("check", {});
  for (let i = 0; i <= 4; i++) {
    FakeSource.all[i]!.fail();
    await vi.advanceTimersByTimeAsync(10_000);
  }
  expect(t.state).toMatchObject({ phase: "done", error: message, connection: "closed" });
});

test("the final event rebuilt from the database (no id of its own) is applied", async () => {
  const t = setup({ "POST /api/runs": accepted("r1") });
  await t.client.start("check", {});
  const source = FakeSource.all[0]!;
  source.send({ type: "log", stream: "stdout", text: "a\n" }, "5-0");
  source.send({ type: "end", status: "pass", seed: 1, ms: 10 });
  expect(t.state.phase).toBe("done");
});

test("401 and 429 show the server's message", async () => {
  const t = setup({ "POST /api/runs": () => Response.json({ error: "Sign in first." }, { status: 401 }) });
  await t.client.start("check", {});
  expect(t.state).toMatchObject({ phase: "failed-to-start", error: "Sign in first.", errorStatus: 401 });
  const limited = setup({ "POST /api/runs": () => new Response("busy", { status: 429, headers: { "retry-after": "12" } }) });
  await limited.client.start("check", {});
  expect(limited.state).toMatchObject({ phase: "failed-to-start", error: "Too many runs at once. Try again in 12 s.", errorStatus: 429 });
});

test("an unreachable server is an error, not a hang", async () => {
  const t = setup({ "POST /api/runs": () => Promise.reject(new TypeError("Failed to fetch")) });
  await t.client.start("check", {});
  expect(t.state).toMatchObject({ phase: "failed-to-start", error: "Could not reach the server. Check your connection and try again." });
});

test("cancel without a cancel endpoint (405) just closes the stream", async () => {
  const t = setup({ "POST /api/runs": accepted("r1"), "DELETE /api/runs/r1": () => new Response(null, { status: 405 }) });
  await t.client.start("check", {});
  await t.client.cancel();
  expect(t.calls).toContain("DELETE /api/runs/r1");
  expect(t.state).toMatchObject({ phase: "cancelled", cancelMessage: CANCELLED_BY_LEARNER });
  expect(FakeSource.all[0]!.closed).toBe(true);
});

test("cancel accepted: the server's cancelled event ends it; without one the client gives up after a wait", async () => {
  const t = setup({ "POST /api/runs": accepted("r1"), "DELETE /api/runs/r1": () => new Response(null, { status: 202 }) });
  await t.client.start("check", {});
  await t.client.cancel();
  expect(t.state.cancelling).toBe(true);
  FakeSource.all[0]!.send({ type: "cancelled", message: "Cancelled by you." }, "9-0");
  expect(t.state).toMatchObject({ phase: "cancelled", cancelMessage: "Cancelled by you." });

  const quiet = setup({ "POST /api/runs": accepted("r2"), "DELETE /api/runs/r2": () => new Response(null, { status: 202 }) });
  await quiet.client.start("check", {});
  await quiet.client.cancel();
  await vi.advanceTimersByTimeAsync(150);
  expect(quiet.state).toMatchObject({ phase: "cancelled", cancelMessage: CANCELLED_BY_LEARNER });
});

test("starting while a run is live cancels it first, and its late events are ignored", async () => {
  let n = 0;
  const t = setup({
    "POST /api/runs": () => accepted(`r${++n}`)(),
    "DELETE /api/runs/r1": () => new Response(null, { status: 202 }),
  });
  await t.client.start("check", {});
  const old = FakeSource.all[0]!;
  await t.client.start("check", {});
  expect(t.calls).toEqual(["POST /api/runs", "DELETE /api/runs/r1", "POST /api/runs"]);
  expect(old.closed).toBe(true);
  expect(t.state).toMatchObject({ phase: "queued", runId: "r2" });
  old.send({ type: "end", status: "pass", seed: 1, ms: 1 }, "99-0");
  expect(t.state.phase).toBe("queued");
});

test("cancel while the POST is in flight: the run it creates is deleted when it answers", async () => {
  let answer: (r: Response) => void = () => {};
  const t = setup({
    "POST /api/runs": () => new Promise<Response>((resolve) => (answer = resolve)),
    "DELETE /api/runs/r1": () => new Response(null, { status: 202 }),
  });
  const started = t.client.start("check", {});
  await vi.advanceTimersByTimeAsync(0);
  await t.client.cancel();
  expect(t.state.phase).toBe("cancelled");
  answer(accepted("r1")());
  await started;
  await vi.advanceTimersByTimeAsync(0);
  expect(t.calls).toContain("DELETE /api/runs/r1");
  expect(t.state.phase).toBe("cancelled");
  expect(FakeSource.all).toHaveLength(0);
});
