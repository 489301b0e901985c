import { describe, expect, test } from "vitest";
import { readRunEvent, type CommandEntry, type RunEvent } from "./event-schema.ts";
import { CANCELLED_BY_LEARNER } from "./messages.ts";
import { compareEventIds, initialRunState, isLive, reduce, RUN_STATE_LIMITS, runReducer, type RunAction, type RunState } from "./run-state.ts";

const RUN = "run-1";

/** A run the server accepted, as the hook leaves it before the first event. */
function accepted(mode: "run" | "check" = "check"): RunState {
  return [
    { type: "submit", mode, at: 1000 },
    { type: "accepted", runId: RUN, mode, at: 1100 },
  ].reduce<RunState>((s, a) => runReducer(s, a as RunAction), initialRunState);
}

/** Feeds events with stream ids 1-0, 2-0, … as the SSE handler sends them. */
function feed(state: RunState, events: RunEvent[], firstId = 1): RunState {
  return events.reduce((s, event, i) => runReducer(s, { type: "event", runId: RUN, event, id: `${firstId + i}-0` }), state);
}

/** Events as the browser reads them off the wire: through readRunEvent, which drops what it cannot show. */
const read = (raw: unknown[]): RunEvent[] => raw.map(readRunEvent).filter((e): e is RunEvent => e !== null);

const cmd = (seq: number, args: string[], extra: Partial<CommandEntry> = {}): CommandEntry => ({
  seq,
  conn: 1,
  at: seq * 10,
  args,
  reply: { type: "simple", summary: "OK" },
  durationMs: 0.4,
  ...extra,
});
const marker = (seq: number, fault: string): CommandEntry => ({ seq, conn: 0, at: seq * 10, args: [], fault });

test("submitting, then accepted: the run shows as queued at once, with its id and mode", () => {
  const submitting = runReducer(initialRunState, { type: "submit", mode: "check", at: 5 });
  expect(submitting).toMatchObject({ phase: "submitting", mode: "check", startedAt: 5, phaseAt: 5 });
  expect(isLive(submitting.phase)).toBe(true);
  const queued = runReducer(submitting, { type: "accepted", runId: RUN, mode: "check", at: 9 });
  expect(queued).toMatchObject({ phase: "queued", runId: RUN, phaseAt: 9, connection: "connecting" });
  expect(feed(queued, [{ type: "queued" }]).phase).toBe("queued");
  // A runner picking the run up shows at once, before its build reports.
  expect(feed(queued, [{ type: "queued" }, { type: "started" }]).phase).toBe("building");
});

test("a build failure carries its diagnostics and ends the run as an error", () => {
  const diagnostics = [
    { file: "queue.ts", line: 12, column: 7, message: 'Expected ";" but found "redis"' },
    { file: "queue.ts", line: 30, column: 1, message: "Unexpected end of file" },
  ];
  let s = feed(accepted(), [{ type: "queued" }, { type: "build", ok: false, ms: 41, diagnostics }]);
  expect(s.phase).toBe("building");
  expect(s.diagnostics).toEqual(diagnostics);
  expect(s.build).toEqual({ ok: false, ms: 41 });
  s = feed(s, [{ type: "end", status: "error", seed: 99, message: 'Your code does not build: queue.ts:12:7 Expected ";" but found "redis"', ms: 60 }], 3);
  expect(s.phase).toBe("done");
  expect(s.verdict).toEqual({ status: "error", seed: 99, message: 'Your code does not build: queue.ts:12:7 Expected ";" but found "redis"', ms: 60 });
  expect(s.diagnostics).toHaveLength(2);
  expect(s.checks).toEqual([]);
});

test("a successful build clears diagnostics left from a refused start and moves on to running", () => {
  const s = feed(accepted(), [{ type: "build", ok: true, ms: 30 }]);
  expect(s).toMatchObject({ phase: "running", diagnostics: [], build: { ok: true, ms: 30 } });
});

test("checks turn running, then pass or fail with expected, actual and hint; the verdict comes last", () => {
  let s = feed(accepted(), [
    { type: "queued" },
    { type: "build", ok: true, ms: 25 },
    { type: "check-start", id: "priority-order", title: "Tasks come out most urgent first" },
  ]);
  expect(s.checks).toEqual([{ id: "priority-order", title: "Tasks come out most urgent first", status: "running" }]);
  s = feed(
    s,
    [
      { type: "log", stream: "grader", text: "enqueueing 20 tasks", check: "priority-order" },
      { type: "check-end", id: "priority-order", status: "pass", ms: 812 },
      { type: "check-start", id: "fifo-among-equals", title: "Tasks of equal priority come out in the order they went in" },
      {
        type: "check-end",
        id: "fifo-among-equals",
        status: "fail",
        message: "task-b came out before task-a",
        expected: '["task-a","task-b"]',
        actual: '["task-b","task-a"]',
        hint: "Add a sequence number to the score.",
        ms: 430,
      },
      { type: "check-start", id: "blocking-dequeue", title: "dequeue waits for a task" },
    ],
    4,
  );
  expect(s.checks.map((c) => [c.id, c.status])).toEqual([
    ["priority-order", "pass"],
    ["fifo-among-equals", "fail"],
    ["blocking-dequeue", "running"],
  ]);
  expect(s.checks[1]).toEqual({
    id: "fifo-among-equals",
    title: "Tasks of equal priority come out in the order they went in",
    status: "fail",
    message: "task-b came out before task-a",
    expected: '["task-a","task-b"]',
    actual: '["task-b","task-a"]',
    hint: "Add a sequence number to the score.",
    ms: 430,
  });
  expect(s.phase).toBe("running");
  s = feed(s, [{ type: "end", status: "error", seed: 7, message: "The runner failed.", ms: 3000, timings: { buildMs: 25 } }], 20);
  // A check still running when the run ends did not finish: it cannot stay spinning.
  expect(s.checks[2]).toMatchObject({ status: "error", message: "This check did not finish before the run ended." });
  expect(s.verdict).toEqual({ status: "error", seed: 7, message: "The runner failed.", ms: 3000, timings: { buildMs: 25 } });
  expect(s.connection).toBe("closed");
});

test("a check-end without its start (events trimmed) still shows, titled by its id", () => {
  const s = feed(accepted(), [{ type: "check-end", id: "concurrent-consumers", status: "error", message: "timed out", ms: 5000 }]);
  expect(s.checks).toEqual([{ id: "concurrent-consumers", title: "concurrent-consumers", status: "error", message: "timed out", ms: 5000 }]);
});

test("a repeated check-start does not reopen a finished check", () => {
  const s = feed(accepted(), [
    { type: "check-start", id: "a", title: "A" },
    { type: "check-end", id: "a", status: "pass", ms: 5 },
    { type: "check-start", id: "a", title: "A" },
  ]);
  expect(s.checks).toEqual([{ id: "a", title: "A", status: "pass", ms: 5 }]);
});

test("a cancel mid-run: running checks go back to pending, nothing after it applies", () => {
  let s = feed(accepted(), [
    { type: "build", ok: true, ms: 20 },
    { type: "check-start", id: "a", title: "A" },
    { type: "check-end", id: "a", status: "pass", ms: 5 },
    { type: "check-start", id: "b", title: "B" },
    { type: "log", stream: "stdout", text: "[worker-1] half a li" },
  ]);
  s = runReducer(s, { type: "cancelling", runId: RUN });
  expect(s.cancelling).toBe(true);
  s = feed(s, [{ type: "cancelled", message: "Cancelled: you started a newer run." }], 10);
  expect(s).toMatchObject({ phase: "cancelled", cancelMessage: "Cancelled: you started a newer run.", cancelling: false, connection: "closed" });
  expect(s.checks.map((c) => c.status)).toEqual(["pass", "pending"]);
  expect(s.output.at(-1)).toEqual({ stream: "stdout", text: "[worker-1] half a li" });
  // A straggler (or an end racing the cancel) cannot reopen it.
  const after = feed(
    s,
    [
      { type: "log", stream: "stdout", text: "late\n" },
      { type: "end", status: "pass", seed: 1, ms: 10 },
    ],
    11,
  );
  expect(after).toBe(s);
});

test("cancelling locally (no cancel endpoint yet) ends the run as cancelled; a different run's cancel is ignored", () => {
  const s = feed(accepted(), [{ type: "build", ok: true, ms: 20 }]);
  expect(runReducer(s, { type: "cancelled-locally", runId: "other", message: "x" })).toBe(s);
  const cancelled = runReducer(s, { type: "cancelled-locally", runId: RUN, message: CANCELLED_BY_LEARNER, at: 5000 });
  expect(cancelled).toMatchObject({ phase: "cancelled", cancelMessage: CANCELLED_BY_LEARNER, phaseAt: 5000, lastEventId: "1-0" });
});

test("cancelling while still submitting ends the attempt; the late 202 then changes nothing", () => {
  let s = runReducer(initialRunState, { type: "submit", mode: "run", at: 1 });
  s = runReducer(s, { type: "cancelled-locally", message: CANCELLED_BY_LEARNER });
  expect(s.phase).toBe("cancelled");
  expect(runReducer(s, { type: "accepted", runId: RUN, mode: "run" })).toBe(s);
});

test("a refused start shows the server's message and status", () => {
  let s = runReducer(initialRunState, { type: "submit", mode: "check", at: 1 });
  s = runReducer(s, { type: "rejected", error: "Too many runs: try again in 20 s.", status: 429, at: 2 });
  expect(s).toMatchObject({ phase: "failed-to-start", error: "Too many runs: try again in 20 s.", errorStatus: 429, phaseAt: 2 });
  expect(isLive(s.phase)).toBe(false);
  const files = runReducer(runReducer(initialRunState, { type: "submit", mode: "check" }), {
    type: "rejected",
    error: "queue.ts is too large.",
    status: 422,
    diagnostics: [{ file: "queue.ts", line: 1, column: 1, message: "queue.ts is too large." }],
  });
  expect(files.diagnostics).toHaveLength(1);
});

test("a new submit starts from a clean state", () => {
  const old = feed(accepted(), [
    { type: "log", stream: "stdout", text: "hi\n" },
    { type: "end", status: "pass", seed: 3, ms: 9 },
  ]);
  const s = runReducer(old, { type: "submit", mode: "run", at: 50 });
  expect(s).toEqual({ ...initialRunState, phase: "submitting", mode: "run", startedAt: 50, phaseAt: 50 });
});

test("events of a replaced run are ignored", () => {
  const s = accepted();
  expect(runReducer(s, { type: "event", runId: "old-run", event: { type: "end", status: "fail", seed: 1, ms: 1 }, id: "9-0" })).toBe(s);
  expect(runReducer(s, { type: "connection", runId: "old-run", status: "reconnecting" })).toBe(s);
});

describe("reconnect replay", () => {
  const events: RunEvent[] = [
    { type: "queued" },
    { type: "build", ok: true, ms: 20 },
    { type: "check-start", id: "a", title: "A" },
    { type: "log", stream: "stdout", text: "[producer] one\n" },
    { type: "commands", entries: [cmd(1, ["INCR", "queue:seq"]), cmd(2, ["ZADD", "queue:tasks", "1", "x"])] },
    { type: "check-end", id: "a", status: "pass", ms: 40 },
    { type: "log", stream: "stdout", text: "[producer] two\n" },
  ];

  test("events at or before the last applied id change nothing, later ones apply once", () => {
    const once = feed(accepted(), events);
    expect(once.lastEventId).toBe("7-0");
    // EventSource reconnects and, for whatever reason (a second tab, a manual resume), the server resends from 4-0.
    const replayed = feed(once, events.slice(3), 4);
    expect(replayed).toBe(once);
    const resumed = feed(replayed, [...events.slice(3), { type: "log", stream: "stdout", text: "[producer] three\n" }], 4);
    expect(resumed.output.map((l) => l.text)).toEqual(["[producer] one", "[producer] two", "[producer] three"]);
    expect(resumed.commands.map((c) => c.seq)).toEqual([1, 2]);
    expect(resumed.checks).toHaveLength(1);
  });

  test("stream ids compare as Redis orders them, not as strings", () => {
    expect(compareEventIds("1700000000000-10", "1700000000000-9")).toBeGreaterThan(0);
    expect(compareEventIds("999-0", "1000-0")).toBeLessThan(0);
    expect(compareEventIds("5-1", "5-1")).toBe(0);
    const s = feed(accepted(), [{ type: "log", stream: "stdout", text: "a\n" }], 999);
    const next = runReducer(s, { type: "event", runId: RUN, event: { type: "log", stream: "stdout", text: "b\n" }, id: "1000-0" });
    expect(next.output.map((l) => l.text)).toEqual(["a", "b"]);
  });

  test("an event without an id (the final event rebuilt from the database) still applies", () => {
    const s = feed(accepted(), events);
    const ended = runReducer(s, { type: "event", runId: RUN, event: { type: "end", status: "pass", seed: 4, ms: 100 } });
    expect(ended.phase).toBe("done");
    expect(ended.lastEventId).toBe("7-0");
  });

  test("a batch of replayed events applies like one at a time", () => {
    const one = feed(accepted(), events);
    const batch = runReducer(accepted(), { type: "events", runId: RUN, events: events.map((event, i) => ({ event, id: `${i + 1}-0` })) });
    expect(batch).toEqual(one);
  });

  test("the same commands batch twice (no ids) keeps each seq once", () => {
    const entries = [cmd(3, ["GET", "a"]), cmd(1, ["SET", "a", "1"]), cmd(2, ["PING"])];
    let s = accepted();
    s = runReducer(s, { type: "event", runId: RUN, event: { type: "commands", entries } });
    s = runReducer(s, { type: "event", runId: RUN, event: { type: "commands", entries } });
    expect(s.commands.map((c) => c.seq)).toEqual([1, 2, 3]);
  });
});

describe("output", () => {
  test("chunks become lines; a chunk cut mid-line continues it without repeating the process prefix", () => {
    const s = feed(accepted(), [
      { type: "log", stream: "stdout", text: "[worker-1] starting\n[worker-1] got ta" },
      { type: "log", stream: "stdout", text: "[worker-1] sk 17\nrest\n" },
      { type: "log", stream: "stderr", text: "[worker-1] boom\n" },
    ]);
    expect(s.output).toEqual([
      { stream: "stdout", text: "[worker-1] starting" },
      { stream: "stdout", text: "[worker-1] got task 17" },
      { stream: "stdout", text: "rest" },
      { stream: "stderr", text: "[worker-1] boom" },
    ]);
  });

  test("another process's chunk does not glue onto an open line", () => {
    const s = feed(accepted(), [
      { type: "log", stream: "stdout", text: "[worker-1] wait" },
      { type: "log", stream: "stdout", text: "[worker-2] hello\n" },
    ]);
    expect(s.output.map((l) => [l.text, l.open])).toEqual([
      ["[worker-1] wait", undefined],
      ["[worker-2] hello", undefined],
    ]);
  });

  test("grader notes are whole lines and keep their check", () => {
    const s = feed(accepted(), [
      { type: "log", stream: "stdout", text: "partial", check: "a" },
      { type: "log", stream: "grader", text: "kill worker-2", check: "a" },
      { type: "log", stream: "grader", text: "heal", check: "a" },
    ]);
    expect(s.output).toEqual([
      { stream: "stdout", text: "partial", check: "a" },
      { stream: "grader", text: "kill worker-2", check: "a" },
      { stream: "grader", text: "heal", check: "a" },
    ]);
  });

  test("ANSI escapes and CRLF pass through for the console to colour", () => {
    const s = feed(accepted(), [{ type: "log", stream: "stdout", text: "\u001b[32mok\u001b[0m\r\nnext\r\n" }]);
    expect(s.output.map((l) => l.text)).toEqual(["\u001b[32mok\u001b[0m", "next"]);
  });

  test("more than the line cap keeps the newest lines and says some were dropped", () => {
    const n = RUN_STATE_LIMITS.outputLines + 250;
    const text = Array.from({ length: n }, (_, i) => `line ${i}`).join("\n") + "\n";
    const s = feed(accepted(), [{ type: "log", stream: "stdout", text }]);
    expect(s.output).toHaveLength(RUN_STATE_LIMITS.outputLines);
    expect(s.output[0]!.text).toBe("line 250");
    expect(s.output.at(-1)!.text).toBe(`line ${n - 1}`);
    expect(s).toMatchObject({ outputTruncated: true, outputDropped: 250 });
  });

  test("the character cap holds across many events, and a line without newlines is cut", () => {
    let s = accepted();
    const line = "x".repeat(1000);
    for (let i = 0; i < 300; i++)
      s = runReducer(s, { type: "event", runId: RUN, event: { type: "log", stream: "stdout", text: `${line}\n` }, id: `${i + 1}-0` });
    expect(s.outputChars).toBeLessThanOrEqual(RUN_STATE_LIMITS.outputChars);
    expect(s.outputChars).toBe(s.output.reduce((n, l) => n + l.text.length, 0));
    expect(s.output.length).toBe(Math.floor(RUN_STATE_LIMITS.outputChars / 1000));
    expect(s.outputTruncated).toBe(true);

    let long = accepted();
    for (let i = 0; i < 20; i++)
      long = runReducer(long, { type: "event", runId: RUN, event: { type: "log", stream: "stdout", text: "y".repeat(1024) }, id: `${i + 1}-0` });
    expect(long.output).toHaveLength(1);
    expect(long.output[0]!.text.length).toBeLessThanOrEqual(RUN_STATE_LIMITS.lineChars + 1);
    expect(long.outputTruncated).toBe(true);
  });

  test("the end closes an open line", () => {
    const s = feed(accepted(), [
      { type: "log", stream: "stdout", text: "no newline" },
      { type: "end", status: "pass", seed: 1, ms: 5 },
    ]);
    expect(s.output).toEqual([{ stream: "stdout", text: "no newline" }]);
  });
});

describe("commands", () => {
  test("batches in completion order end up sorted by seq; markers keep their place", () => {
    const s = feed(accepted(), [
      { type: "commands", entries: [cmd(2, ["GET", "k"]), cmd(1, ["BZPOPMIN", "q", "5"], { durationMs: 1200 }), marker(3, "kill worker-2")] },
      { type: "commands", entries: [cmd(5, ["SET", "k", "v"]), marker(4, "heal")] },
    ]);
    expect(s.commands.map((c) => c.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(s.commands.filter((c) => c.conn === 0).map((c) => c.fault)).toEqual(["kill worker-2", "heal"]);
  });

  test("over the cap the oldest commands go, every fault marker stays", () => {
    const entries: CommandEntry[] = [];
    for (let seq = 1; seq <= RUN_STATE_LIMITS.commands + 100; seq++)
      entries.push(seq % 1000 === 5 ? marker(seq, `partition (2 connections cut) #${seq}`) : cmd(seq, ["INCR", "n"]));
    let s = accepted();
    for (let i = 0; i < entries.length; i += 200)
      s = runReducer(s, { type: "event", runId: RUN, event: { type: "commands", entries: entries.slice(i, i + 200) }, id: `${i + 1}-0` });
    expect(s.commands).toHaveLength(RUN_STATE_LIMITS.commands);
    expect(s.commandsDropped).toBe(100);
    expect(s.commands.filter((c) => c.conn === 0).map((c) => c.seq)).toEqual([5, 1005, 2005, 3005]);
    expect(s.commands.at(-1)!.seq).toBe(RUN_STATE_LIMITS.commands + 100);
    expect(s.commands.every((c, i, all) => i === 0 || all[i - 1]!.seq < c.seq)).toBe(true);
  });

  test("a malformed commands event does not break the state", () => {
    const s = feed(accepted(), read([{ type: "commands", entries: null }]));
    expect(s.commands).toEqual([]);
  });
});

describe("snapshots", () => {
  const keys = (n: number) => [
    { key: "queue:tasks", type: "zset" as const, ttlMs: -1, length: n, members: Array.from({ length: n }, (_, i) => ({ member: `t${i}`, score: i })) },
  ];

  test("kept in time order even when they arrive out of order; the same instant replaces", () => {
    const s = feed(accepted("run"), [
      { type: "snapshot", at: 300, keys: keys(1) },
      { type: "snapshot", at: 900, keys: keys(3) },
      { type: "snapshot", at: 600, keys: keys(2) },
      { type: "snapshot", at: 900, keys: keys(4) },
    ]);
    expect(s.snapshots.map((x) => [x.at, x.keys[0]!.type === "zset" ? x.keys[0]!.length : -1])).toEqual([
      [300, 1],
      [600, 2],
      [900, 4],
    ]);
  });

  test("over the cap they thin out evenly, keeping the first and the last", () => {
    let s = accepted("run");
    const n = RUN_STATE_LIMITS.snapshots * 2;
    for (let i = 0; i < n; i++) s = runReducer(s, { type: "event", runId: RUN, event: { type: "snapshot", at: i * 300, keys: keys(1) }, id: `${i + 1}-0` });
    expect(s.snapshots).toHaveLength(RUN_STATE_LIMITS.snapshots);
    expect(s.snapshotsDropped).toBe(n - RUN_STATE_LIMITS.snapshots);
    expect(s.snapshots[0]!.at).toBe(0);
    expect(s.snapshots.at(-1)!.at).toBe((n - 1) * 300);
    const gaps = s.snapshots.slice(1).map((x, i) => x.at - s.snapshots[i]!.at);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(4 * 300);
  });
});

test("a run-mode playground: snapshots, commands and a kill marker, then a pass", () => {
  const s = feed(accepted("run"), [
    { type: "queued" },
    { type: "build", ok: true, ms: 18 },
    { type: "commands", entries: [cmd(1, ["LPUSH", "jobs", "a"]), cmd(2, ["BRPOPLPUSH", "jobs", "processing", "1"])] },
    { type: "snapshot", at: 300, keys: [{ key: "jobs", type: "list", ttlMs: -1, length: 1, items: ["a"] }] },
    {
      type: "commands",
      entries: [
        marker(3, "kill worker-2"),
        cmd(4, ["LREM", "processing", "1", "a"], { reply: { type: "error", summary: "ERR injected" }, fault: "failNext 1" }),
      ],
    },
    { type: "snapshot", at: 600, keys: [{ key: "processing", type: "list", ttlMs: 5000, length: 1, items: ["a"] }] },
    { type: "log", stream: "grader", text: "kill worker-2" },
    { type: "end", status: "pass", seed: 12345, message: "Your program ran for the playground's full time.", ms: 60_000 },
  ]);
  expect(s).toMatchObject({ phase: "done", mode: "run", verdict: { status: "pass", seed: 12345 }, checks: [] });
  expect(s.snapshots.map((x) => x.at)).toEqual([300, 600]);
  expect(s.commands.map((c) => c.seq)).toEqual([1, 2, 3, 4]);
});

test("connection state follows the stream until the run ends", () => {
  let s = accepted();
  s = runReducer(s, { type: "connection", runId: RUN, status: "open" });
  expect(s.connection).toBe("open");
  s = runReducer(s, { type: "connection", runId: RUN, status: "reconnecting" });
  expect(s.connection).toBe("reconnecting");
  s = runReducer(s, { type: "lost", runId: RUN, message: "Lost the connection to this run." });
  expect(s).toMatchObject({ phase: "done", error: "Lost the connection to this run.", connection: "closed" });
  expect(runReducer(s, { type: "connection", runId: RUN, status: "open" })).toBe(s);
});

test("events before any run, or unknown event types, are ignored", () => {
  expect(reduce(initialRunState, { type: "queued" }, "1-0")).toBe(initialRunState);
  const s = accepted();
  expect(read([{ type: "future-thing" }])).toEqual([]);
  expect(feed(s, read([{ type: "future-thing" }])).checks).toEqual([]);
});

test("malformed events (a newer or broken server) are cleaned up rather than breaking the view", () => {
  const bad = [
    { type: "log", stream: "stdout", text: null },
    { type: "log", stream: "weird", text: "shown as stdout\n" },
    { type: "check-end", id: "a", status: "exploded", ms: 1 },
    { type: "check-start", title: "no id" },
    { type: "commands", entries: [{ seq: 1, conn: 1 }, { conn: 2, args: ["GET"] }, null] },
    {
      type: "snapshot",
      at: 100,
      keys: [
        null,
        { type: "string" },
        { key: "z", type: "zset", ttlMs: -1, length: 2, members: [{ member: "ok", score: 1 }, { member: 5 }] },
        { key: "l", type: "list" },
        { key: "h", type: "hash", fields: null },
        { key: "s", type: "stream", entries: [{ id: "1-0", fields: { a: "b" } }, { id: 3 }] },
        { key: "j", type: "ReJSON-RL", ttlMs: 5 },
      ],
    },
    { type: "snapshot", keys: [] },
  ];
  const s = feed(accepted("run"), read(bad));
  expect(s.output).toEqual([{ stream: "stdout", text: "shown as stdout" }]);
  expect(s.checks).toEqual([{ id: "a", title: "a", status: "error", ms: 1 }]);
  expect(s.commands).toEqual([{ seq: 1, conn: 1, args: [], at: 0 }]);
  expect(s.snapshots).toHaveLength(1);
  expect(s.snapshots[0]!.keys).toEqual([
    { key: "z", type: "zset", ttlMs: -1, length: 2, members: [{ member: "ok", score: 1 }] },
    { key: "l", type: "list", ttlMs: -1, length: 0, items: [] },
    { key: "h", type: "hash", ttlMs: -1, length: 0, fields: {} },
    { key: "s", type: "stream", ttlMs: -1, length: 1, entries: [{ id: "1-0", fields: { a: "b" } }] },
    { key: "j", type: "other", ttlMs: 5 },
  ]);
});
