import { defineChecks, type CheckContext } from "../../lib/grader/index.ts";
import type { ChaosDependency, DependencyCall } from "../../lib/runner/chaos-dependency.ts";
import type { Outcome } from "./solution/probe.ts";
import type { Quote, RetryPolicy } from "./solution/policy.ts";

/**
 * Scheduling slack on a delay the grader measures at the dependency (from one attempt's answer
 * to the next attempt's arrival): the client reading the answer, its timer firing late on a
 * loaded machine, a new connection. The instructions state it.
 */
const SLACK_MS = 250;
/**
 * A call ends within this long after its deadline, measured by the grader around the RPC (which
 * adds its own way there and back), and an attempt cut at the deadline is seen closed by then.
 */
const DEADLINE_SLACK_MS = 400;
const ARRIVAL_SLACK_MS = 40;

const path = (sku: string) => `/quote/${sku}`;

/** The pricing service: a quote for every sku the check made up, 404 for any other. */
async function pricing(t: CheckContext): Promise<{ dep: ChaosDependency; quoteFor: (sku: string) => Quote }> {
  const quotes = new Map<string, Quote>();
  const quoteFor = (sku: string) => {
    let quote = quotes.get(sku);
    if (!quote) {
      quote = { sku, price: Math.round(100 + t.unpredictable() * 99_900) / 100, currency: t.unpredictable() < 0.5 ? "EUR" : "USD" };
      quotes.set(sku, quote);
    }
    return quote;
  };
  const dep = await t.dependency("pricing", {
    respond: (req) => {
      const sku = decodeURIComponent(req.path.replace(/^\/quote\//, ""));
      const quote = req.method === "GET" && req.path.startsWith("/quote/") ? quotes.get(sku) : undefined;
      return quote ? { status: 200, body: quote } : { status: 404, body: { error: `no such sku: ${sku}` } };
    },
  });
  return { dep, quoteFor };
}

const attemptsOf = (dep: ChaosDependency, sku: string): DependencyCall[] => dep.calls((c) => c.path === path(sku));

const describe = (o: Outcome) =>
  o.ok
    ? `returned ${JSON.stringify(o.quote)}`
    : `threw ${o.name}${o.reason ? ` (reason "${o.reason}")` : ""}${o.status ? ` (status ${o.status})` : ""}: ${o.message}`;

const pick = <T>(t: CheckContext, items: readonly T[]): T => items[Math.floor(t.random() * items.length)]!;

/** The Kolmogorov–Smirnov distance between the samples (in [0, 1]) and the uniform on [0, 1]. */
function ksUniform(samples: number[]): number {
  const sorted = samples.map((u) => Math.min(1, Math.max(0, u))).sort((a, b) => a - b);
  const n = sorted.length;
  let d = 0;
  sorted.forEach((u, i) => (d = Math.max(d, (i + 1) / n - u, u - i / n)));
  return d;
}

/** Loads probe.ts n times and runs each instance's skus at once, all instances together. */
async function runAll(t: CheckContext, groups: string[][], policy: RetryPolicy, timeoutMs = 10_000, wallMs?: number, staggerMs = 0): Promise<Outcome[][]> {
  const probes = await t.loadMany("probe.ts", groups.length, wallMs ? { limits: { wallMs } } : {});
  // Seeded start offsets, so the instances' calls are not all in step from their first attempt.
  const offsets = groups.map(() => Math.floor(t.random() * staggerMs));
  return Promise.all(groups.map(async (skus, i) => (await t.sleep(offsets[i]!), probes[i]!.call<Outcome[]>("quotes", [skus, policy], timeoutMs))));
}

export default defineChecks({
  /**
   * Run: one caller asks for a quote every second while the pricing service has a seeded bad
   * moment now and then (a burst of 503s, a hang, a refused connection); the log shows what each
   * call returned and the attempts the service saw for it.
   */
  playground: async (t) => {
    const { dep, quoteFor } = await pricing(t);
    const probe = await t.load("probe.ts", { limits: { wallMs: 70_000 } });
    const policy: RetryPolicy = { baseMs: 100, capMs: 800, maxAttempts: 5, attemptTimeoutMs: 300, deadlineMs: 2500 };
    t.note(`policy: ${JSON.stringify(policy)}`);
    while (!t.signal.aborted) {
      const sku = t.id("sku");
      quoteFor(sku);
      const roll = t.random();
      if (roll < 0.3) dep.failNext(1 + Math.floor(t.random() * 4), { status: pick(t, [500, 503, 429] as const), path: path(sku) });
      else if (roll < 0.4) dep.hang(1, { path: path(sku) });
      else if (roll < 0.5) dep.failNext(1, { status: 404, path: path(sku) });
      const outcome = await probe.call<Outcome>("quote", [sku, policy], 10_000).catch(() => null);
      if (!outcome || t.signal.aborted) return;
      const calls = attemptsOf(dep, sku).map((c) => c.fault ?? String(c.status));
      t.note(`${sku}: ${describe(outcome)} in ${Math.round(outcome.ms)} ms; the service saw ${calls.length} attempt(s): ${calls.join(", ")}`);
      await t.sleep(1000);
    }
  },
  timeoutMs: 30_000,
  // One check at a time: the backoff check times 192 waits, and checks beside it in the same
  // sandbox would only add scheduling noise to them.
  concurrency: 1,
  checks: {
    "retries-transient": async (t) => {
      const { dep, quoteFor } = await pricing(t);
      const policy: RetryPolicy = { baseMs: 20, capMs: 200, maxAttempts: 6, attemptTimeoutMs: 1000, deadlineMs: 8000 };
      const kinds = ["503", "500", "502", "504", "429", "reset"] as const;
      const groups = [0, 1, 2].map(() => [0, 1, 2].map(() => t.id("sku")));
      const bursts = new Map<string, string[]>();
      for (const sku of groups.flat()) {
        quoteFor(sku);
        const burst = Array.from({ length: 1 + Math.floor(t.random() * 4) }, () => pick(t, kinds));
        bursts.set(sku, burst);
        for (const kind of burst) {
          if (kind === "reset") dep.reset(1, { path: path(sku) });
          else dep.failNext(1, { status: Number(kind), path: path(sku) });
        }
      }
      t.note(`3 instances call getQuote for 3 skus each at once; each sku meets 1–4 transient failures (${kinds.join(", ")}) and then an answer`);
      const outcomes = (await runAll(t, groups, policy)).flat();
      groups.flat().forEach((sku, i) => {
        const burst = bursts.get(sku)!;
        const outcome = outcomes[i]!;
        const seen = attemptsOf(dep, sku).length;
        t.equal(outcome.ok ? outcome.quote : describe(outcome), quoteFor(sku), {
          message: `getQuote("${sku}") with maxAttempts ${policy.maxAttempts} did not return the quote after the pricing service failed ${burst.length} time(s) (${burst.join(", ")}) and then answered 200; the service saw ${seen} attempt(s)`,
          hint: "A 5xx, 408 or 429 answer and a connection that is reset or refused are transient: wait out the backoff and try again, up to maxAttempts in all. Return the 200 body as the quote.",
        });
        t.equal(seen, burst.length + 1, {
          message: `getQuote("${sku}") made ${seen} attempts at the pricing service for ${burst.length} failure(s) and a success; expected exactly one attempt per failure plus the one that succeeded`,
          hint: "Stop as soon as an attempt succeeds, and make one request per attempt.",
        });
      });
      // A service that is down refuses connections for a while, then comes back.
      const sku = t.id("sku");
      quoteFor(sku);
      const downMs = 120 + Math.floor(t.random() * 80);
      await dep.down();
      t.note(`the pricing service is down (connections refused) for ${downMs} ms while getQuote("${sku}") runs, maxAttempts 12`);
      const probe = await t.load("probe.ts", { name: "probe-down" });
      void dep.schedule([{ atMs: downMs, action: (d) => d.up() }]);
      const outcome = await probe.call<Outcome>("quote", [sku, { ...policy, maxAttempts: 12 }], 10_000);
      t.equal(outcome.ok ? outcome.quote : describe(outcome), quoteFor(sku), {
        message: `getQuote("${sku}") did not return the quote when the pricing service refused connections (ECONNREFUSED) for ${downMs} ms and then came back`,
        hint: "A refused connection is transient too: the request rejects (error code ECONNREFUSED) rather than answering; retry it like a 503.",
      });
    },

    "backoff-with-jitter": async (t) => {
      const { dep, quoteFor } = await pricing(t);
      // Long ranges, so the scheduling noise of a loaded machine (tens of ms) is a small part of each.
      const policy: RetryPolicy = { baseMs: 200, capMs: 1600, maxAttempts: 7, attemptTimeoutMs: 3000, deadlineMs: 25_000 };
      const ceiling = (k: number) => Math.min(policy.capMs, policy.baseMs * 2 ** k);
      const groups = [0, 1, 2, 3].map(() => Array.from({ length: 8 }, () => t.id("sku")));
      for (const sku of groups.flat()) {
        quoteFor(sku);
        dep.failNext(6, { status: 503, path: path(sku) });
      }
      t.note(
        "4 instances call getQuote for 8 skus each at once; every sku fails 6 times (503) and then answers: 6 waits per call, 192 in all, measured at the pricing service",
      );
      const outcomes = await runAll(t, groups, policy, 25_000, 25_000, 400);
      // delays[i][k]: the wait before retry k of sku i, from the end of attempt k to the arrival of attempt k + 1.
      const rows = groups.flatMap((skus, instance) =>
        skus.map((sku, j) => {
          const outcome = outcomes[instance]![j]!;
          const calls = attemptsOf(dep, sku);
          if (!outcome.ok || calls.length !== 7) {
            return t.fail({
              message: `getQuote("${sku}") ${describe(outcome)} after ${calls.length} attempt(s); with 6 transient failures and maxAttempts 7 it must make 7 attempts and return the quote`,
              hint: "Retry every 503 until maxAttempts attempts have been made in all (here 7).",
            });
          }
          return { sku, instance, delays: calls.slice(1).map((c, k) => c.at - calls[k]!.endedAt!) };
        }),
      );
      const show = (k: number) =>
        rows
          .map((r) => Math.round(r.delays[k]!))
          .sort((a, b) => a - b)
          .join(", ");
      // 1. Every wait within its range [0, min(cap, base·2^k)], give or take scheduling.
      // A loaded machine stalls now and then, and a stall makes late every wait in progress across
      // all calls at once; the first retries of calls that started together are in progress
      // together, so they are left out, and up to 12 of one retry's 32 waits may be late. A range
      // that is too wide (no cap, an exponent that does not restart) puts more than that past it.
      const over = rows.flatMap((r) => r.delays.flatMap((d, k) => (k > 0 && d > ceiling(k) + SLACK_MS ? [{ sku: r.sku, k, d }] : [])));
      const worst = Math.max(...[1, 2, 3, 4, 5].map((k) => over.filter((o) => o.k === k).length));
      if (worst > 12) {
        const first = over[0]!;
        return t.fail({
          message: `${worst} of the 32 waits before one retry (${over.length} of the 160 before retries 2–6) were longer than their range allows (e.g. before retry ${first.k + 1} of ${first.sku}: ${Math.round(first.d)} ms, range [0, ${ceiling(first.k)}] ms)`,
          expected: `the wait before retry k (k = 0 first) within [0, min(capMs, baseMs·2^k)] + ${SLACK_MS} ms (at most 12 of 32 later): ${[0, 1, 2, 3, 4, 5].map((k) => `${ceiling(k)}`).join(", ")} ms for base ${policy.baseMs}, cap ${policy.capMs}`,
          actual: [0, 1, 2, 3, 4, 5].map((k) => `retry ${k + 1}: ${show(k)}`).join("\n"),
          hint: "Cap the exponential before drawing the jitter: Math.random() * Math.min(capMs, baseMs * 2 ** k), with k counted from 0 for each call's first retry, in milliseconds.",
        });
      }
      // 2–3. Full jitter, judged where the range is widest (the 96 waits at the cap, retries 4–6),
      //    with bucket counts that a late timer cannot fake: it only makes waits longer. Half of
      //    the waits fall below half the cap; even if every wait were 250 ms late, 34 % would,
      //    and fewer than 13 of 96 then has a probability under 1e-6. A fifth reach above 80 % of
      //    the cap; fewer than 3 of 96 has a probability under 2e-7.
      const atCap = rows.flatMap((r) => [r.delays[3]!, r.delays[4]!, r.delays[5]!]);
      const lowerHalf = atCap.filter((x) => x < policy.capMs / 2).length;
      const topFifth = atCap.filter((x) => x >= 0.8 * policy.capMs).length;
      const capShown = `retry 4: ${show(3)}\nretry 5: ${show(4)}\nretry 6: ${show(5)}`;
      if (lowerHalf < 13) {
        return t.fail({
          message: `Only ${lowerHalf} of the 96 waits whose range is [0, ${policy.capMs}] ms (retries 4–6) were shorter than ${policy.capMs / 2} ms; with full jitter about half are`,
          expected: "full jitter: each wait drawn uniformly from [0, min(capMs, baseMs·2^k)], so short waits are as likely as long ones",
          actual: capShown,
          hint: "Full jitter is random() × ceiling, not ceiling/2 + random() × ceiling/2 (equal jitter), nor ceiling ± some noise, nor the ceiling itself.",
        });
      }
      if (topFifth < 3) {
        return t.fail({
          message: `Only ${topFifth} of the 96 waits whose range is [0, ${policy.capMs}] ms (retries 4–6) reached ${0.8 * policy.capMs} ms; with full jitter about a fifth do`,
          expected: `exponential growth to the cap: ${[0, 1, 2, 3, 4, 5].map(ceiling).join(", ")} ms`,
          actual: capShown,
          hint: "The range doubles with each retry (baseMs · 2^k) until it reaches capMs; a range that grows by baseMs each time is linear backoff.",
        });
      }
      // 4. A fresh draw per wait: three waits of one call, as fractions of their ranges, lie within
      //    0.15 of each other with probability 0.06; in half of 32 calls, with ~1e-11.
      const close = rows.filter((r) => {
        const u = [2, 3, 4].map((k) => r.delays[k]! / ceiling(k));
        return Math.max(...u) - Math.min(...u) < 0.15;
      });
      if (close.length >= 16) {
        return t.fail({
          message: `In ${close.length} of 32 calls the waits before retries 3, 4 and 5 were the same fraction of their ranges (within 0.15), as if one random number were drawn per call and reused`,
          expected: "a fresh random draw for every wait",
          actual: close
            .slice(0, 4)
            .map((r) => `${r.sku}: ${r.delays.map((x) => Math.round(x)).join(", ")} ms`)
            .join("\n"),
          hint: "Call Math.random() each time you compute a wait, not once per getQuote call.",
        });
      }
      // 5. Instances independent: two calls of different instances whose last three waits match
      //    within 80 ms happen with probability ~2e-3 per pair; 8 such pairs of 384, ~1e-6. Not
      //    tighter: on a loaded machine each measured wait of a seeded twin drifts by tens of ms.
      let twins = 0;
      let example = "";
      for (const a of rows) {
        for (const b of rows) {
          if (a.instance >= b.instance) continue;
          if ([2, 3, 4].every((k) => Math.abs(a.delays[k]! - b.delays[k]!) < 80)) {
            twins++;
            example ||= `${a.delays.map(Math.round).join(", ")} ms and ${b.delays.map(Math.round).join(", ")} ms`;
          }
        }
      }
      if (twins >= 8) {
        return t.fail({
          message: `${twins} pairs of calls made by different instances waited the same times (within 80 ms) before their last three retries, e.g. ${example}: the instances draw the same "random" sequence`,
          expected: "instances whose calls failed together retry at independent times",
          hint: "A random generator with a fixed seed gives every process the same jitter, which brings back the thundering herd jitter exists to break up; use Math.random() (or crypto).",
        });
      }
      // For the learner's log only (not judged: on a loaded machine every wait arrives a little late,
      // which a two-sided test would hold against correct code).
      const us = rows.flatMap((r) => r.delays.slice(1).map((x, i) => x / ceiling(i + 1)));
      t.note(
        `waits at the cap: ${lowerHalf}/96 below half of it, ${topFifth}/96 above 80 %; all waits as fractions of their ranges: Kolmogorov–Smirnov distance ${ksUniform(us).toFixed(3)} from the uniform`,
      );
    },

    "gives-up-on-permanent": async (t) => {
      const { dep, quoteFor } = await pricing(t);
      const policy: RetryPolicy = { baseMs: 20, capMs: 100, maxAttempts: 6, attemptTimeoutMs: 1000, deadlineMs: 8000 };
      const statuses = [400, 403, 404, 409, 422] as const;
      const groups = [0, 1].map(() => [0, 1, 2].map(() => t.id("sku")));
      const plan = new Map<string, { before: number; status: number }>();
      for (const sku of groups.flat()) {
        quoteFor(sku);
        const before = Math.floor(t.random() * 3);
        const status = pick(t, statuses);
        plan.set(sku, { before, status });
        if (before > 0) dep.failNext(before, { status: pick(t, [500, 503] as const), path: path(sku) });
        dep.failNext(1, { status, body: { error: `rejected: ${t.id("reason")}` }, path: path(sku) });
      }
      // And a sku the service does not know: its ordinary answer is 404.
      const unknown = t.id("sku");
      groups[0]!.push(unknown);
      plan.set(unknown, { before: 0, status: 404 });
      t.note("2 instances call getQuote at once; each sku meets 0–2 transient failures, then a permanent 4xx (400, 403, 404, 409, 422) with a JSON body");
      const outcomes = (await runAll(t, groups, policy)).flat();
      await t.sleep(300);
      groups.flat().forEach((sku, i) => {
        const { before, status } = plan.get(sku)!;
        const outcome = outcomes[i]!;
        const seen = attemptsOf(dep, sku).length;
        t.equal(seen, before + 1, {
          message: `getQuote("${sku}") made ${seen} attempt(s) when the pricing service answered ${before ? `${before} transient failure(s) and then ` : ""}${status}; a permanent answer must end the call at once`,
          hint: "A 4xx other than 408 and 429 means the request itself is wrong: the same request gets the same answer. Throw PermanentError without waiting or retrying.",
        });
        t.equal(
          { name: outcome.name, status: outcome.status },
          { name: "PermanentError", status },
          {
            message: `getQuote("${sku}") ${describe(outcome)} after the pricing service answered ${status}`,
            hint: "Throw new PermanentError(res.status, res.text) for a permanent status (from policy.ts).",
          },
        );
      });
    },

    "respects-deadline": async (t) => {
      const { dep, quoteFor } = await pricing(t);
      const skus = [0, 1, 2, 3, 4, 5].map(() => t.id("sku"));
      const deadlines = skus.map(() => 700 + Math.floor(t.random() * 500));
      for (const sku of skus) {
        quoteFor(sku);
        // A failure or two, then failures and hangs (which an attempt timeout must cut) in a
        // seeded order, until well past the deadline.
        dep.failNext(1 + Math.floor(t.random() * 2), { status: 503, path: path(sku) });
        for (let i = 0; i < 40; i++) {
          if (t.random() < 0.6) dep.hang(1, { path: path(sku) });
          else dep.failNext(1, { status: pick(t, [500, 503] as const), path: path(sku) });
        }
      }
      const policyFor = (deadlineMs: number): RetryPolicy => ({ baseMs: 150, capMs: 2000, maxAttempts: 50, attemptTimeoutMs: 300, deadlineMs });
      t.note(
        `6 calls at once with deadlines of ${deadlines.join(", ")} ms (maxAttempts 50, base 150 ms, cap 2000 ms, attempt timeout 300 ms); the pricing service fails or hangs on every attempt`,
      );
      const probes = await t.loadMany("probe.ts", 3);
      const runs = await Promise.all(
        skus.map(async (sku, i) => {
          const started = performance.now();
          const outcome = await probes[i % 3]!.call<Outcome>("quote", [sku, policyFor(deadlines[i]!)], 10_000);
          return { sku, deadline: deadlines[i]!, outcome, took: performance.now() - started };
        }),
      );
      // An attempt the client abandoned at its deadline reaches the service as a closed connection a
      // moment later; give those a moment to land before judging.
      await t.waitFor(() => skus.every((sku) => attemptsOf(dep, sku).every((c) => c.outcome !== "pending")), {
        timeoutMs: 2000,
        message: "An attempt was still open at the pricing service 2 s after getQuote returned",
        hint: "Abort the request when you give up on it (pass the attempt's signal to the client), not just stop waiting for its answer.",
      });
      for (const { sku, deadline, outcome, took } of runs) {
        const calls = attemptsOf(dep, sku);
        const first = calls[0]?.at ?? 0;
        // Arrival times at the service, not start times in the client: a later attempt may arrive
        // a little later after its start than the first did, so a start just inside the deadline
        // can land just past it on a loaded machine.
        const late = calls.find((c) => c.at > first + deadline + ARRIVAL_SLACK_MS);
        if (late) {
          return t.fail({
            message: `getQuote("${sku}") with a deadline of ${deadline} ms started an attempt ${Math.round(late.at - first)} ms after its first one`,
            expected: `no attempt after the deadline (${deadline} ms after getQuote was called)`,
            hint: "Before each attempt and each wait, compare with the deadline fixed when getQuote was called; never start what cannot end in time.",
          });
        }
        const overran = calls.find((c) => (c.endedAt ?? Infinity) > first + deadline + DEADLINE_SLACK_MS);
        if (overran) {
          return t.fail({
            message: `An attempt of getQuote("${sku}") (deadline ${deadline} ms) was still open ${Math.round((overran.endedAt ?? performance.now()) - first)} ms after the first attempt began (${overran.fault === "hang" ? "the service hung on it" : overran.outcome})`,
            expected: `every attempt ended by the deadline (+${DEADLINE_SLACK_MS} ms)`,
            hint: "An attempt's timeout is the smaller of attemptTimeoutMs and the time left before the deadline.",
          });
        }
        t.equal(
          { ok: outcome.ok, name: outcome.name, reason: outcome.reason },
          { ok: false, name: "GaveUpError", reason: "deadline" },
          {
            message: `getQuote("${sku}") ${describe(outcome)} when the pricing service failed until well past its ${deadline} ms deadline`,
            hint: 'When the deadline leaves no time for another attempt, throw new GaveUpError("deadline", attempts, lastError).',
          },
        );
        if (took > deadline + DEADLINE_SLACK_MS) {
          return t.fail({
            message: `getQuote("${sku}") took ${Math.round(took)} ms with a deadline of ${deadline} ms (measured by the grader)`,
            expected: `at most the deadline + ${DEADLINE_SLACK_MS} ms`,
            hint: "If the wait before the next attempt would end at or after the deadline, give up now instead of sleeping past it.",
          });
        }
        if (calls.length < 2) {
          return t.fail({
            message: `getQuote("${sku}") gave up after ${calls.length} attempt(s), well before its ${deadline} ms deadline`,
            hint: "Keep retrying while a wait and another attempt fit before the deadline.",
          });
        }
      }
    },

    "timeouts-per-attempt": async (t) => {
      const { dep, quoteFor } = await pricing(t);
      const timeout = 200 + Math.floor(t.random() * 100);
      const policy: RetryPolicy = { baseMs: 20, capMs: 100, maxAttempts: 6, attemptTimeoutMs: timeout, deadlineMs: 6000 };
      const groups = [0, 1].map(() => [0, 1].map(() => t.id("sku")));
      const hangs = new Map<string, number>();
      for (const sku of groups.flat()) {
        quoteFor(sku);
        const n = 1 + Math.floor(t.random() * 2);
        hangs.set(sku, n);
        dep.hang(n, { path: path(sku) });
      }
      t.note(`the pricing service accepts the first 1–2 attempts of each sku and never answers them; attemptTimeoutMs is ${timeout}`);
      const outcomes = (await runAll(t, groups, policy, 10_000)).flat();
      groups.flat().forEach((sku, i) => {
        const outcome = outcomes[i]!;
        const calls = attemptsOf(dep, sku);
        const n = hangs.get(sku)!;
        t.equal(outcome.ok ? outcome.quote : describe(outcome), quoteFor(sku), {
          message: `getQuote("${sku}") did not return the quote when its first ${n} attempt(s) hung (the service answers the attempt after); the service saw ${calls.length} attempt(s)`,
          hint: "Give every attempt its own AbortSignal.timeout(attemptTimeoutMs), combined with the caller's signal (AbortSignal.any), and treat an attempt that timed out as transient.",
        });
        for (const call of calls.slice(0, n)) {
          const held = (call.endedAt ?? Infinity) - call.at;
          // No lower bound: on a loaded machine a request can reach the service long after the
          // client started its timer, so the service sees less than the whole timeout.
          if (call.outcome !== "aborted" || held > timeout + SLACK_MS) {
            return t.fail({
              message: `A hung attempt of getQuote("${sku}") was abandoned after ${Number.isFinite(held) ? `${Math.round(held)} ms` : "never"} (${call.outcome})`,
              expected: `abandoned after attemptTimeoutMs = ${timeout} ms (within ${timeout + SLACK_MS} ms of reaching the service)`,
              hint: "Abort the request itself when the attempt's timeout passes (pass the signal to the client), not just stop waiting for it.",
            });
          }
        }
        // An answer that reaches a loaded client after its timeout is a timeout too: extra attempts
        // are fine when each of them was abandoned, never when one was answered.
        const extra = calls.slice(n, -1).filter((c) => c.outcome !== "aborted");
        t.equal(
          { answeredThenRetried: extra.length, last: calls.at(-1)?.status },
          { answeredThenRetried: 0, last: 200 },
          {
            message: `getQuote("${sku}") made ${calls.length} attempts for ${n} hung one(s) and a success; ${extra.length} of them had a complete answer and was still retried`,
            hint: "One request per attempt, and stop at the first 200.",
          },
        );
      });
    },

    "retry-after-honoured": async (t) => {
      const { dep, quoteFor } = await pricing(t);
      const policy: RetryPolicy = { baseMs: 20, capMs: 100, maxAttempts: 5, attemptTimeoutMs: 1000, deadlineMs: 5000 };
      const [a, b, c] = [t.id("sku"), t.id("sku"), t.id("sku")];
      for (const sku of [a, b, c]) quoteFor(sku);
      dep.failNext(1, { status: 503, retryAfter: 1, path: path(a) });
      dep.failNext(1, { status: 429, retryAfter: 1, path: path(b) });
      dep.failNext(1, { status: pick(t, [429, 503] as const), retryAfter: 3, path: path(c) });
      t.note("the pricing service answers 503 and 429 with Retry-After: 1, then 200; and, to a call with a 1500 ms deadline, Retry-After: 3");
      const probes = await t.loadMany("probe.ts", 2);
      let tookC = 0;
      const [outA, outB, outC] = await Promise.all([
        probes[0]!.call<Outcome>("quote", [a, policy], 10_000),
        probes[1]!.call<Outcome>("quote", [b, policy], 10_000),
        (async () => {
          const started = performance.now();
          const outcome = await probes[0]!.call<Outcome>("quote", [c, { ...policy, deadlineMs: 1500 }], 10_000);
          tookC = performance.now() - started;
          return outcome;
        })(),
      ]);
      for (const [sku, outcome] of [
        [a, outA!],
        [b, outB!],
      ] as const) {
        const calls = attemptsOf(dep, sku);
        t.equal(outcome.ok ? outcome.quote : describe(outcome), quoteFor(sku), {
          message: `getQuote("${sku}") did not return the quote after one answer with Retry-After: 1`,
          hint: "A 429 or 503 is transient; retry it.",
        });
        const waited = calls.length === 2 ? calls[1]!.at - calls[0]!.endedAt! : NaN;
        if (!(waited >= 990 && waited <= 1000 + policy.capMs + 500)) {
          return t.fail({
            message: `After a ${calls[0]?.status} with Retry-After: 1, getQuote("${sku}") ${calls.length === 2 ? `retried after ${Math.round(waited)} ms` : `made ${calls.length} attempt(s)`}`,
            expected: `one retry, after max(backoff, 1000 ms): between 990 and ${1000 + policy.capMs + 500} ms`,
            hint: "Retry-After is in seconds: wait Math.max(backoff, seconds * 1000) before the next attempt.",
          });
        }
      }
      const callsC = attemptsOf(dep, c);
      t.equal(
        { attempts: callsC.length, name: outC!.name, reason: outC!.reason },
        { attempts: 1, name: "GaveUpError", reason: "deadline" },
        {
          message: `getQuote("${c}") with a 1500 ms deadline ${describe(outC!)} after ${callsC.length} attempt(s), when the service asked it to wait 3 s`,
          hint: "A Retry-After that ends past the deadline means no further attempt can be made in time: give up at once.",
        },
      );
      if (tookC > 350 + DEADLINE_SLACK_MS) {
        return t.fail({
          message: `getQuote("${c}") took ${Math.round(tookC)} ms to give up when Retry-After: 3 could not fit its 1500 ms deadline`,
          expected: `an answer at once (within ${350 + DEADLINE_SLACK_MS} ms, the grader's slack for a loaded machine)`,
          hint: "Do not sleep toward a deadline you already know you cannot meet.",
        });
      }
    },

    "bounded-attempts": async (t) => {
      const { dep, quoteFor } = await pricing(t);
      const max = 3 + Math.floor(t.random() * 4);
      const policy: RetryPolicy = { baseMs: 10, capMs: 40, maxAttempts: max, attemptTimeoutMs: 500, deadlineMs: 8000 };
      const skus = [t.id("sku"), t.id("sku")];
      for (const sku of skus) {
        quoteFor(sku);
        dep.failNext(1000, { status: pick(t, [500, 503] as const), path: path(sku) });
      }
      t.note(`a long outage: every attempt fails (5xx); maxAttempts is ${max}`);
      const [outcomes] = await runAll(t, [skus], policy);
      await t.sleep(300);
      skus.forEach((sku, i) => {
        const outcome = outcomes![i]!;
        const seen = attemptsOf(dep, sku).length;
        t.equal(seen, max, {
          message: `getQuote("${sku}") made ${seen} attempts at the pricing service during an outage, with maxAttempts ${max}`,
          hint: "maxAttempts counts every attempt, the first one included: with maxAttempts 3 there are 2 retries.",
        });
        t.equal(
          { name: outcome.name, reason: outcome.reason, attempts: outcome.attempts },
          { name: "GaveUpError", reason: "attempts", attempts: max },
          {
            message: `getQuote("${sku}") ${describe(outcome)} once the outage outlasted maxAttempts ${max}`,
            hint: 'Throw new GaveUpError("attempts", attempts, lastError) when the last allowed attempt fails.',
          },
        );
      });
    },

    "stops-on-abort": async (t) => {
      const { dep, quoteFor } = await pricing(t);
      const policy: RetryPolicy = { baseMs: 200, capMs: 400, maxAttempts: 10, attemptTimeoutMs: 2000, deadlineMs: 8000 };
      const [waiting, hung] = [t.id("sku"), t.id("sku")];
      for (const sku of [waiting, hung]) quoteFor(sku);
      dep.failNext(100, { status: 503, path: path(waiting) });
      dep.hang(1, { path: path(hung) });
      const abortAfter = [100 + Math.floor(t.random() * 150), 100 + Math.floor(t.random() * 150)];
      t.note(`the caller aborts its own signal ${abortAfter[0]} ms into a call that keeps failing (503), and ${abortAfter[1]} ms into one whose attempt hangs`);
      const probes = await t.loadMany("probe.ts", 2);
      const outcomes = await Promise.all([waiting, hung].map((sku, i) => probes[i]!.call<Outcome>("quote", [sku, policy, abortAfter[i]], 10_000)));
      await t.sleep(400);
      [waiting, hung].forEach((sku, i) => {
        const outcome = outcomes[i]!;
        const calls = attemptsOf(dep, sku);
        const first = calls[0]?.at ?? 0;
        // After the call rejected (its own clock, from before the first attempt left): a retry loop
        // still running behind the rejection.
        const after = calls.filter((c) => c.at > first + Math.max(abortAfter[i]!, outcome.ms) + 150);
        t.equal(after.length, 0, {
          message: `getQuote("${sku}") made ${after.length} attempt(s) after the caller aborted its signal (${abortAfter[i]} ms in)`,
          hint: "The caller's abort is not a failure to retry: check the caller's signal, and let its reason end the call.",
        });
        t.equal(outcome.name, "AbortError", {
          message: `getQuote("${sku}") ${describe(outcome)} when the caller aborted its signal ${abortAfter[i]} ms in`,
          hint: "Reject with the caller's signal.reason (an AbortError), not a GaveUpError: nothing gave up, the caller left.",
        });
        if (outcome.ms > abortAfter[i]! + DEADLINE_SLACK_MS) {
          return t.fail({
            message: `getQuote("${sku}") returned ${Math.round(outcome.ms - abortAfter[i]!)} ms after the caller aborted its signal`,
            expected: `at once (within ${DEADLINE_SLACK_MS} ms): a wait or an attempt in progress ends with the abort`,
            hint: "Make the backoff sleep wake on the signal's abort event, and pass the signal (combined with the attempt's timeout) to the request.",
          });
        }
        const open = calls.find((c) => (c.endedAt ?? Infinity) > first + Math.max(abortAfter[i]!, outcome.ms) + DEADLINE_SLACK_MS);
        if (open) {
          return t.fail({
            message: `An attempt of getQuote("${sku}") stayed open ${open.endedAt ? `${Math.round(open.endedAt - first)} ms` : "to the end"} after it started, though the caller aborted ${abortAfter[i]} ms in`,
            hint: "Pass the caller's signal into each attempt's request, combined with its timeout (AbortSignal.any).",
          });
        }
      });
    },
  },
});
