/**
 * Judging a queue by its history. A check records, from the grader's own view (its calls, the
 * command log, the effects a lab's handler writes to Redis), each enqueue, claim, ack and effect
 * with its time, and the history is checked against a sequential model of the queue: every task
 * enqueued takes effect once, is acknowledged only after it took effect, and is claimed in the
 * queue's order. A violation is reported as the smallest slice of the history that shows it, so
 * the learner reads five lines about two tasks instead of a dump of three hundred.
 */
import { CheckFailure } from "./result.ts";

export type QueueOp = "enqueue" | "claim" | "ack" | "effect";

export interface QueueEvent {
  op: QueueOp;
  id: string;
  /** Who did it: the producer's or worker's name, as the learner sees it in the log. */
  by?: string;
  /** ms on one clock for the whole history (performance.now, or the command log's `at`). */
  at: number;
}

export interface QueueModel {
  /**
   * The order claims must follow: `fifo` (first enqueued, first claimed), `priority` (lowest
   * `priorityOf` first, FIFO among equals), `any`. @default "any"
   */
  order?: "fifo" | "priority" | "any";
  priorityOf?: (id: string) => number;
  /**
   * Claims this close together (ms) are concurrent: neither overtook the other. Claims seen by
   * different consumers are only ordered up to the time it takes to observe them. @default 0
   */
  slackMs?: number;
  /** The history is over: a task enqueued and never done is lost. @default true */
  complete?: boolean;
  /** Each task takes effect at most once (false for at-least-once labs). @default true */
  once?: boolean;
  /** An effect needs a claim before it: work done outside the queue is a violation. @default false */
  claimBeforeEffect?: boolean;
}

export type ViolationKind = "lost" | "duplicated" | "acked-not-done" | "reordered" | "unclaimed" | "unknown";

export interface HistoryViolation {
  kind: ViolationKind;
  /** The tasks involved: one, or the overtaken and the one that overtook it. */
  ids: string[];
  /** The events of those tasks, in order: the smallest slice of the history that shows it. */
  slice: QueueEvent[];
  explain: string;
}

export class QueueHistory {
  private readonly list: QueueEvent[] = [];

  constructor(private readonly clock: () => number = () => performance.now()) {}

  /** Records an event now. */
  record(op: QueueOp, id: string, by?: string): void {
    this.list.push({ op, id, by, at: this.clock() });
  }

  /** Adds events observed with their own times (effects read back from Redis, log entries). */
  add(events: QueueEvent[]): void {
    this.list.push(...events);
  }

  /** Every event, in time order (stable: events at the same time keep the order they came in). */
  get events(): QueueEvent[] {
    return this.list
      .map((e, i) => ({ e, i }))
      .sort((a, b) => a.e.at - b.e.at || a.i - b.i)
      .map(({ e }) => e);
  }

  /** Every violation of `model`, smallest slice first. */
  violations(model: QueueModel = {}): HistoryViolation[] {
    const events = this.events;
    const of = (ids: string[]) => events.filter((e) => ids.includes(e.id));
    const found: HistoryViolation[] = [];
    const byId = new Map<string, QueueEvent[]>();
    for (const e of events) byId.set(e.id, [...(byId.get(e.id) ?? []), e]);

    for (const [id, mine] of byId) {
      const first = (op: QueueOp) => mine.find((e) => e.op === op);
      const count = (op: QueueOp) => mine.filter((e) => e.op === op).length;
      if (!first("enqueue")) {
        found.push({
          kind: "unknown",
          ids: [id],
          slice: mine,
          explain: `${id} was never enqueued, yet it was ${mine[0]!.op === "effect" ? "done" : `${mine[0]!.op}ed`}`,
        });
        continue;
      }
      const effects = count("effect");
      if (effects === 0 && (model.complete ?? true)) found.push({ kind: "lost", ids: [id], slice: mine, explain: `${id} was enqueued and never done` });
      if (effects > 1 && (model.once ?? true)) found.push({ kind: "duplicated", ids: [id], slice: mine, explain: `${id} was done ${effects} times` });
      const ack = first("ack");
      const effect = first("effect");
      if (ack && (!effect || effect.at > ack.at))
        found.push({
          kind: "acked-not-done",
          ids: [id],
          slice: mine.filter((e) => e.at <= ack.at || e.op === "effect"),
          explain: `${id} was acknowledged before it was done${effect ? "" : " (and it never was)"}`,
        });
      const claim = first("claim");
      if (model.claimBeforeEffect && effect && (!claim || claim.at > effect.at))
        found.push({ kind: "unclaimed", ids: [id], slice: mine, explain: `${id} was done without being claimed from the queue` });
    }

    if (model.order === "fifo" || model.order === "priority") found.push(...this.overtakes(events, model).map((v) => ({ ...v, slice: of(v.ids) })));
    return found.sort((a, b) => a.slice.length - b.slice.length);
  }

  /**
   * A claim of A overtook B when B was waiting (enqueued before A was claimed, not yet claimed) and
   * should have come first: enqueued earlier (fifo), or with a lower priority number, or equal
   * and enqueued earlier (priority). One violation per overtaken task, naming the first overtaker.
   */
  private overtakes(events: QueueEvent[], model: QueueModel): Omit<HistoryViolation, "slice">[] {
    const slack = model.slackMs ?? 0;
    const enqueuedAt = new Map<string, number>();
    const claimedAt = new Map<string, number>();
    for (const e of events) {
      if (e.op === "enqueue" && !enqueuedAt.has(e.id)) enqueuedAt.set(e.id, e.at);
      if (e.op === "claim" && !claimedAt.has(e.id)) claimedAt.set(e.id, e.at);
    }
    const priority = model.priorityOf ?? (() => 0);
    const before = (b: string, a: string) => {
      if (model.order === "priority" && priority(b) !== priority(a)) return priority(b) < priority(a);
      return enqueuedAt.get(b)! < enqueuedAt.get(a)!;
    };
    const out: Omit<HistoryViolation, "slice">[] = [];
    const claims = [...claimedAt].filter(([id]) => enqueuedAt.has(id)).sort((x, y) => x[1] - y[1]);
    const reported = new Set<string>();
    for (const [a, aAt] of claims) {
      for (const [b, bEnqueued] of enqueuedAt) {
        if (b === a || reported.has(b) || bEnqueued >= aAt) continue;
        const bClaimed = claimedAt.get(b);
        if (bClaimed !== undefined && bClaimed <= aAt + slack) continue;
        if (!before(b, a)) continue;
        reported.add(b);
        const why = model.order === "priority" && priority(b) !== priority(a) ? `priority ${priority(b)} before ${priority(a)}` : "enqueued earlier";
        out.push({
          kind: "reordered",
          ids: [b, a],
          explain: `${a} was claimed while ${b} (${why}) was waiting${bClaimed === undefined ? " and never claimed" : ""}`,
        });
      }
    }
    return out;
  }

  /**
   * Fails with the smallest violation, shown as its slice of the history (times relative to the
   * history's first event), and how many more there are.
   */
  assert(model: QueueModel, what: { noun?: string; hints: Partial<Record<ViolationKind, string>> }): void {
    const all = this.violations(model);
    if (all.length === 0) return;
    const worst = all[0]!;
    const start = this.events[0]?.at ?? 0;
    const noun = what.noun ?? "task";
    const lines = worst.slice.map((e) => `+${Math.round(e.at - start)} ms  ${e.op.padEnd(7)} ${e.id}${e.by ? `  by ${e.by}` : ""}`);
    const more = all.length > 1 ? ` (and ${all.length - 1} more violation${all.length > 2 ? "s" : ""}: ${summarize(all.slice(1))})` : "";
    throw new CheckFailure({
      message: `The queue's history breaks its rules: ${worst.explain}${more}.`,
      expected: expectation(worst.kind, noun),
      actual: lines.join("\n"),
      hint: what.hints[worst.kind] ?? "Read the slice of history above from the top: it is every event of the tasks involved, as the grader saw them.",
    });
  }
}

function expectation(kind: ViolationKind, noun: string): string {
  switch (kind) {
    case "lost":
      return `every ${noun} enqueued is done`;
    case "duplicated":
      return `each ${noun} done exactly once`;
    case "acked-not-done":
      return `a ${noun} acknowledged only after it is done`;
    case "reordered":
      return `${noun}s claimed in the queue's order`;
    case "unclaimed":
      return `each ${noun} claimed from the queue before it is done`;
    case "unknown":
      return `only ${noun}s that were enqueued are done`;
  }
}

function summarize(violations: HistoryViolation[]): string {
  const counts = new Map<ViolationKind, number>();
  for (const v of violations) counts.set(v.kind, (counts.get(v.kind) ?? 0) + 1);
  return [...counts].map(([kind, n]) => `${n} ${kind}`).join(", ");
}

/**
 * Every expected item seen exactly once (no loss, no duplicate effect), with a failure that names
 * the offending items: the history checker's two commonest rules, for checks that record no times.
 */
export function assertEachOnce(expected: string[], seen: string[], what: { noun: string; hintLost: string; hintDuplicate: string }): void {
  const counts = new Map<string, number>();
  for (const id of seen) counts.set(id, (counts.get(id) ?? 0) + 1);
  const duplicated = [...counts].filter(([, n]) => n > 1).map(([id, n]) => `${id} ×${n}`);
  if (duplicated.length > 0) {
    throw new CheckFailure({
      message: `${duplicated.length} ${what.noun}(s) took effect more than once.`,
      expected: `each of the ${expected.length} exactly once`,
      actual: duplicated.slice(0, 10).join(", "),
      hint: what.hintDuplicate,
    });
  }
  const lost = expected.filter((id) => !counts.has(id));
  if (lost.length > 0) {
    throw new CheckFailure({
      message: `${lost.length} ${what.noun}(s) never took effect.`,
      expected: `all ${expected.length}`,
      actual: `missing: ${lost.slice(0, 10).join(", ")}`,
      hint: what.hintLost,
    });
  }
}
