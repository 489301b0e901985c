import { defineChecks, GraderError, type CheckContext, type RpcModule } from "../../lib/grader/index.ts";
import type { ChaosDependency, DependencyCall } from "../../lib/runner/chaos-dependency.ts";
import type { BulkheadPolicy, ClientPolicy } from "./solution/policy.ts";
import type { Outcome } from "./solution/probe.ts";

/**
 * A call that times out ends within timeoutMs + this, measured by the grader around the RPC (its
 * way there and back included), and the service sees its request closed within timeoutMs + this
 * of its arrival. The instructions state it.
 */
const SLACK_MS = 150;
/** A call refused by a full bulkhead returns within this long, measured by the grader. */
const REFUSE_MS = 100;
/** Under a flood of the other service, search's median and 90th percentile stay within this of a twin client's at the same moments. */
const ISOLATION_MS = 100;
/**
 * A request the client aborted reaches the service as a closed connection a moment after the
 * client let go of it; the next call may arrive in that moment. Intervals at the service end this
 * much earlier for aborted calls when the grader counts how many were open at once.
 */
const ABORT_GRACE_MS = 25;

type Kind = "search" | "recommend";
const service = (kind: Kind) => (kind === "search" ? "search" : "recommendations");
const pathOf = (kind: Kind, id: string) => (kind === "search" ? `/search?q=${id}` : `/recommendations/${id}`);

interface Services {
  search: ChaosDependency;
  recs: ChaosDependency;
  /** What the service answered for an id (a query or a user), as it sent it. */
  answered: Map<string, unknown>;
  dep: (kind: Kind) => ChaosDependency;
}

/** The two services: each answers every id with a body made up on the spot and remembered. */
async function services(t: CheckContext): Promise<Services> {
  const answered = new Map<string, unknown>();
  const answer = (key: string, make: () => unknown) => {
    if (!answered.has(key)) answered.set(key, make());
    return answered.get(key);
  };
  const search = await t.dependency("search", {
    respond: (req) => {
      const q = new URL(req.path, "http://search").searchParams.get("q") ?? "";
      return {
        status: 200,
        body: answer(q, () => ({
          q,
          hits: [t.id("doc"), t.id("doc"), t.id("doc")].slice(0, 1 + Math.floor(t.unpredictable() * 3)),
        })),
      };
    },
  });
  const recs = await t.dependency("recommendations", {
    respond: (req) => {
      const user = decodeURIComponent(req.path.replace(/^\/recommendations\//, ""));
      return {
        status: 200,
        body: answer(user, () => ({
          user,
          items: [t.id("item"), t.id("item")].slice(0, 1 + Math.floor(t.unpredictable() * 2)),
        })),
      };
    },
  });
  return {
    search,
    recs,
    answered,
    dep: (kind) => (kind === "search" ? search : recs),
  };
}

/**
 * The grader's own stalls: moments its event loop ran late (a loaded machine). A call timed
 * across one looks that much slower than it was, so the timing windows excuse them. Stops by
 * itself after the longest a check runs.
 */
class Stalls {
  private readonly seen: Array<[number, number]> = [];
  private last = performance.now();
  private readonly timer: NodeJS.Timeout;

  constructor() {
    const until = this.last + 20_000;
    this.timer = setInterval(() => {
      const now = performance.now();
      if (now - this.last > 30) this.seen.push([this.last + 10, now]);
      this.last = now;
      if (now > until) this.stop();
    }, 10);
    this.timer.unref();
  }

  /** How long the grader was stalled between `from` and `to`. */
  within(from: number, to: number): number {
    return this.seen.reduce((sum, [a, b]) => sum + Math.max(0, Math.min(b, to) - Math.max(a, from)), 0);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

interface Timed {
  id: string;
  kind: Kind;
  /** null: no answer within the grader's patience. */
  outcome: Outcome | null;
  /** On the grader's clock, around the RPC. */
  sentAt: number;
  took: number;
  /** How long of `took` the grader itself was stalled (when a check watches for it). */
  stalled: number;
}

/** One call through the learner's client, timed by the grader. */
async function call(probe: RpcModule, handle: number, kind: Kind, id: string, patienceMs = 6000, stalls?: Stalls): Promise<Timed> {
  const sentAt = performance.now();
  const outcome = await probe.call<Outcome>(kind, [handle, id], patienceMs).catch(() => null);
  const end = performance.now();
  return { id, kind, outcome, sentAt, took: end - sentAt, stalled: stalls?.within(sentAt, end) ?? 0 };
}

const excused = (r: Timed) => (r.stalled > 0 ? ` (+${Math.round(r.stalled)} ms the grader itself was stalled)` : "");

const ordinal = (n: number) => `${n}${n % 100 >= 11 && n % 100 <= 13 ? "th" : (["th", "st", "nd", "rd"][n % 10] ?? "th")}`;

const int = (t: CheckContext, lo: number, hi: number) => lo + Math.floor(t.random() * (hi - lo + 1));

const describe = (r: Timed) =>
  !r.outcome
    ? `no answer after ${Math.round(r.took)} ms`
    : r.outcome.ok
      ? `returned after ${Math.round(r.took)} ms`
      : `threw ${r.outcome.name}${r.outcome.status ? ` (status ${r.outcome.status})` : ""} after ${Math.round(r.took)} ms: ${r.outcome.message}`;

/** The service's calls for these ids (one per id at most), in arrival order. */
function callsFor(s: Services, kind: Kind, ids: readonly string[]): DependencyCall[] {
  const paths = new Set(ids.map((id) => pathOf(kind, id)));
  return s.dep(kind).calls((c) => paths.has(c.path));
}

/** The most requests open at once at the service among `calls`, from their intervals on the service's clock. */
function peak(calls: DependencyCall[]): number {
  const events: Array<[number, number]> = [];
  const now = performance.now();
  for (const c of calls) {
    const end = c.endedAt ?? now + 1e9;
    events.push([c.at, 1], [c.outcome === "aborted" ? Math.max(c.at, end - ABORT_GRACE_MS) : end, -1]);
  }
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let most = 0;
  for (const [, d] of events) most = Math.max(most, (open += d));
  return most;
}

/**
 * The fault a judgement rests on reached the service (a call met it). Without it (faults turned off,
 * as `labs:verify --ablate` does) the check has nothing to judge: that is the grader's error, not
 * the learner's.
 */
function injected(dep: ChaosDependency, fault: "hang" | "latency"): void {
  if (!dep.calls().some((c) => c.fault?.startsWith(fault)))
    throw new GraderError(`dependency ${dep.name}: no call met the '${fault}' fault this check set, so there is nothing to judge`);
}

/** Waits until `n` requests are open at the service, which holds them (a hang this check set). */
async function reach(t: CheckContext, dep: ChaosDependency, n: number, what: string): Promise<void> {
  for (let waited = 0; waited < 2000; waited += 25) {
    if (dep.stats().inFlight >= n) return;
    await t.sleep(25);
  }
  if (dep.calls().length >= n) injected(dep, "hang");
  return t.fail({
    message: `${what}, but only ${dep.stats().inFlight} requests were open at the ${dep.name} service after 2 s (it holds every request it gets)`,
    hint: "A call that finds a free slot starts its request at once.",
  });
}

/** Waits (up to 500 ms) for requests the client closed to reach the services as closed; judged afterwards. */
async function settle(t: CheckContext, deps: ChaosDependency[]): Promise<void> {
  for (let waited = 0; waited < 500 && deps.some((d) => d.stats().inFlight > 0); waited += 25) await t.sleep(25);
}

const show = (p: BulkheadPolicy) => `maxConcurrent ${p.maxConcurrent}, maxQueue ${p.maxQueue}, timeoutMs ${p.timeoutMs}`;

/** Each call returned exactly what the service answered for it. */
function expectAnswers(
  t: CheckContext,
  s: Services,
  runs: Timed[],
  what: string,
  hint = "A call that fits in the bulkhead (a free slot, or room in the queue) runs when its turn comes and returns the service's JSON body as it is.",
): void {
  for (const r of runs) {
    if (!r.outcome?.ok) {
      const failed = runs.filter((x) => !x.outcome?.ok).length;
      return t.fail({
        message: `${what}: ${failed} of ${runs.length} did not return; ${r.kind}("${r.id}") ${describe(r)}`,
        expected: `every call returned the body the ${service(r.kind)} service answered`,
        hint,
      });
    }
    t.equal(r.outcome.value, s.answered.get(r.id) ?? "(the service never answered this call)", {
      message: `${what}: ${r.kind}("${r.id}") returned something other than the body the ${service(r.kind)} service answered for it`,
      hint: "Return the service's JSON body as it is (res.json()).",
    });
  }
}

/** A call timed out as the policy says: TimeoutError, within [timeoutMs, timeoutMs + slack] of being made, its request closed. */
function expectTimedOut(t: CheckContext, s: Services, r: Timed, timeoutMs: number, what: string): void {
  t.equal(r.outcome?.name ?? "no answer", "TimeoutError", {
    message: `${what}: ${r.kind}("${r.id}") ${describe(r)}; the ${service(r.kind)} service never answered it (timeoutMs ${timeoutMs})`,
    hint: "Fix the call's deadline when it is made and reject with new TimeoutError(name, timeoutMs) when it passes, whether the call is still queued or its request is open.",
  });
  if (r.took < timeoutMs - 10 || r.took > timeoutMs + SLACK_MS + r.stalled) {
    return t.fail({
      message: `${what}: ${r.kind}("${r.id}") timed out ${Math.round(r.took)} ms after it was made (measured by the grader)`,
      expected: `between ${timeoutMs} and ${timeoutMs + SLACK_MS} ms${excused(r)}: timeoutMs ${timeoutMs} from the moment the call was made, queue wait included, + ${SLACK_MS} ms slack for a loaded machine`,
      hint:
        r.took < timeoutMs - 10
          ? "Each call has a deadline of its own: one AbortController and one timer per call, made in run(), never one shared by the bulkhead's calls."
          : "Start the timer when the call is made (not when it gets a slot), use this dependency's own timeoutMs, and let it cover the queue wait and the request together.",
    });
  }
  const [seen] = callsFor(s, r.kind, [r.id]);
  if (seen && (seen.outcome !== "aborted" || (seen.endedAt ?? Infinity) - seen.at > timeoutMs + SLACK_MS + r.stalled)) {
    return t.fail({
      message: `${what}: ${r.kind}("${r.id}") threw TimeoutError, but the ${service(r.kind)} service saw its request ${seen.outcome === "aborted" ? `closed only ${Math.round(seen.endedAt! - seen.at)} ms after it arrived` : seen.outcome === "pending" || seen.outcome === "hung" ? "still open: the client never closed it" : `end as '${seen.outcome}'`}`,
      expected: `the request aborted by the client within ${timeoutMs + SLACK_MS} ms of reaching the service${excused(r)}`,
      hint: "Rejecting the caller's promise is not enough: abort the work's AbortSignal at the deadline and pass that signal to the request, so the connection is closed and the slot is given back only once it is.",
    });
  }
}

export default defineChecks({
  /**
   * Run: every round (300 ms apart) a client makes 3 search and 7 recommendations calls (2 slots
   * + 3 queue places: 2 refused) while the recommendations service has seeded bad moments (it
   * hangs, slows past its timeout, answers 503); the log shows how each call ended and how long
   * search took meanwhile.
   */
  playground: async (t) => {
    const s = await services(t);
    const probe = await t.load("probe.ts", { limits: { wallMs: 130_000 } });
    const policy: ClientPolicy = {
      search: { maxConcurrent: 4, maxQueue: 8, timeoutMs: 400 },
      recommendations: { maxConcurrent: 2, maxQueue: 3, timeoutMs: 250 },
    };
    t.note(`policy: search ${show(policy.search)}; recommendations ${show(policy.recommendations)}`);
    const handle = await probe.call<number>("open", [policy]);
    s.search.setLatency({ ms: 30, jitterMs: 10 });
    let tick = 0;
    while (!t.signal.aborted) {
      if (tick % 10 === 0) {
        await s.recs.heal();
        const roll = t.random();
        if (roll < 0.3) {
          s.recs.hangAll();
          t.note("recommendations: hangs every call for the next 10 rounds");
        } else if (roll < 0.55) {
          s.recs.setLatency({ ms: 400, jitterMs: 100 });
          t.note("recommendations: answers take 300–500 ms (past its 250 ms timeout) for the next 10 rounds");
        } else if (roll < 0.75) {
          s.recs.failNext(6, { status: 503 });
          t.note("recommendations: the next 6 calls get 503, then it is healthy");
        } else t.note("recommendations: healthy for the next 10 rounds");
      }
      tick += 1;
      const runs = await Promise.all([
        ...[0, 1, 2].map(() => call(probe, handle, "search", t.id("q"), 5000)),
        ...Array.from({ length: 7 }, () => call(probe, handle, "recommend", t.id("user"), 5000)),
      ]);
      if (t.signal.aborted) return;
      const summary = (kind: Kind) =>
        runs
          .filter((r) => r.kind === kind)
          .map((r) => `${r.outcome?.ok ? "ok" : (r.outcome?.name ?? "no answer")} ${Math.round(r.took)} ms`)
          .join(", ");
      t.note(
        `search: ${summary("search")} | recommendations: ${summary("recommend")} | in flight at the services now: search ${s.search.stats().inFlight}, recommendations ${s.recs.stats().inFlight}`,
      );
      await t.sleep(300);
    }
  },
  timeoutMs: 20_000,
  // Two at a time: the checks hold timing windows, and four beside each other on two cores would
  // only add scheduling noise to them.
  concurrency: 2,
  checks: {
    "bounded-concurrency": async (t) => {
      const s = await services(t);
      s.search.setLatency({ ms: 150, jitterMs: 50 });
      s.recs.setLatency({ ms: 150, jitterMs: 50 });
      const draw = (): ClientPolicy => ({
        search: {
          maxConcurrent: int(t, 3, 6),
          maxQueue: int(t, 3, 7),
          timeoutMs: 5000,
        },
        recommendations: {
          maxConcurrent: int(t, 2, 4),
          maxQueue: int(t, 2, 5),
          timeoutMs: 5000,
        },
      });
      const first = draw();
      const second = draw();
      // Two clients with different limits, so one's limits showing up in the other is visible.
      if (second.search.maxConcurrent === first.search.maxConcurrent) second.search.maxConcurrent += 1;
      if (second.recommendations.maxConcurrent === first.recommendations.maxConcurrent) second.recommendations.maxConcurrent += 1;
      const probe = await t.load("probe.ts");
      const policies = [first, second];
      const handles = [await probe.call<number>("open", [first]), await probe.call<number>("open", [second])];
      const groups = policies.flatMap((policy, c) =>
        (["search", "recommend"] as const).map((kind) => {
          const p = kind === "search" ? policy.search : policy.recommendations;
          return {
            client: c + 1,
            handle: handles[c]!,
            kind,
            p,
            ids: Array.from({ length: p.maxConcurrent + p.maxQueue }, () => t.id(kind === "search" ? "q" : "user")),
          };
        }),
      );
      t.note(
        `one program opens two clients (1: search ${show(first.search)}, recommendations ${show(first.recommendations)}; 2: search ${show(second.search)}, recommendations ${show(second.recommendations)}) and fills each bulkhead to exactly maxConcurrent + maxQueue calls at once; both services answer in 100–200 ms`,
      );
      const runs = await Promise.all(groups.map((g) => Promise.all(g.ids.map((id) => call(probe, g.handle, g.kind, id)))));
      groups.forEach((g, i) => {
        const what = `client ${g.client}, ${g.ids.length} ${g.kind} calls at once (${show(g.p)})`;
        injected(s.dep(g.kind), "latency");
        const most = peak(callsFor(s, g.kind, g.ids));
        t.equal(most, g.p.maxConcurrent, {
          message: `${what}: the ${service(g.kind)} service had at most ${most} of this client's requests open at once`,
          hint:
            most > g.p.maxConcurrent
              ? "Start a call only while fewer than maxConcurrent are running (running < maxConcurrent, not <=), and count a slot as busy until its request has ended."
              : "With more calls than slots, every slot should be busy: start a waiting call as soon as one frees, and use this dependency's own policy (policy.search for search, policy.recommendations for recommendations) in this client's own bulkheads.",
        });
        const refused = runs[i]!.filter((r) => r.outcome?.name === "BulkheadFullError").length;
        t.equal(refused, 0, {
          message: `${what}: ${refused} were refused with BulkheadFullError, though maxConcurrent + maxQueue = ${g.ids.length} fit`,
          hint: "Refuse a call only when maxConcurrent calls are running AND maxQueue are waiting. Each client has its own bulkheads: keep them in the object createClients returns, not at module level.",
        });
        expectAnswers(t, s, runs[i]!, what);
      });
    },

    "rejects-when-full": async (t) => {
      const s = await services(t);
      s.search.hangAll();
      s.recs.hangAll();
      const policy: ClientPolicy = {
        search: {
          maxConcurrent: int(t, 3, 6),
          maxQueue: int(t, 2, 6),
          timeoutMs: 4000,
        },
        recommendations: {
          maxConcurrent: int(t, 2, 4),
          maxQueue: int(t, 2, 5),
          timeoutMs: 4000,
        },
      };
      const probe = await t.load("probe.ts");
      const handle = await probe.call<number>("open", [policy]);
      const stalls = new Stalls();
      t.note(
        `both services hold every call; search ${show(policy.search)}, recommendations ${show(policy.recommendations)}: fill the slots, then the queue, then 2–4 calls more`,
      );
      const phases = await Promise.all(
        (["search", "recommend"] as const).map(async (kind) => {
          const p = kind === "search" ? policy.search : policy.recommendations;
          const dep = s.dep(kind);
          const make = (n: number) => Array.from({ length: n }, () => t.id(kind === "search" ? "q" : "user"));
          const running = make(p.maxConcurrent);
          const queued = make(p.maxQueue);
          const extra = make(int(t, 2, 4));
          const capacity = running.map((id) => call(probe, handle, kind, id));
          await reach(t, dep, p.maxConcurrent, `${p.maxConcurrent} ${kind} calls were made at once with maxConcurrent ${p.maxConcurrent}`);
          capacity.push(...queued.map((id) => call(probe, handle, kind, id)));
          await t.sleep(60);
          const early = dep.stats().calls;
          const refusals = extra.map((id) => call(probe, handle, kind, id, 6000, stalls));
          await Promise.race([Promise.all(refusals), t.sleep(REFUSE_MS * 4)]);
          return {
            kind,
            p,
            dep,
            running,
            queued,
            extra,
            capacity,
            refusals,
            early,
          };
        }),
      );
      // The services recover: the held calls are answered, the queued ones run.
      await Promise.all([s.search.heal(), s.recs.heal()]);
      stalls.stop();
      for (const { kind, p, dep, running, queued, extra, capacity, refusals, early } of phases) {
        const what = `${kind} (${show(p)})`;
        t.equal(early, p.maxConcurrent, {
          message: `${what}: with ${p.maxConcurrent} calls running and ${p.maxQueue} more made, the ${service(kind)} service saw ${early} requests`,
          hint: "Calls beyond maxConcurrent wait in the queue without starting a request.",
        });
        const capacityRuns = await Promise.all(capacity);
        const refusedEarly = capacityRuns.slice(running.length).filter((r) => r.outcome?.name === "BulkheadFullError");
        t.equal(refusedEarly.length, 0, {
          message: `${what}: ${refusedEarly.length} of the ${queued.length} calls made while all ${p.maxConcurrent} slots were busy and the queue had room were refused (${refusedEarly.map(describe).join("; ")})`,
          hint: "A call that finds every slot busy waits in the queue while fewer than maxQueue calls wait there; only a call that finds the queue full too is refused.",
        });
        expectAnswers(t, s, capacityRuns, `${what}, the ${p.maxConcurrent + p.maxQueue} calls that fit, once the service recovered`);
        for (const r of await Promise.all(refusals)) {
          if (r.outcome?.name !== "BulkheadFullError" || r.took > REFUSE_MS + r.stalled) {
            return t.fail({
              message: `${what}: with ${p.maxConcurrent} calls running and ${p.maxQueue} waiting, one more ${kind}("${r.id}") ${describe(r)}`,
              expected: `BulkheadFullError within ${REFUSE_MS} ms (measured by the grader)${excused(r)}, without a request`,
              hint: "Check for room when the call is made: maxConcurrent running and maxQueue waiting means full, so throw new BulkheadFullError(name) at once. An unbounded queue only turns an overload into a pile of callers waiting for timeouts.",
            });
          }
        }
        const leaked = callsFor(s, kind, extra).length;
        t.equal(leaked, 0, {
          message: `${what}: ${leaked} of the ${extra.length} calls refused with BulkheadFullError still reached the ${service(kind)} service`,
          hint: "A refused call never starts its request.",
        });
        t.equal(dep.stats().calls, running.length + queued.length, {
          message: `${what}: the ${service(kind)} service saw ${dep.stats().calls} requests for the ${running.length + queued.length} calls that fit`,
          hint: "One request per call that fits in the bulkhead; none for a refused one.",
        });
      }
    },

    "frees-slots": async (t) => {
      const s = await services(t);
      const slots = int(t, 2, 4);
      const rec: BulkheadPolicy = {
        maxConcurrent: slots,
        maxQueue: slots,
        timeoutMs: int(t, 600, 700),
      };
      const policy: ClientPolicy = {
        search: { maxConcurrent: 4, maxQueue: 4, timeoutMs: 1000 },
        recommendations: rec,
      };
      const probe = await t.load("probe.ts");
      const handle = await probe.call<number>("open", [policy]);
      const kinds = ["500", "503", "reset", "hang", "ok"] as const;
      t.note(
        `recommendations ${show(rec)}; a storm of 3 waves of ${2 * slots} calls meeting 500, 503, resets and hangs (timeouts) in a seeded order, then ${slots} calls while the service refuses connections, then ${2 * slots + 2} calls at once while it holds every call (2 refused)`,
      );
      const storm: Timed[] = [];
      for (let wave = 1; wave <= 3; wave++) {
        const plan = Array.from({ length: 2 * slots }, () => kinds[Math.floor(t.random() * kinds.length)]!);
        // At least one of each failure over the storm, whatever the seed drew.
        plan[0] = (["hang", "500", "reset"] as const)[wave - 1]!;
        for (const kind of plan) {
          if (kind === "hang") s.recs.hang(1);
          else if (kind === "reset") s.recs.reset(1);
          else if (kind !== "ok") s.recs.failNext(1, { status: Number(kind) });
        }
        const runs = await Promise.all(plan.map(() => call(probe, handle, "recommend", t.id("user"), 3000)));
        const stuck = runs.find((r) => !r.outcome);
        if (stuck) {
          return t.fail({
            message: `Storm wave ${wave}: recommend("${stuck.id}") had not returned after 3 s; the service ${callsFor(s, "recommend", [stuck.id])[0]?.fault === "hang" ? "never answered it" : "saw it as " + (callsFor(s, "recommend", [stuck.id])[0]?.outcome ?? "nothing: it never arrived")} (timeoutMs ${rec.timeoutMs})`,
            expected: `every call ended within timeoutMs ${rec.timeoutMs} (+${SLACK_MS} ms)`,
            hint: "Bound every call with its own deadline: abort its request at timeoutMs and reject with TimeoutError.",
          });
        }
        const refused = runs.filter((r) => r.outcome?.name === "BulkheadFullError");
        if (refused.length > 0) {
          return t.fail({
            message: `Storm wave ${wave}: ${refused.length} of ${runs.length} recommend calls were refused with BulkheadFullError, though every call of the waves before had returned (maxConcurrent ${slots} + maxQueue ${slots} = ${2 * slots} fit an idle bulkhead). The service saw, before this wave: ${storm.map((r) => callsFor(s, "recommend", [r.id])[0]?.fault ?? "no request").join(", ")}`,
            expected: "every slot free again once its call has ended, however it ended",
            hint: "Give the slot back in a finally (or on every path): after an answer, an error status, a reset connection and a timeout alike.",
          });
        }
        storm.push(...runs);
        await s.recs.heal();
      }
      await s.recs.down();
      const refusedConnect = await Promise.all(Array.from({ length: slots }, () => call(probe, handle, "recommend", t.id("user"), 3000)));
      await s.recs.up();
      storm.push(...refusedConnect);
      // An overflow: the service holds every call, so exactly the two calls beyond maxConcurrent + maxQueue are refused.
      s.recs.hangAll();
      const overflow = await Promise.all(Array.from({ length: 2 * slots + 2 }, () => call(probe, handle, "recommend", t.id("user"), 3000)));
      await s.recs.heal();
      if (
        !callsFor(
          s,
          "recommend",
          overflow.map((r) => r.id),
        ).some((c) => c.fault === "hang")
      )
        throw new GraderError("dependency recommendations: no overflow call met the hang this check set, so there is nothing to judge");
      const overflowRefused = overflow.filter((r) => r.outcome?.name === "BulkheadFullError").length;
      t.equal(overflowRefused, 2, {
        message: `Overflow after the storm: the service held every call; ${overflow.length} recommend calls were made at once (maxConcurrent ${slots} + maxQueue ${slots} fit) and the number refused with BulkheadFullError was ${overflowRefused}`,
        hint: "With every slot free and the queue empty, maxConcurrent + maxQueue calls fit and only the rest are refused; a slot or a queue place the storm left taken is a leak.",
      });
      for (const r of storm) {
        const [seen] = callsFor(s, "recommend", [r.id]);
        const fault = seen?.fault;
        // A queued call that got its slot just before its deadline may be cut while the answer is on its way.
        const atDeadline = r.outcome?.name === "TimeoutError" && r.took >= rec.timeoutMs - 10;
        if ((fault === "500" || fault === "503") && !atDeadline) {
          t.equal(
            { name: r.outcome?.name, status: r.outcome?.status },
            { name: "UpstreamError", status: Number(fault) },
            {
              message: `recommend("${r.id}") ${describe(r)} when the service answered ${fault}`,
              hint: "A status that is not 2xx rejects with new UpstreamError(name, res.status).",
            },
          );
        } else if (fault === "hang" || fault === "reset" || !seen) {
          t.equal(r.outcome?.ok ?? "no answer", false, {
            message: `recommend("${r.id}") ${describe(r)} when the service ${fault === "hang" ? "never answered" : fault === "reset" ? "reset the connection mid-answer" : "refused the connection"}`,
            hint: "A call with no complete answer rejects (the client's error, or TimeoutError).",
          });
        }
      }
      // The overflow's held calls timed out timeoutMs after the last wave began, so every timer the
      // storm started has fired by now.
      await t.sleep(50);
      s.recs.setLatency({ ms: 80 });
      const after = Array.from({ length: 2 * slots }, () => t.id("user"));
      t.note(`after the storm: ${after.length} calls at once (maxConcurrent ${slots} + maxQueue ${slots}), the service answering in 80 ms`);
      const runs = await Promise.all(after.map((id) => call(probe, handle, "recommend", id)));
      const faults = Object.entries(s.recs.stats().byOutcome)
        .filter(([, n]) => n > 0)
        .map(([o, n]) => `${n} ${o}`)
        .join(", ");
      expectAnswers(
        t,
        s,
        runs,
        `After a storm (the service saw ${faults}), ${after.length} recommend calls at once with maxConcurrent ${slots}, maxQueue ${slots}, the service answering in 80 ms`,
        "Some slot or queue place was never given back: release the slot in a finally, once, whatever ended the call (an answer, an error status, a reset, a refused connection, a timeout), and never leave a refused or timed-out call's entry in the queue.",
      );
      injected(s.recs, "latency");
      const most = peak(callsFor(s, "recommend", after));
      t.equal(most, slots, {
        message: `After a storm of errors, resets, hangs and refused connections, ${after.length} calls at once reached the recommendations service at most ${most} at a time`,
        hint:
          most > slots
            ? "A slot was given back twice (a timer that fires after the call already ended, or a release on two paths), so more than maxConcurrent calls now run. Give each slot back exactly once, and clear the timeout when the call ends."
            : "A slot was never given back after some failure, so fewer than maxConcurrent calls can run: release in a finally, and remove a queued call that timed out from the queue.",
      });
    },

    "timeouts-bound-waits": async (t) => {
      const s = await services(t);
      const policy: ClientPolicy = {
        search: {
          maxConcurrent: int(t, 3, 5),
          maxQueue: 4,
          timeoutMs: int(t, 400, 480),
        },
        recommendations: {
          maxConcurrent: int(t, 2, 4),
          maxQueue: 2,
          timeoutMs: int(t, 150, 220),
        },
      };
      s.search.hangAll();
      s.recs.hangAll();
      const probe = await t.load("probe.ts");
      const handle = await probe.call<number>("open", [policy]);
      t.note(
        `both services hang every call; search timeoutMs ${policy.search.timeoutMs}, recommendations timeoutMs ${policy.recommendations.timeoutMs}; at most maxConcurrent calls each, made at seeded moments over 120 ms`,
      );
      const plan = (["search", "recommend"] as const).flatMap((kind) => {
        const p = kind === "search" ? policy.search : policy.recommendations;
        return Array.from({ length: p.maxConcurrent }, () => ({
          kind,
          p,
          id: t.id(kind === "search" ? "q" : "user"),
          offset: Math.floor(t.random() * 120),
        }));
      });
      const stalls = new Stalls();
      const runs = await Promise.all(plan.map(async ({ kind, id, offset }) => (await t.sleep(offset), call(probe, handle, kind, id, 3000, stalls))));
      stalls.stop();
      // A request the client closed reaches the service a moment later.
      await settle(t, [s.search, s.recs]);
      [s.search, s.recs].forEach((d) => injected(d, "hang"));
      plan.forEach(({ kind, p }, i) => expectTimedOut(t, s, runs[i]!, p.timeoutMs, `${service(kind)} hung (timeoutMs ${p.timeoutMs})`));
      // The service recovers: the client is not stuck on the timeouts it had.
      await Promise.all([s.search.heal(), s.recs.heal()]);
      const healthy = await Promise.all([call(probe, handle, "search", t.id("q"), 3000), call(probe, handle, "recommend", t.id("user"), 3000)]);
      expectAnswers(t, s, healthy, "Once both services answered again after the timeouts");
    },

    "queue-wait-counts": async (t) => {
      const s = await services(t);
      const rec: BulkheadPolicy = {
        maxConcurrent: int(t, 2, 3),
        maxQueue: int(t, 3, 5),
        timeoutMs: int(t, 300, 400),
      };
      const policy: ClientPolicy = {
        search: { maxConcurrent: 4, maxQueue: 4, timeoutMs: 1000 },
        recommendations: rec,
      };
      s.recs.hangAll();
      const probe = await t.load("probe.ts");
      const handle = await probe.call<number>("open", [policy]);
      const offsets = [
        ...Array.from({ length: rec.maxConcurrent }, () => Math.floor(t.random() * 20)),
        ...Array.from({ length: rec.maxQueue }, () => 40 + Math.floor(t.random() * (rec.timeoutMs / 2))),
      ];
      t.note(
        `recommendations hangs every call; ${show(rec)}: ${rec.maxConcurrent} calls take the slots, ${rec.maxQueue} more queue behind them at ${offsets
          .slice(rec.maxConcurrent)
          .sort((a, b) => a - b)
          .join(", ")} ms`,
      );
      const stalls = new Stalls();
      const runs = await Promise.all(offsets.map(async (offset) => (await t.sleep(offset), call(probe, handle, "recommend", t.id("user"), 3000, stalls))));
      stalls.stop();
      await settle(t, [s.recs]);
      injected(s.recs, "hang");
      runs.forEach((r, i) =>
        expectTimedOut(
          t,
          s,
          r,
          rec.timeoutMs,
          i < rec.maxConcurrent ? "A call holding a slot" : `A call made ${offsets[i]} ms in, queued behind ${rec.maxConcurrent} hung calls`,
        ),
      );
      const most = peak(s.recs.calls());
      if (most > rec.maxConcurrent) {
        return t.fail({
          message: `The recommendations service had ${most} requests open at once, with maxConcurrent ${rec.maxConcurrent}`,
          hint: "A queued call takes a slot only when a running call has ended, its request closed.",
        });
      }
    },

    "isolated-pools": async (t) => {
      const s = await services(t);
      const policy: ClientPolicy = {
        search: {
          maxConcurrent: int(t, 4, 6),
          maxQueue: int(t, 4, 8),
          timeoutMs: int(t, 400, 500),
        },
        recommendations: {
          maxConcurrent: int(t, 2, 3),
          maxQueue: int(t, 2, 4),
          timeoutMs: int(t, 150, 220),
        },
      };
      s.search.setLatency({ ms: 40, jitterMs: 10 });
      const probe = await t.load("probe.ts");
      // Two clients with the same policy in one program: one whose recommendations are flooded, and
      // its twin, whose search calls, made at the same moments, are the baseline on the same machine.
      const flooded = await probe.call<number>("open", [policy]);
      // Each round fills the slots and all but one place of the queue: search's queue must not be shared either.
      const queued = policy.search.maxQueue - 1;
      const twin = await probe.call<number>("open", [policy]);
      const round = () =>
        Promise.all(
          [flooded, twin].map((handle) =>
            Promise.all(Array.from({ length: policy.search.maxConcurrent + queued }, () => call(probe, handle, "search", t.id("q")))),
          ),
        );
      s.recs.hangAll();
      t.note(
        `search ${show(policy.search)} answers in 30–50 ms. Recommendations (${show(policy.recommendations)}) hangs, and one client's recommendations are flooded with calls every 40 ms while that client and its twin (same policy, no flood) each make ${policy.search.maxConcurrent + queued} search calls at once (${queued} queue), 4 times`,
      );
      const flood: Promise<Timed>[] = [];
      let flooding = true;
      const floodDone = (async () => {
        for (let i = 0; i < policy.recommendations.maxConcurrent + policy.recommendations.maxQueue + 3; i++)
          flood.push(call(probe, flooded, "recommend", t.id("user"), 3000));
        while (flooding) {
          await t.sleep(40);
          flood.push(call(probe, flooded, "recommend", t.id("user"), 3000), call(probe, flooded, "recommend", t.id("user"), 3000));
        }
      })();
      await t.sleep(80);
      const loaded: Timed[] = [];
      const baseline: Timed[] = [];
      // A round in which the twin, which nothing floods, also failed a call was a stall of the whole
      // machine, not of this client: it is not judged, and another round takes its place.
      let stalled = 0;
      for (let valid = 0; valid < 4 && stalled < 4;) {
        const [mine, theirs] = await round();
        if (theirs!.some((r) => !r.outcome?.ok)) {
          stalled += 1;
          t.note(
            `round void: the twin's own search calls failed too (${theirs!
              .filter((r) => !r.outcome?.ok)
              .map(describe)
              .join("; ")}), so the machine stalled`,
          );
          continue;
        }
        valid += 1;
        loaded.push(...mine!);
        baseline.push(...theirs!);
      }
      flooding = false;
      if (loaded.length === 0) throw new GraderError("isolated-pools: every round stalled the twin client too; the machine is too loaded to judge isolation");
      await floodDone;
      const floodRuns = await Promise.all(flood);
      // Everything below is judged against a hung recommendations service.
      injected(s.recs, "hang");
      const failed = loaded.filter((r) => !r.outcome?.ok);
      if (failed.length > 0) {
        return t.fail({
          message: `While its recommendations hung and were flooded, ${failed.length} of ${loaded.length} search calls of that client failed: ${failed
            .slice(0, 3)
            .map((r) => `search("${r.id}") ${describe(r)}`)
            .join("; ")}`,
          expected: "every search call answered as fast as the twin client's: the recommendations flood only fills the recommendations bulkhead",
          hint: "Give each dependency a Bulkhead of its own, with its own slots, queue and timeout. One pool for both lets calls to the hung service take every slot.",
        });
      }
      expectAnswers(t, s, [...loaded, ...baseline], "Search while recommendations hung");
      const sorted = (runs: Timed[]) => runs.map((r) => r.took).sort((x, y) => x - y);
      const at = (runs: Timed[], q: number) => sorted(runs)[Math.min(runs.length - 1, Math.floor(runs.length * q))]!;
      // The median and the 90th percentile, each beside the twin's: a single call delayed by the
      // machine says nothing about the client, a slot or a queue shared with recommendations delays many.
      for (const [q, label] of [
        [0.5, "median"],
        [0.9, "90th percentile"],
      ] as const) {
        if (at(loaded, q) > at(baseline, q) + ISOLATION_MS) {
          return t.fail({
            message: `While its recommendations hung and were flooded, a client's search calls took ${Math.round(at(loaded, q))} ms (${label}; median ${Math.round(at(loaded, 0.5))}, slowest ${Math.round(at(loaded, 1))} ms); the same calls from a twin client at the same moments took ${Math.round(at(baseline, q))} ms (median ${Math.round(at(baseline, 0.5))}, slowest ${Math.round(at(baseline, 1))} ms)`,
            expected: `a ${label} at most ${Math.round(at(baseline, q))} + ${ISOLATION_MS} ms: a hung dependency must not slow calls to a healthy one`,
            hint: "Nothing search does may wait on recommendations: not a shared slot count, not a shared queue, not a shared timer.",
          });
        }
      }
      const worst = at(loaded, 1);
      const base = at(baseline, 1);
      const floodRefused = floodRuns.filter((r) => r.outcome?.name === "BulkheadFullError").length;
      t.note(
        `search under the flood: median ${Math.round(at(loaded, 0.5))} ms, slowest ${Math.round(worst)} ms (twin: ${Math.round(at(baseline, 0.5))}, ${Math.round(base)} ms); recommendations: ${floodRuns.length} calls, ${floodRefused} refused, ${floodRuns.filter((r) => r.outcome?.name === "TimeoutError").length} timed out`,
      );
      const most = peak(s.recs.calls());
      if (most > policy.recommendations.maxConcurrent || floodRefused === 0) {
        return t.fail({
          message: `Flooded while it hung, recommendations had ${most} requests open at once (maxConcurrent ${policy.recommendations.maxConcurrent}) and refused ${floodRefused} of ${floodRuns.length} calls`,
          expected: `at most ${policy.recommendations.maxConcurrent} requests open at the service, and the calls beyond maxConcurrent + maxQueue (${policy.recommendations.maxConcurrent + policy.recommendations.maxQueue}) refused with BulkheadFullError`,
          hint: "The hung service's bulkhead fills up: at most maxConcurrent requests, maxQueue waiting, the rest refused at once.",
        });
      }
    },

    "fifo-queue": async (t) => {
      const s = await services(t);
      const slots = int(t, 2, 4);
      const search: BulkheadPolicy = {
        maxConcurrent: slots,
        maxQueue: slots + 2 + int(t, 0, 3),
        timeoutMs: 5000,
      };
      const policy: ClientPolicy = {
        search,
        recommendations: { maxConcurrent: 2, maxQueue: 2, timeoutMs: 1000 },
      };
      s.search.hang(slots);
      const probe = await t.load("probe.ts");
      const handle = await probe.call<number>("open", [policy]);
      t.note(
        `search ${show(search)}: ${slots} calls hold the slots (the service holds them), ${search.maxQueue} more queue one after another, then the service answers everything in 40 ms`,
      );
      const running = Array.from({ length: slots }, () => call(probe, handle, "search", t.id("q")));
      await reach(t, s.search, slots, `${slots} search calls were made with maxConcurrent ${slots}`);
      const queued: Promise<Timed>[] = [];
      const ids = Array.from({ length: search.maxQueue }, () => t.id("q"));
      for (const id of ids) {
        queued.push(call(probe, handle, "search", id));
        await t.sleep(15);
      }
      await t.sleep(30);
      const healed = s.search.heal();
      s.search.setLatency({ ms: 40 });
      await healed;
      const runs = await Promise.all([...running, ...queued]);
      expectAnswers(t, s, runs, "Queued search calls");
      const arrival = new Map(callsFor(s, "search", ids).map((c) => [c.path, c.at]));
      const order = [...ids].sort((a, b) => arrival.get(pathOf("search", a))! - arrival.get(pathOf("search", b))!);
      for (let i = 0; i < ids.length; i++) {
        for (let j = i + slots; j < ids.length; j++) {
          if (arrival.get(pathOf("search", ids[j]!))! < arrival.get(pathOf("search", ids[i]!))!) {
            return t.fail({
              message: `The ${ordinal(j + 1)} call to queue reached the search service before the ${ordinal(i + 1)}, which waited ${slots} slots longer; the queued calls (numbered in the order they were made) reached it in the order ${order.map((id) => ids.indexOf(id) + 1).join(", ")}`,
              expected: `first come, first served: with ${slots} slots, the calls start in the order they queued (within a slot's worth)`,
              hint: "Hand a freed slot to the call that has waited longest: push new waiters at the back and take from the front (shift, not pop).",
            });
          }
        }
      }
    },
  },
});
