import { defineChecks, type CheckContext } from "../../lib/grader/index.ts";
import type { RpcModule } from "../../lib/grader/process.ts";
import type { ChaosDependency, DependencyCall } from "../../lib/runner/chaos-dependency.ts";
import type { Outcome } from "./solution/probe.ts";
import type { CachePolicy, Rate } from "./solution/policy.ts";

/**
 * Slack on a time the grader measures at the service (a hung call aborted after timeoutMs): the
 * client's timer firing late on a loaded machine. The instructions state it.
 */
const SLACK_MS = 250;
/** Slack on how long a getRate took, measured by the grader around the RPC (which adds its own way there and back). */
const RPC_SLACK_MS = 400;
/**
 * ageMs is judged against the grader's own bounds: at least the time from the end of the call
 * that fetched the value to the start of the read, at most from the fetch's arrival at the service
 * to the end of the read, give or take this (whole milliseconds, two clocks).
 */
const AGE_SLACK_MS = 100;
/** How close to freshMs or maxStaleMs a read may be and still be judged as on one side of it. */
const EDGE_MS = 50;

const LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/** A currency code nobody can know in advance. */
const ccy = (t: CheckContext) => Array.from({ length: 3 }, () => LETTERS[Math.floor(t.unpredictable() * LETTERS.length)]).join("");

/** n distinct pairs like "QZK/WAB", drawn from the runner's CSPRNG. */
function newPairs(t: CheckContext, n: number): string[] {
  const pairs = new Set<string>();
  while (pairs.size < n) pairs.add(`${ccy(t)}/${ccy(t)}`);
  return [...pairs];
}

const pick = <T>(t: CheckContext, items: readonly T[]): T => items[Math.floor(t.random() * items.length)]!;

/** A seeded shuffle (the order is the check's shape, not a value). */
function shuffle<T>(t: CheckContext, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(t.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** The pair a request asked for, as the service reads it: /rate/<encodeURIComponent(pair)>. */
function pairOfPath(path: string): string | null {
  if (!path.startsWith("/rate/")) return null;
  try {
    return decodeURIComponent(path.slice("/rate/".length));
  } catch {
    return null;
  }
}

const pathOf = (pair: string) => `/rate/${encodeURIComponent(pair)}`;

/** One getRate, as the grader saw it: the outcome and when its RPC started and ended on the grader's clock. */
interface Read extends Outcome {
  pair: string;
  start: number;
  end: number;
}

/**
 * The rates service and everything the grader needs to judge a read against it: the rate it
 * answered at any moment, the calls it saw, when it was down, and every read made so far.
 */
class Service {
  private readonly quotes = new Map<string, { from: number; rate: Rate }[]>();
  private readonly outages: { from: number; to: number }[] = [];
  readonly reads: Read[] = [];

  private constructor(
    private readonly t: CheckContext,
    readonly dep: ChaosDependency,
  ) {}

  /** GET /rate/<pair> answers the pair's current rate; a pair the check never quoted gets 404. */
  static async start(t: CheckContext): Promise<Service> {
    const ref: { service?: Service } = {};
    const dep = await t.dependency("rates", {
      respond: (req) => {
        const pair = pairOfPath(req.path);
        const rate = req.method === "GET" && pair !== null ? ref.service?.current(pair) : undefined;
        return rate ? { status: 200, body: rate } : { status: 404, body: { error: `no such pair: ${pair ?? req.path}` } };
      },
    });
    ref.service = new Service(t, dep);
    return ref.service;
  }

  /** Gives `pair` a new rate (value and asOf unpredictable), answered from now on, and returns it. */
  quote(pair: string): Rate {
    // asOf is the market's time, minutes to an hour ago: never when the value was fetched.
    const rate: Rate = {
      pair,
      rate: Math.round((0.05 + this.t.unpredictable() * 150) * 1e6) / 1e6,
      asOf: new Date(Date.now() - 120_000 - Math.floor(this.t.unpredictable() * 3_600_000)).toISOString(),
    };
    const list = this.quotes.get(pair) ?? [];
    list.push({ from: performance.now(), rate });
    this.quotes.set(pair, list);
    return rate;
  }

  current(pair: string): Rate | undefined {
    return this.quotes.get(pair)?.at(-1)?.rate;
  }

  /** The rate the service answered for a call that arrived at `at`. */
  rateAt(pair: string, at: number): Rate | undefined {
    return this.quotes
      .get(pair)
      ?.filter((q) => q.from <= at)
      .at(-1)?.rate;
  }

  callsFor(pair: string): DependencyCall[] {
    return this.dep.calls((c) => pairOfPath(c.path) === pair);
  }

  async down(): Promise<void> {
    this.outages.push({ from: performance.now(), to: Infinity });
    await this.dep.down();
  }

  async up(): Promise<void> {
    await this.dep.heal();
    const last = this.outages.at(-1);
    if (last && last.to === Infinity) last.to = performance.now();
  }

  /** Whether the service refused connections at some moment between `from` and `to`. */
  wasDown(from: number, to: number): boolean {
    return this.outages.some((o) => o.from <= to && o.to >= from);
  }

  /** The RPC that a call to the service happened in: the value it fetched reached the learner's code by that RPC's end. */
  readAround(call: DependencyCall): Read | undefined {
    const pair = pairOfPath(call.path);
    return this.reads.find((r) => r.pair === pair && r.start <= call.at && r.end >= (call.endedAt ?? call.at));
  }

  async read(probe: RpcModule, pair: string, policy: CachePolicy, timeoutMs = 5000): Promise<Read> {
    const start = performance.now();
    const outcome = await probe.call<Outcome>("rate", [pair, policy], timeoutMs);
    const read = { ...outcome, pair, start, end: performance.now() };
    this.reads.push(read);
    return read;
  }

  /** Several getRate at once from one program. */
  async readMany(probe: RpcModule, pairs: string[], policy: CachePolicy, timeoutMs = 5000): Promise<Read[]> {
    const start = performance.now();
    const outcomes = await probe.call<Outcome[]>("rates", [pairs, policy], timeoutMs);
    const end = performance.now();
    const reads = outcomes.map((o, i) => ({ ...o, pair: pairs[i]!, start, end }));
    this.reads.push(...reads);
    return reads;
  }

  /** A read that may not answer in time: resolves null after `ms` instead of failing the check. */
  async readWithin(probe: RpcModule, pair: string, policy: CachePolicy, ms: number): Promise<Read | { pair: string; start: number; end: number; ok: null }> {
    const start = performance.now();
    const read = await Promise.race([this.read(probe, pair, policy, 10_000), this.t.sleep(ms).then(() => null)]);
    return read ?? { pair, start, end: Infinity, ok: null };
  }
}

const describe = (o: Outcome) =>
  o.ok
    ? `returned ${JSON.stringify({ value: o.value, stale: o.stale, ageMs: o.ageMs })}`
    : `threw ${o.name}${o.reason ? ` (reason "${o.reason}")` : ""}: ${o.message}`;

/** How a call ended at the service, for messages: "503", "hang (aborted after 212 ms)", "200". */
const showCall = (c: DependencyCall) => {
  if (c.fault === "hang") return c.endedAt === undefined ? "hang (still open)" : `hang (${c.outcome} after ${Math.round(c.endedAt - c.at)} ms)`;
  return c.outcome === "answered" ? String(c.status) : c.outcome;
};

const showCalls = (calls: DependencyCall[]) => (calls.length === 0 ? "no call" : `${calls.length} call(s): ${calls.map(showCall).join(", ")}`);

const isGood = (c: DependencyCall) => c.status === 200 && c.outcome === "answered";

/**
 * Fails unless `o` returned `value` with `stale` and a real age: the value came from `fetch` (the
 * service's call), which reached the learner's code by `fetchEnd`, so its age at the read lies
 * between the time from fetchEnd to the read's start and from fetch.at to the read's end.
 */
function expectServed(
  t: CheckContext,
  o: Read,
  want: { value: Rate; stale: boolean; fetch: DependencyCall; fetchEnd: number; hint?: string },
  context: string,
): void {
  const valueHint = want.stale
    ? "When the service fails and a rate no older than maxStaleMs is cached, return that cached value exactly as the service once answered it."
    : "Return the service's answer exactly as it came (its JSON body), and cache it in Redis for the next caller.";
  t.equal(o.ok ? o.value : describe(o), want.value, {
    message: `getRate(${JSON.stringify(o.pair)}) ${context}: expected the ${want.stale ? "cached" : "current"} rate, got ${o.ok ? JSON.stringify(o.value) : describe(o)}`,
    hint: want.hint ?? valueHint,
  });
  t.equal(o.stale, want.stale, {
    message: `getRate(${JSON.stringify(o.pair)}) ${context}, and returned stale: ${JSON.stringify(o.stale)}`,
    hint: want.stale
      ? "A value served because the service failed is stale: true, so the caller can tell it is not current."
      : "stale is false whenever the value is current: fresh from the service, or from a cache entry still younger than freshMs.",
  });
  const lo = Math.max(0, o.start - want.fetchEnd) - AGE_SLACK_MS;
  const hi = o.end - want.fetch.at + AGE_SLACK_MS;
  if (typeof o.ageMs !== "number" || !(o.ageMs >= lo && o.ageMs <= hi)) {
    t.fail({
      message: `getRate(${JSON.stringify(o.pair)}) ${context}, and returned ageMs ${JSON.stringify(o.ageMs)}; the value it returned reached your code ${Math.round(Math.max(0, o.start - want.fetchEnd))}–${Math.round(o.end - want.fetch.at)} ms before that answer (on the grader's clock)`,
      expected: `ageMs between ${Math.round(Math.max(0, lo))} and ${Math.round(hi)} (the milliseconds since this value was received from the service, ±${AGE_SLACK_MS} ms)`,
      actual: `ageMs ${JSON.stringify(o.ageMs)}; the rate's asOf (the market's time, not the fetch) is ${want.value.asOf}`,
      hint: "Store the time you received the value (Date.now(), the wall clock every process shares) beside it in Redis, per pair, and return Date.now() minus that. Not asOf, not performance.now() (each process counts from its own start), not seconds.",
    });
  }
}

/** Hints for the ways a read can be wrong, where a check knows the likelier cause. */
interface Hints {
  /** It answered from the cache (or nothing) without asking the service, though nothing fresh was cached. */
  noCall?: string;
  /** It asked the service though a fresh value was cached. */
  extraCall?: string;
  /** It did not return the current or cached value it should have. */
  value?: string;
  /** It returned a value where it should have thrown NoRateError. */
  none?: string;
}

/**
 * Judges one read against the behaviour the instructions promise, from what the service saw (its
 * calls for the pair during the read, whether it was down) and the last value it answered before:
 * fresh from the cache without a call; past freshMs a call, and its answer when it answered 200;
 * otherwise the cached value marked stale up to maxStaleMs; otherwise NoRateError. Reads too
 * close to freshMs or maxStaleMs to tell on the grader's clock are judged on what both sides share.
 */
function judge(
  t: CheckContext,
  svc: Service,
  o: Read,
  policy: CachePolicy,
  context: string,
  hints: Hints = {},
): "fresh" | "cached" | "stale" | "none" | "unclear" {
  const calls = svc.callsFor(o.pair);
  const during = calls.filter((c) => c.at >= o.start && c.at <= o.end);
  const prior = calls.filter((c) => isGood(c) && c.endedAt! <= o.start).at(-1);
  const down = svc.wasDown(o.start, o.end);
  const seen = down && during.length === 0 ? "the service refused connections" : `the service saw ${showCalls(during)} meanwhile`;
  const priorEnd = prior ? (svc.readAround(prior)?.end ?? prior.endedAt! + 50) : 0;
  const lo = prior ? o.start - priorEnd : Infinity;
  const hi = prior ? o.end - prior.at : Infinity;
  const fresh = prior !== undefined && hi < policy.freshMs - EDGE_MS;
  const pastFresh = prior === undefined || lo > policy.freshMs + EDGE_MS;
  const cache = prior
    ? `its last good rate fetched ${Math.round(Math.max(0, lo))}–${Math.round(hi)} ms before (freshMs ${policy.freshMs}, maxStaleMs ${policy.maxStaleMs})`
    : "nothing fetched for it before";
  const where = `${context}, ${cache}; ${seen}`;
  if (fresh && during.length > 0) {
    t.fail({
      message: `getRate(${JSON.stringify(o.pair)}) ${where}`,
      expected: "no call while the cached value is younger than freshMs: it is answered from Redis",
      hint:
        hints.extraCall ??
        "Read the pair's entry from Redis first; if Date.now() - fetchedAt < freshMs, return it without calling the service. Write every good answer back (a plain SET, replacing the old entry).",
    });
  }
  // A read that lasted timeoutMs may have given up on a request that never reached the service.
  const mayHaveTimedOut = o.end - o.start >= policy.timeoutMs - 5;
  if (pastFresh && !down && !mayHaveTimedOut && during.length === 0) {
    t.fail({
      message: `getRate(${JSON.stringify(o.pair)}) ${where}; it ${describe(o)} without asking the service`,
      expected: prior ? "past freshMs, ask the service first, and fall back to the cache only when it fails" : "with nothing good cached, ask the service",
      hint:
        hints.noCall ??
        "Only a value younger than freshMs is served without a call. Past that, every getRate tries the service; nothing may remember a failure (no negative caching, no 'service is down' flag).",
    });
  }
  const answered = during.find(isGood);
  if (answered) {
    expectServed(t, o, { value: svc.rateAt(o.pair, answered.at)!, stale: false, fetch: answered, fetchEnd: o.end, hint: hints.value }, where);
    return "fresh";
  }
  if (fresh) {
    expectServed(t, o, { value: svc.rateAt(o.pair, prior.at)!, stale: false, fetch: prior, fetchEnd: priorEnd, hint: hints.value }, where);
    return "cached";
  }
  if (prior && pastFresh && hi <= policy.maxStaleMs - EDGE_MS) {
    expectServed(t, o, { value: svc.rateAt(o.pair, prior.at)!, stale: true, fetch: prior, fetchEnd: priorEnd, hint: hints.value }, where);
    return "stale";
  }
  if (!prior || lo > policy.maxStaleMs + EDGE_MS) {
    t.equal(
      o.ok ? describe(o) : { name: o.name, reasonKnown: o.reason === "no-cache" || o.reason === "too-stale" },
      { name: "NoRateError", reasonKnown: true },
      {
        message: `getRate(${JSON.stringify(o.pair)}) ${where}: expected NoRateError, got: ${describe(o)}`,
        hint:
          hints.none ??
          'With no usable cached value (none, or older than maxStaleMs), throw new NoRateError(pair, "no-cache" | "too-stale", lastError): never a made-up rate, a default, null or undefined, and never a value from an error answer.',
      },
    );
    return "none";
  }
  // Too close to a boundary to tell which side the learner's clock was on: only a value the
  // service really answered may come back.
  if (o.ok)
    t.equal(o.value, svc.rateAt(o.pair, prior.at), {
      message: `getRate(${JSON.stringify(o.pair)}) ${where}: it returned a value the service never answered`,
      hint: hints.value ?? "Serve only what the service answered.",
    });
  return "unclear";
}

/**
 * How long a read took, from the later of its start and the arrival of its (first) call at the
 * service: a loaded machine can take long to open a connection, and the timeout starts before it.
 */
function waited(svc: Service, o: { pair: string; start: number; end: number }): { ms: number; from: string } {
  const call = svc.callsFor(o.pair).find((c) => c.at >= o.start && c.at <= o.end);
  return call ? { ms: o.end - call.at, from: "after its request reached the service" } : { ms: o.end - o.start, from: "" };
}

/** Sleeps until `at` on the grader's clock (performance.now()). */
const until = (t: CheckContext, at: number) => t.sleep(Math.max(0, at - performance.now()));

const REDIS_HINT =
  "The cache is an optimisation, not a dependency: catch every Redis error (and a command that takes longer than redisTimeoutMs) and carry on as if nothing were cached; a failed write costs nothing.";

export default defineChecks({
  /**
   * Run: the learner's getRate is asked for two pairs every half second while the rates service
   * has a seeded bad moment now and then (an outage, a burst of 5xx, a hang); the market moves
   * every few seconds. The log shows what each call returned and what the service saw.
   */
  playground: async (t) => {
    const svc = await Service.start(t);
    const probe = await t.load("probe.ts", { limits: { wallMs: 70_000 } });
    const policy: CachePolicy = { freshMs: 1000, maxStaleMs: 6000, timeoutMs: 300, redisTimeoutMs: 200 };
    const pairs = newPairs(t, 2);
    pairs.forEach((p) => svc.quote(p));
    t.note(`policy: ${JSON.stringify(policy)}; pairs ${pairs.join(", ")}`);
    for (let tick = 1; !t.signal.aborted; tick++) {
      if (tick % 6 === 0) pairs.forEach((p) => svc.quote(p)); // the market moves
      const roll = t.random();
      if (tick % 4 === 0 && roll < 0.25) {
        const ms = 1500 + Math.floor(t.random() * 6000);
        t.note(`the rates service goes down for ${ms} ms`);
        await svc.down();
        void svc.dep.schedule([{ atMs: ms, action: () => svc.up() }]);
      } else if (tick % 4 === 0 && roll < 0.45) svc.dep.failNext(2 + Math.floor(t.random() * 6), { status: pick(t, [500, 502, 503, 429] as const) });
      else if (tick % 4 === 0 && roll < 0.6) svc.dep.hang(1 + Math.floor(t.random() * 2));
      const before = svc.dep.calls().length;
      const outcomes = await probe.call<Outcome[]>("rates", [pairs, policy], 10_000).catch(() => null);
      if (!outcomes || t.signal.aborted) return;
      const seen = svc.dep.calls().slice(before);
      outcomes.forEach((o, i) =>
        t.note(`${pairs[i]}: ${describe(o)} in ${Math.round(o.ms)} ms; the service saw ${showCalls(seen.filter((c) => pairOfPath(c.path) === pairs[i]))}`),
      );
      await t.sleep(500);
    }
  },
  timeoutMs: 20_000,
  concurrency: 4,
  checks: {
    "fresh-from-cache": async (t) => {
      const svc = await Service.start(t);
      const freshMs = 600 + Math.floor(t.random() * 200);
      const policy: CachePolicy = { freshMs, maxStaleMs: 6000, timeoutMs: 1000, redisTimeoutMs: 1000 };
      const [a, b] = await t.loadMany("probe.ts", 2);
      const pairs = newPairs(t, 3);
      pairs.forEach((p) => svc.quote(p));
      t.note(
        `freshMs ${freshMs}: 2 instances ask for ${pairs.length} pairs; the first answers come from the service, later ones within freshMs from the cache, and one refresh after it`,
      );
      const fetched = await svc.readMany(a!, pairs, policy);
      for (const o of fetched) {
        judge(t, svc, o, policy, "with nothing cached (3 pairs at once)");
        const calls = svc.callsFor(o.pair);
        if (calls.length !== 1) {
          return t.fail({
            message: `The first getRate(${JSON.stringify(o.pair)}) (nothing cached) made ${showCalls(calls)} at the rates service`,
            expected: "exactly one call",
            hint: "With nothing cached, ask the service once.",
          });
        }
      }
      // The market moves: from now on the service answers new rates, so a cached answer shows the old one.
      pairs.forEach((p) => svc.quote(p));
      const fetchEnd = fetched[0]!.end;
      const offsets = Array.from({ length: 4 }, () => 40 + Math.floor(t.random() * (freshMs - 300))).sort((x, y) => x - y);
      for (const offset of offsets) {
        await until(t, fetchEnd + offset);
        const o = await svc.read(t.random() < 0.5 ? a! : b!, pick(t, pairs), policy);
        judge(t, svc, o, policy, `${Math.round(o.start - fetchEnd)} ms after its rate was fetched`);
      }
      // First use raced: three instances ask for one new pair at the same moment; each gets it.
      const raced = newPairs(t, 1)[0]!;
      const racedRate = svc.quote(raced);
      const racers = await Promise.all([a!, b!, a!].map((probe) => svc.read(probe, raced, policy)));
      for (const o of racers) {
        if (!o.ok || JSON.stringify(o.value) !== JSON.stringify(racedRate) || o.stale !== false) {
          return t.fail({
            message: `Three getRate(${JSON.stringify(raced)}) at once, nothing cached, the service healthy: one ${describe(o)}; the service saw ${showCalls(svc.callsFor(raced))}`,
            expected: `each returns ${JSON.stringify(racedRate)}, stale: false`,
            hint: "Calls that race on an empty cache may each ask the service (or share one request); none may fail or get anything but the service's answer.",
          });
        }
      }
      // Past freshMs: one refresh per pair, and the refreshed value is what the cache holds next.
      await until(t, fetchEnd + freshMs + 150);
      for (const o of await svc.readMany(b!, pairs, policy)) judge(t, svc, o, policy, "past freshMs, the service healthy and quoting a new rate");
      for (const o of await svc.readMany(a!, pairs, policy)) {
        judge(t, svc, o, policy, "on another instance right after the refresh", {
          extraCall:
            "Write every good answer back to Redis with the time it arrived, replacing the old entry (a plain SET, not SET NX): the next caller, in any process, reads it there.",
        });
      }
    },

    "serves-stale": async (t) => {
      const svc = await Service.start(t);
      const policy: CachePolicy = { freshMs: 200, maxStaleMs: 6000, timeoutMs: 1000, redisTimeoutMs: 1000 };
      const probes = await t.loadMany("probe.ts", 3);
      const pairs = newPairs(t, 6);
      pairs.forEach((p) => svc.quote(p));
      const fetched = await svc.readMany(probes[0]!, pairs, policy);
      for (const o of fetched) judge(t, svc, o, policy, "with nothing cached");
      pairs.forEach((p) => svc.quote(p)); // what a working service would say now: never what a stale answer shows
      await until(t, fetched[0]!.end + policy.freshMs + 150);
      const kinds = ["503", "500", "502", "504", "429", "reset"] as const;
      // Every kind once (a pair each, in a seeded order), then 0–2 more of any kind.
      const firsts = shuffle(t, kinds);
      const bursts = new Map<string, string[]>();
      for (const [i, pair] of pairs.entries()) {
        const burst = [firsts[i]!, ...Array.from({ length: Math.floor(t.random() * 3) }, () => pick(t, kinds))];
        bursts.set(pair, burst);
        for (const kind of burst) {
          if (kind === "reset") svc.dep.reset(1, { path: pathOf(pair) });
          else svc.dep.failNext(1, { status: Number(kind), path: pathOf(pair) });
        }
      }
      t.note(
        `6 rates cached ${policy.freshMs}+ ms ago (freshMs ${policy.freshMs}, maxStaleMs ${policy.maxStaleMs}); each pair's next 1–3 calls fail (${kinds.join(", ")}); 3 instances ask once per failure`,
      );
      const hints: Hints = {
        value:
          "Catch every failure of the call (a non-2xx status, a rejected request: reset, refused, timed out) and fall back to the entry you cached; only with no entry, or one older than maxStaleMs, throw NoRateError.",
      };
      const rounds = Math.max(...[...bursts.values()].map((b) => b.length));
      for (let round = 0; round < rounds; round++) {
        const due = pairs.filter((p) => bursts.get(p)!.length > round);
        const outcomes = await Promise.all(due.map((pair, i) => svc.read(probes[(i + round) % 3]!, pair, policy)));
        for (const o of outcomes) {
          const burst = bursts.get(o.pair)!;
          judge(t, svc, o, policy, `with the service failing (${burst[round]}, failure ${round + 1} of ${burst.length} in a row: ${burst.join(", ")})`, hints);
        }
      }
      await svc.down();
      t.note("the rates service goes down: connections refused; 3 instances ask for 2 pairs each at once");
      const down = (
        await Promise.all(
          probes.map((probe, i) =>
            svc.readMany(
              probe,
              pairs.filter((_, j) => j % 3 === i),
              policy,
            ),
          ),
        )
      ).flat();
      for (const o of down) judge(t, svc, o, policy, "with the service down", hints);
    },

    "marks-stale": async (t) => {
      const svc = await Service.start(t);
      const freshMs = 800;
      const policy: CachePolicy = { freshMs, maxStaleMs: 6000, timeoutMs: 400, redisTimeoutMs: 1000 };
      const [a, b] = await t.loadMany("probe.ts", 2);
      const [x, y] = newPairs(t, 2) as [string, string];
      const gap = 300 + Math.floor(t.random() * 150);
      svc.quote(x);
      svc.quote(y);
      t.note(`freshMs ${freshMs}: "${x}" is fetched, "${y}" ${gap} ms later; both are read fresh, then with the service failing, then after it recovers`);
      const ox = await svc.read(a!, x, policy);
      judge(t, svc, ox, policy, "with nothing cached");
      await until(t, ox.end + gap);
      judge(t, svc, await svc.read(a!, y, policy), policy, `with nothing cached, ${gap} ms after "${x}" was fetched`);
      const fresh = await Promise.all([svc.read(b!, x, policy), svc.read(b!, y, policy)]);
      for (const o of fresh) judge(t, svc, o, policy, "from another instance, soon after both were fetched");
      [x, y].forEach((p) => svc.quote(p));
      await until(t, fresh[0]!.end + freshMs + 150);
      const kind = pick(t, ["down", "503", "hang"] as const);
      t.note(`both values are past freshMs; the service ${kind === "down" ? "goes down (connections refused)" : kind === "503" ? "answers 503" : "hangs"}`);
      if (kind === "down") await svc.down();
      else if (kind === "503") svc.dep.failNext(1000, { status: 503 });
      else svc.dep.hangAll();
      const stale = await Promise.all([svc.read(b!, x, policy), svc.read(a!, y, policy)]);
      for (const o of stale) judge(t, svc, o, policy, `with the service failing (${kind}), "${x}" fetched ${gap} ms before "${y}"`);
      await svc.up();
      svc.quote(x);
      judge(t, svc, await svc.read(a!, x, policy), policy, "after the service recovered");
    },

    "refreshes-on-recovery": async (t) => {
      const svc = await Service.start(t);
      const freshMs = 600;
      // timeoutMs far above the recovered service's 150±50 ms, so a loaded machine cannot turn its
      // first good answer into a timeout (this check has no hangs to wait out).
      const policy: CachePolicy = { freshMs, maxStaleMs: 8000, timeoutMs: 1500, redisTimeoutMs: 1000 };
      const probes = await t.loadMany("probe.ts", 3);
      const pairs = newPairs(t, 3);
      const v1 = new Map(pairs.map((p) => [p, svc.quote(p)]));
      const fetched = await svc.readMany(probes[0]!, pairs, policy);
      for (const o of fetched) judge(t, svc, o, policy, "with nothing cached");
      const v2 = new Map(pairs.map((p) => [p, svc.quote(p)]));
      await until(t, fetched[0]!.end + freshMs + 150);
      const outage = pick(t, ["down", "503"] as const);
      const outageMs = 300 + Math.floor(t.random() * 200);
      t.note(
        `an outage (${outage === "down" ? "connections refused" : "every call 503"}) of ${outageMs} ms while 3 instances keep asking; then the service recovers, slowly (150±50 ms per answer, well under timeoutMs ${policy.timeoutMs})`,
      );
      if (outage === "down") await svc.down();
      else svc.dep.failNext(10_000, { status: 503 });
      const outageEnd = performance.now() + outageMs;
      // Every pair is asked at least three times during the outage, however slow the machine, so
      // code that stops calling after a few failures has met them before the service recovers.
      const asked = new Map(pairs.map((p) => [p, 0]));
      for (let round = 0; performance.now() < outageEnd - 60 || [...asked.values()].some((n) => n < 3); round++) {
        const pair = round < 3 * pairs.length ? pairs[round % pairs.length]! : pick(t, pairs);
        asked.set(pair, asked.get(pair)! + 1);
        judge(t, svc, await svc.read(probes[round % 3]!, pair, policy), policy, `during the outage (${outage})`);
        await t.sleep(40);
      }
      await svc.up();
      svc.dep.setLatency({ ms: 150, jitterMs: 50 });
      const recovered = await svc.readMany(probes[1]!, pairs, policy);
      for (const o of recovered) {
        judge(t, svc, o, policy, "after the outage ended (the service answering again, slowly)", {
          noCall: "Nothing may remember the outage: past freshMs every getRate tries the service again, so the first call after it recovers gets the new rate.",
        });
      }
      svc.dep.setLatency({ ms: 0 });
      for (const o of await svc.readMany(probes[2]!, pairs, policy)) {
        judge(t, svc, o, policy, "on another instance right after the refresh", {
          extraCall: "Write every good answer to Redis, replacing the old entry and its time (a plain SET, not SET NX).",
        });
      }
      const { missing } = await t.viewRedis([...pairs.map((p) => String(v2.get(p)!.rate)), ...pairs.map((p) => String(v1.get(p)!.rate))]);
      const newMissing = pairs.filter((p) => missing.includes(String(v2.get(p)!.rate)));
      const oldKept = pairs.filter((p) => !missing.includes(String(v1.get(p)!.rate)));
      if (newMissing.length > 0 || oldKept.length > 0) {
        return t.fail({
          message: `After the recovery Redis still holds ${oldKept.length} pre-outage rate(s) (${oldKept.join(", ") || "none"}) and lacks ${newMissing.length} new one(s) (${newMissing.join(", ") || "none"})`,
          expected: "each pair's entry replaced by the rate fetched after the recovery",
          hint: "A refresh overwrites the pair's entry (value and fetch time) in Redis.",
        });
      }
      // A second outage: what is served now is the recovered rate, aged from the refresh.
      await svc.down();
      await until(t, recovered[0]!.end + freshMs + 150);
      t.note("a second outage, past freshMs of the refreshed rates");
      for (const o of await svc.readMany(probes[0]!, pairs, policy)) judge(t, svc, o, policy, "in a second outage after the recovery");
    },

    "no-value-without-cache": async (t) => {
      const svc = await Service.start(t);
      const policy: CachePolicy = { freshMs: 500, maxStaleMs: 6000, timeoutMs: 250, redisTimeoutMs: 1000 };
      const probes = await t.loadMany("probe.ts", 2);
      const kinds = shuffle(t, ["503", "500", "429", "reset", "hang", "503", "reset"] as const);
      const pairs = newPairs(t, kinds.length + 2);
      pairs.forEach((p) => svc.quote(p));
      kinds.forEach((kind, i) => {
        const path = pathOf(pairs[i]!);
        if (kind === "reset") svc.dep.reset(1, { path });
        else if (kind === "hang") svc.dep.hang(1, { path });
        else svc.dep.failNext(1, { status: Number(kind), path, body: { pair: pairs[i], error: "upstream unavailable" } });
      });
      t.note(`nothing is cached; the first call for each of ${kinds.length} pairs fails (${kinds.join(", ")}), timeoutMs ${policy.timeoutMs}`);
      const limit = policy.timeoutMs + RPC_SLACK_MS;
      const outcomes = await Promise.all(kinds.map((_, i) => svc.readWithin(probes[i % 2]!, pairs[i]!, policy, limit + 1500)));
      outcomes.forEach((o, i) => {
        const took = waited(svc, o);
        if (o.ok === null || took.ms > limit) {
          return t.fail({
            message: `getRate(${JSON.stringify(o.pair)}) ${o.ok === null ? `had not answered ${limit + 1500} ms after it was called` : `answered ${Math.round(took.ms)} ms ${took.from}`} with nothing cached when the service ${kinds[i] === "hang" ? "hung" : `failed (${kinds[i]})`}`,
            expected: `at most timeoutMs (${policy.timeoutMs}) + ${RPC_SLACK_MS} ms`,
            hint: "Abort the call after timeoutMs (AbortSignal.timeout) and answer at once.",
          });
        }
        judge(t, svc, o, policy, `(${kinds[i]})`);
      });
      await svc.down();
      const last = pairs.slice(kinds.length);
      t.note(`the service goes down (connections refused); ${last.length} pairs never fetched are asked for`);
      const down = await Promise.all(last.map((p, i) => svc.read(probes[i % 2]!, p, policy)));
      for (const o of down) judge(t, svc, o, policy, "with the service down");
    },

    "bounded-staleness": async (t) => {
      const svc = await Service.start(t);
      const freshMs = 400 + Math.floor(t.random() * 100);
      const maxStaleMs = 1000 + Math.floor(t.random() * 200);
      const policy: CachePolicy = { freshMs, maxStaleMs, timeoutMs: 1000, redisTimeoutMs: 1000 };
      const [a, b] = await t.loadMany("probe.ts", 2);
      const pairs = newPairs(t, 2);
      pairs.forEach((p) => svc.quote(p));
      const fetched = await svc.readMany(a!, pairs, policy);
      for (const o of fetched) judge(t, svc, o, policy, "with nothing cached");
      const fetchEnd = fetched[0]!.end;
      await svc.down();
      t.note(
        `freshMs ${freshMs}, maxStaleMs ${maxStaleMs}: the service goes down right after the fetch; reads until maxStaleMs − 250 ms must serve the cached rate, reads from maxStaleMs + 150 ms must not`,
      );
      const hints: Hints = {
        none: "maxStaleMs is counted from when the value was fetched, not from when it stopped being fresh. Compare the entry's age with it before serving (a TTL of maxStaleMs on the Redis entry helps too).",
      };
      const serveAt = [freshMs + 100 + Math.floor(t.random() * (maxStaleMs - freshMs - 400)), maxStaleMs - 250].sort((x, y) => x - y);
      for (const age of serveAt) {
        await until(t, fetchEnd + age);
        judge(t, svc, await svc.read(t.random() < 0.5 ? a! : b!, pick(t, pairs), policy), policy, `${age} ms after the fetch, with the service down`, hints);
      }
      for (const [i, extra] of [150, 300].entries()) {
        await until(t, fetchEnd + maxStaleMs + extra);
        for (const o of await svc.readMany(i === 0 ? b! : a!, pairs, policy))
          judge(t, svc, o, policy, `maxStaleMs + ${extra} ms after the fetch, with the service down`, hints);
      }
    },

    "shared-across-instances": async (t) => {
      const svc = await Service.start(t);
      const freshMs = 1200;
      const policy: CachePolicy = { freshMs, maxStaleMs: 6000, timeoutMs: 1000, redisTimeoutMs: 1000 };
      const pairs = newPairs(t, 2);
      const cached = new Map(pairs.map((p) => [p, svc.quote(p)]));
      const first = await t.load("probe.ts", { name: "probe-a", process: true });
      const fetched = await svc.readMany(first, pairs, policy);
      for (const o of fetched) judge(t, svc, o, policy, "with nothing cached");
      await t.expectInRedis(
        pairs.flatMap((p) => [p, String(cached.get(p)!.rate)]),
        {
          message: "After getRate returned, the pairs and their rates were not in Redis",
          hint: "Keep the cache in Redis (a key per pair), not in a Map in your module: other processes, and this one after a restart, read it there.",
        },
      );
      await first.kill();
      pairs.forEach((p) => svc.quote(p));
      const wait = 300 + Math.floor(t.random() * 150);
      t.note(
        `probe-a fetched ${pairs.length} rates and was killed; ${wait} ms after the fetch a new process, probe-b, asks for them (freshMs ${freshMs}), then again with the service down`,
      );
      await until(t, fetched[0]!.end + wait);
      // Started now, not taken from the pre-started ones: its process clock begins after the fetch.
      const second = await t.load("probe.ts", { name: "probe-b", process: true, limits: { wallMs: 15_000 } });
      const hints: Hints = {
        noCall: "Every process must read the same Redis entry (the same key for the pair); a cache in module memory dies with its process.",
        extraCall: "Every process must read the same Redis entry (the same key for the pair); a cache in module memory dies with its process.",
      };
      for (const o of await svc.readMany(second, pairs, policy))
        judge(t, svc, o, policy, "in a new process, after the process that fetched it was killed", hints);
      await svc.down();
      await until(t, fetched[0]!.end + freshMs + 150);
      for (const o of await svc.readMany(second, pairs, policy)) judge(t, svc, o, policy, "in the new process, with the service down", hints);
    },

    "keys-isolated": async (t) => {
      const svc = await Service.start(t);
      const freshMs = 1500;
      const policy: CachePolicy = { freshMs, maxStaleMs: 8000, timeoutMs: 1000, redisTimeoutMs: 1000 };
      const [a, b] = await t.loadMany("probe.ts", 2);
      // Families of pairs that a careless key would merge: case, separators, order, prefixes, blanks, non-ASCII.
      const variants: ((base: string, x: string, y: string) => string)[] = [
        (base) => base.toLowerCase(),
        (_, x, y) => `${x}${y}`,
        (_, x, y) => `${x}:${y}`,
        (_, x, y) => `${x}-${y}`,
        (base) => `${base} `,
        (base) => base.slice(0, 5),
        (base) => `${base}${LETTERS[Math.floor(t.unpredictable() * 26)]}`,
        (base) => `${base}€`,
        (base) => `${base}💱`,
        (_, x, y) => `${x}/${y.toLowerCase()}`,
        (_, x, y) => `${y}/${x}`,
      ];
      // Every kind once, split between two families in a seeded way, each around a base pair of its own.
      const family = (kinds: typeof variants) => {
        const [x, y] = [ccy(t), ccy(t)];
        const base = `${x}/${y}`;
        return [base, ...kinds.map((v) => v(base, x, y))];
      };
      const kinds = shuffle(t, variants);
      const half = Math.ceil(kinds.length / 2);
      const pairs = shuffle(t, [...new Set([...family(kinds.slice(0, half)), ...family(kinds.slice(half))])]);
      pairs.forEach((p) => svc.quote(p));
      t.note(
        `${pairs.length} pairs that differ only in case, separator, order, a prefix, a blank or a non-ASCII character (${pairs.map((p) => JSON.stringify(p)).join(", ")}), asked one after another from 2 instances`,
      );
      const hints: Hints = {
        noCall:
          "Either two pairs share one cache entry in your code, or the request never left: key the cache by the pair exactly as given (any string: no lower-casing, trimming, cutting or stripping separators), and put it in the URL with encodeURIComponent.",
        value: "Key the cache by the pair exactly as given (any string), and put it in the URL with encodeURIComponent.",
      };
      const check = (o: Read, what: string) => {
        const other = pairs.find((p) => p !== o.pair && o.ok && JSON.stringify(svc.current(p)) === JSON.stringify(o.value));
        if (other) {
          t.fail({
            message: `getRate(${JSON.stringify(o.pair)}) ${what} returned the rate of ${JSON.stringify(other)}: ${JSON.stringify(o.value)}`,
            expected: `its own rate ${JSON.stringify(svc.current(o.pair))}`,
            hint: "Two pairs share one cache entry in your code. Key the cache by the pair exactly as given (any string): no lower-casing, trimming, cutting or stripping separators.",
          });
        }
        judge(t, svc, o, policy, what, hints);
      };
      let fetchEnd = 0;
      for (const [i, pair] of pairs.entries()) {
        const o = await svc.read(i % 2 === 0 ? a! : b!, pair, policy);
        check(o, "with the service healthy");
        fetchEnd = o.end;
      }
      for (const [i, pair] of shuffle(t, pairs).entries()) check(await svc.read(i % 2 === 0 ? b! : a!, pair, policy), "asked again");
      await until(t, fetchEnd + freshMs + 150);
      svc.dep.failNext(1000, { status: 503 });
      t.note("past freshMs the service answers 503 to everything; every pair is asked for again");
      for (const [i, pair] of shuffle(t, pairs).entries()) check(await svc.read(i % 2 === 0 ? a! : b!, pair, policy), "with the service failing (503)");
    },

    "never-caches-errors": async (t) => {
      const svc = await Service.start(t);
      const freshMs = 400;
      const policy: CachePolicy = { freshMs, maxStaleMs: 6000, timeoutMs: 1000, redisTimeoutMs: 1000 };
      const [a, b] = await t.loadMany("probe.ts", 2);
      const [p, q] = newPairs(t, 2) as [string, string];
      // Error answers whose bodies look like a rate: a value nobody may ever see as one.
      const decoy = (pair: string): Rate => ({ pair, rate: Math.round(t.unpredictable() * 1e8) / 1e6, asOf: new Date().toISOString() });
      const hints: Hints = {
        noCall:
          "A failure is never cached, not even for freshMs, and never changes the cached entry or its time: after one, the next getRate asks the service again.",
        value: "Check res.ok (2xx) before parsing or storing a body: an error answer with a JSON body is still an error.",
      };
      svc.quote(p);
      svc.quote(q);
      const decoys = [decoy(p), decoy(q), decoy(q), decoy(q)];
      const look = (o: Read, what: string) => {
        const shown = decoys.find((d) => o.ok && typeof o.value === "object" && o.value !== null && (o.value as Rate).rate === d.rate);
        if (shown) {
          t.fail({
            message: `getRate(${JSON.stringify(o.pair)}) ${what} returned ${JSON.stringify(o.value)}, the body of an error answer (5xx)`,
            expected: "only a value the service answered with 200: the cached one, marked stale, or NoRateError",
            hint: hints.value!,
          });
        }
        judge(t, svc, o, policy, what, hints);
      };
      svc.dep.failNext(1, { status: pick(t, [500, 503] as const), body: decoys[0], path: pathOf(p) });
      t.note(`"${p}" is not cached; its first call is answered 5xx with a rate-shaped body ${JSON.stringify(decoys[0])}; then the service is healthy`);
      look(await svc.read(a!, p, policy), "with the service answering 5xx with a rate-shaped body");
      look(await svc.read(b!, p, policy), "right after a failed call, the service healthy again");
      const fetched = await svc.read(a!, q, policy);
      look(fetched, "with nothing cached");
      await until(t, fetched.end + freshMs + 150);
      for (const d of decoys.slice(1)) svc.dep.failNext(1, { status: pick(t, [500, 502, 503] as const), body: d, path: pathOf(q) });
      t.note(`"${q}" is cached and past freshMs; its next 3 calls are answered 5xx with rate-shaped bodies`);
      for (let i = 0; i < 3; i++) {
        look(await svc.read(i % 2 === 0 ? b! : a!, q, policy), `(error answer ${i + 1} of 3, each with a rate-shaped body)`);
        if (i < 2) await t.sleep(60 + Math.floor(t.random() * 80));
      }
      const { missing } = await t.viewRedis(decoys.map((d) => String(d.rate)));
      if (missing.length < decoys.length) {
        return t.fail({
          message: `Redis holds ${decoys.length - missing.length} rate(s) that only ever came in error answers (5xx bodies)`,
          expected: "nothing from an error answer in the cache",
          hint: hints.value!,
        });
      }
    },

    "timeout-falls-back": async (t) => {
      const svc = await Service.start(t);
      const timeoutMs = 200 + Math.floor(t.random() * 100);
      const policy: CachePolicy = { freshMs: 200, maxStaleMs: 6000, timeoutMs, redisTimeoutMs: 1000 };
      const [a, b] = await t.loadMany("probe.ts", 2);
      const pairs = newPairs(t, 4);
      pairs.forEach((p) => svc.quote(p));
      const [, ...cachedPairs] = pairs;
      const fetched = await svc.readMany(a!, cachedPairs, policy);
      for (const o of fetched) judge(t, svc, o, policy, "with nothing cached");
      await until(t, fetched[0]!.end + policy.freshMs + 150);
      for (const p of pairs) svc.dep.hang(1, { path: pathOf(p) });
      t.note(`timeoutMs ${timeoutMs}: the next call for each of ${pairs.length} pairs hangs (3 cached past freshMs, 1 never fetched)`);
      const limit = timeoutMs + RPC_SLACK_MS;
      const outcomes = await Promise.all(pairs.map((pair, i) => svc.readWithin(i % 2 === 0 ? b! : a!, pair, policy, limit + 1500)));
      for (const o of outcomes) {
        const took = waited(svc, o);
        if (o.ok === null || took.ms > limit) {
          return t.fail({
            message: `getRate(${JSON.stringify(o.pair)}) ${o.ok === null ? `had not answered ${limit + 1500} ms after it was called` : `answered ${Math.round(took.ms)} ms ${took.from}`} when the service hung, with timeoutMs ${timeoutMs}`,
            expected: `an answer within timeoutMs + ${RPC_SLACK_MS} ms (${limit} ms): the cached rate marked stale, or NoRateError with nothing cached`,
            hint: "Give the request a signal that aborts it after timeoutMs (AbortSignal.timeout(policy.timeoutMs)) and treat the abort like any failure.",
          });
        }
        judge(t, svc, o, policy, `with the service hanging (timeoutMs ${timeoutMs})`);
      }
      await t.waitFor(() => pairs.every((p) => svc.callsFor(p).every((c) => c.outcome !== "pending")), {
        timeoutMs: 1000,
        message: `A hung call was still open at the rates service 1 s after getRate returned: ${pairs.map((p) => `${p}: ${showCalls(svc.callsFor(p))}`).join("; ")}`,
        hint: "Abort the request itself when the timeout passes (pass the signal to the client): a Promise.race against a timer stops waiting but leaves the connection open, and hung requests pile up at the service.",
      });
      for (const p of pairs) {
        const hung = svc.callsFor(p).find((c) => c.fault === "hang");
        const held = hung ? hung.endedAt! - hung.at : 0;
        if (held > timeoutMs + SLACK_MS) {
          return t.fail({
            message: `A hung call for "${p}" was abandoned ${Math.round(held)} ms after it reached the service (timeoutMs ${timeoutMs})`,
            expected: `aborted within timeoutMs + ${SLACK_MS} ms`,
            hint: "AbortSignal.timeout(policy.timeoutMs), passed to the request.",
          });
        }
      }
      // A slow but working service is not a failure: an answer well within timeoutMs is fresh. On a
      // loaded machine a connection can be slow to open, so one of two such calls may time out.
      const slowMs = Math.floor(timeoutMs / 3);
      svc.dep.setLatency({ ms: slowMs });
      t.note(`the service answers in ${slowMs} ms, under timeoutMs ${timeoutMs}`);
      let slow: Read | undefined;
      for (const pair of newPairs(t, 2)) {
        svc.quote(pair);
        slow = await svc.read(a!, pair, policy);
        if (slow.ok) break;
      }
      judge(t, svc, slow!, policy, `twice in a row with the service answering in ${slowMs} ms (timeoutMs ${timeoutMs})`, {
        none: "Abandon a call only after timeoutMs: a service that answers in a third of it is slow, not down.",
      });
    },

    "survives-cache-outage": async (t) => {
      const svc = await Service.start(t);
      const redisTimeoutMs = 150 + Math.floor(t.random() * 100);
      const policy: CachePolicy = { freshMs: 500, maxStaleMs: 6000, timeoutMs: 1000, redisTimeoutMs };
      const [a, b] = await t.loadMany("probe.ts", 2);
      const pairs = newPairs(t, 5);
      pairs.forEach((p) => svc.quote(p));
      const hints: Hints = { value: REDIS_HINT, none: REDIS_HINT, noCall: REDIS_HINT };
      const died = (probe: RpcModule, name: string) => {
        if (!probe.alive) {
          t.fail({
            message: `Instance ${name} died while Redis was failing, though the rates service was healthy; its last output: ${probe.output().slice(-300) || "(none)"}`,
            expected: "a failing cache write or read to cost nothing: the program goes on",
            hint: "A write you do not await must still have its rejection handled (.catch(() => {})), or Node ends the program on an unhandled rejection. Give the Redis client an 'error' listener too.",
          });
        }
      };
      const failing = 2 + Math.floor(t.random() * 5);
      t.proxy.failNext(failing);
      t.note(`the service is healthy; Redis refuses the next ${failing} commands (reads and writes alike); 2 pairs are asked for`);
      for (const [probe, name, pair] of [
        [a!, "probe-1", pairs[0]!],
        [b!, "probe-2", pairs[1]!],
      ] as const) {
        const o = await svc.read(probe, pair, policy);
        // A rejection nobody handles ends the program a moment later.
        await t.sleep(50);
        died(probe, name);
        judge(t, svc, o, policy, "with Redis refusing commands", hints);
      }
      t.proxy.stall();
      t.note(`Redis stops answering (connections stay open); redisTimeoutMs ${redisTimeoutMs}; 2 more pairs are asked for`);
      // Two Redis timeouts (a read, then a write) and the call's own round trip, with more room than
      // elsewhere for a machine loaded with other runs: a Redis that holds the call holds it for seconds.
      const limit = 2 * redisTimeoutMs + RPC_SLACK_MS + 200;
      const stalled = await Promise.all([a!, b!].map((probe, i) => svc.readWithin(probe, pairs[2 + i]!, policy, limit + 1500)));
      t.proxy.unstall();
      for (const o of stalled) {
        if (o.ok === null || o.end - o.start > limit) {
          return t.fail({
            message: `getRate(${JSON.stringify(o.pair)}) took ${o.ok === null ? `more than ${limit + 1500} ms (no answer yet)` : `${Math.round(o.end - o.start)} ms`} while Redis stalled, with the service healthy (redisTimeoutMs ${redisTimeoutMs})`,
            expected: `the service's rate within 2 × redisTimeoutMs + ${limit - 2 * redisTimeoutMs} ms (${limit} ms): a cache that does not answer counts as empty`,
            hint: "Race each Redis command against a timer of redisTimeoutMs (or don't await the write): a Redis that stops answering must cost a call at most that long, never its answer.",
          });
        }
        judge(t, svc, o, policy, "with Redis stalled", hints);
      }
      died(a!, "probe-1");
      died(b!, "probe-2");
      // Redis is back, if slow (30±10 ms a command, well within a redisTimeoutMs of 1000): the cache is used again.
      const relaxed = { ...policy, redisTimeoutMs: 1000 };
      t.proxy.setLatency({ ms: 30, jitterMs: 10 });
      t.note("Redis answers again, 30±10 ms per command; redisTimeoutMs 1000");
      judge(t, svc, await svc.read(a!, pairs[4]!, relaxed), relaxed, "after Redis recovered (slow: 30±10 ms a command)");
      judge(t, svc, await svc.read(b!, pairs[4]!, relaxed), relaxed, "after Redis recovered (slow: 30±10 ms a command), asked again", {
        extraCall:
          "Keep using Redis once it answers again (ioredis reconnects on its own), and give it policy.redisTimeoutMs: a slow answer is still an answer.",
      });
    },

    "entries-expire": async (t) => {
      const svc = await Service.start(t);
      const maxStaleMs = 1500 + Math.floor(t.random() * 1500);
      const policy: CachePolicy = { freshMs: 300, maxStaleMs, timeoutMs: 1000, redisTimeoutMs: 1000 };
      const probe = await t.load("probe.ts");
      const pairs = newPairs(t, 3);
      const values = new Map(pairs.map((p) => [p, svc.quote(p)]));
      for (const o of await svc.readMany(probe, pairs, policy)) judge(t, svc, o, policy, "with nothing cached");
      const fetchAt = Math.min(...pairs.map((p) => svc.callsFor(p)[0]!.at));
      const keys = await t.redis.keys("*");
      const forever: string[] = [];
      const holding = new Map<string, { key: string; pttl: number; sinceWrite: number }>();
      for (const key of keys) {
        const pttl = await t.redis.pttl(key);
        // The entry was written after its fetch reached the service, so at most this long ago.
        const sinceWrite = performance.now() - fetchAt;
        if (pttl === -1) forever.push(key);
        const type = await t.redis.type(key);
        const text = type === "string" ? ((await t.redis.get(key)) ?? "") : type === "hash" ? JSON.stringify(await t.redis.hgetall(key)) : "";
        for (const p of pairs) if (text.includes(String(values.get(p)!.rate))) holding.set(p, { key, pttl, sinceWrite });
      }
      t.note(`maxStaleMs ${maxStaleMs}: after 3 rates were fetched Redis holds ${keys.length} key(s): ${keys.map((k) => JSON.stringify(k)).join(", ")}`);
      if (forever.length > 0) {
        return t.fail({
          message: `${forever.length} key(s) in Redis have no expiry: ${forever.map((k) => JSON.stringify(k)).join(", ")}`,
          expected: "every cache entry expires: no one may serve it past maxStaleMs, so nothing should keep it longer",
          hint: "Write the entry with SET key value PX <ms>, so a pair nobody asks for again does not stay in Redis forever.",
        });
      }
      for (const p of pairs) {
        const entry = holding.get(p);
        if (!entry) {
          return t.fail({
            message: `No Redis key holds the rate of "${p}" (${values.get(p)!.rate}) after getRate fetched it`,
            expected: "one key per pair holding its rate, as a string or a hash",
            hint: "SET a key built from the pair to the JSON of the value and its fetch time.",
          });
        }
        if (!(entry.pttl >= maxStaleMs - entry.sinceWrite - 100 && entry.pttl <= 2 * maxStaleMs)) {
          return t.fail({
            message: `The entry for "${p}" (${JSON.stringify(entry.key)}) expires in ${entry.pttl} ms, written at most ${Math.round(entry.sinceWrite)} ms ago, with maxStaleMs ${maxStaleMs}`,
            expected: `an expiry between maxStaleMs and 2 × maxStaleMs after it was written (${maxStaleMs}–${2 * maxStaleMs} ms)`,
            hint: "The TTL is in milliseconds with PX (EX takes seconds), and no shorter than maxStaleMs: a stale value must still be there to fall back on.",
          });
        }
      }
    },
  },
});
