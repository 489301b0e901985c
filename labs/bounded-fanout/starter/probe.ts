// Read-only: how the grader calls your mapLimit. The grader speaks JSON, which cannot carry a
// function, a promise or an iterator, so it sends a plan and this file builds the real thing in
// your module's own sandbox: the items and the source that yields them (an array, a generator,
// an async iterable, an endless one), the fn that stands for the work (it records when each call
// starts and settles and how many are in flight, and settles after the latency the plan gives,
// or throws), and the AbortSignal. It calls mapLimit, watches what happens, and sends the grader
// the events it saw, in order, with their times. You never need to call it.
import { getEventListeners } from "node:events";
import { mapLimit } from "./fanout.ts";

/** A value, described in JSON. The same description always builds a fresh value. */
export type Val =
  | ["obj", string] // a new object { id }
  | ["str", string]
  | ["num", number]
  | ["nan"]
  | ["inf", 1 | -1]
  | ["neg0"]
  | ["undefined"]
  | ["null"]
  | ["bool", boolean]
  | ["bigint", string]
  | ["error", string, "Error" | "TypeError" | "Custom"] // a new Error (or a subclass) with this message
  | ["same", number]; // the very same item as item n of the plan (duplicates)

/**
 * What fn does for one item: returns its `out` synchronously ("value"), returns a promise that
 * resolves after a microtask ("micro") or after `ms` on a timer ("timer"), returns a thenable that
 * is not a promise ("thenable": after `ms`, or at once for 0), throws `out` synchronously ("throw"),
 * or returns a promise that rejects with `out` ("reject": after `ms`, or after a microtask for 0).
 */
export type Act = "value" | "micro" | "timer" | "thenable" | "throw" | "reject";

export interface ItemPlan {
  item: Val;
  act: Act;
  ms: number;
  out: Val;
}

/**
 * Where the items come from. "array": an Array. "generator": a function* generator.
 * "iterator": an object with [Symbol.iterator]() and a hand-written next() (and return()).
 * "async-generator": an async function* generator. "async-iterator": an object with
 * [Symbol.asyncIterator]() and a hand-written next() (and return()).
 */
export type SourceKind = "array" | "generator" | "iterator" | "async-generator" | "async-iterator";

export interface Plan {
  limit: Val;
  source: SourceKind;
  /** The items, in order; repeated (item i is planned by items[i % length]) when `count` is larger. */
  items: ItemPlan[];
  /** How many items the source has: items.length unless given; endless when true. */
  count?: number;
  endless?: boolean;
  /** Async sources: how long each read (next()) takes, in ms, cycled; a read after a read waits for it. */
  readMs?: number[];
  /** The source fails at this read (0-based): next() throws (or rejects with) `readError`. */
  readFailsAt?: number;
  readError?: Val;
  /** Instead of the source, pass this value as `items` (not iterable). */
  itemsValue?: Val;
  /** Instead of the recording fn, pass this value as `fn` (not a function). */
  fnValue?: Val;
  /** options.signal: aborted before the call, or after `abortAtMs`, or right after item `abortAfterSettle` settles, or never. */
  signal?: { reason: Val | null; before?: boolean; abortAtMs?: number; abortAfterSettle?: number; afterwards?: boolean };
  /** Give up waiting for mapLimit to settle after this long. */
  deadlineMs: number;
  /** Very large plans: only counts in the report, no events. */
  summary?: boolean;
}

/**
 * What happened, as a list: [what, item index, ms since the call, calls in flight, calls started,
 * 1 if it happened in a timer's callback (a new turn of the event loop), else 0].
 */
export type Ev = [Code, number, number, number, number, 0 | 1];
/**
 * s: fn called for item i · e: its promise resolved (or it returned) · f: it threw or rejected ·
 * r: the source handed out item i · d: the source said it was done · c: return() was called on the
 * source · a: the signal aborted · x: mapLimit's promise settled · t: the event loop turned after
 * the event with index i (a setImmediate queued at that event ran), i = -1 after the call itself.
 */
export type Code = "s" | "e" | "f" | "r" | "d" | "c" | "a" | "x" | "t";

/** A value as the grader is told about it. */
export interface Seen {
  /** The items whose fn returned (or threw) exactly this value (the first 10). */
  of: number[];
  /** Its class, for an Error: "RangeError", "TypeError", "Error"… (the nearest built-in one). */
  cls: string | null;
  /** The value the source's read failed with, exactly. */
  readError?: boolean;
  /** The signal's reason, exactly. */
  reason?: boolean;
  /** Its `cause` is exactly what item n threw. */
  causeOf?: number | null;
  text: string;
}

export interface Report {
  /** mapLimit threw synchronously instead of returning a promise. */
  threw: Seen | null;
  /** What mapLimit returned: a promise, another thenable, or something else. */
  returned: "promise" | "thenable" | "other" | "nothing";
  outcome:
    | { kind: "resolved"; isArray: boolean; length: number; holes: number; wrong: { index: number; got: Seen }[]; right: number }
    | { kind: "rejected"; error: Seen }
    | { kind: "pending" };
  events: Ev[];
  /** fn calls whose arguments were not (the item read, its index), as text. */
  badCalls: string[];
  calls: number;
  /** Items the source handed out, and calls of its return(). */
  reads: number;
  closes: number;
  /** Most items held at once: read from the source and whose fn call had not settled yet. */
  maxHeld: number;
  /** The source stopped handing out items because far too many were held (an eager read). */
  cutOff: boolean;
  /** Abort listeners left on the signal once everything settled. */
  listeners: number;
  /** Most fn calls in flight at once. */
  peak: number;
  /** ms from the call until mapLimit settled. */
  settledMs: number | null;
}

/** Items a source hands out beyond `limit` unstarted before it refuses to go on (an eager read). */
export const CUT_OFF_AHEAD = 64;

class ReadTooFar extends Error {
  override name = "ReadTooFar";
}

const microtask = () => Promise.resolve();

function build(v: Val, items: unknown[]): unknown {
  switch (v[0]) {
    case "obj":
      return { id: v[1] };
    case "str":
      return v[1];
    case "num":
      return v[1];
    case "nan":
      return Number.NaN;
    case "inf":
      return v[1] * Number.POSITIVE_INFINITY;
    case "neg0":
      return -0;
    case "undefined":
      return undefined;
    case "null":
      return null;
    case "bool":
      return v[1];
    case "bigint":
      return BigInt(v[1]);
    case "error": {
      if (v[2] === "TypeError") return new TypeError(v[1]);
      if (v[2] === "Custom") {
        class JobError extends Error {
          override name = "JobError";
        }
        return new JobError(v[1]);
      }
      return new Error(v[1]);
    }
    case "same":
      return items[v[1]];
  }
}

function text(value: unknown): string {
  try {
    if (value === undefined) return "undefined";
    if (value === null) return "null";
    if (typeof value === "string") return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
    if (typeof value === "bigint") return `${value}n`;
    if (typeof value === "number") return Object.is(value, -0) ? "-0" : String(value);
    if (typeof value !== "object" && typeof value !== "function") return String(value);
    if (value instanceof Error) return `${value.name}: ${value.message}`;
    if (value instanceof Promise) return "a Promise (not the value it resolves to)";
    if (typeof (value as { then?: unknown }).then === "function") return "a thenable object (not the value it resolves to)";
    if (Array.isArray(value)) return `an array of ${value.length}`;
    const id = (value as { id?: unknown }).id;
    if (typeof id === "string") return `an object { id: ${JSON.stringify(id)} } that is not the one fn returned`;
    return Object.prototype.toString.call(value);
  } catch {
    return "a value that could not be described";
  }
}

/** One call of mapLimit, watched. */
class Watched {
  readonly events: Ev[] = [];
  readonly t0 = performance.now();
  inflight = 0;
  started = 0;
  peak = 0;
  settledCount = 0;
  reads = 0;
  closes = 0;
  maxHeld = 0;
  cutOff = false;
  building = false;
  badCalls: string[] = [];
  calls = 0;
  settled = false;
  /** The items handed out, in order, and what each call returned or threw. */
  readonly items: unknown[] = [];
  readonly outs = new Map<number, unknown>();
  readonly pending = new Set<Promise<void>>();
  readonly finished = new Map<number, () => void>();
  readError: unknown = undefined;
  reason: unknown = undefined;
  signal: AbortSignal | undefined;

  constructor(
    readonly plan: Plan,
    /** Fn calls of this run that also count somewhere else (nested runs). */
    readonly shared: { inflight: number; peak: number } | null = null,
  ) {}

  ms(): number {
    return Math.round((performance.now() - this.t0) * 100) / 100;
  }

  log(code: Code, index: number, turn = true, timer = false): void {
    if (this.plan.summary) return;
    this.events.push([code, index, this.ms(), this.inflight, this.started, timer ? 1 : 0]);
    if (turn) {
      const at = this.events.length - 1;
      setImmediate(() => this.events.push(["t", at, this.ms(), this.inflight, this.started, 1]));
    }
  }

  planFor(index: number): ItemPlan {
    const items = this.plan.items;
    return items[index % items.length]!;
  }

  /** How many items the source has. */
  count(): number {
    return this.plan.endless ? Number.POSITIVE_INFINITY : (this.plan.count ?? this.plan.items.length);
  }

  /** The item at this read, made on demand (endless sources make a new one each time). */
  next(): IteratorResult<unknown> {
    const index = this.reads;
    if (this.plan.readFailsAt === index) {
      this.readError = build(this.plan.readError ?? ["error", "read failed", "Error"], this.items);
      this.log("f", -1);
      throw this.readError;
    }
    if (index >= this.count()) {
      if (!this.building) this.log("d", index, false);
      return { done: true, value: undefined };
    }
    const held = this.reads - this.settledCount;
    if (!this.building && held >= this.limitNumber() + CUT_OFF_AHEAD) {
      this.cutOff = true;
      throw new ReadTooFar(`the source refused to hand out item ${index}: ${held} items were read and not finished`);
    }
    this.reads += 1;
    this.maxHeld = Math.max(this.maxHeld, this.reads - this.settledCount);
    const p = this.planFor(index);
    const item = p.item[0] === "same" ? this.items[p.item[1]] : build(p.item, this.items);
    this.items.push(item);
    if (!this.building) this.log("r", index);
    return { done: false, value: item };
  }

  limitNumber(): number {
    const v = this.plan.limit;
    return v[0] === "num" && Number.isSafeInteger(v[1]) && v[1] >= 1 ? v[1] : 1;
  }

  close(): void {
    this.closes += 1;
    this.log("c", this.reads, false);
  }

  source(): unknown {
    const plan = this.plan;
    if (plan.itemsValue) return build(plan.itemsValue, []);
    // Generator bodies have a `this` of their own: they reach this run through these two.
    const read = () => this.next();
    const close = () => this.close();
    const readMs = plan.readMs ?? [];
    let chain: Promise<unknown> = Promise.resolve();
    let readsAsked = 0;
    /** An async read: waits for the reads before it, then its own latency, then reads. */
    const later = (): Promise<IteratorResult<unknown>> => {
      const wait = readMs.length > 0 ? readMs[readsAsked++ % readMs.length]! : -1;
      const result = chain.then(() => (wait < 0 ? undefined : new Promise<void>((r) => setTimeout(r, wait)))).then(() => read());
      chain = result.then(
        () => {},
        () => {},
      );
      return result;
    };
    switch (plan.source) {
      case "array": {
        // Built before the call: an array is all there at once.
        const all: unknown[] = [];
        this.building = true;
        for (let r = this.next(); !r.done; r = this.next()) all.push(r.value);
        this.building = false;
        return all;
      }
      case "generator": {
        const gen = (function* (): Generator<unknown, unknown, unknown> {
          for (;;) {
            const r = read();
            if (r.done) return;
            yield r.value;
          }
        })();
        const ret = gen.return.bind(gen);
        // Counted, and still the generator's own return().
        Object.defineProperty(gen, "return", { value: (v: unknown) => (close(), ret(v)), configurable: true, writable: true });
        return gen;
      }
      case "iterator": {
        let finished = false;
        const it = {
          [Symbol.iterator]() {
            return it;
          },
          next(): IteratorResult<unknown> {
            if (finished) return { done: true, value: undefined };
            const r = read();
            if (r.done) finished = true;
            return r;
          },
          return(): IteratorResult<unknown> {
            close();
            finished = true;
            return { done: true, value: undefined };
          },
        };
        return it;
      }
      case "async-generator": {
        const gen = (async function* (): AsyncGenerator<unknown, unknown, unknown> {
          for (;;) {
            const r = await later();
            if (r.done) return;
            yield r.value;
          }
        })();
        const ret = gen.return.bind(gen);
        Object.defineProperty(gen, "return", { value: (v: unknown) => (close(), ret(v)), configurable: true, writable: true });
        return gen;
      }
      case "async-iterator": {
        let finished = false;
        const it = {
          [Symbol.asyncIterator]() {
            return it;
          },
          next(): Promise<IteratorResult<unknown>> {
            if (finished) return Promise.resolve({ done: true, value: undefined });
            return later().then((r) => {
              if (r.done) finished = true;
              return r;
            });
          },
          return(): Promise<IteratorResult<unknown>> {
            close();
            finished = true;
            return Promise.resolve({ done: true, value: undefined });
          },
        };
        return it;
      }
    }
  }

  /** Records the start of fn for (item, index): the item's index in the plan, or -1 for a call with wrong arguments. */
  begin(item: unknown, index: number): number {
    this.calls += 1;
    const i = typeof index === "number" && Number.isInteger(index) && index >= 0 && index < this.items.length ? index : -1;
    if (i < 0 || !Object.is(item, this.items[i])) {
      if (this.badCalls.length < 5) this.badCalls.push(`fn(${text(item)}, ${text(index)}) (call ${this.calls}; ${this.items.length} items read so far)`);
      if (i < 0) return -1;
    }
    this.inflight += 1;
    this.started += 1;
    this.peak = Math.max(this.peak, this.inflight);
    if (this.shared) {
      this.shared.inflight += 1;
      this.shared.peak = Math.max(this.shared.peak, this.shared.inflight);
    }
    this.log("s", i, false);
    return i;
  }

  /** Records that the call for item i settled (in a timer's callback, or not). */
  end(i: number, ok: boolean, timer = false): void {
    this.finished.get(i)?.();
    this.finished.delete(i);
    this.inflight -= 1;
    this.settledCount += 1;
    if (this.shared) this.shared.inflight -= 1;
    this.log(ok ? "e" : "f", i, true, timer);
    if (i === this.abortAfter) this.abortNow?.(true, timer);
  }

  /** The fn handed to mapLimit: records the call, then does what the plan says for that item. */
  fn(): (item: unknown, index: number) => unknown {
    return (item: unknown, index: number) => {
      const i = this.begin(item, index);
      if (i < 0) return undefined;
      const p = this.planFor(i);
      const out = build(p.out, this.items);
      this.outs.set(i, out);
      switch (p.act) {
        case "value":
          this.end(i, true);
          return out;
        case "throw":
          this.end(i, false);
          throw out;
        case "micro":
          this.track(i);
          return microtask().then(() => (this.end(i, true), out));
        case "timer":
          this.track(i);
          return new Promise((resolve) => setTimeout(() => (this.end(i, true, true), resolve(out)), p.ms));
        case "reject":
          this.track(i);
          return p.ms === 0
            ? microtask().then(() => {
                this.end(i, false);
                throw out;
              })
            : new Promise((_, reject) => setTimeout(() => (this.end(i, false, true), reject(out)), p.ms));
        case "thenable": {
          // Not a promise: an object with a then() that works like a promise's (any number of
          // callbacks, each called once, after the work is done).
          let settled = false;
          const waiting: ((v: unknown) => unknown)[] = [];
          const done = (timer: boolean) => {
            settled = true;
            this.end(i, true, timer);
            for (const callback of waiting.splice(0)) callback(out);
          };
          this.track(i);
          if (p.ms === 0) queueMicrotask(() => done(false));
          else setTimeout(() => done(true), p.ms);
          return {
            then(onFulfilled?: (v: unknown) => unknown) {
              if (typeof onFulfilled !== "function") return;
              if (settled) queueMicrotask(() => onFulfilled(out));
              else waiting.push(onFulfilled);
            },
          };
        }
      }
    };
  }

  /**
   * Waits for item i's call to settle (end() says when), without touching the promise fn
   * returned: a rejection of it that your code leaves unhandled stays unhandled.
   */
  track(i: number): void {
    const settled = new Promise<void>((resolve) => this.finished.set(i, resolve));
    this.pending.add(settled);
    void settled.then(() => this.pending.delete(settled));
  }

  makeSignal(): AbortSignal | undefined {
    const s = this.plan.signal;
    if (!s) return undefined;
    const controller = new AbortController();
    const reason = s.reason ? build(s.reason, []) : undefined;
    const abort = (logged = true, timer = true) => {
      if (controller.signal.aborted) return;
      if (logged) this.log("a", -1, true, timer);
      if (reason === undefined) controller.abort();
      else controller.abort(reason);
      this.reason = controller.signal.reason;
    };
    if (s.before) {
      if (reason === undefined) controller.abort();
      else controller.abort(reason);
      this.reason = controller.signal.reason;
    }
    if (s.abortAtMs !== undefined) setTimeout(() => abort(), s.abortAtMs);
    if (s.abortAfterSettle !== undefined) this.abortAfter = s.abortAfterSettle;
    this.abortNow = abort;
    this.signal = controller.signal;
    return controller.signal;
  }

  abortNow: ((logged?: boolean, timer?: boolean) => void) | null = null;
  abortAfter = -1;

  seen(value: unknown): Seen {
    const of: number[] = [];
    for (const [i, out] of this.outs) if (Object.is(out, value) && of.length < 10) of.push(i);
    of.sort((a, b) => a - b);
    const builtIn = [RangeError, TypeError, SyntaxError, ReferenceError, Error].find((c) => value instanceof c);
    const seen: Seen = { of, cls: builtIn ? builtIn.name : null, text: text(value) };
    if (this.readError !== undefined && Object.is(value, this.readError)) seen.readError = true;
    if (this.reason !== undefined && Object.is(value, this.reason)) seen.reason = true;
    if (value instanceof Error && value.cause !== undefined) {
      for (const [i, out] of this.outs) if (Object.is(out, value.cause)) seen.causeOf = i;
    }
    return seen;
  }

  threw: Seen | null = null;
  returned: Report["returned"] = "nothing";
  outcome: Report["outcome"] = { kind: "pending" };
  settledMs: number | null = null;
  done: Promise<void> = Promise.resolve();

  /** Calls mapLimit as the plan says, and returns what it returned. */
  start(fn?: (item: unknown, index: number) => unknown): unknown {
    const plan = this.plan;
    const items = this.source();
    const signal = this.makeSignal();
    const limit = build(plan.limit, []);
    const theFn = plan.fnValue ? build(plan.fnValue, []) : (fn ?? this.fn());
    let result: unknown;
    try {
      result = (mapLimit as (...args: unknown[]) => unknown)(items, limit, theFn, signal ? { signal } : undefined);
    } catch (error) {
      this.threw = this.seen(error);
      return undefined;
    } finally {
      if (!plan.summary) setImmediate(() => this.events.push(["t", -1, this.ms(), this.inflight, this.started, 1]));
    }
    const thenable = result !== null && (typeof result === "object" || typeof result === "function") && typeof (result as { then?: unknown }).then === "function";
    this.returned = result instanceof Promise ? "promise" : thenable ? "thenable" : "other";
    if (thenable) {
      this.done = new Promise<void>((resolve) => {
        const settle = (outcome: () => Report["outcome"], code: number) => {
          if (this.settled) return;
          this.settled = true;
          this.settledMs = this.ms();
          this.log("x", code, false);
          this.outcome = outcome();
          resolve();
        };
        (result as PromiseLike<unknown>).then(
          (value) => settle(() => this.describeResults(value), 1),
          (error: unknown) => settle(() => ({ kind: "rejected", error: this.seen(error) }), 0),
        );
      });
    }
    return result;
  }

  /** Once mapLimit settled (or the deadline passed) and every call it started settled: what happened. */
  async report(): Promise<Report> {
    const plan = this.plan;
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, plan.deadlineMs));
    await Promise.race([this.done, deadline]);
    // Whatever mapLimit left running: wait for it, so that what it does meanwhile is seen.
    const drainUntil = performance.now() + plan.deadlineMs;
    while (this.pending.size > 0 && performance.now() < drainUntil) {
      await Promise.race([Promise.all([...this.pending]), new Promise((r) => setTimeout(r, 50))]);
    }
    // Counted before an abort afterwards, which would remove a { once: true } listener.
    const listeners = this.signal ? getEventListeners(this.signal, "abort").length : 0;
    if (plan.signal?.afterwards) this.abortNow?.(false);
    // A rejection nobody handles is reported at the end of the turn it happened in: give it a few.
    await new Promise((r) => setTimeout(r, 15));
    return {
      threw: this.threw,
      returned: this.returned,
      outcome: this.outcome,
      events: this.events,
      badCalls: this.badCalls,
      calls: this.calls,
      reads: this.reads,
      closes: this.closes,
      maxHeld: this.maxHeld,
      cutOff: this.cutOff,
      listeners,
      peak: this.peak,
      settledMs: this.settledMs,
    };
  }

  describeResults(value: unknown): Report["outcome"] {
    if (!Array.isArray(value)) return { kind: "resolved", isArray: false, length: -1, holes: 0, wrong: [{ index: -1, got: this.seen(value) }], right: 0 };
    const wrong: { index: number; got: Seen }[] = [];
    let holes = 0;
    let right = 0;
    const expected = this.items.length;
    for (let i = 0; i < Math.max(value.length, expected); i++) {
      if (!(i in value)) holes += 1;
      const got: unknown = value[i];
      if (i < expected && this.outs.has(i) && Object.is(got, this.outs.get(i))) right += 1;
      else if (wrong.length < 5) wrong.push({ index: i, got: this.seen(got) });
    }
    return { kind: "resolved", isArray: true, length: value.length, holes, wrong, right };
  }
}

/** One call of mapLimit. */
export async function run(plan: Plan): Promise<Report> {
  const watched = new Watched(plan);
  watched.start();
  return watched.report();
}

/** Several calls of mapLimit started together, in the same turn; each watched on its own. */
export async function runTogether(plans: Plan[]): Promise<Report[]> {
  const watched = plans.map((plan) => new Watched(plan));
  for (const w of watched) w.start();
  return Promise.all(watched.map((w) => w.report()));
}

/**
 * mapLimit inside mapLimit: for item i of `outer`, fn calls mapLimit over `inners[i]` and returns
 * what that call returned, so the outer call is in flight until the inner one settles, and its
 * result is the inner call's results. Each call is watched on its own; `peak` is the most inner fn
 * calls in flight at once, across all the inner calls.
 */
export async function runNested(outer: Plan, inners: Plan[]): Promise<{ outer: Report; inners: (Report | null)[]; peak: number }> {
  const shared = { inflight: 0, peak: 0 };
  const watchedOuter = new Watched(outer);
  const watchedInners: (Watched | null)[] = inners.map(() => null);
  watchedOuter.start((item: unknown, index: number) => {
    const i = watchedOuter.begin(item, index);
    if (i < 0) return undefined;
    const inner = new Watched(inners[i]!, shared);
    watchedInners[i] = inner;
    const returned = inner.start();
    watchedOuter.track(i);
    return Promise.resolve(returned).then(
      (value) => (watchedOuter.outs.set(i, value), watchedOuter.end(i, true), value),
      (error: unknown) => {
        watchedOuter.end(i, false);
        throw error;
      },
    );
  });
  const outerReport = await watchedOuter.report();
  const innerReports = await Promise.all(watchedInners.map((w) => (w ? w.report() : null)));
  return { outer: outerReport, inners: innerReports, peak: shared.peak };
}
