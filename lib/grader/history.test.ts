import { describe, expect, it } from "vitest";
import { QueueHistory, type QueueEvent } from "./history.ts";
import { CheckFailure } from "./result.ts";

const ev = (at: number, op: QueueEvent["op"], id: string, by?: string): QueueEvent => ({ at, op, id, by });

function history(...events: QueueEvent[]): QueueHistory {
  const h = new QueueHistory();
  h.add(events);
  return h;
}

describe("QueueHistory", () => {
  it("accepts a history where every task is claimed in order, done once and acked after", () => {
    const h = history(
      ev(0, "enqueue", "a"),
      ev(1, "enqueue", "b"),
      ev(2, "claim", "a"),
      ev(3, "effect", "a"),
      ev(4, "ack", "a"),
      ev(5, "claim", "b"),
      ev(6, "effect", "b"),
      ev(7, "ack", "b"),
    );
    expect(h.violations({ order: "fifo", claimBeforeEffect: true })).toEqual([]);
  });

  it("finds lost, duplicated, acked-before-done and unclaimed tasks", () => {
    const h = history(
      ev(0, "enqueue", "lost"),
      ev(0, "enqueue", "twice"),
      ev(0, "enqueue", "early"),
      ev(1, "effect", "twice"),
      ev(2, "effect", "twice"),
      ev(3, "claim", "early"),
      ev(4, "ack", "early"),
      ev(5, "effect", "early"),
      ev(6, "effect", "ghost"),
    );
    const kinds = h.violations({ claimBeforeEffect: true }).map((v) => `${v.kind}:${v.ids.join(">")}`);
    expect(kinds.sort()).toEqual(["acked-not-done:early", "duplicated:twice", "lost:lost", "unclaimed:twice", "unknown:ghost"].sort());
  });

  it("does not call a task lost while the history is still open, nor a redelivery a duplicate for at-least-once", () => {
    const h = history(ev(0, "enqueue", "a"), ev(0, "enqueue", "b"), ev(1, "effect", "b"), ev(2, "effect", "b"));
    expect(h.violations({ complete: false, once: false })).toEqual([]);
  });

  it("finds a task overtaken in FIFO order, but not by a claim within the slack", () => {
    const h = history(ev(0, "enqueue", "a"), ev(1, "enqueue", "b"), ev(10, "claim", "b"), ev(12, "claim", "a"), ev(13, "effect", "a"), ev(13, "effect", "b"));
    expect(h.violations({ order: "fifo" }).map((v) => v.explain)).toEqual(["b was claimed while a (enqueued earlier) was waiting"]);
    expect(h.violations({ order: "fifo", slackMs: 5 })).toEqual([]);
  });

  it("orders by priority first, then FIFO among equals, and ignores tasks enqueued after the claim", () => {
    const priority: Record<string, number> = { low: 9, high: 1, later: 0 };
    const h = history(
      ev(0, "enqueue", "low"),
      ev(1, "enqueue", "high"),
      ev(2, "claim", "low"),
      ev(3, "enqueue", "later"),
      ev(4, "claim", "later"),
      ev(5, "claim", "high"),
      ev(6, "effect", "low"),
      ev(6, "effect", "later"),
      ev(6, "effect", "high"),
    );
    const found = h.violations({ order: "priority", priorityOf: (id) => priority[id]! });
    expect(found.map((v) => v.ids)).toEqual([["high", "low"]]);
    expect(found[0]!.explain).toBe("low was claimed while high (priority 1 before 9) was waiting");
  });

  it("reports the smallest slice, with times relative to the first event and the count of the rest", () => {
    const h = history(
      ev(100, "enqueue", "a", "producer"),
      ev(100, "enqueue", "b", "producer"),
      ev(110, "claim", "a", "w1"),
      ev(120, "effect", "a", "w1"),
      ev(130, "claim", "b", "w2"),
      ev(140, "effect", "b", "w2"),
      ev(150, "effect", "b", "w3"),
      ev(100, "enqueue", "c"),
    );
    let failure: unknown;
    try {
      h.assert({}, { hints: { lost: "keep it in Redis while it runs" } });
    } catch (e) {
      failure = e;
    }
    expect(failure).toBeInstanceOf(CheckFailure);
    const f = failure as CheckFailure;
    expect(f.message).toBe("The queue's history breaks its rules: c was enqueued and never done (and 1 more violation: 1 duplicated).");
    expect(f.actual).toBe("+0 ms  enqueue c");
    expect(f.hint).toBe("keep it in Redis while it runs");
  });
});
