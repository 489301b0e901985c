import { expect, test } from "vitest";
import { readRunEvent, type RunEvent } from "./event-schema.ts";

/** One of each event as the runner writes it, with every optional field the live view shows. */
const written: RunEvent[] = [
  { type: "queued" },
  { type: "started" },
  { type: "build", ok: false, ms: 41, diagnostics: [{ file: "queue.ts", line: 3, column: 7, message: "Cannot find name 'redis'." }] },
  { type: "check-start", id: "atomic-claim", title: "Two consumers never claim one task" },
  { type: "log", stream: "grader", text: "kill worker-2 at its 3rd ZPOPMIN\n", check: "atomic-claim" },
  {
    type: "check-end",
    id: "atomic-claim",
    status: "fail",
    message: "t-1 ran twice",
    expected: "once",
    actual: "twice",
    hint: "Claim and move in one step.",
    ms: 812,
  },
  { type: "snapshot", at: 300, keys: [{ key: "q", type: "zset", ttlMs: -1, length: 1, members: [{ member: "t-1", score: 2 }] }] },
  {
    type: "commands",
    entries: [
      {
        seq: 1,
        conn: 1,
        at: 1.5,
        args: ["ZADD", "q", "2", "t-1"],
        reply: { type: "integer", summary: "1" },
        durationMs: 0.4,
        owner: "worker-1",
        check: "atomic-claim",
      },
      { seq: 2, conn: 0, at: 3, args: [], fault: "kill worker-1" },
    ],
  },
  { type: "end", status: "pass", seed: 42, message: "All 4 checks passed.", ms: 1620, timings: { queueMs: 12, buildMs: 40 } },
  { type: "cancelled", message: "Cancelled: you stopped this run." },
];

test("every event the runner writes reads back unchanged through JSON", () => {
  for (const event of written) expect(readRunEvent(JSON.parse(JSON.stringify(event)))).toEqual(event);
});

test("what this version cannot show reads as null, never as a pass", () => {
  for (const raw of [null, 3, "end", {}, { type: "future-thing" }, { type: "end", status: "pass" }, { type: "check-start" }, { type: "log", text: 5 }]) {
    expect(readRunEvent(raw)).toBeNull();
  }
  expect(readRunEvent({ type: "end", status: "exploded", seed: "x", ms: 5 })).toEqual({ type: "end", status: "error", seed: 0, ms: 5 });
  expect(readRunEvent({ type: "check-end", id: "a", status: "passed", ms: 1 })).toMatchObject({ status: "error" });
});

test("a proxy's faultDelayMs stays in the runner: the live view's commands do not carry it", () => {
  const read = readRunEvent({ type: "commands", entries: [{ seq: 1, conn: 1, at: 0, args: ["GET", "k"], faultDelayMs: 120 }] });
  expect(read).toEqual({ type: "commands", entries: [{ seq: 1, conn: 1, at: 0, args: ["GET", "k"] }] });
});
