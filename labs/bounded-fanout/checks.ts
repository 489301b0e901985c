import { CheckFailure, defineChecks, fc, type CheckContext, type RpcModule } from "../../lib/grader/index.ts";
import type { Act, Ev, ItemPlan, Plan, Report, SourceKind, Val } from "./starter/probe.ts";

// Every call goes through probe.ts (read-only), which runs in the learner's own sandbox: it builds
// the items, the source that yields them and the fn that stands for the work from a plan sent as
// JSON, calls mapLimit, and sends back what it saw as a list of events in order (fn called, its
// promise settled, an item read, the source closed, the signal aborted, mapLimit settled) with the
// calls in flight at each one. Each event that frees a slot is followed by a "turn" event: a
// setImmediate queued at that moment, which runs once the event loop has moved on. What the
// learner's code did in between ran in the same turn, in the microtasks that followed.
//
// The checks judge from that list: the peak (never above the limit), the refill (at every turn,
// either `limit` calls are in flight or nothing is left to start), what happened after a failure
// or an abort, what was read from the source and when. Timing is judged in turns, not in
// milliseconds, so a loaded machine cannot fail correct code, and code that waits for a timer,
// polls, or waits for a whole batch fails every time, however fast the machine.

const PROBE = "probe.ts";
/** Instances live as long as a check may take on a loaded machine (their default is 10 s). */
const INSTANCE = { limits: { wallMs: 28_000 } };
/** instructions.md: 100 000 items of plain values and resolved promises within this. */
const LARGE_MS = 3000;
const LARGE_COUNT = 100_000;
/**
 * How long a run waits for mapLimit to settle before reporting it still pending: its latencies
 * twice over, and this. Only a hang ever waits that long; the margin is for a loaded machine,
 * where every timer of a run can come late.
 */
const SETTLE_MARGIN_MS = 4000;

const SOURCES: SourceKind[] = ["array", "generator", "iterator", "async-generator", "async-iterator"];
const SOURCE_NAMES: Record<SourceKind, string> = {
  array: "an array",
  generator: "a generator (function*)",
  iterator: "an iterable object with a hand-written next()",
  "async-generator": "an async generator (async function*)",
  "async-iterator": "an async iterable with a hand-written next()",
};

// ---------------------------------------------------------------------------------------------
// The probe, reloaded when the learner's module crashes (an unhandled rejection ends it, as it
// would end a Node process), so that one crash is reported as what it is and later runs go on.

class Probe {
  private constructor(
    private readonly t: CheckContext,
    private mod: RpcModule,
    private readonly process: boolean,
  ) {}

  /** `process`: a sandboxed process of its own, for a run that keeps its thread busy for long. */
  static async open(t: CheckContext, process = false): Promise<Probe> {
    return new Probe(t, await t.load(PROBE, { ...INSTANCE, process }), process);
  }

  /** Calls the probe; `plans` are what it runs, to name an item whose failure crashed the module. */
  async call<T>(fn: "run" | "runTogether" | "runNested", args: unknown[], timeoutMs: number, plans: Plan[]): Promise<T> {
    const mod = this.mod;
    try {
      return await mod.call<T>(fn, args, timeoutMs);
    } catch (error) {
      if (mod.alive) throw error;
      const output = mod.output();
      this.mod = await this.t.load(PROBE, { ...INSTANCE, process: this.process });
      const crash = crashOf(output, plans);
      throw new CheckFailure({
        message: `Your module crashed while mapLimit ran or right after it: ${crash.what}. A Node process ends the same way.`,
        actual: output.slice(-1500) || undefined,
        hint: crash.hint,
      });
    }
  }

  run(plan: Plan): Promise<Report> {
    return this.call<Report>("run", [plan], rpcTimeout(plan), [plan]);
  }
}

const UNHANDLED_HINT =
  "Every promise that can reject needs a rejection handler attached the moment it exists, including the ones whose result you no longer want: after the first failure, calls still in flight may fail too. Handle both outcomes of each fn call's promise in one place (promise.then(onValue, onError)), and never leave a promise you made unhandled: a .then(onValue) whose rejection nobody catches, a Promise.race or Promise.all you drop.";

function crashOf(output: string, plans: Plan[]): { what: string; hint: string } {
  const lines = output.split("\n").filter((l) => l.trim());
  const unhandled = lines.find((l) => l.startsWith("Unhandled rejection:"));
  if (unhandled)
    return {
      what: `a promise rejected with ${unhandled.slice("Unhandled rejection:".length).trim().slice(0, 120)} and nothing handled it`,
      hint: UNHANDLED_HINT,
    };
  if (output.includes("Maximum call stack size exceeded"))
    return { what: "the stack overflowed (RangeError: Maximum call stack size exceeded)", hint: RECURSION_HINT };
  for (const p of plans) {
    for (const [i, it] of p.items.entries()) {
      if (it.out[0] === "error" && output.includes(it.out[1])) {
        return {
          what: `item ${i}'s call ${it.act === "throw" ? "threw" : "rejected with"} ${showVal(it.out)} ("${it.out[1]}"), and it went unhandled: a promise rejected with it and nothing handled that promise, or it was thrown from a callback`,
          hint: UNHANDLED_HINT,
        };
      }
    }
  }
  const first = lines.find((l) => /Error|Uncaught/.test(l)) ?? lines[0] ?? "no output";
  return {
    what: `it ended with "${first.slice(0, 200)}"`,
    hint: "Whatever fn does, mapLimit must turn it into a result or a rejection of its own promise, never into an exception that escapes it or a promise nobody handles.",
  };
}

const RECURSION_HINT =
  "Do not start the next item by calling your own function directly from the code that just finished one: with plain values that recursion grows with the number of items. Loop while a slot is free, and come back to the loop from a promise callback.";

const rpcTimeout = (plan: Plan) => plan.deadlineMs * 2 + 4000;

// ---------------------------------------------------------------------------------------------
// Plans. Shapes (what fn does for each item and how long it takes, the limit, the source) come
// from the seed or fast-check, so a replay is the same workload; every value an item, a result or
// an error carries comes from t.id(), so no program can know it in advance.

interface Shape {
  act: Act;
  ms: number;
  /** What a failing item throws or rejects with. */
  thrown?: ThrownKind;
}

type ThrownKind = "Error" | "TypeError" | "Custom" | "object" | "string" | "undefined" | "null" | "zero" | "false" | "empty";
function thrownVal(t: CheckContext, kind: ThrownKind): Val {
  switch (kind) {
    case "Error":
    case "TypeError":
    case "Custom":
      return ["error", `${t.id("job")} failed`, kind];
    case "object":
      return ["obj", t.id("failure")];
    case "string":
      return ["str", t.id("failure")];
    case "undefined":
      return ["undefined"];
    case "null":
      return ["null"];
    case "zero":
      return ["num", 0];
    case "false":
      return ["bool", false];
    case "empty":
      return ["str", ""];
  }
}

const fails = (s: Shape) => s.act === "throw" || s.act === "reject";

function item(t: CheckContext, s: Shape, itemVal?: Val, out?: Val): ItemPlan {
  return { item: itemVal ?? ["obj", t.id("item")], act: s.act, ms: s.ms, out: out ?? (fails(s) ? thrownVal(t, s.thrown ?? "Error") : ["obj", t.id("result")]) };
}

function plan(t: CheckContext, limit: number, source: SourceKind, shapes: Shape[], extra: Partial<Plan> = {}): Plan {
  const total = shapes.reduce((sum, s) => sum + s.ms, 0);
  return { limit: ["num", limit], source, items: shapes.map((s) => item(t, s)), deadlineMs: SETTLE_MARGIN_MS + 2 * total, ...extra };
}

const pick = <T>(t: CheckContext, list: readonly T[]): T => list[Math.floor(t.random() * list.length)]!;
const between = (t: CheckContext, min: number, max: number) => min + Math.floor(t.random() * (max - min + 1));

// ---------------------------------------------------------------------------------------------
// How plans and events read in a failure message.

function showVal(v: Val): string {
  switch (v[0]) {
    case "obj":
      return "an object";
    case "str":
      return v[1] === "" ? 'the empty string ""' : "a string (the same one every time it appears)";
    case "num":
      return `the number ${v[1]}`;
    case "error":
      return v[2] === "Custom" ? "an instance of an Error subclass" : `a${v[2] === "Error" ? "n" : ""} ${v[2]}`;
    case "same":
      return `the same item as item ${v[1]}`;
    default:
      return v[0] === "bool" ? String(v[1]) : v[0];
  }
}

/** What fn does for one item, in a few words. */
function brief(s: ItemPlan): string {
  const out = showVal(s.out);
  const value = s.out[0] === "obj" ? "" : ` with ${out}`;
  switch (s.act) {
    case "value":
      return `returns ${s.out[0] === "obj" ? "a plain value" : out}`;
    case "micro":
      return `resolves at once${value}`;
    case "timer":
      return `${s.ms} ms${value}`;
    case "thenable":
      return `thenable, ${s.ms} ms${value}`;
    case "throw":
      return `THROWS ${out}`;
    case "reject":
      return s.ms === 0 ? `REJECTS at once with ${out}` : `REJECTS after ${s.ms} ms with ${out}`;
  }
}

/** A workload as the learner can rebuild it: the limit, the source, what fn does for each item. */
function showPlan(p: Plan): string {
  const limit = p.limit[0] === "num" ? String(p.limit[1]) : showVal(p.limit);
  const count = p.endless ? "endless" : String(p.count ?? p.items.length);
  const reads = p.readMs ? `, each read taking ${[...new Set(p.readMs)].join(" or ")} ms` : "";
  const head = `mapLimit(${SOURCE_NAMES[p.source]} of ${count} items${reads}, ${limit}, fn${p.signal ? ", { signal }" : ""})`;
  if (p.items.length === 0) return `${head}, with no items at all.`;
  const item = (v: Val) => (v[0] === "obj" ? "" : v[0] === "same" ? ` (the same item as #${v[1]})` : ` (item: ${showVal(v)})`);
  const each = p.items.slice(0, 40).map((it, i) => `#${i}${item(it.item)} ${brief(it)}`);
  const more = p.items.length > 40 ? `, … ${p.items.length - 40} more` : "";
  const repeat = p.endless || (p.count ?? 0) > p.items.length ? ", then the same again, over and over" : "";
  return `${head}; for each item, what fn's call does (N ms: its promise resolves after N ms):\n  ${each.join(", ")}${more}${repeat}.`;
}

const ms = (n: number) => `${n.toFixed(1)} ms`;

function showEvent(e: Ev): string {
  const [code, i, at] = e;
  switch (code) {
    case "s":
      return `item ${i} started at ${ms(at)}`;
    case "e":
      return `item ${i}'s call settled at ${ms(at)}`;
    case "f":
      return i < 0 ? `the source's next() failed at ${ms(at)}` : `item ${i}'s call failed at ${ms(at)}`;
    case "r":
      return `item ${i} was read from the source at ${ms(at)}`;
    case "a":
      return `the signal aborted at ${ms(at)}`;
    default:
      return `at ${ms(at)}`;
  }
}

/** A call that settled in a timer's callback: a later turn of the event loop than any event before it. */
const laterSettle = (e: Ev) => (e[0] === "e" || e[0] === "f") && e[5] === 1;

/** Where the "turn" event after event k is, or -1. */
const turnAfter = (events: Ev[], k: number) => events.findIndex((e) => e[0] === "t" && e[1] === k);

// ---------------------------------------------------------------------------------------------
// Judging one report. Each returns what went wrong as the learner reads it, or null.

interface Problem {
  message: string;
  hint: string;
}

function basicProblem(r: Report): Problem | null {
  if (r.threw)
    return {
      message: `mapLimit threw ${r.threw.text} synchronously instead of returning a promise.`,
      hint: "Make mapLimit an async function: whatever it throws then rejects the promise it returns, which is where callers look.",
    };
  if (r.returned !== "promise")
    return {
      message: `mapLimit returned ${r.returned === "thenable" ? "a thenable that is not a Promise" : "something that is not a promise"}.`,
      hint: "mapLimit returns a Promise (an async function always does).",
    };
  if (r.cutOff) return EAGER(r);
  if (r.badCalls.length > 0)
    return {
      message: `fn was called with the wrong arguments: ${r.badCalls.join("; ")}.`,
      hint: "Call fn(item, index) with the item exactly as the source gave it and its 0-based position in the input.",
    };
  return null;
}

/** Never more than `limit` calls in flight. */
function overLimitProblem(r: Report, limit: number): Problem | null {
  const over = r.events.find((e) => e[0] === "s" && e[3] > limit);
  if (!over && r.peak <= limit) return null;
  return {
    message: over
      ? `${showEvent(over)} while ${over[3] - 1} calls were already in flight: ${over[3]} at once, with a limit of ${limit}.`
      : `${r.peak} calls were in flight at once, with a limit of ${limit}.`,
    hint: "Count the calls in flight: one more when you call fn, one fewer when its promise settles (either way). Start an item only while that count is below the limit.",
  };
}

/** The limit, and the refill rule, for a run that may have stopped (failure or abort) part way. */
function concurrencyProblem(r: Report, limit: number, total: number): Problem | null {
  const over = overLimitProblem(r, limit);
  if (over) return over;
  const ev = r.events;
  const stop = ev.findIndex((e) => e[0] === "f" || e[0] === "a");
  for (let k = 0; k < ev.length; k++) {
    const e = ev[k]!;
    if (e[0] !== "t" || (stop >= 0 && (e[1] >= stop || k > stop))) continue;
    const [, after, at, inflight, started] = e;
    if (inflight >= limit || started >= total) continue;
    const what = after === -1 ? "Right after mapLimit was called" : `After ${showEvent(ev[after]!)}`;
    const next = ev.slice(k).find((x) => x[0] === "s");
    const then = next
      ? `The next item, ${next[1]}, started ${ms(next[2] - (after === -1 ? 0 : ev[after]![2]))} after that.`
      : "No other item started after that.";
    const waiting = Number.isFinite(total) ? `${total - started} items still waited to start` : "items still waited to start";
    return {
      message: `${what}, the event loop moved on (at ${ms(at)}) with ${inflight} call${inflight === 1 ? "" : "s"} in flight, not ${limit}, while ${waiting}. ${then} A slot that frees must be filled in the same turn: in the microtasks that follow the settled promise, not after a timer, a setImmediate, a poll or the rest of a batch.`,
      hint: "Refill as soon as a call settles: in its promise's callback (or right after the await that waited for it), start the next item if one is left. Do not wait for the other calls of a batch (Promise.all over chunks), and do not check for free slots on a timer.",
    };
  }
  return null;
}

/** What the source yields as item i (a "same" item is the item it repeats). */
function itemVal(p: Plan, i: number): Val {
  const v = p.items[i % p.items.length]!.item;
  return v[0] === "same" ? itemVal(p, v[1]) : v;
}

/** Items i and j are equal: the same object, or equal primitives. */
function sameItem(p: Plan, i: number, j: number): boolean {
  const [a, b] = [p.items[i % p.items.length]!.item, p.items[j % p.items.length]!.item];
  if ((a[0] === "same" && a[1] === j) || (b[0] === "same" && b[1] === i) || (a[0] === "same" && b[0] === "same" && a[1] === b[1])) return true;
  const [x, y] = [itemVal(p, i), itemVal(p, j)];
  return x[0] !== "obj" && x[0] !== "error" && JSON.stringify(x) === JSON.stringify(y);
}

function resultsProblem(r: Report, p: Plan, count: number): Problem | null {
  const o = r.outcome;
  if (o.kind === "pending")
    return {
      message: `mapLimit had not settled ${p.deadlineMs} ms after it was called, although ${r.calls} fn calls had all settled.`,
      hint: "Once every item has been read and every call has settled, resolve with the results. Count what is in flight, and check for the end both after a call settles and after the source says it is done.",
    };
  if (o.kind === "rejected")
    return {
      message: `mapLimit rejected with ${o.error.text}, although no item failed.`,
      hint: o.error.text.includes("then is not a function")
        ? "fn may return a plain value rather than a promise: treat what it returns as await does (await it, or Promise.resolve(value).then(…))."
        : "Only a failure of fn, of the source or an abort rejects mapLimit.",
    };
  if (!o.isArray)
    return {
      message: `mapLimit resolved with ${o.wrong[0]?.got.text ?? "something else"}, not an array.`,
      hint: "Resolve with an array holding, at each index, the result of that item's call.",
    };
  if (o.length !== count)
    return {
      message: `mapLimit resolved with an array of ${o.length} results for ${count} items.`,
      hint: "One result per item, at the item's index: results[index] = value, and as many results as items.",
    };
  const w = o.wrong[0];
  if (w) {
    const other = w.got.of.find((j) => j !== w.index);
    const got = other !== undefined ? `the result of item ${other}` : w.got.text;
    const equal = other !== undefined && sameItem(p, w.index, other);
    const order =
      other === undefined
        ? ""
        : equal
          ? ` Items ${Math.min(w.index, other)} and ${Math.max(w.index, other)} are equal (${showVal(itemVal(p, other))}), and each still has its own result.`
          : " The results are not in input order: each one must be stored at its item's index, whatever order the calls finish in.";
    return {
      message: `results[${w.index}] is ${got}, not the value fn's call for item ${w.index} resolved with.${order} (${o.right} of ${count} in place.)`,
      hint:
        other !== undefined
          ? "Give each item its index when you start it (the index fn receives) and store its result at that index: results[index] = value, never results.push(value), never a lookup by item (items can be equal, or the very same object twice)."
          : "Store exactly the value each call resolved with: fn may return a plain value, a promise or a thenable, and the result is what await would give you for it.",
    };
  }
  if (o.holes > 0)
    return {
      message: `mapLimit's array has ${o.holes} empty slot${o.holes === 1 ? "" : "s"} (indexes never assigned).`,
      hint: "Assign every index, even when a call resolves with undefined.",
    };
  if (r.calls !== count) return { message: `fn was called ${r.calls} times for ${count} items.`, hint: "Call fn exactly once per item." };
  const starts = r.events.filter((e) => e[0] === "s").map((e) => e[1]);
  const outOfOrder = starts.findIndex((i, k) => i !== k);
  if (starts.length === count && outOfOrder >= 0)
    return {
      message: `fn was called for the items in this order: ${starts.slice(0, 12).join(", ")}${starts.length > 12 ? ", …" : ""}; item ${outOfOrder} should have been call number ${outOfOrder + 1}.`,
      hint: "Start the items in input order: the next item to start is always the next one read.",
    };
  return null;
}

interface FailureExpectation {
  limit: number;
  /** The source is closeable (a generator or an iterator with return()) and was not read to its end. */
  closeable: boolean;
}

/** A run in which something fails (an item's call or the source): how mapLimit must react. */
function failureProblem(r: Report, p: Plan, x: FailureExpectation): Problem | null {
  const ev = r.events;
  const first = ev.findIndex((e) => e[0] === "f");
  if (first < 0) return null;
  const [, failed, failedAt] = ev[first]!;
  const what =
    failed < 0
      ? `the source's next() failed at ${ms(failedAt)}`
      : `item ${failed}'s call ${p.items[failed % p.items.length]!.act === "throw" ? "threw" : "rejected"} at ${ms(failedAt)}`;
  const o = r.outcome;
  if (o.kind === "pending")
    return {
      message: `After ${what}, mapLimit never settled (waited ${p.deadlineMs} ms).`,
      hint: "A failure must reject mapLimit's promise: catch what fn throws synchronously as well as what its promise rejects with, and reject with it.",
    };
  if (o.kind === "resolved") {
    return {
      message: `After ${what}, mapLimit resolved (with ${o.isArray ? `an array of ${o.length}` : "something else"}) instead of rejecting.`,
      hint: 'A failure is never a result: reject with it. Careful with `if (error)`: fn may throw undefined, null, 0, false or "", and that is still a failure. Keep a separate flag.',
    };
  }
  const e = o.error;
  // Failures in the same turn as the first one are microtasks apart, and code sees each through a
  // callback: any of them may win. One from a later turn never wins over an earlier one.
  const turn = turnAfter(ev, first);
  const sameTurnEnd = Math.min(...[turn, ev.findIndex((x, k) => k > first && laterSettle(x))].filter((k) => k >= 0), ev.length);
  const sameTurn = ev
    .slice(first, sameTurnEnd)
    .filter((x) => x[0] === "f")
    .map((x) => x[1]);
  const rightValue = sameTurn.some((i) => (i < 0 ? e.readError === true : e.of.includes(i)));
  if (!rightValue) {
    const laterOne = e.of.find((j) => !sameTurn.includes(j));
    const shownFailure =
      failed < 0
        ? "the error next() threw"
        : `what item ${failed}'s call ${p.items[failed % p.items.length]!.act === "throw" ? "threw" : "rejected with"} (${showVal(p.items[failed % p.items.length]!.out)})`;
    const why =
      laterOne !== undefined
        ? `the value item ${laterOne}'s call failed with, which failed after it: the first failure in time is the one to report`
        : e.causeOf !== undefined && e.causeOf !== null
          ? `a new error of its own (${e.text}) that carries the original as its cause`
          : e.text;
    return {
      message: `After ${what}, mapLimit rejected with ${why}, not with ${shownFailure}.`,
      hint: "Reject with exactly the value that was thrown or rejected: the same object (not a copy, a message or a wrapper), or the same primitive, even undefined. The first failure wins; later ones are ignored.",
    };
  }
  // It must reject in the same turn, not after the calls still in flight: no call may settle in
  // a timer's callback (a later turn) before it, and the turn after the failure must find it done.
  const settled = ev.findIndex((x) => x[0] === "x");
  const between = ev.slice(first + 1, settled < 0 ? undefined : settled).filter(laterSettle);
  if (settled < 0 || (turn >= 0 && settled > turn) || between.length > 0) {
    const waited =
      between.length > 0
        ? ` It waited for the calls still in flight: ${showEvent(between[0]!)} before mapLimit rejected at ${ms(r.settledMs ?? 0)}.`
        : ` It rejected at ${ms(r.settledMs ?? 0)}, a turn of the event loop later.`;
    return {
      message: `After ${what}, mapLimit did not reject at once.${waited}`,
      hint: "Reject as soon as the failure is seen, in the callback that sees it. The calls still in flight go on by themselves; mapLimit does not wait for them.",
    };
  }
  // Nothing new starts after the failure: in its own turn at most limit - 1 (a fill already under
  // way), after that nothing.
  const startedSameTurn = ev.slice(first + 1, sameTurnEnd).filter((x) => x[0] === "s");
  const later = ev.slice(sameTurnEnd).filter((x) => x[0] === "s");
  if (later.length > 0 || startedSameTurn.length > x.limit - 1) {
    const shown = later[0] ?? startedSameTurn[x.limit - 1]!;
    const n = later.length + startedSameTurn.length;
    return {
      message: `After ${what}, mapLimit went on starting items: ${n} more started, the first of them after the failure being ${showEvent(shown)}. Once a call has failed, nothing new may start.`,
      hint: "Keep a flag that a failure (or an abort) sets at once, and check it before you read the next item and again before you start it. Other runner loops or callbacks that are still waiting must see it when they wake up.",
    };
  }
  const exhausted = ev.some((e) => e[0] === "d");
  if (failed >= 0 && x.closeable && !exhausted && r.closes === 0)
    return {
      message: `After ${what}, mapLimit stopped but never closed the source: its return() was not called.`,
      hint: "When you stop reading a source early, close it: call iterator.return?.() once (for…of and for await…of do this for you when you leave the loop early), so that a generator's finally blocks run and whatever it holds is released.",
    };
  return null;
}

function abortProblem(r: Report, p: Plan, x: { closeable: boolean }): Problem | null {
  const ev = r.events;
  const aborted = ev.findIndex((e) => e[0] === "a");
  const o = r.outcome;
  const before = p.signal?.before === true;
  const what = before ? "With a signal aborted before the call" : aborted >= 0 ? `After the signal aborted at ${ms(ev[aborted]![2])}` : "";
  if (!before && aborted < 0) return listenerProblem(r);
  if (o.kind === "pending")
    return {
      message: `${what}, mapLimit never settled (waited ${p.deadlineMs} ms).`,
      hint: "Listen for the signal's abort event (and check signal.aborted at the start): reject with signal.reason at once.",
    };
  if (o.kind === "resolved")
    return {
      message: `${what}, mapLimit resolved instead of rejecting${before ? "" : ": it ran on to the end"}.`,
      hint: "An aborted signal rejects mapLimit with signal.reason, whatever is left to do. Check signal.aborted before you start, and listen for its abort event.",
    };
  if (o.error.reason !== true) {
    const reason = p.signal?.reason
      ? "the reason the signal was aborted with"
      : "signal.reason (a DOMException named AbortError when abort() is given no reason)";
    return {
      message: `${what}, mapLimit rejected with ${o.error.text}, not with ${reason}.`,
      hint: "Reject with signal.reason itself: the very value abort(reason) was given, or the AbortError DOMException the signal made, not an error of your own.",
    };
  }
  if (before) {
    if (r.calls > 0 || r.reads > 0)
      return {
        message: `${what}, mapLimit still ${r.reads > 0 ? `read ${r.reads} item${r.reads === 1 ? "" : "s"} from the source` : ""}${r.reads > 0 && r.calls > 0 ? " and " : ""}${r.calls > 0 ? `called fn ${r.calls} time${r.calls === 1 ? "" : "s"}` : ""} before rejecting.`,
        hint: "Check signal.aborted before anything else happens: nothing is read and nothing is called.",
      };
  } else {
    const settled = ev.findIndex((e) => e[0] === "x");
    const turn = turnAfter(ev, aborted);
    const between = ev.slice(aborted + 1, settled < 0 ? undefined : settled).filter(laterSettle);
    if (settled < 0 || (turn >= 0 && settled > turn) || between.length > 0) {
      const waited = between.length > 0 ? ` It waited until ${showEvent(between[0]!)}.` : "";
      return {
        message: `${what}, mapLimit did not reject at once: it rejected at ${ms(r.settledMs ?? 0)}.${waited}`,
        hint: 'Listen for the abort event (signal.addEventListener("abort", …)) and reject in that listener; checking signal.aborted only when a slot frees reacts only when a call happens to finish.',
      };
    }
    const started = ev.slice(aborted + 1).filter((e) => e[0] === "s");
    if (started.length > 0)
      return {
        message: `${what}, mapLimit still started ${started.length} item${started.length === 1 ? "" : "s"}: ${showEvent(started[0]!)}.`,
        hint: "After the abort nothing new starts: check your stopped flag before reading the next item and again before starting it, also in callbacks that were already waiting (a read that completes after the abort).",
      };
    if (x.closeable && r.closes === 0)
      return {
        message: `${what}, mapLimit stopped but never closed the source: its return() was not called.`,
        hint: "When you stop reading a source early, call iterator.return?.() once, as for…of does when you leave the loop early.",
      };
  }
  return listenerProblem(r);
}

function listenerProblem(r: Report): Problem | null {
  if (r.listeners > 0)
    return {
      message: `Once mapLimit had settled, the signal still had ${r.listeners} abort listener${r.listeners === 1 ? "" : "s"} of yours. A signal often lives much longer than one call (a whole job, a server's shutdown), and every call would leave one more.`,
      hint: "Remove your abort listener (removeEventListener with the same function) whenever mapLimit settles: resolved, rejected or aborted. { once: true } removes it only if the signal aborts.",
    };
  return null;
}

const EAGER = (r: Report): Problem => ({
  message: `mapLimit read items from the source far ahead of the work: it had read ${r.reads} items and asked for more, although at most the limit could be in flight, so the source refused (ReadTooFar). An endless source never ends, so code that reads it all first never starts.`,
  hint: "Read the next item only when a slot is free, and start it at once. Never Array.from, spread or collect the source first.",
});

function lazyProblem(r: Report, p: Plan, limit: number): Problem | null {
  if (r.cutOff) return EAGER(r);
  if (r.maxHeld > limit)
    return {
      message: `mapLimit held ${r.maxHeld} items at once (read from the source and not yet finished), with a limit of ${limit}: it read an item before a slot was free for it.`,
      hint: "Ask the source for the next item only when fewer than limit calls are in flight, and start it in the same turn. Reading one ahead takes an item (a job, a message) that nobody is working on yet.",
    };
  const ev = r.events;
  const stop = ev.findIndex((e) => e[0] === "f" || e[0] === "a");
  for (let k = 0; k < ev.length; k++) {
    const e = ev[k]!;
    if (e[0] !== "t" || ev[e[1]]?.[0] !== "r" || (stop >= 0 && e[1] > stop)) continue;
    const read = ev[e[1]]!;
    const startedItem = ev.slice(e[1], k).some((x) => x[0] === "s" && x[1] === read[1]);
    if (!startedItem) {
      const next = ev.slice(k).find((x) => x[0] === "s" && x[1] === read[1]);
      return {
        message: `${showEvent(read)}, but fn was not called for it in that turn of the event loop${next ? `: it started at ${ms(next[2])}` : ""}. An item read is started at once.`,
        hint: "Start each item in the same turn you read it. Do not collect a batch from the source first, and read only when a slot is free.",
      };
    }
  }
  return null;
}

function fail(t: CheckContext, problem: Problem, p?: Plan, extra = ""): never {
  t.fail({ message: `${problem.message}${p ? `\nThe workload: ${showPlan(p)}` : ""}${extra}`, hint: problem.hint });
}

/** Runs one plan and fails with the first problem the judges find. */
async function judge(t: CheckContext, probe: Probe, p: Plan, judges: ((r: Report) => Problem | null)[]): Promise<Report> {
  const r = await probe.run(p);
  for (const j of [basicProblem, ...judges]) {
    const problem = j(r);
    if (problem) fail(t, problem, p);
  }
  return r;
}

/** As judge, but for t.property: the failure carries the message, and the property shows the input. */
async function judgeQuietly(probe: Probe, p: Plan, judges: ((r: Report) => Problem | null)[]): Promise<Report> {
  const r = await probe.run(p);
  for (const j of [basicProblem, ...judges]) {
    const problem = j(r);
    if (problem) throw new CheckFailure({ message: problem.message, hint: problem.hint });
  }
  return r;
}

const closeable = (p: Plan) => p.source !== "array";

// ---------------------------------------------------------------------------------------------
// Generated workloads (fast-check, seeded by the run): latencies where most calls are quick and
// some are slow, so completion order differs from input order and a batch waits for its slowest.

const latency = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 6 }) }, { weight: 1, arbitrary: fc.integer({ min: 15, max: 40 }) });
const succeeding: fc.Arbitrary<Shape> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ act: fc.constant<Act>("timer"), ms: latency }) },
  { weight: 1, arbitrary: fc.record({ act: fc.constant<Act>("thenable"), ms: latency }) },
  { weight: 1, arbitrary: fc.record({ act: fc.constantFrom<Act>("micro", "value"), ms: fc.constant(0) }) },
);
const thrownKinds = fc.constantFrom<ThrownKind>("Error", "undefined", "TypeError", "Custom", "object", "string", "null", "zero", "false", "empty");
const failing: fc.Arbitrary<Shape> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ act: fc.constant<Act>("reject"), ms: latency, thrown: thrownKinds }) },
  { weight: 1, arbitrary: fc.record({ act: fc.constant<Act>("reject"), ms: fc.constant(0), thrown: thrownKinds }) },
  { weight: 1, arbitrary: fc.record({ act: fc.constant<Act>("throw"), ms: fc.constant(0), thrown: thrownKinds }) },
);

interface Workload {
  limit: number;
  source: SourceKind;
  shapes: Shape[];
}

const workloads: fc.Arbitrary<Workload> = fc.record({
  limit: fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 1, max: 8 }) }, { weight: 1, arbitrary: fc.constantFrom(1, 2, 64) }),
  source: fc.constantFrom(...SOURCES),
  shapes: fc.array(succeeding, { maxLength: 30 }),
});

const showWorkload = (w: Workload) =>
  showPlan({
    limit: ["num", w.limit],
    source: w.source,
    items: w.shapes.map((s) => ({ item: ["obj", ""], act: s.act, ms: s.ms, out: ["obj", ""] })),
    deadlineMs: 0,
  });

export default defineChecks({
  timeoutMs: 25_000,
  checks: {
    "peak-concurrency": async (t: CheckContext) => {
      const probe = await Probe.open(t);
      t.fault("handler latency: most calls take 1-6 ms, some 15-40 ms, in generated workloads");
      // A fixed workload first, whose message is easy to follow: 24 items, limit 4, one call in
      // five slow, so that the slow ones fall at a different place in each batch of 4.
      const limit = 4;
      const shapes: Shape[] = Array.from({ length: 24 }, (_, i) => ({ act: "timer", ms: i % 5 === 0 ? 30 : between(t, 2, 6) }));
      const fixed = plan(t, limit, pick(t, ["array", "generator"] as const), shapes);
      await judge(t, probe, fixed, [
        (r) => concurrencyProblem(r, limit, 24),
        (r) =>
          r.peak === limit
            ? null
            : {
                message: `At most ${r.peak} calls were ever in flight at once, with a limit of ${limit} and 24 items waiting.`,
                hint: "Keep exactly limit calls in flight while items are left.",
              },
        (r) => resultsProblem(r, fixed, 24),
      ]);
      // A limit far above the number of items: every item at once.
      const huge = plan(
        t,
        Number.MAX_SAFE_INTEGER,
        pick(t, SOURCES),
        Array.from({ length: 12 }, (): Shape => ({ act: "timer", ms: between(t, 2, 8) })),
      );
      await judge(t, probe, huge, [(r) => resultsProblem(r, huge, 12), (r) => concurrencyProblem(r, 12, 12)]);
      // Then generated workloads: any limit, any source, latencies quick and slow.
      await t.property(
        workloads,
        async (w) => {
          const p = plan(t, w.limit, w.source, w.shapes);
          await judgeQuietly(probe, p, [(r) => concurrencyProblem(r, w.limit, w.shapes.length), (r) => resultsProblem(r, p, w.shapes.length)]);
        },
        { runs: 25, timeLimitMs: 8000, noun: "workload", show: showWorkload },
      );
    },

    "results-in-order": async (t: CheckContext) => {
      const probe = await Probe.open(t);
      t.fault("handler latency: calls finish in another order than they started (later items quicker)");
      // Later items finish first: the completion order is the reverse of the input order.
      const reverse: Shape[] = Array.from({ length: 10 }, (_, i) => ({ act: "timer", ms: 4 + (10 - i) * 3 }));
      const p1 = plan(t, 10, pick(t, ["array", "generator", "async-generator"] as const), reverse);
      await judge(t, probe, p1, [(r) => resultsProblem(r, p1, 10)]);
      // Empty input, of every kind of source: [] and fn never called.
      for (const source of SOURCES) {
        const empty = plan(t, between(t, 1, 4), source, []);
        await judge(t, probe, empty, [(r) => resultsProblem(r, empty, 0)]);
      }
      // Generated: items of any kind (duplicates among them, the same object twice, undefined),
      // results of any kind (plain values, promises, thenables, undefined), any source.
      const values = fc.constantFrom<"obj" | "str" | "undefined" | "null" | "zero" | "same">("obj", "same", "str", "undefined", "null", "zero");
      const entry = fc.record({ shape: succeeding, item: values, out: values });
      await t.property(
        fc.record({ limit: fc.integer({ min: 1, max: 6 }), source: fc.constantFrom(...SOURCES), entries: fc.array(entry, { maxLength: 20 }) }),
        async ({ limit, source, entries }) => {
          const repeated = t.id("same");
          const make = (kind: string, i: number, isItem: boolean): Val => {
            switch (kind) {
              case "str":
                return ["str", repeated]; // the same string for every such entry: equal items
              case "undefined":
                return ["undefined"];
              case "null":
                return ["null"];
              case "zero":
                return ["num", 0];
              case "same":
                return isItem && i > 0 ? ["same", 0] : ["obj", t.id("value")];
              default:
                return ["obj", t.id("value")];
            }
          };
          const p: Plan = {
            limit: ["num", limit],
            source,
            items: entries.map((e, i) => item(t, e.shape, make(e.item, i, true), make(e.out, i, false))),
            deadlineMs: SETTLE_MARGIN_MS + 2 * entries.reduce((s, e) => s + e.shape.ms, 0),
          };
          await judgeQuietly(probe, p, [(r) => resultsProblem(r, p, entries.length)]);
        },
        {
          runs: 25,
          timeLimitMs: 8000,
          noun: "workload",
          show: ({ limit, source, entries }) => {
            const shown = (kind: string, i: number, isItem: boolean): Val =>
              kind === "same"
                ? isItem && i > 0
                  ? ["same", 0]
                  : ["obj", ""]
                : kind === "str"
                  ? ["str", "s"]
                  : kind === "zero"
                    ? ["num", 0]
                    : kind === "obj"
                      ? ["obj", ""]
                      : [kind as "undefined" | "null"];
            return showPlan({
              limit: ["num", limit],
              source,
              items: entries.map((e, i) => ({ item: shown(e.item, i, true), act: e.shape.act, ms: e.shape.ms, out: shown(e.out, i, false) })),
              deadlineMs: 0,
            });
          },
        },
      );
    },

    "errors-surfaced": async (t: CheckContext) => {
      const probe = await Probe.open(t);
      t.fault("handler failures: calls throw or reject (Errors, non-Errors, undefined), while others are still in flight and fail later");
      // One call fails early while three others are slow, and two of those fail later too.
      const limit = 4;
      const failAt = between(t, 2, 5);
      const shapes: Shape[] = Array.from({ length: 16 }, (_, i) =>
        i === failAt
          ? { act: "reject", ms: 4, thrown: "Error" }
          : i === failAt - 1 || i === failAt + 1
            ? { act: "reject", ms: 45, thrown: "Error" }
            : { act: "timer", ms: i < failAt - 1 ? 2 : 40 },
      );
      const first = plan(t, limit, pick(t, ["array", "generator", "async-generator"] as const), shapes);
      await judge(t, probe, first, [(r) => failureProblem(r, first, { limit, closeable: closeable(first) })]);
      // A synchronous throw, and a falsy value thrown.
      // (thrown as the call that refills a freed slot)
      const throwAt = between(t, 3, 6);
      const sync = plan(
        t,
        3,
        "generator",
        Array.from({ length: 10 }, (_, i): Shape =>
          i === throwAt ? { act: "throw", ms: 0, thrown: pick(t, ["Error", "object"] as const) } : { act: "timer", ms: 3 + (i % 3) * 4 },
        ),
      );
      await judge(t, probe, sync, [(r) => failureProblem(r, sync, { limit: 3, closeable: true })]);
      const falsy = plan(t, 2, "array", [
        { act: "timer", ms: 3 },
        { act: "reject", ms: 1, thrown: pick(t, ["undefined", "zero", "empty", "null", "false"] as const) },
        { act: "timer", ms: 3 },
        { act: "timer", ms: 3 },
      ]);
      await judge(t, probe, falsy, [(r) => failureProblem(r, falsy, { limit: 2, closeable: false })]);
      // Generated: failures of every kind at any place, several per workload, any source.
      await t.property(
        fc.record({
          limit: fc.integer({ min: 1, max: 5 }),
          source: fc.constantFrom<SourceKind>("array", "generator", "async-generator", "iterator"),
          shapes: fc.array(fc.oneof({ weight: 4, arbitrary: succeeding }, { weight: 1, arbitrary: failing }), { minLength: 1, maxLength: 20 }),
        }),
        async (w) => {
          const p = plan(t, w.limit, w.source, w.shapes);
          await judgeQuietly(probe, p, [
            (r) => failureProblem(r, p, { limit: w.limit, closeable: closeable(p) }),
            (r) => (w.shapes.some(fails) ? null : resultsProblem(r, p, w.shapes.length)),
          ]);
        },
        {
          runs: 30,
          timeLimitMs: 8000,
          noun: "workload",
          show: (w) =>
            showPlan({
              limit: ["num", w.limit],
              source: w.source,
              items: w.shapes.map((s) => ({ item: ["obj", ""], act: s.act, ms: s.ms, out: fails(s) ? thrownVal(t, s.thrown ?? "Error") : ["obj", ""] })),
              deadlineMs: 0,
            }),
        },
      );
    },

    "lazy-input": async (t: CheckContext) => {
      const probe = await Probe.open(t);
      t.fault("handler failures: a call deep into an endless source fails; sources that read slowly or fail");
      // Endless sources, stopped by a failing call: read one item at a time, never more than
      // limit held, and closed when the work stops.
      for (const source of ["generator", "async-generator", "iterator", "async-iterator"] as const) {
        const limit = between(t, 1, 5);
        const failAt = between(t, 6, 20);
        const shapes: Shape[] = Array.from({ length: failAt + 1 }, (_, i) =>
          i === failAt ? { act: "reject", ms: 2, thrown: "Error" } : { act: "timer", ms: between(t, 1, 4) },
        );
        const p = plan(t, limit, source, shapes, { endless: true, readMs: source.startsWith("async") ? [0, 1, 3] : undefined });
        // The items after the failing one repeat the workload; their failures come after it.
        await judge(t, probe, p, [
          (r) => lazyProblem(r, p, limit),
          (r) => failureProblem(r, p, { limit, closeable: true }),
          (r) => (source.startsWith("async") ? overLimitProblem(r, limit) : concurrencyProblem(r, limit, Number.POSITIVE_INFINITY)),
        ]);
      }
      // A slow async source: every item starts in the turn it is read, and never more than limit are held.
      const slow = plan(
        t,
        3,
        pick(t, ["async-generator", "async-iterator"] as const),
        Array.from({ length: 14 }, (): Shape => ({ act: "timer", ms: between(t, 1, 12) })),
        { readMs: [2, 5, 1, 8] },
      );
      await judge(t, probe, slow, [(r) => lazyProblem(r, slow, 3), (r) => resultsProblem(r, slow, 14)]);
      // A source that fails: its error rejects mapLimit, and nothing starts after it.
      for (const source of ["generator", "async-iterator"] as const) {
        const limit = between(t, 2, 4);
        const readFailsAt = between(t, 3, 8);
        const p = plan(
          t,
          limit,
          source,
          Array.from({ length: 12 }, (): Shape => ({ act: "timer", ms: between(t, 3, 10) })),
          { readFailsAt, readError: ["error", `${t.id("source")} broke`, "Error"] },
        );
        await judge(t, probe, p, [(r) => failureProblem(r, p, { limit, closeable: false })]);
      }
    },

    "abort-signal": async (t: CheckContext) => {
      const probe = await Probe.open(t);
      t.fault("handler latency and failures while the caller aborts: calls in flight reject after the abort");
      const reason = (): Val => (t.random() < 0.5 ? ["obj", t.id("reason")] : ["error", `${t.id("shutdown")} requested`, "Error"]);
      // Aborted before the call.
      for (const r of [reason(), null]) {
        const p = plan(
          t,
          3,
          "generator",
          [
            { act: "timer", ms: 2 },
            { act: "timer", ms: 2 },
          ],
          { signal: { reason: r, before: true } },
        );
        await judge(t, probe, p, [(rep) => abortProblem(rep, p, { closeable: true })]);
      }
      // Aborted part way through an endless source, with and without a reason; calls in flight
      // reject after the abort (their failures must be ignored, not left unhandled).
      for (const r of [reason(), null]) {
        const limit = between(t, 2, 5);
        const shapes: Shape[] = Array.from({ length: 7 }, (_, i): Shape =>
          i === 5 ? { act: "reject", ms: 30, thrown: "Error" } : { act: "timer", ms: between(t, 1, 6) },
        );
        const p = plan(t, limit, pick(t, ["generator", "async-generator", "iterator"] as const), shapes, {
          endless: true,
          signal: { reason: r, abortAtMs: between(t, 10, 25) },
        });
        await judge(t, probe, p, [(rep) => abortProblem(rep, p, { closeable: true }), (rep) => concurrencyProblem(rep, limit, Number.POSITIVE_INFINITY)]);
      }
      // Aborted in the very callback where a call settles, before the refill that would follow it.
      const limit = 2;
      const settle = between(t, 1, 3);
      const p = plan(
        t,
        limit,
        "array",
        Array.from({ length: 8 }, (): Shape => ({ act: "timer", ms: 3 })),
        { signal: { reason: reason(), abortAfterSettle: settle } },
      );
      await judge(t, probe, p, [(rep) => abortProblem(rep, p, { closeable: false })]);
      // A signal that never aborts, and one that aborts after mapLimit has settled: no listener left.
      const calm = plan(
        t,
        3,
        pick(t, ["array", "async-generator"] as const),
        Array.from({ length: 6 }, (): Shape => ({ act: "timer", ms: 2 })),
        { signal: { reason: reason(), afterwards: true } },
      );
      await judge(t, probe, calm, [(rep) => resultsProblem(rep, calm, 6), (rep) => abortProblem(rep, calm, { closeable: false })]);
      const failed = plan(
        t,
        2,
        "array",
        [
          { act: "timer", ms: 2 },
          { act: "reject", ms: 1, thrown: "Error" },
          { act: "timer", ms: 2 },
        ],
        { signal: { reason: reason() } },
      );
      await judge(t, probe, failed, [
        (rep) => failureProblem(rep, failed, { limit: 2, closeable: false }),
        (rep) => abortProblem(rep, failed, { closeable: false }),
      ]);
    },

    "validates-arguments": async (t: CheckContext) => {
      const probe = await Probe.open(t);
      const items = Array.from({ length: 3 }, (): Shape => ({ act: "timer", ms: 1 }));
      type Case = { what: string; expect: "RangeError" | "TypeError"; change: Partial<Plan> };
      const fraction = 1 + Math.floor(t.unpredictable() * 5) + 0.25 + Math.floor(t.unpredictable() * 2) / 2;
      const negative = -1 - Math.floor(t.unpredictable() * 1000);
      const cases: Case[] = [
        { what: "limit 0", expect: "RangeError", change: { limit: ["num", 0] } },
        { what: `limit ${negative}`, expect: "RangeError", change: { limit: ["num", negative] } },
        { what: "limit -0", expect: "RangeError", change: { limit: ["neg0"] } },
        { what: "limit NaN", expect: "RangeError", change: { limit: ["nan"] } },
        { what: "limit Infinity", expect: "RangeError", change: { limit: ["inf", 1] } },
        { what: "limit -Infinity", expect: "RangeError", change: { limit: ["inf", -1] } },
        { what: `limit ${fraction}`, expect: "RangeError", change: { limit: ["num", fraction] } },
        { what: "limit 0.5", expect: "RangeError", change: { limit: ["num", 0.5] } },
        { what: "limit 2 ** 53 (beyond Number.MAX_SAFE_INTEGER)", expect: "RangeError", change: { limit: ["num", 2 ** 53] } },
        { what: 'limit "3" (a string)', expect: "TypeError", change: { limit: ["str", "3"] } },
        { what: "limit 3n (a bigint)", expect: "TypeError", change: { limit: ["bigint", "3"] } },
        { what: "limit undefined", expect: "TypeError", change: { limit: ["undefined"] } },
        { what: "limit null", expect: "TypeError", change: { limit: ["null"] } },
        { what: "items null", expect: "TypeError", change: { itemsValue: ["null"] } },
        { what: "items undefined", expect: "TypeError", change: { itemsValue: ["undefined"] } },
        { what: "items 42 (a number)", expect: "TypeError", change: { itemsValue: ["num", 42] } },
        { what: "items { id } (an object that is not iterable)", expect: "TypeError", change: { itemsValue: ["obj", t.id("not-iterable")] } },
        { what: "fn null", expect: "TypeError", change: { fnValue: ["null"] } },
        { what: 'fn "run" (a string)', expect: "TypeError", change: { fnValue: ["str", "run"] } },
      ];
      for (const c of shuffled(t, cases)) {
        const p: Plan = { ...plan(t, 2, "generator", items), deadlineMs: 400, ...c.change };
        const r = await probe.run(p);
        const call = `mapLimit with ${c.what}`;
        if (r.threw)
          t.fail({
            message: `${call} threw ${r.threw.text} synchronously instead of returning a rejected promise.`,
            hint: "Make mapLimit an async function: a throw inside it, validation included, rejects the promise it returns.",
          });
        const o = r.outcome;
        if (o.kind === "pending")
          t.fail({
            message: `${call} never settled (waited ${p.deadlineMs} ms)${r.calls > 0 ? ` and called fn ${r.calls} times` : ""}.`,
            hint: `Check the arguments first and reject with a ${c.expect}. A limit of 0 or NaN never lets any call start, so the promise would never settle.`,
          });
        if (o.kind === "resolved")
          t.fail({ message: `${call} resolved (after ${r.calls} fn calls) instead of rejecting with a ${c.expect}.`, hint: limitHint });
        if (o.error.cls !== c.expect) t.fail({ message: `${call} rejected with ${o.error.text}, not a ${c.expect}.`, hint: limitHint });
        if (r.calls > 0 || r.reads > 0)
          t.fail({
            message: `${call} rejected as it should, but first ${r.reads > 0 ? `read ${r.reads} items` : ""}${r.reads > 0 && r.calls > 0 ? " and " : ""}${r.calls > 0 ? `called fn ${r.calls} times` : ""}.`,
            hint: "Check every argument before reading any item or calling fn.",
          });
        if (r.returned !== "promise")
          t.fail({ message: `${call} returned something that is not a Promise.`, hint: "mapLimit returns a Promise (an async function always does)." });
      }
      // Limits that are fine, however unusual: 1 (one at a time), and one far beyond the items.
      for (const limit of [1, Number.MAX_SAFE_INTEGER]) {
        const p = plan(
          t,
          limit,
          pick(t, ["array", "generator"] as const),
          Array.from({ length: 5 }, (): Shape => ({ act: "timer", ms: between(t, 1, 5) })),
        );
        await judge(t, probe, p, [
          (r) =>
            r.outcome.kind === "rejected"
              ? { message: `mapLimit with limit ${limit} rejected with ${r.outcome.error.text}; it is a valid limit.`, hint: limitHint }
              : null,
          (r) => concurrencyProblem(r, limit, 5),
          (r) => resultsProblem(r, p, 5),
        ]);
      }
    },

    "independent-calls": async (t: CheckContext) => {
      const probe = await Probe.open(t);
      t.fault("handler latency: three calls of mapLimit at once, and one inside another, with random latencies");
      const limits = shuffled(t, [1, 2, 5]);
      const plans = limits.map((limit) =>
        plan(
          t,
          limit,
          pick(t, SOURCES),
          Array.from({ length: limit * 3 + between(t, 0, 3) }, (): Shape => ({ act: "timer", ms: between(t, 1, 12) })),
        ),
      );
      const together = await probe.call<Report[]>("runTogether", [plans], Math.max(...plans.map(rpcTimeout)), plans);
      together.forEach((r, k) => {
        const p = plans[k]!;
        const label = `\nThree calls of mapLimit ran at once, with limits ${limits.join(", ")}; this one had a limit of ${limits[k]}.`;
        for (const problem of [
          basicProblem(r),
          concurrencyProblem(r, limits[k]!, p.items.length),
          r.peak === limits[k]
            ? null
            : { message: `It never had more than ${r.peak} calls in flight, with a limit of ${limits[k]} and ${p.items.length} items.`, hint: "" },
          resultsProblem(r, p, p.items.length),
        ]) {
          if (problem)
            fail(
              t,
              {
                ...problem,
                hint: `${problem.hint} Each call of mapLimit keeps its own count, its own results and its own source: nothing at module level.`.trim(),
              },
              p,
              label,
            );
        }
      });
      // One inside another: each outer call runs an inner mapLimit and resolves with its results.
      const outerLimit = 2;
      const innerLimit = 3;
      const inners = Array.from({ length: 4 }, () =>
        plan(
          t,
          innerLimit,
          pick(t, ["array", "generator", "async-generator"] as const),
          Array.from({ length: between(t, 4, 7) }, (): Shape => ({ act: "timer", ms: between(t, 1, 6) })),
        ),
      );
      const outer = plan(
        t,
        outerLimit,
        "array",
        Array.from({ length: 4 }, (): Shape => ({ act: "timer", ms: 0 })),
      );
      const nested = await probe.call<{ outer: Report; inners: (Report | null)[]; peak: number }>("runNested", [outer, inners], 15_000, inners);
      const label = `\nAn outer mapLimit (limit ${outerLimit}) over 4 items, whose fn runs an inner mapLimit (limit ${innerLimit}) over 4 to 7 items and returns its promise.`;
      for (const problem of [basicProblem(nested.outer), concurrencyProblem(nested.outer, outerLimit, 4), resultsProblem(nested.outer, outer, 4)])
        if (problem)
          fail(
            t,
            { message: `The outer call: ${problem.message}`, hint: `${problem.hint} Calls of mapLimit must not share state: fn may itself call mapLimit.` },
            undefined,
            label,
          );
      nested.inners.forEach((r, k) => {
        if (!r) return;
        for (const problem of [
          basicProblem(r),
          concurrencyProblem(r, innerLimit, inners[k]!.items.length),
          resultsProblem(r, inners[k]!, inners[k]!.items.length),
        ])
          if (problem)
            fail(
              t,
              { message: `Inner call ${k}: ${problem.message}`, hint: `${problem.hint} Calls of mapLimit must not share state: fn may itself call mapLimit.` },
              inners[k],
              label,
            );
      });
      // One after another, on the same module: nothing of the first is left in the second.
      for (let k = 0; k < 2; k++) {
        const p = plan(
          t,
          between(t, 2, 4),
          pick(t, SOURCES),
          Array.from({ length: between(t, 3, 8) }, (): Shape => ({ act: "timer", ms: between(t, 1, 5) })),
        );
        await judge(t, probe, p, [(r) => concurrencyProblem(r, (p.limit as ["num", number])[1], p.items.length), (r) => resultsProblem(r, p, p.items.length)]);
      }
    },

    "large-input": async (t: CheckContext) => {
      // A process of its own: 100 000 items that settle in microtasks keep a thread busy for a
      // while, and the other checks' modules share the run's sandbox thread.
      const probe = await Probe.open(t, true);
      // Plain values mixed with promises that resolve at once; then a long run of plain values only.
      const mixed: Shape[] = [
        { act: "value", ms: 0 },
        { act: "micro", ms: 0 },
        { act: "value", ms: 0 },
        { act: "value", ms: 0 },
      ];
      const plain: Shape[] = [{ act: "value", ms: 0 }];
      for (const [limit, source, shapes] of [
        [between(t, 4, 32), "array", mixed],
        [between(t, 2, 1000), "generator", plain],
      ] as const) {
        const p = plan(t, limit, source, shapes, { count: LARGE_COUNT, summary: true, deadlineMs: LARGE_MS + 2000 });
        const r = await probe.run(p);
        const problem = basicProblem(r);
        const what = `mapLimit over ${source === "array" ? "an array" : "a generator"} of ${LARGE_COUNT} items (limit ${limit}), fn returning ${shapes.length > 1 ? "plain values and promises that resolve at once" : "plain values only"}`;
        if (problem) fail(t, { ...problem, message: `${what}: ${problem.message}` });
        const o = r.outcome;
        t.note(`${what}: ${o.kind} after ${r.settledMs === null ? "more than the deadline" : `${Math.round(r.settledMs)} ms`}`);
        if (o.kind === "pending")
          t.fail({
            message: `${what} had not settled after ${p.deadlineMs / 1000} s.`,
            hint: "Look for work that grows with the number of items done so far (copying the results, searching an array, shift() on a large array) and for timers between items.",
          });
        if (o.kind === "rejected")
          t.fail({
            message: `${what} rejected with ${o.error.text}.`,
            hint: o.error.text.includes("call stack") ? RECURSION_HINT : "No item fails here: mapLimit must resolve with every result.",
          });
        if (o.length !== LARGE_COUNT || o.right !== LARGE_COUNT)
          t.fail({ message: `${what} resolved with ${o.length} results, ${o.right} of them in their place.`, hint: "One result per item, at its index." });
        if (r.peak > limit) t.fail({ message: `${what} had ${r.peak} calls in flight at once.`, hint: "Never more than limit calls in flight." });
        if ((r.settledMs ?? 0) > LARGE_MS)
          t.fail({
            message: `${what} took ${Math.round(r.settledMs ?? 0)} ms; it must take under ${LARGE_MS} ms (a loop that refills each slot as its call settles takes about 100 ms).`,
            hint: "Look for work that grows with the number of items done so far: copying the results array for each one, indexOf or includes over what was read, shift() on a large array, or a timer between items.",
          });
      }
    },
  },
});

const limitHint =
  "limit must be a whole number from 1 to Number.MAX_SAFE_INTEGER: a number that is not (0, negative, NaN, Infinity, a fraction, beyond 2^53) is a RangeError; a value that is not a number at all is a TypeError. items must be iterable or async iterable and fn a function, else TypeError. Reject with it, never round or default it.";

function shuffled<T>(t: CheckContext, items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(t.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
