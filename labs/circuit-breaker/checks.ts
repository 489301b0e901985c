import { CheckFailure, defineChecks, GraderError, type CheckContext, type CheckFn, type RpcModule } from "../../lib/grader/index.ts";
import type { ChaosDependency, DependencyCall } from "../../lib/runner/chaos-dependency.ts";
import type { BreakerPolicy, BreakerState, Stock } from "./solution/policy.ts";
import type { Outcome, Tick } from "./solution/probe.ts";

/**
 * Lateness the grader forgives on anything it times at the service (a timer firing late on a
 * loaded machine, a new connection, the client reading the answer). The instructions state it.
 */
const SLACK_MS = 250;
/**
 * How much earlier than openMs a probe may arrive, counted at the service from the arrival of the
 * failed call that opened the breaker: the breaker cannot have learnt of the failure before the
 * service had the call, and a timer never fires early. So this is only the clocks' rounding.
 */
const EARLY_MS = 5;
/**
 * A call the client abandoned (its timeout) ends at the service when the service's event loop sees
 * the connection close, which on a loaded machine can be this long after the client gave up; a
 * probe after a timed-out probe may arrive that much earlier than openMs counted from there. The
 * mistake it must still catch (openMs counted from when the probe was sent) is callTimeoutMs
 * (200–250 ms) early.
 */
const ABORT_LAG_MS = 100;
/** A refusal while open takes no I/O and no timer: this is generous. */
const FAST_MS = 25;

type Sequenced = Outcome & { stateAfter: BreakerState };

const path = (sku: string) => `/stock/${sku}`;

/** The paths each dependency was asked to fail, and the dependencies each check made. */
const planned = new WeakMap<ChaosDependency, Set<string>>();
const depsOf = new WeakMap<CheckContext, ChaosDependency[]>();

/**
 * Whether `dep` was asked for faults and none took effect, as under `labs:verify --ablate`, which
 * logs them and applies none: every check here builds its scenario from faults (a breaker opens
 * only when calls fail), so without them a verdict would say nothing about the learner's code.
 */
function unapplied(dep: ChaosDependency): boolean {
  const paths = planned.get(dep);
  const aimed = dep.calls((c) => paths?.has(c.path) === true);
  return aimed.length > 0 && !aimed.some((c) => c.fault !== undefined && !c.fault.startsWith("latency"));
}

/** Turns a failure in a check whose faults never took effect into the platform's error, not the learner's. */
function guarded(checks: Record<string, CheckFn>): Record<string, CheckFn> {
  return Object.fromEntries(
    Object.entries(checks).map(([id, check]) => [
      id,
      async (t: CheckContext) => {
        try {
          await check(t);
        } catch (error) {
          if (error instanceof CheckFailure && (depsOf.get(t) ?? []).some(unapplied)) {
            throw new GraderError(
              `${id}: none of the faults this check injects into the inventory service took effect, so its verdict would not be about your code (it would have said: ${error.message})`,
            );
          }
          throw error;
        }
      },
    ]),
  );
}

/** The inventory service: stock for every sku the check made up, 404 for any other. */
async function inventory(t: CheckContext, name = "inventory"): Promise<{ dep: ChaosDependency; stockFor: (sku: string) => Stock; fresh: () => string }> {
  const stock = new Map<string, Stock>();
  const stockFor = (sku: string) => {
    let s = stock.get(sku);
    if (!s) {
      s = { sku, available: Math.floor(t.unpredictable() * 10_000) };
      stock.set(sku, s);
    }
    return s;
  };
  const dep = await t.dependency(name, {
    respond: (req) => {
      const sku = decodeURIComponent(req.path.replace(/^\/stock\//, ""));
      const s = req.method === "GET" && req.path.startsWith("/stock/") ? stock.get(sku) : undefined;
      return s ? { status: 200, body: s } : { status: 404, body: { error: `no such sku: ${sku}` } };
    },
  });
  depsOf.set(t, [...(depsOf.get(t) ?? []), dep]);
  /** A sku the service knows, with a fresh stock level. */
  const fresh = () => {
    const sku = t.id("sku");
    stockFor(sku);
    return sku;
  };
  return { dep, stockFor, fresh };
}

/** Failures the breaker must count: every kind of "the service is in trouble". */
const FAILURES = ["500", "502", "503", "504", "408", "429", "reset"] as const;
type Failure = (typeof FAILURES)[number] | "hang";

/** Queues one fault for the next call to `sku`. */
function inject(dep: ChaosDependency, sku: string, kind: Failure | number, body?: unknown): void {
  planned.set(dep, (planned.get(dep) ?? new Set()).add(path(sku)));
  if (typeof kind === "number") return dep.failNext(1, { status: kind, body, path: path(sku) });
  if (kind === "reset") dep.reset(1, { path: path(sku) });
  else if (kind === "hang") dep.hang(1, { path: path(sku) });
  else dep.failNext(1, { status: Number(kind), path: path(sku) });
}

const pick = <T>(t: CheckContext, items: readonly T[]): T => items[Math.floor(t.random() * items.length)]!;
const shuffle = <T>(t: CheckContext, items: readonly T[]): T[] => {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(t.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
};
const between = (t: CheckContext, lo: number, hi: number) => lo + Math.floor(t.random() * (hi - lo + 1));

const callsTo = (dep: ChaosDependency, sku: string): DependencyCall[] => dep.calls((c) => c.path === path(sku));

const describe = (o: Outcome) => (o.ok ? `returned ${JSON.stringify(o.stock)}` : `threw ${o.name}${o.status ? ` (status ${o.status})` : ""}`);

const how = (c: DependencyCall) =>
  c.fault === "hang"
    ? c.endedAt
      ? `hung, ${c.outcome} after ${Math.round(c.endedAt - c.at)} ms`
      : "hung, still open"
    : c.fault === "reset"
      ? "reset mid-answer"
      : `answered ${c.status ?? c.outcome}`;

/** Waits (up to 500 ms) until no call to these skus is still open at the service. */
async function settled(t: CheckContext, dep: ChaosDependency, skus: string[]): Promise<void> {
  const deadline = performance.now() + 500;
  while (performance.now() < deadline && skus.some((sku) => callsTo(dep, sku).some((c) => c.outcome === "pending"))) await t.sleep(10);
}

/** "answered 200 ×8, answered 503 ×2", in order of first appearance. */
function tally(items: string[]): string {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return [...counts].map(([item, n]) => (n > 1 ? `${item} ×${n}` : item)).join(", ");
}

/** The story of a sequence of calls, one line each, for a failure message. */
function story(dep: ChaosDependency, skus: string[], outcomes: Sequenced[], meant: (i: number) => string): string {
  return skus
    .map((sku, i) => {
      const o = outcomes[i];
      const seen = callsTo(dep, sku);
      return `call ${i + 1} (${meant(i)}): ${seen.length ? `reached the service (${seen.map(how).join(", ")})` : "never reached the service"}, ${o ? describe(o) : "not made"}; state then "${o?.stateAfter}"`;
    })
    .join("\n");
}

/** Loads probe.ts n times and makes a breaker called "b" in each. */
async function breakers(t: CheckContext, policies: BreakerPolicy[], service = "inventory"): Promise<RpcModule[]> {
  const probes = await t.loadMany("probe.ts", policies.length);
  await Promise.all(probes.map((p, i) => p.call("create", ["b", service, policies[i]!])));
  return probes;
}

/**
 * Opens the breaker "b" of `probe` with failureThreshold failures in a row (`gapMs` apart) and
 * fails unless it did; returns when it opened, on the service's clock (the end of the last
 * failure's answer), and when the first failure ended.
 */
async function open(
  t: CheckContext,
  dep: ChaosDependency,
  fresh: () => string,
  probe: RpcModule,
  policy: BreakerPolicy,
  gapMs = 0,
): Promise<{ opening: DependencyCall; openedAt: number; firstFailureAt: number }> {
  const plan = Array.from({ length: policy.failureThreshold }, () => ({ sku: fresh(), kind: pick(t, FAILURES) }));
  for (const { sku, kind } of plan) inject(dep, sku, kind);
  const skus = plan.map((p) => p.sku);
  const outcomes = await probe.call<Sequenced[]>("sequence", ["b", skus, gapMs], 10_000);
  const seen = skus.map((sku) => callsTo(dep, sku)[0]);
  if (seen.some((c) => !c?.endedAt) || outcomes.at(-1)?.stateAfter !== "open") {
    return t.fail({
      message: `To set up this check, ${plan.length} calls in a row met failures (failureThreshold ${policy.failureThreshold}); the breaker should then be open`,
      actual: story(dep, skus, outcomes, (i) => plan[i]!.kind),
      hint: "This check needs a breaker that opens after failureThreshold consecutive failures (see opens-on-failures first).",
    });
  }
  return { opening: seen.at(-1)!, openedAt: seen.at(-1)!.endedAt!, firstFailureAt: seen[0]!.endedAt! };
}

/**
 * On the service's clock, the earliest the breaker can have learnt that this call failed: when it
 * arrived, for an answer (the answer came after); for a call the client abandoned, when the
 * service saw it close, less the lag of noticing it.
 */
const learntNoSoonerThan = (c: DependencyCall): number => (c.outcome === "aborted" ? (c.endedAt ?? Infinity) - ABORT_LAG_MS : c.at);

/**
 * Callers the program refused although openMs had passed by its own clock (counted from `fromMs`
 * on the trickle's clock, which is no earlier than the breaker's own opening) and no probe had
 * been let through yet. A probe that reaches the service late with such refusals is the breaker's
 * doing; without them, the machine stalled (the program made no call, or the service noted it
 * late), which is not held against the learner.
 */
function refusedWhenDue(ticks: Tick[], fromMs: number, openMs: number): Tick[] {
  const probe = ticks.find((o) => o.startedMs >= fromMs && o.name !== "BreakerOpenError");
  return ticks.filter((o) => o.name === "BreakerOpenError" && o.startedMs > fromMs + openMs + EARLY_MS && (!probe || o.startedMs < probe.startedMs));
}

/**
 * A call the service held past callTimeoutMs + SLACK_MS, though the program gave up on it in time
 * by its own clock once its stalls are taken off: the machine was loaded, not the timeout wrong.
 */
const gaveUpInTime = (o: Outcome | undefined, callTimeoutMs: number) => o !== undefined && o.ms - o.lagMs <= callTimeoutMs + SLACK_MS;

const lateNote = (t: CheckContext, what: string, ms: number) =>
  t.note(
    `${what} reached the service ${Math.round(ms)} ms late, but your program made no call between openMs and then (by its own clock): the machine stalled, which is not held against you`,
  );

/** Refusals that took longer than FAST_MS, or any over SLACK_MS: a refusal that waited. */
function slowRefusals(ticks: Outcome[]): string | undefined {
  const refused = ticks.filter((o) => o.name === "BreakerOpenError");
  const slow = refused.filter((o) => o.ms > FAST_MS);
  if (slow.length > refused.length / 10 || refused.some((o) => o.ms > SLACK_MS)) {
    return `${slow.length} of ${refused.length} refusals took longer than ${FAST_MS} ms (${slow
      .slice(0, 8)
      .map((o) => `${Math.round(o.ms)} ms`)
      .join(", ")}${slow.length > 8 ? ", …" : ""})`;
  }
  return undefined;
}

export default defineChecks({
  /**
   * Run: a caller asks for stock every 100 ms while the inventory service has a seeded bad moment
   * now and then (an outage of 503s, calls that hang, connections refused, a slow recovery); the
   * log shows, each second, what the calls met and what the breaker said.
   */
  playground: async (t) => {
    const { dep, fresh } = await inventory(t);
    const probe = await t.load("probe.ts", { limits: { wallMs: 70_000 } });
    const policy: BreakerPolicy = { failureThreshold: 3, openMs: 1000, callTimeoutMs: 300 };
    await probe.call("create", ["b", "inventory", policy]);
    t.note(`policy: ${JSON.stringify(policy)}; a caller asks for stock every 100 ms`);
    let nextTrouble = 1500 + t.random() * 2000;
    const started = performance.now();
    while (!t.signal.aborted) {
      const second = performance.now();
      if (second - started > nextTrouble) {
        const roll = t.random();
        const ms = 800 + Math.floor(t.random() * 2500);
        if (roll < 0.4) {
          dep.failNext(1000, { status: pick(t, [500, 503, 429] as const) });
          t.note(`the inventory service fails every call for ${ms} ms`);
        } else if (roll < 0.7) {
          dep.hangAll();
          t.note(`the inventory service hangs every call for ${ms} ms`);
        } else {
          await dep.down();
          t.note(`the inventory service refuses connections for ${ms} ms`);
        }
        void dep.schedule([{ atMs: ms, action: (d) => d.heal() }]);
        nextTrouble = second - started + ms + 2000 + t.random() * 3000;
      }
      const before = dep.stats().calls;
      const ticks = await probe.call<Tick[]>("trickle", ["b", fresh(), 100, 1000], 5000).catch(() => null);
      if (t.signal.aborted) return;
      if (!ticks) {
        t.note(
          `+${((second - started) / 1000).toFixed(1)} s: this second's calls had not all ended 4 s later: does every call have its timeout (callTimeoutMs ${policy.callTimeoutMs})?`,
        );
        continue;
      }
      const arrived = dep.calls().slice(before);
      const refused = ticks.filter((o) => o.name === "BreakerOpenError").length;
      const states = [...new Set(ticks.map((o) => o.stateBefore))].join(" → ");
      t.note(
        `+${((second - started) / 1000).toFixed(1)} s: ${ticks.length} calls, ${refused} refused by the breaker; the service saw ${arrived.length}${arrived.length ? ` (${tally(arrived.map((c) => (c.fault === "hang" ? (c.outcome === "aborted" ? "hung, cut by its timeout" : "hung") : how(c))))})` : ""}; state ${states} → ${await probe.call<string>("state", ["b"])}`,
      );
    }
  },
  timeoutMs: 20_000,
  checks: guarded({
    "opens-on-failures": async (t) => {
      const { dep, fresh } = await inventory(t);
      // Three breakers at once, each with its own threshold and its own failures (aimed at its
      // skus), every kind of failure among them: a seeded shuffle, dealt round.
      const deck = shuffle(t, FAILURES);
      let dealt = 0;
      const plans = [0, 1, 2].map(() => {
        const n = between(t, 3, 6);
        const failing = Array.from({ length: n }, () => ({ sku: fresh(), kind: deck[dealt++ % deck.length]! as Failure }));
        for (const { sku, kind } of failing) inject(dep, sku, kind);
        const after = Array.from({ length: between(t, 2, 4) }, fresh);
        return { n, failing, after, skus: [...failing.map((f) => f.sku), ...after] };
      });
      t.note(
        `3 breakers with failureThreshold ${plans.map((p) => p.n).join(", ")}; each makes its calls one after another and meets that many failures in a row (${FAILURES.join(", ")}), then a healthy service`,
      );
      const probes = await breakers(
        t,
        plans.map((p) => ({ failureThreshold: p.n, openMs: 5000, callTimeoutMs: 1000 })),
      );
      const results = await Promise.all(plans.map((p, i) => probes[i]!.call<Sequenced[]>("sequence", ["b", p.skus], 10_000)));
      plans.forEach(({ n, failing, after, skus }, i) => {
        const outcomes = results[i]!;
        const actual = story(dep, skus, outcomes, (j) => (j < n ? failing[j]!.kind : "healthy"));
        const reached = skus.map((sku) => callsTo(dep, sku).length);
        const early = reached.findIndex((r, j) => j < n && r === 0);
        if (early >= 0) {
          return t.fail({
            message: `With failureThreshold ${n}, the breaker opened after ${early} failure(s): call ${early + 1} never reached the inventory service`,
            expected: `the first ${n} calls reach the service (each failure counts, the ${n}th opens the breaker)`,
            actual,
            hint: `The breaker opens when the count of consecutive failures reaches failureThreshold: ${n} failures, not ${n - 1}.`,
          });
        }
        const late = after.filter((sku) => callsTo(dep, sku).length > 0);
        if (late.length) {
          return t.fail({
            message: `After ${n} consecutive failures (failureThreshold ${n}), ${late.length} more call(s) still reached the inventory service`,
            expected: `exactly ${n} calls at the service, then every call refused with BreakerOpenError without reaching it`,
            actual,
            hint: "Count every failure, the one that reaches the threshold included, and open the breaker as soon as the count reaches failureThreshold. 5xx, 408 and 429 answers and reset connections are all failures.",
          });
        }
        const wrong = outcomes.findIndex((o, j) =>
          j < n
            ? o.name !== "UnavailableError" || o.stateAfter !== (j === n - 1 ? "open" : "closed")
            : o.name !== "BreakerOpenError" || o.stateAfter !== "open",
        );
        if (wrong >= 0) {
          return t.fail({
            message: `Call ${wrong + 1} of a breaker with failureThreshold ${n} ${describe(outcomes[wrong]!)} and left the state "${outcomes[wrong]!.stateAfter}"`,
            expected: `calls 1–${n} throw UnavailableError (state "closed" after each, "open" after call ${n}); later calls throw BreakerOpenError, state "open"`,
            actual,
            hint: "A failed call that reached the service throws UnavailableError; a call the open breaker refuses throws BreakerOpenError. `state` says what the breaker will do with the next call.",
          });
        }
      });
      // Refused connections count too: the service is down, then comes back while the breaker is open.
      const m = between(t, 3, 5);
      const probe = probes[0]!;
      await probe.call("create", ["down", "inventory", { failureThreshold: m, openMs: 5000, callTimeoutMs: 1000 }]);
      const skus = Array.from({ length: m + 2 }, fresh);
      await dep.down();
      t.note(`the inventory service refuses connections; a breaker with failureThreshold ${m} makes ${m + 2} calls, then the service comes back`);
      const outcomes = await probe.call<Sequenced[]>("sequence", ["down", skus], 10_000);
      await dep.up();
      const tookCalls = skus.filter((sku) => callsTo(dep, sku).length > 0).length;
      if (tookCalls)
        throw new GraderError(
          `opens-on-failures: the inventory service was down but took ${tookCalls} call(s): the fault did not take effect (labs:verify --ablate?)`,
        );
      const back = Array.from({ length: 3 }, fresh);
      const afterUp = await probe.call<Outcome[]>("all", ["down", back], 10_000);
      const reachedAfterUp = back.filter((sku) => callsTo(dep, sku).length > 0).length;
      const names = outcomes.map((o) => o.name);
      const expected = skus.map((_, j) => (j < m ? "UnavailableError" : "BreakerOpenError"));
      if (reachedAfterUp > 0 || names.join() !== expected.join()) {
        return t.fail({
          message: `With failureThreshold ${m}, ${m + 2} calls while the service refused connections (ECONNREFUSED) ended ${names.join(", ")}; then, with the service back, ${reachedAfterUp} of 3 calls reached it`,
          expected: `${m} UnavailableError (a refused connection is a failure), then BreakerOpenError; the breaker still open when the service comes back: no call reaches it before openMs`,
          actual: afterUp.map(describe).join("\n"),
          hint: "A call that rejects (refused, reset, timed out) is a failure exactly like a 503: count it.",
        });
      }
    },

    "no-calls-while-open": async (t) => {
      const { dep, fresh } = await inventory(t);
      const policies = [0, 1].map(() => ({ failureThreshold: between(t, 3, 5), openMs: between(t, 400, 600), callTimeoutMs: 1000 }));
      const everyMs = between(t, 10, 20);
      t.note(
        `2 breakers (${policies.map((p) => `failureThreshold ${p.failureThreshold}, openMs ${p.openMs}`).join("; ")}) are opened, then callers arrive every ${everyMs} ms, overlapping, for most of openMs`,
      );
      const probes = await breakers(t, policies);
      await Promise.all(
        probes.map(async (probe, i) => {
          const policy = policies[i]!;
          const { opening, openedAt } = await open(t, dep, fresh, probe, policy);
          const sku = fresh();
          // Stop well before openMs, so no call of the trickle may rightly be a probe.
          const forMs = policy.openMs - 150 - (performance.now() - openedAt);
          const ticks = await probe.call<Tick[]>("trickle", ["b", sku, everyMs, forMs], 10_000);
          const arrived = callsTo(dep, sku);
          const inside = arrived.filter((c) => c.at < learntNoSoonerThan(opening) + policy.openMs - EARLY_MS);
          if (inside.length) {
            return t.fail({
              message: `While the breaker was open (openMs ${policy.openMs}), ${inside.length} of ${ticks.length} calls reached the inventory service, at ${inside.map((c) => `+${Math.round(c.at - openedAt)} ms`).join(", ")} after it opened`,
              expected: `no call at the service for openMs = ${policy.openMs} ms after the breaker opened`,
              hint: "While open, getStock must throw BreakerOpenError before making any request: no call, no 'background' check, no request whose answer you ignore.",
            });
          }
          const through = ticks.filter((o) => o.name !== "BreakerOpenError");
          if (through.length > arrived.length) {
            const o = through[0]!;
            return t.fail({
              message: `A call made ${Math.round(o.startedMs)} ms into a ${policy.openMs} ms open period was not refused: it ${describe(o)} after ${Math.round(o.ms)} ms`,
              expected: "every call while open rejects at once with BreakerOpenError",
              hint: "An open breaker refuses; it does not queue callers until it half-opens, nor answer for the service.",
            });
          }
          const slow = slowRefusals(ticks);
          if (slow) {
            return t.fail({
              message: `While open, ${slow}`,
              expected: `each refusal within ${FAST_MS} ms (all but a tenth; none over ${SLACK_MS} ms): failing fast is the point of an open breaker`,
              hint: "Throw BreakerOpenError before any await that waits for time or I/O: no sleep, no waiting for the open period or the probe.",
            });
          }
          const early = ticks.filter((o) => o.startedMs < forMs / 2 && o.stateBefore !== "open");
          if (early.length) {
            return t.fail({
              message: `\`state\` read "${early[0]!.stateBefore}" ${Math.round(early[0]!.startedMs)} ms into a ${policy.openMs} ms open period`,
              expected: '"open" until openMs has passed since the breaker opened',
              hint: "`state` must say what the breaker does: open while it refuses every call.",
            });
          }
        }),
      );
    },

    "half-open-probe": async (t) => {
      const { dep, fresh, stockFor } = await inventory(t);
      const policy: BreakerPolicy = { failureThreshold: between(t, 3, 5), openMs: between(t, 300, 500), callTimeoutMs: 1000 };
      const gapMs = between(t, 40, 70);
      const latency = between(t, 150, 250);
      const everyMs = 15;
      const perTick = 3;
      const [probe] = await breakers(t, [policy]);
      t.note(
        `failureThreshold ${policy.failureThreshold}, openMs ${policy.openMs}: ${policy.failureThreshold} failures ${gapMs} ms apart open the breaker; then ${perTick} callers at once arrive every ${everyMs} ms and the recovered service answers after ${latency} ms`,
      );
      const { opening, openedAt, firstFailureAt } = await open(t, dep, fresh, probe!, policy, gapMs);
      // No call may arrive while open, so this latency only slows the probe (and what follows it).
      dep.setLatency({ ms: latency });
      const sku = fresh();
      const ticks = await probe!.call<Tick[]>("trickle", ["b", sku, everyMs, policy.openMs + 2000, true, perTick], 10_000);
      const arrived = callsTo(dep, sku);
      const first = arrived[0];
      if (!first) {
        return t.fail({
          message: `No call reached the inventory service in the ${Math.round(policy.openMs + 2000)} ms after the breaker opened (openMs ${policy.openMs}), though a caller came every ${everyMs} ms; ${ticks.length} calls, all ${[...new Set(ticks.map((o) => o.name))].join(", ")}`,
          expected: `once openMs has passed, the next call goes through as a probe`,
          hint: "Remember when the breaker opened; when a call comes and openMs has passed since then, let it through (half-open) instead of refusing it.",
        });
      }
      const after = first.at - openedAt;
      const due = after > policy.openMs + everyMs + SLACK_MS ? refusedWhenDue(ticks, 0, policy.openMs) : [];
      if (after > policy.openMs + everyMs + SLACK_MS && !due.length) lateNote(t, "The probe", after - policy.openMs);
      if (first.at - learntNoSoonerThan(opening) < policy.openMs - EARLY_MS || due.length) {
        return t.fail({
          message: `The probe reached the inventory service ${Math.round(after)} ms after the breaker opened (openMs ${policy.openMs}; ${Math.round(first.at - firstFailureAt)} ms after the first of the failures that opened it)${due.length ? `; ${due.length} callers were refused after openMs had passed, by your program's own clock` : ""}`,
          expected: `between ${policy.openMs - EARLY_MS} and ${policy.openMs + everyMs + SLACK_MS} ms after it opened (openMs, counted from the failure that opened it, + a caller every ${everyMs} ms + ${SLACK_MS} ms of slack)`,
          hint: "Count openMs from the moment the breaker opens (the failure that reached the threshold), not from the first failure of the run, and let the first call after it through.",
        });
      }
      const alongside = arrived.filter((c) => c !== first && c.at < (first.endedAt ?? Infinity));
      if (alongside.length) {
        return t.fail({
          message: `While the probe was in flight (${Math.round((first.endedAt ?? performance.now()) - first.at)} ms, the service answering slowly), ${alongside.length} more call(s) reached the inventory service`,
          expected: "exactly one call (the probe) in flight while half-open; every other caller refused at once with BreakerOpenError",
          actual: arrived.map((c) => `+${Math.round(c.at - openedAt)} ms: ${how(c)}`).join("\n"),
          hint: "Half-open admits a single probe: mark that a probe is in flight when you let one through, and refuse everyone else until its outcome is known.",
        });
      }
      const probeTick = ticks.find((o) => o.name !== "BreakerOpenError");
      if (!probeTick?.ok) {
        return t.fail({
          message: `The probe ${probeTick ? describe(probeTick) : "was not made"} though the service answered it 200`,
          expected: JSON.stringify(stockFor(sku)),
          hint: "Return the stock the service answered with, as it is.",
        });
      }
      t.equal(probeTick.stock, stockFor(sku), {
        message: "The probe did not return the stock the inventory service answered with",
        hint: "Return the 200 answer's body as the Stock.",
      });
      const during = ticks.filter((o) => o !== probeTick && o.startedMs >= probeTick.startedMs && o.startedMs < probeTick.startedMs + probeTick.ms - 5);
      const notRefused = during.filter((o) => o.name !== "BreakerOpenError");
      const slow = slowRefusals(during);
      if (notRefused.length || slow) {
        return t.fail({
          message: notRefused.length
            ? `${notRefused.length} of ${during.length} calls made while the probe was in flight were not refused (${notRefused.map(describe).join(", ")})`
            : `While the probe was in flight, ${slow}`,
          expected: `every caller during the probe refused with BreakerOpenError within ${FAST_MS} ms`,
          hint: "Callers arriving while the probe is in flight must not wait for it: refuse them at once.",
        });
      }
      const misread = during.filter((o) => o.startedMs > probeTick.startedMs + 5 && o.stateBefore !== "half-open");
      if (misread.length) {
        return t.fail({
          message: `While the probe was in flight, \`state\` read "${misread[0]!.stateBefore}"`,
          expected: '"half-open" from openMs after opening until the probe\'s outcome is known',
          hint: "Half-open is a state of its own: the breaker has let its probe through and waits for the outcome.",
        });
      }
      // Closed again, with a clean count: failureThreshold - 1 failures do not re-open it.
      dep.setLatency({ ms: 0 });
      const state = await probe!.call<BreakerState>("state", ["b"]);
      const n = policy.failureThreshold;
      const plan = Array.from({ length: n - 1 }, () => ({ sku: fresh(), kind: pick(t, FAILURES) as string }));
      for (const { sku: s, kind } of plan) inject(dep, s, kind as Failure);
      const healthy = [fresh(), fresh()];
      plan.push(...healthy.map((s) => ({ sku: s, kind: "healthy" })));
      const skus = plan.map((p) => p.sku);
      const outcomes = await probe!.call<Sequenced[]>("sequence", ["b", skus], 10_000);
      const missed = skus.filter((s) => callsTo(dep, s).length === 0);
      if (state !== "closed" || missed.length || outcomes.some((o) => o.stateAfter !== "closed")) {
        return t.fail({
          message: `After the probe succeeded, \`state\` read "${state}"; then ${n - 1} failures and 2 healthy calls (failureThreshold ${n}): ${missed.length} call(s) never reached the service`,
          expected: `"closed" after a successful probe, with the failure count back at 0: ${n - 1} failures do not open it`,
          actual: story(dep, skus, outcomes, (i) => plan[i]!.kind),
          hint: "A successful probe closes the breaker and starts the count of consecutive failures afresh.",
        });
      }
    },

    "reopens-on-failed-probe": async (t) => {
      const { dep, fresh } = await inventory(t);
      const policy: BreakerPolicy = { failureThreshold: between(t, 3, 4), openMs: between(t, 300, 400), callTimeoutMs: between(t, 200, 250) };
      const everyMs = 20;
      const [probe] = await breakers(t, [policy]);
      const sku = fresh();
      // A slow recovery: the first probes fail, one of them hanging until its timeout cuts it (so
      // "a fresh openMs" is counted from the failure, not from when the probe was sent), then the
      // service is back.
      const k = between(t, 1, 2);
      const kinds = shuffle(t, k === 1 ? (["hang"] as Failure[]) : (["hang", pick(t, FAILURES)] as Failure[]));
      t.note(
        `failureThreshold ${policy.failureThreshold}, openMs ${policy.openMs}, callTimeoutMs ${policy.callTimeoutMs}: the breaker opens, and the service recovers slowly: the first ${k} probe(s) meet ${kinds.join(", ")}; callers arrive every ${everyMs} ms`,
      );
      const { opening, openedAt } = await open(t, dep, fresh, probe!, policy);
      kinds.forEach((kind) => inject(dep, sku, kind));
      const forMs = (k + 1) * (policy.openMs + policy.callTimeoutMs + everyMs + SLACK_MS) + 500;
      const ticks = await probe!.call<Tick[]>("trickle", ["b", sku, everyMs, forMs, true], forMs + 5000);
      const arrived = callsTo(dep, sku);
      const shown = arrived.map((c) => `+${Math.round(c.at - openedAt)} ms: ${how(c)}`).join("\n");
      let since = opening;
      for (let i = 0; i <= k; i++) {
        const call = arrived[i];
        const what = i === 0 ? "the breaker opened" : `probe ${i} (${kinds[i - 1]}) failed`;
        if (!call) {
          return t.fail({
            message: `After ${what}, no further probe reached the inventory service in ${Math.round(forMs)} ms of callers every ${everyMs} ms (openMs ${policy.openMs})`,
            expected: `a probe openMs after ${what}, until one succeeds`,
            actual: shown || "no call at the service",
            hint:
              i === 0
                ? "Once openMs has passed since the breaker opened, let the next call through as a probe."
                : "A failed probe opens the breaker again for a fresh openMs, after which the next call is another probe: if you half-open on a timer, start a new one each time the breaker opens.",
          });
        }
        const gap = call.at - (since.endedAt ?? Infinity);
        const early = since.outcome === "aborted" ? EARLY_MS + ABORT_LAG_MS : EARLY_MS;
        const admitted = ticks.filter((o) => o.name !== "BreakerOpenError");
        const fromMs = i === 0 ? 0 : admitted[i - 1] ? admitted[i - 1]!.startedMs + admitted[i - 1]!.ms : Infinity;
        const due = gap > policy.openMs + everyMs + SLACK_MS ? refusedWhenDue(ticks, fromMs, policy.openMs) : [];
        if (gap > policy.openMs + everyMs + SLACK_MS && !due.length) lateNote(t, `Probe ${i + 1}`, gap - policy.openMs);
        if (call.at - learntNoSoonerThan(since) < policy.openMs - EARLY_MS || due.length) {
          return t.fail({
            message: `A call reached the inventory service ${Math.round(gap)} ms after ${what} (openMs ${policy.openMs})${due.length ? `; ${due.length} callers were refused after openMs had passed, by your program's own clock` : ""}`,
            expected: `the next probe between ${policy.openMs - early} and ${policy.openMs + everyMs + SLACK_MS} ms after ${what}; nothing in between`,
            actual: shown,
            hint:
              i === 0
                ? "Let exactly one call through once openMs has passed since the breaker opened."
                : "A failed probe re-opens the breaker for a fresh openMs, counted from the probe's failure: not closed, not the old open period, not half-open still.",
          });
        }
        const tick = ticks.filter((o) => o.name !== "BreakerOpenError")[i];
        if (i < k && (call.endedAt === undefined || (call.endedAt - call.at > policy.callTimeoutMs + SLACK_MS && !gaveUpInTime(tick, policy.callTimeoutMs)))) {
          return t.fail({
            message: `Probe ${i + 1} hung at the service and was ${call.endedAt ? `abandoned after ${Math.round(call.endedAt - call.at)} ms` : "never abandoned"}`,
            expected: `abandoned after callTimeoutMs = ${policy.callTimeoutMs} ms (+${SLACK_MS} ms), which re-opens the breaker`,
            hint: "The probe is a call like any other: give it the call timeout, and count its timeout as a failure.",
          });
        }
        since = call;
      }
      const last = ticks.find((o) => o.ok);
      if (!last) {
        return t.fail({
          message: `The probe the service answered 200 did not return stock; the calls ended ${[...new Set(ticks.map((o) => o.name))].join(", ")}`,
          hint: "A successful probe returns the stock and closes the breaker.",
        });
      }
      // Between probes, the breaker reads "open" (a failed probe re-opens it).
      const failedTicks = ticks.filter((o) => o.name === "UnavailableError");
      for (const f of failedTicks) {
        const next = ticks.filter((o) => o.startedMs > f.startedMs + f.ms + 5 && o.startedMs < f.startedMs + f.ms + policy.openMs - 60);
        const misread = next.find((o) => o.stateBefore !== "open");
        if (misread) {
          return t.fail({
            message: `${Math.round(misread.startedMs - f.startedMs - f.ms)} ms after a probe failed, \`state\` read "${misread.stateBefore}" (openMs ${policy.openMs})`,
            expected: '"open" for openMs after a failed probe',
            hint: "A failed probe moves the breaker from half-open back to open.",
          });
        }
      }
      const state = await probe!.call<BreakerState>("state", ["b"]);
      t.equal(state, "closed", { message: `After a probe succeeded, \`state\` read "${state}"`, hint: "A successful probe closes the breaker." });
    },

    "counts-timeouts": async (t) => {
      const { dep, fresh } = await inventory(t);
      const policies = [0, 1].map(() => ({ failureThreshold: between(t, 3, 4), openMs: 5000, callTimeoutMs: between(t, 150, 250) }));
      t.note(
        `2 breakers (${policies.map((p) => `failureThreshold ${p.failureThreshold}, callTimeoutMs ${p.callTimeoutMs}`).join("; ")}): the service accepts their calls and never answers, failureThreshold times in a row`,
      );
      const probes = await breakers(t, policies);
      await Promise.all(
        probes.map(async (probe, i) => {
          const { failureThreshold: n, callTimeoutMs } = policies[i]!;
          const hung = Array.from({ length: n }, fresh);
          hung.forEach((sku) => inject(dep, sku, "hang"));
          const skus = [...hung, fresh(), fresh()];
          const budget = n * (callTimeoutMs + SLACK_MS) + 1500;
          const outcomes = await probe.call<Sequenced[]>("sequence", ["b", skus], budget).catch(() => null);
          // An abandoned call reaches the service as a closed connection a moment after the client gave up.
          await settled(t, dep, hung);
          const calls = hung.map((sku) => callsTo(dep, sku)[0]);
          const over = (c: DependencyCall | undefined) => c?.endedAt !== undefined && c.endedAt - c.at > callTimeoutMs + SLACK_MS;
          const held = calls.find((c, j) => !c || c.outcome !== "aborted" || (over(c) && !gaveUpInTime(outcomes?.[j], callTimeoutMs)));
          calls.forEach(
            (c, j) =>
              over(c) &&
              !held &&
              t.note(
                `a hung call was held ${Math.round(c!.endedAt! - c!.at)} ms at the service, but your program gave up on it in time by its own clock (the machine stalled ${Math.round(outcomes?.[j]?.lagMs ?? 0)} ms): not held against you`,
              ),
          );
          if (!outcomes || held) {
            return t.fail({
              message: !outcomes
                ? `${n} calls the inventory service never answered did not end within ${budget} ms: the first was ${held?.endedAt ? `held ${Math.round(held.endedAt - held.at)} ms` : "still open"}`
                : held?.endedAt
                  ? `A call the inventory service never answered was held ${Math.round(held.endedAt - held.at)} ms (${held.outcome})`
                  : `getStock gave up on calls the inventory service never answered, but their requests were never aborted: still open at the service ${Math.round(performance.now() - (held?.at ?? 0))} ms after they arrived`,
              expected: `each call abandoned (its request aborted) after callTimeoutMs = ${callTimeoutMs} ms (+${SLACK_MS} ms)`,
              actual: calls.map((c, j) => `call ${j + 1}: ${c ? how(c) : "never reached the service"}`).join("\n"),
              hint: "Give every call its own AbortSignal.timeout(policy.callTimeoutMs) and pass it to the request: a service that hangs must cost at most that.",
            });
          }
          const extra = skus.slice(n).filter((sku) => callsTo(dep, sku).length > 0);
          const names = outcomes.map((o) => (o.ok ? "stock" : o.name)).join(", ");
          const expected = skus.map((_, j) => (j < n ? "UnavailableError" : "BreakerOpenError")).join(", ");
          if (extra.length || names !== expected) {
            return t.fail({
              message: `After ${n} calls in a row timed out (failureThreshold ${n}), ${extra.length} more call(s) reached the inventory service; the calls ended ${names}`,
              expected: `${expected}: a timed-out call is a failure, and ${n} of them open the breaker`,
              actual: story(dep, skus, outcomes, (j) => (j < n ? "hangs" : "healthy")),
              hint: "The timeout rejects the request with the signal's reason (a TimeoutError, not an HTTP status): count it as a failure like a 503 or a reset.",
            });
          }
        }),
      );
    },

    "ignores-client-errors": async (t) => {
      const { dep, fresh } = await inventory(t);
      const n = between(t, 3, 5);
      const policy: BreakerPolicy = { failureThreshold: n, openMs: 5000, callTimeoutMs: 1000 };
      const probeOpenMs = between(t, 250, 350);
      const [a, b, c] = await breakers(t, [policy, policy, { ...policy, openMs: probeOpenMs }]);
      // Breaker c, opened: its probe is answered 404, which closes it like any answer from a working service.
      const probed = (async () => {
        const { openedAt } = await open(t, dep, fresh, c!, { ...policy, openMs: probeOpenMs });
        const unknown = t.id("unknown");
        const ticks = await c!.call<Tick[]>("trickle", ["b", unknown, 20, probeOpenMs + 1500, true], 10_000);
        const after = [fresh(), fresh(), fresh()];
        const outcomes = await c!.call<Sequenced[]>("sequence", ["b", after], 10_000);
        return { openedAt, unknown, ticks, after, outcomes };
      })();
      // Judged last; a failure before then must not leave its rejection unhandled.
      probed.catch(() => undefined);
      // Breaker a: nothing but client errors, more than the threshold.
      const statuses = [400, 404, 409, 422] as const;
      const plansA = Array.from({ length: 2 * n + 1 }, () => {
        const roll = t.random();
        // An unknown sku is the service's own 404.
        if (roll < 0.3) return { sku: t.id("unknown"), kind: "404 (unknown sku)", status: 404 };
        const sku = fresh();
        const status = pick(t, statuses);
        inject(dep, sku, status, { error: `rejected: ${t.id("reason")}` });
        return { sku, kind: String(status), status };
      });
      // Breaker b: failures broken by one 404: the service answered, so the count starts again.
      const plansB = [
        ...Array.from({ length: n - 1 }, () => ({ sku: fresh(), kind: pick(t, FAILURES) as string })),
        { sku: t.id("unknown"), kind: "404 (unknown sku)" },
        ...Array.from({ length: n - 1 }, () => ({ sku: fresh(), kind: pick(t, FAILURES) as string })),
        { sku: fresh(), kind: "healthy" },
      ];
      for (const p of plansB) if ((FAILURES as readonly string[]).includes(p.kind)) inject(dep, p.sku, p.kind as Failure);
      t.note(
        `failureThreshold ${n}: one breaker meets ${2 * n + 1} client errors (400, 404, 409, 422, unknown skus); another meets ${n - 1} failures, a 404, ${n - 1} failures, then a healthy answer`,
      );
      const [outA, outB] = await Promise.all([
        a!.call<Sequenced[]>("sequence", ["b", plansA.map((p) => p.sku)], 10_000),
        b!.call<Sequenced[]>("sequence", ["b", plansB.map((p) => p.sku)], 10_000),
      ]);
      const skusA = plansA.map((p) => p.sku);
      const missedA = skusA.filter((sku) => callsTo(dep, sku).length === 0).length;
      const wrongA = outA!.findIndex((o, i) => o.name !== "RequestError" || o.status !== plansA[i]!.status || o.stateAfter !== "closed");
      if (missedA || wrongA >= 0) {
        return t.fail({
          message: `${2 * n + 1} calls answered with a client error (failureThreshold ${n}): ${missedA} never reached the service${wrongA >= 0 ? `; call ${wrongA + 1} (${plansA[wrongA]!.kind}) ${describe(outA![wrongA]!)}, state "${outA![wrongA]!.stateAfter}"` : ""}`,
          expected:
            'every call reaches the service and throws RequestError with its status; the breaker stays "closed": a 4xx says the request was wrong, not that the service is down',
          actual: story(dep, skusA, outA!, (i) => plansA[i]!.kind),
          hint: "Only 5xx, 408, 429, and calls with no answer (refused, reset, timed out) are failures. Any other 4xx is the caller's mistake: throw RequestError(status, body) and count the answer as a success.",
        });
      }
      const skusB = plansB.map((p) => p.sku);
      const missedB = skusB.filter((sku) => callsTo(dep, sku).length === 0).length;
      if (missedB || outB!.some((o) => o.stateAfter !== "closed") || !outB!.at(-1)!.ok) {
        return t.fail({
          message: `${n - 1} failures, a 404, then ${n - 1} failures (failureThreshold ${n}): ${missedB} call(s) never reached the service`,
          expected: 'all reach it and the breaker stays "closed": the 404 was an answer from a working service, which ends the run of consecutive failures',
          actual: story(dep, skusB, outB!, (i) => plansB[i]!.kind),
          hint: "A 4xx other than 408 and 429 counts as a success for the breaker: it resets the count of consecutive failures.",
        });
      }
      const { openedAt, unknown, ticks, after, outcomes } = await probed;
      const probe = callsTo(dep, unknown)[0];
      const answered = ticks.find((o) => o.name === "RequestError");
      const missed = after.filter((sku) => callsTo(dep, sku).length === 0).length;
      if (!probe || !answered || missed || outcomes.some((o) => !o.ok || o.stateAfter !== "closed")) {
        return t.fail({
          message: probe
            ? `The breaker's probe (an unknown sku, ${Math.round(probe.at - openedAt)} ms after it opened with openMs ${probeOpenMs}) was answered ${probe.status}; then ${missed} of 3 calls never reached the service (${outcomes.map(describe).join(", ")})`
            : `No probe reached the service in ${probeOpenMs + 1500} ms after the breaker opened (openMs ${probeOpenMs})`,
          expected: `the probe throws RequestError(404) and closes the breaker (the service answered): the calls after it go through`,
          actual: `the probe's caller ${answered ? describe(answered) : "never got an answer"}; \`state\` after each later call: ${outcomes.map((o) => `"${o.stateAfter}"`).join(", ")}`,
          hint: "Every way out of a probe must end it: a 2xx or a plain 4xx closes the breaker, a failure opens it again. A probe left 'in flight' forever refuses every caller.",
        });
      }
    },

    "success-resets-count": async (t) => {
      const { dep, fresh } = await inventory(t);
      const policies = [0, 1].map(() => ({ failureThreshold: between(t, 3, 6), openMs: 5000, callTimeoutMs: 1000 }));
      t.note(
        `2 breakers (failureThreshold ${policies.map((p) => p.failureThreshold).join(", ")}) meet runs of failureThreshold - 1 failures broken by one success, three times, then failureThreshold failures in a row`,
      );
      const probes = await breakers(t, policies);
      await Promise.all(
        probes.map(async (probe, i) => {
          const n = policies[i]!.failureThreshold;
          const plan: { sku: string; kind: string }[] = [];
          for (let run = 0; run < 3; run++) {
            for (let j = 0; j < n - 1; j++) plan.push({ sku: fresh(), kind: pick(t, FAILURES) });
            plan.push({ sku: fresh(), kind: "healthy" });
          }
          const opening = plan.length;
          for (let j = 0; j < n; j++) plan.push({ sku: fresh(), kind: pick(t, FAILURES) });
          plan.push({ sku: fresh(), kind: "healthy" });
          for (const p of plan) if (p.kind !== "healthy") inject(dep, p.sku, p.kind as Failure);
          const skus = plan.map((p) => p.sku);
          const outcomes = await probe.call<Sequenced[]>("sequence", ["b", skus], 10_000);
          const actual = story(dep, skus, outcomes, (j) => plan[j]!.kind);
          const missed = skus.slice(0, opening + n).findIndex((sku) => callsTo(dep, sku).length === 0);
          if (missed >= 0) {
            return t.fail({
              message: `With failureThreshold ${n}, call ${missed + 1} never reached the inventory service, though no ${n} failures had come in a row before it (${plan
                .slice(0, missed)
                .map((p) => (p.kind === "healthy" ? "ok" : "✗"))
                .join(" ")})`,
              expected: `runs of ${n - 1} failures broken by a success leave the breaker closed`,
              actual,
              hint: "The breaker counts consecutive failures: a successful call sets the count back to 0.",
            });
          }
          const healthy = outcomes.filter((o, j) => j < opening && plan[j]!.kind === "healthy");
          if (healthy.some((o) => !o.ok)) {
            return t.fail({
              message: "A call the inventory service answered 200 did not return its stock",
              actual,
              hint: "Return the 200 answer's body as the Stock.",
            });
          }
          const last = skus.at(-1)!;
          if (callsTo(dep, last).length > 0 || outcomes.at(-1)!.name !== "BreakerOpenError") {
            return t.fail({
              message: `After ${n} failures in a row (following runs of ${n - 1} broken by successes), the next call ${describe(outcomes.at(-1)!)}`,
              expected: "the breaker open: BreakerOpenError, nothing at the service",
              actual,
              hint: `${n} consecutive failures open the breaker, however many successes came before them.`,
            });
          }
        }),
      );
    },

    "isolated-breakers": async (t) => {
      const { dep: home, fresh } = await inventory(t, "inventory");
      const { dep: eu, fresh: freshEu } = await inventory(t, "inventory-eu");
      const n = between(t, 3, 5);
      const policy: BreakerPolicy = { failureThreshold: n, openMs: 5000, callTimeoutMs: 1000 };
      const [probe, other] = await t.loadMany("probe.ts", 2);
      // In one program: a breaker per service, and a second breaker for the same service (another caller's).
      await Promise.all([
        probe!.call("create", ["home", "inventory", policy]),
        probe!.call("create", ["eu", "inventory-eu", policy]),
        probe!.call("create", ["home-2", "inventory", policy]),
        other!.call("create", ["home", "inventory", policy]),
      ]);
      t.note(
        `failureThreshold ${n}: in one program, breakers for "inventory", "inventory-eu" and a second one for "inventory"; only the first meets ${n} failures in a row`,
      );
      const failing = Array.from({ length: n }, () => ({ sku: fresh(), kind: pick(t, FAILURES) }));
      failing.forEach((f) => inject(home, f.sku, f.kind));
      // inventory-eu first fails n - 1 times, then answers: its count is its own.
      const euFailing = Array.from({ length: n - 1 }, () => ({ sku: freshEu(), kind: pick(t, FAILURES) }));
      euFailing.forEach((f) => inject(eu, f.sku, f.kind));
      await probe!.call("sequence", ["eu", euFailing.map((f) => f.sku)], 10_000);
      const opened = await probe!.call<Sequenced[]>("sequence", ["home", failing.map((f) => f.sku)], 10_000);
      if (opened.at(-1)?.stateAfter !== "open") {
        return t.fail({
          message: `After ${n} failures in a row (failureThreshold ${n}), the breaker for "inventory" read "${opened.at(-1)?.stateAfter}"`,
          expected: '"open"',
          actual: story(
            home,
            failing.map((f) => f.sku),
            opened,
            (i) => failing[i]!.kind,
          ),
          hint: "This check needs a breaker that opens after failureThreshold consecutive failures (see opens-on-failures first).",
        });
      }
      const euSkus = [freshEu(), freshEu(), freshEu()];
      const homeSkus = [fresh(), fresh(), fresh()];
      const otherSkus = [fresh(), fresh()];
      const [euOut, home2Out, otherOut, states] = await Promise.all([
        probe!.call<Sequenced[]>("sequence", ["eu", euSkus], 10_000),
        probe!.call<Sequenced[]>("sequence", ["home-2", homeSkus], 10_000),
        other!.call<Sequenced[]>("sequence", ["home", otherSkus], 10_000),
        Promise.all(["home", "eu", "home-2"].map((b) => probe!.call<BreakerState>("state", [b]))),
      ]);
      const judge = (who: string, dep: ChaosDependency, skus: string[], outcomes: Sequenced[]) => {
        const missed = skus.filter((sku) => callsTo(dep, sku).length === 0).length;
        if (missed || outcomes.some((o) => !o.ok || o.stateAfter !== "closed")) {
          return t.fail({
            message: `While the breaker for "inventory" was open, ${who}: ${missed} of ${skus.length} calls never reached its service (${outcomes.map(describe).join(", ")})`,
            expected:
              'each breaker keeps its own count and state: this one never met failureThreshold failures in a row, so it is "closed" and calls go through',
            actual: `states just after: home "${states[0]}", eu "${states[1]}", home-2 "${states[2]}"`,
            hint: "Keep the count, the state and the time it opened in the CircuitBreaker object (fields), not in module-level variables or a map shared by every breaker of a program.",
          });
        }
      };
      judge('the breaker for "inventory-eu" in the same program', eu, euSkus, euOut);
      judge('a second breaker for "inventory" in the same program', home, homeSkus, home2Out);
      judge('the breaker for "inventory" in another program', home, otherSkus, otherOut);
    },
  }),
});
