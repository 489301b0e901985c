import { defineChecks, fc, type CheckContext, type RpcModule } from "../../lib/grader/index.ts";
import type { CommandLogEntry } from "../../lib/runner/chaos-proxy.ts";

interface Config {
  capacity: number;
  refillPerSecond: number;
  timeoutMs?: number;
}

interface Decision {
  allowed: boolean;
  remaining: number;
  retryAfterMs: number;
}

/** One take() as the grader saw it: sent at `s`, answered at `e` (grader's clock, ms). */
interface Timed {
  d: Decision;
  s: number;
  e: number;
}

/**
 * Redis ran the script somewhere between the grader sending take() and reading its answer; the
 * grader's clock and Redis's TIME are the same machine's, so only their reading granularity differs.
 */
const CLOCK_SLACK_MS = 3;
/** Float error allowed on token counts. */
const TOKEN_EPS = 1e-6;
/**
 * Where a check is not about Redis failing, take() may wait this long for Redis: on a loaded machine
 * an answer can take a few hundred ms, and a limiter that gave up would deny what it should allow.
 */
const PATIENT_MS = 5000;
/** The instructions: take() answers at most this long after its timeoutMs when Redis does not. */
const FAIL_CLOSED_SLACK_MS = 600;
/** A bucket key's TTL: at least the time until the bucket is full again, at most that plus 60 s. */
const TTL_EXTRA_MAX_MS = 60_000;
/** A TTL is read a few ms after take() returned; it may have run down this much more than the grader can account for. */
const TTL_READ_SLACK_MS = 50;
/** Commands that say nothing about how take() decides: connection set-up. */
const HOUSEKEEPING = new Set(["CLIENT", "HELLO", "SELECT", "PING", "INFO", "AUTH", "READONLY", "QUIT", "COMMAND"]);
/** The commands that run a script or function in one round trip. */
const SCRIPT_RUNS = new Set(["EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO"]);

const between = (t: CheckContext, lo: number, hi: number) => lo + Math.floor(t.random() * (hi - lo + 1));
const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(3).replace(/\.?0+$/, ""));
const show = (d: Decision) => `{ allowed: ${d.allowed}, remaining: ${d.remaining}, retryAfterMs: ${d.retryAfterMs} }`;
const cfgText = (c: Config) => `capacity ${c.capacity}, refillPerSecond ${fmt(c.refillPerSecond)}`;

async function limiters(t: CheckContext, n: number, config: Config, options: { processes?: number } = {}): Promise<RpcModule[]> {
  const rpcs = await t.loadMany("limiter.ts", n);
  for (let i = 0; i < (options.processes ?? 0); i++) rpcs.push(await t.load("limiter.ts", { name: `limiter-process-${i + 1}`, process: true }));
  await Promise.all(rpcs.map((r) => r.call("configure", [{ timeoutMs: PATIENT_MS, ...config }])));
  return rpcs;
}

async function timedTake(rpc: RpcModule, client: string, cost?: number): Promise<Timed> {
  const s = performance.now();
  const d = await rpc.call<Decision>("take", cost === undefined ? [client] : [client, cost]);
  return { d, s, e: performance.now() };
}

/**
 * The grader's own token bucket, as the instructions define it, for a caller that sees each take()
 * only between sending it and reading its answer: it keeps the range of token counts the bucket can
 * hold, and each answer must be the right one for some count in that range (which then narrows it).
 */
class ModelBucket {
  private lo: number;
  private hi: number;
  private lastS: number;
  private lastE: number;
  readonly history: string[] = [];

  constructor(
    private readonly config: Config,
    at: number,
  ) {
    this.lo = this.hi = config.capacity;
    this.lastS = this.lastE = at;
  }

  /** The range of tokens the bucket can hold for a take sent at s and answered at e. */
  private range(s: number, e: number): [number, number] {
    const { capacity, refillPerSecond: r } = this.config;
    const lo = Math.min(capacity, this.lo + (r * Math.max(0, s - this.lastE - CLOCK_SLACK_MS)) / 1000);
    const hi = Math.min(capacity, this.hi + (r * (e - this.lastS + CLOCK_SLACK_MS)) / 1000);
    return [lo, hi];
  }

  /** The range of tokens the bucket can hold at grader time `at`, after the last take. */
  bounds(at: number): [number, number] {
    return this.range(at, at);
  }

  /** What take(cost) must answer with `tokens` in the bucket. */
  expected(tokens: number, cost: number): Decision {
    const { capacity, refillPerSecond: r } = this.config;
    if (cost > capacity) return { allowed: false, remaining: Math.floor(tokens), retryAfterMs: -1 };
    if (tokens >= cost) return { allowed: true, remaining: Math.floor(tokens - cost), retryAfterMs: 0 };
    return { allowed: false, remaining: Math.floor(tokens), retryAfterMs: Math.ceil(((cost - tokens) * 1000) / r) };
  }

  /** The fewest tokens the bucket can have held after the last take. */
  get fewest(): number {
    return this.lo;
  }

  /** Checks one answer; returns why it is wrong, or null. */
  take(cost: number, { d, s, e }: Timed, label: string): string | null {
    const [lo, hi] = this.range(s, e);
    const { capacity, refillPerSecond: r } = this.config;
    // The token counts for which `d` is the right answer.
    let a = -Infinity;
    let b = Infinity;
    const narrow = (x: number, y: number) => {
      a = Math.max(a, x);
      b = Math.min(b, y);
    };
    const shape = typeof d === "object" && d !== null && typeof d.allowed === "boolean" && Number.isInteger(d.remaining) && Number.isInteger(d.retryAfterMs);
    if (!shape) narrow(1, 0);
    else if (cost > capacity) {
      if (d.allowed || d.retryAfterMs !== -1) narrow(1, 0);
      narrow(d.remaining, d.remaining + 1);
    } else if (d.allowed) {
      if (d.retryAfterMs !== 0) narrow(1, 0);
      narrow(Math.max(cost, d.remaining + cost), d.remaining + cost + 1);
    } else {
      if (d.retryAfterMs < 1) narrow(1, 0);
      narrow(d.remaining, Math.min(cost, d.remaining + 1));
      // ceil((cost - tokens) * 1000 / r) = M  ⇔  cost - M·r/1000 <= tokens < cost - (M-1)·r/1000
      narrow(cost - (d.retryAfterMs * r) / 1000, cost - ((d.retryAfterMs - 1) * r) / 1000);
    }
    const x = Math.max(a, lo - TOKEN_EPS);
    const y = Math.min(b, hi + TOKEN_EPS);
    this.history.push(`${label} take(cost ${cost}) → ${shape ? show(d) : JSON.stringify(d)}`);
    if (!shape || x > y) {
      const want = [this.expected(lo, cost), this.expected(hi, cost)];
      const wanted = JSON.stringify(want[0]) === JSON.stringify(want[1]) ? show(want[0]!) : `between ${show(want[0]!)} and ${show(want[1]!)}`;
      return `${label}: take(client, ${cost}) answered ${shape ? show(d) : JSON.stringify(d)}, but the bucket (${cfgText(this.config)}) held between ${fmt(lo)} and ${fmt(hi)} tokens when Redis ran it, so the answer should have been ${wanted}.`;
    }
    if (shape && d.allowed) {
      this.lo = x - cost;
      this.hi = y - cost;
    } else {
      this.lo = x;
      this.hi = y;
    }
    this.lo = Math.max(0, this.lo);
    this.lastS = s;
    this.lastE = e;
    return null;
  }
}

const MODEL_HINT =
  "Keep tokens as a fraction and refill them on every take from Redis's TIME: tokens = min(capacity, tokens + elapsed_seconds × refillPerSecond), with the time stored beside them. A denied take charges nothing, remaining is floor(tokens) after the take, and retryAfterMs = ceil((cost − tokens) × 1000 / refillPerSecond).";

/** Every take() must be one script run; anything else between the grader's marks is a second round trip. */
function assertOneRoundTrip(t: CheckContext, mark: number, owners: Set<string>, takes: number, context: string): void {
  const sent = t.commands().filter((e) => e.seq > mark && e.owner !== undefined && owners.has(e.owner) && !HOUSEKEEPING.has(e.args[0] ?? ""));
  const other = sent.filter(
    (e) =>
      !SCRIPT_RUNS.has(e.args[0] ?? "") &&
      !(e.args[0] === "SCRIPT" && e.args[1]?.toUpperCase() === "LOAD") &&
      !(e.args[0] === "FUNCTION" && e.args[1]?.toUpperCase() === "LOAD"),
  );
  const runs = sent.filter((e) => SCRIPT_RUNS.has(e.args[0] ?? "") && e.reply?.type !== "error");
  const counts = new Map<string, number>();
  for (const e of other) counts.set(e.args[0]!, (counts.get(e.args[0]!) ?? 0) + 1);
  if (other.length > 0 || runs.length !== takes) {
    t.fail({
      message: `${context}: ${takes} take() calls sent ${runs.length} script runs (EVAL/EVALSHA/FCALL)${other.length > 0 ? ` and ${[...counts].map(([n, c]) => `${c} × ${n}`).join(", ")}` : ""}.`,
      expected: `exactly one EVAL, EVALSHA or FCALL per take() (${takes}), nothing else (a NOSCRIPT answered EVALSHA followed by EVAL counts as one)`,
      actual: `${runs.length} script runs${
        other.length > 0
          ? `; other commands: ${other
              .slice(0, 6)
              .map((e) => e.args.slice(0, 3).join(" "))
              .join("; ")}`
          : ""
      }`,
      hint:
        other.length > 0
          ? "Reading the bucket and writing it back in separate commands (or a MULTI/EXEC whose reads came before it) lets two callers both see the same tokens and both spend them. Do the read, the refill, the decision and the write in one Lua script: Redis runs a script without interleaving anything else."
          : "Run the script once per take(): twice charges twice.",
    });
  }
}

/** Numbers near the caller's clock, in s, ms or µs. */
function looksLikeNow(arg: string): boolean {
  const n = Number(arg);
  if (!Number.isFinite(n) || arg.trim() === "") return false;
  const now = Date.now();
  const day = 86_400_000;
  return Math.abs(n - now) < day || Math.abs(n * 1000 - now) < day || Math.abs(n / 1000 - now) < day;
}

function assertNoCallerClock(t: CheckContext): void {
  const sent = t.commands().filter((e: CommandLogEntry) => SCRIPT_RUNS.has(e.args[0] ?? "") && e.owner !== undefined);
  const leaked = sent.find((e) => e.args.slice(1).some((a) => looksLikeNow(a)));
  if (leaked) {
    t.fail({
      message: "take() sends the caller's clock to Redis: a script argument is the current time.",
      expected: "the script reads the time itself with redis.call('TIME'); no argument carries the caller's time",
      actual: leaked.args.slice(0, 8).join(" "),
      hint: "Workers' clocks differ by milliseconds to seconds; one that runs ahead refills every client's bucket early. Read the time inside the script with redis.call('TIME') (seconds and microseconds), the one clock every caller shares.",
    });
  }
}

export default defineChecks({
  timeoutMs: 30_000,
  concurrency: 2,
  checks: {
    "limit-holds-under-burst": async (t) => {
      const config = { capacity: between(t, 5, 20), refillPerSecond: 0.5 + between(t, 0, 3) / 2 };
      const rpcs = await limiters(t, 3, config, { processes: 1 });
      const client = t.id("client");
      const total = 3 * config.capacity + between(t, 0, 6);
      const latency = { ms: between(t, 1, 4), jitterMs: between(t, 8, 20) };
      t.proxy.setLatency(latency);
      t.note(
        `${total} take() calls for one client at once from ${rpcs.length} instances (${rpcs.length - 1} in the sandbox, 1 a process of its own), ${cfgText(config)}, latency ${latency.ms}±${latency.jitterMs} ms on every command`,
      );
      const mark = t.logPosition();
      const start = performance.now();
      const answers = await Promise.all(
        Array.from({ length: total }, (_, i) => rpcs[Math.floor(t.random() * rpcs.length)]!.call<Decision>("take", [client]).then((d) => ({ d, i }))),
      );
      const end = performance.now();
      const allowed = answers.filter((a) => a.d.allowed).length;
      const refill = Math.floor((config.refillPerSecond * (end - start + CLOCK_SLACK_MS)) / 1000 + TOKEN_EPS);
      if (allowed < config.capacity || allowed > config.capacity + refill) {
        t.fail({
          message: `${total} concurrent take() calls for one client over ${Math.round(end - start)} ms allowed ${allowed}.`,
          expected: `${config.capacity} (the capacity)${refill > 0 ? ` to ${config.capacity + refill} (plus ${refill} refilled at ${fmt(config.refillPerSecond)}/s while the burst lasted)` : ""}`,
          actual: `${allowed} allowed, ${total - allowed} denied`,
          hint:
            allowed > config.capacity
              ? "Two callers read the same token count and both spent it. Read, refill, decide and write in one Lua script (EVAL/EVALSHA) so no other command can run in between; a GET then SET, or a MULTI whose values were read before it, cannot do that."
              : "A full bucket must allow exactly capacity takes of cost 1. Check that a new client starts full and that concurrent calls do not fail (a failed call is denied).",
        });
      }
      assertOneRoundTrip(t, mark, new Set(rpcs.map((r) => r.name)), total, "During the burst");
      t.proxy.setLatency({ ms: 0 });
    },

    "per-client-buckets": async (t) => {
      const config = { capacity: between(t, 5, 12), refillPerSecond: 0.01 };
      const rpcs = await limiters(t, 3, config);
      const clients = Array.from({ length: between(t, 4, 6) }, () => t.id("client"));
      const calls: { client: string; rpc: RpcModule }[] = [];
      for (const client of clients)
        for (let i = config.capacity + between(t, 1, 4); i > 0; i--) calls.push({ client, rpc: rpcs[Math.floor(t.random() * rpcs.length)]! });
      for (let i = calls.length - 1; i > 0; i--) {
        const j = Math.floor(t.random() * (i + 1));
        [calls[i], calls[j]] = [calls[j]!, calls[i]!];
      }
      t.proxy.setLatency({ ms: 1, jitterMs: between(t, 5, 15) });
      t.note(
        `${clients.length} clients, each ${config.capacity + 1}+ take() calls, interleaved and at once from ${rpcs.length} instances (${cfgText(config)})`,
      );
      const answers = await Promise.all(calls.map(({ client, rpc }) => rpc.call<Decision>("take", [client]).then((d) => ({ client, d }))));
      for (const client of clients) {
        const mine = answers.filter((a) => a.client === client);
        const allowed = mine.filter((a) => a.d.allowed);
        const remaining = allowed.map((a) => a.d.remaining).sort((x, y) => y - x);
        const want = Array.from({ length: config.capacity }, (_, i) => config.capacity - 1 - i);
        if (allowed.length !== config.capacity || JSON.stringify(remaining) !== JSON.stringify(want)) {
          t.fail({
            message: `Client ${client} made ${mine.length} take() calls among ${calls.length} from ${clients.length} clients and was allowed ${allowed.length}.`,
            expected: `${config.capacity} allowed for every client, with remaining ${want.join(", ")} (each once)`,
            actual: `${allowed.length} allowed, remaining ${remaining.join(", ") || "(none)"}`,
            hint:
              allowed.length < config.capacity
                ? "Every client has a bucket of its own: put the client's id in the key (ratelimit:<client>), so one busy client cannot spend another's tokens."
                : "Each client's bucket must hold its own limit exactly, even with other clients' calls interleaved: one atomic script per take, keyed by the client.",
          });
        }
      }
      await t.expectInRedis(clients, {
        message: "Some clients' buckets are not in Redis.",
        hint: "Keep each bucket in Redis, under a key named after the client: instances share nothing else, so a bucket in one process's memory lets every other process allow the client again.",
      });
      t.proxy.setLatency({ ms: 0 });
    },

    "refill-rate": async (t) => {
      // At least 3 tokens/s, so 1.2 tokens' worth past full is at most 400 ms of a key's second.
      const config = { capacity: between(t, 3, 6), refillPerSecond: between(t, 6, 10) / 2 };
      const [rpc] = await limiters(t, 1, config);
      const client = t.id("client");
      const model = new ModelBucket(config, performance.now());
      const step = async (label: string, cost = 1) => {
        const timed = await timedTake(rpc!, client, cost);
        const wrong = model.take(cost, timed, label);
        if (wrong) t.fail({ message: `${wrong}\nTakes so far: ${model.history.join("; ")}`, hint: MODEL_HINT });
        return timed;
      };
      t.note(`${cfgText(config)}: drain the bucket, then poll every 60–120 ms until it refills; then idle until full and take capacity + 1`);
      for (let i = 0; i <= config.capacity; i++) await step(`drain #${i + 1}`);
      const drained = performance.now();
      // Long enough for at least three tokens to come back.
      const pollUntil = drained + Math.max(1500, 3000 / config.refillPerSecond);
      let refilled = 0;
      for (let i = 1; performance.now() < pollUntil; i++) {
        await t.sleep(between(t, 60, 120));
        const { d } = await step(`poll #${i} (${Math.round(performance.now() - drained)} ms after the drain)`);
        if (d.allowed) refilled++;
      }
      if (refilled === 0) {
        t.fail({
          message: `After the bucket was drained, take() polled every 60–120 ms was never allowed again (refill ${fmt(config.refillPerSecond)}/s).`,
          expected: "tokens coming back at the stated rate, one every " + fmt(1000 / config.refillPerSecond) + " ms",
          actual: model.history.slice(-4).join("; "),
          hint: MODEL_HINT,
        });
      }
      // Past full by 1.2 tokens' worth (at most 500 ms), so an uncapped bucket holds capacity + 1.2
      // or more, which the first take's `remaining` shows whatever the takes' own timing; and well
      // under 1 s, as a key may expire from the moment its bucket is full (and a fresh key is rightly
      // full, not more), so a loaded machine's late takes still find it.
      // Counted from what the last poll left, not from empty: a key that expires 1 s after full is gone
      // by then if the poll left most of a token.
      const toFull = Math.ceil(((config.capacity - model.fewest) * 1000) / config.refillPerSecond);
      const idle = toFull + Math.ceil(1200 / config.refillPerSecond) + between(t, 0, 100);
      t.note(`idle ${idle} ms: the bucket must be full (${config.capacity}), not more`);
      await t.sleep(idle);
      for (let i = 0; i <= config.capacity; i++) await step(`after idling, take #${i + 1}`);
      assertNoCallerClock(t);
    },

    "retry-after": async (t) => {
      const config = { capacity: between(t, 2, 5), refillPerSecond: between(t, 2, 8) / 2 };
      const [rpc] = await limiters(t, 1, config);
      const client = t.id("client");
      const model = new ModelBucket(config, performance.now());
      const step = async (label: string, cost: number) => {
        const timed = await timedTake(rpc!, client, cost);
        const wrong = model.take(cost, timed, label);
        if (wrong) t.fail({ message: `${wrong}\nTakes so far: ${model.history.join("; ")}`, hint: MODEL_HINT });
        return timed.d;
      };
      t.note(`${cfgText(config)}: take the whole capacity at once, ask for more, wait retryAfterMs, ask again`);
      await step("the whole capacity", config.capacity);
      const cost = between(t, 1, config.capacity);
      const denied = await step("right after", cost);
      if (denied.allowed || denied.retryAfterMs <= 0)
        return t.fail({ message: `The bucket was empty, yet take(client, ${cost}) answered ${show(denied)}.`, hint: MODEL_HINT });
      t.note(`denied with retryAfterMs ${denied.retryAfterMs}: waiting exactly that long`);
      await t.sleep(denied.retryAfterMs);
      const again = await step(`after waiting retryAfterMs (${denied.retryAfterMs})`, cost);
      if (!again.allowed) {
        t.fail({
          message: `take(client, ${cost}) said to retry after ${denied.retryAfterMs} ms, but after waiting that long it was denied again: ${show(again)}.`,
          hint: "retryAfterMs is the time until the bucket holds cost tokens: ceil((cost − tokens) × 1000 / refillPerSecond), in milliseconds, rounded up.",
        });
      }
      await step("more than the capacity", config.capacity + between(t, 1, 3));
      await step("then one token", 1);
    },

    "idle-keys-expire": async (t) => {
      const config = { capacity: between(t, 5, 20), refillPerSecond: between(t, 1, 3) / 2 };
      const [rpc] = await limiters(t, 1, config);
      const clients = [t.id("client"), t.id("client")];
      for (const client of clients) {
        const model = new ModelBucket(config, performance.now());
        const takes = between(t, 1, config.capacity);
        let last: Timed | null = null;
        for (let i = 0; i < takes; i++) {
          last = await timedTake(rpc!, client);
          const wrong = model.take(1, last, `take #${i + 1}`);
          if (wrong) return t.fail({ message: wrong, hint: MODEL_HINT });
        }
        const keys = await t.redis.keys(`*${client}*`);
        if (keys.length === 0)
          return t.fail({
            message: `After ${takes} take() calls for ${client}, no key in Redis names the client.`,
            hint: "Keep each client's bucket in Redis under a key that names the client, e.g. ratelimit:<client>.",
          });
        const [fewest] = model.bounds(last!.e);
        for (const key of keys) {
          const ttl = await t.redis.pttl(key);
          // The bucket only fills up from here, so its time until full shrinks as fast as a TTL does.
          const [, most] = model.bounds(performance.now());
          const lo = ((config.capacity - most) * 1000) / config.refillPerSecond - TTL_READ_SLACK_MS;
          const hi = ((config.capacity - fewest) * 1000) / config.refillPerSecond + TTL_EXTRA_MAX_MS;
          if (ttl < 0 || ttl < lo || ttl > hi) {
            t.fail({
              message: `After ${takes} take() calls by a client (${cfgText(config)}), its key ${key} ${ttl === -1 ? "never expires" : `expires in ${ttl} ms`}.`,
              expected: `a TTL from the time until the bucket is full again (${Math.max(0, Math.round(lo))} ms) to that plus 60 s (${Math.round(hi)} ms)`,
              actual: `PTTL ${key} = ${ttl}`,
              hint:
                ttl === -1
                  ? "A key per client ever seen, kept forever, grows without bound. Set its expiry in the same script that writes it (PEXPIRE): once the bucket would be full again, a missing key means the same thing."
                  : ttl < lo
                    ? "A bucket key that expires before the bucket has refilled comes back as a new, full bucket: the client gets its tokens back early. Expire it after (capacity − tokens) / refillPerSecond seconds, not sooner."
                    : "Keep a bucket no longer than it takes to refill (plus a little): an idle client should cost nothing.",
            });
          }
        }
      }
    },

    "script-cache": async (t) => {
      const config = { capacity: between(t, 5, 10), refillPerSecond: 0.01 };
      const [rpc] = await limiters(t, 1, config);
      const client = t.id("client");
      const model = new ModelBucket(config, performance.now());
      const step = async (label: string) => {
        const timed = await timedTake(rpc!, client);
        const wrong = model.take(1, timed, label);
        if (wrong) {
          t.fail({
            message: `${wrong}\nTakes so far: ${model.history.join("; ")}`,
            hint: "When EVALSHA answers NOSCRIPT, Redis ran nothing: send the script once with EVAL (which caches it again) and use that answer. Any other error is not NOSCRIPT and is not retried.",
          });
        }
      };
      await step("first take");
      t.note("EVALSHA refused once with NOSCRIPT (as after a failover to a replica without the script)");
      t.proxy.failNext(1, { match: "EVALSHA", owner: rpc!.name, message: "NOSCRIPT No matching script. Please use EVAL." });
      await step("take after NOSCRIPT");
      t.fault("dependency: SCRIPT FLUSH (as a Redis restart does)");
      await t.redis.script("FLUSH");
      await step("take after SCRIPT FLUSH");
      await step("next take");
      const mark = t.logPosition();
      await step("one more");
      assertOneRoundTrip(t, mark, new Set([rpc!.name]), 1, "Once the script was cached again");
    },

    "fails-closed": async (t) => {
      const config = { capacity: between(t, 5, 10), refillPerSecond: 0.01 };
      const [rpc] = await limiters(t, 1, config);
      const client = t.id("client");
      const timeoutMs = between(t, 200, 400);
      const answerMs = timeoutMs + FAIL_CLOSED_SLACK_MS;
      /** Whether the proxy really applied the fault since `mark` (labs:verify --ablate turns faults off). */
      const injected = (mark: number, fault: string) => t.proxy.log.some((e) => e.seq > mark && e.fault?.startsWith(fault) === true);
      const judge = async (what: string, fault: string, mark: number, hint: string) => {
        const s = performance.now();
        const d = await Promise.race([
          rpc!.call<Decision>("take", [client]).catch((error: unknown) => `threw ${String(error)}`),
          t.sleep(answerMs).then(() => null),
        ]);
        const ms = Math.round(performance.now() - s);
        if (d === null)
          return t.fail({
            message: `${what}: take() had not answered after ${answerMs} ms (configured timeoutMs ${timeoutMs}).`,
            expected: `{ allowed: false, … } after about ${timeoutMs} ms (the grader waits ${answerMs})`,
            actual: "no answer",
            hint: "Give up on Redis after config.timeoutMs (a timer raced against the command) and deny.",
          });
        // With the fault turned off there is nothing to fail closed on: a correct limiter allows.
        if (!injected(mark, fault)) return t.note(`${what}: the ${fault} fault was not applied; not judged`);
        if (typeof d === "string" || d.allowed || !(d.retryAfterMs > 0)) {
          t.fail({
            message: `${what}: take() ${typeof d === "string" ? d : `answered ${show(d)}`} after ${ms} ms.`,
            expected: "{ allowed: false, remaining: 0, retryAfterMs: > 0 }: the limiter fails closed, and never throws",
            actual: typeof d === "string" ? d : show(d),
            hint,
          });
        }
      };
      await timedTake(rpc!, client);
      await rpc!.call("configure", [{ ...config, timeoutMs }]);
      t.note("the next command take() sends is refused by Redis");
      let mark = t.logPosition();
      t.proxy.failNext(1, { owner: rpc!.name });
      await judge(
        "Redis refused the command",
        "failNext",
        mark,
        "When Redis errors, deny (fail closed) instead of allowing: a limiter that opens whenever Redis is in trouble protects nothing when it matters most. Catch the error in take() and return { allowed: false, remaining: 0, retryAfterMs: … }.",
      );
      t.note(`Redis stops answering (stall): take() must give up after its timeoutMs (${timeoutMs} ms) and deny`);
      mark = t.logPosition();
      t.proxy.stall();
      await judge("Redis stopped answering", "stall", mark, "Race the command against a timer of config.timeoutMs and deny when the timer wins.");
      t.proxy.unstall();
      await rpc!.call("configure", [{ ...config, timeoutMs: PATIENT_MS }]);
      const fresh = t.id("client");
      const after = await Promise.race([rpc!.call<Decision>("take", [fresh]), t.sleep(2000).then(() => null)]);
      if (!after?.allowed) {
        t.fail({
          message: `Once Redis answered again, take() for a new client answered ${after ? show(after) : "nothing within 2 s"}.`,
          expected: `{ allowed: true, remaining: ${config.capacity - 1}, retryAfterMs: 0 }`,
          hint: "A failure must not leave the limiter broken: no state in memory that says 'Redis is down', and a connection that recovers by itself.",
        });
      }
    },

    "matches-model": async (t) => {
      const [rpc] = await t.loadMany("limiter.ts", 1);
      const arb = fc.record({
        capacity: fc.integer({ min: 1, max: 8 }),
        tenthsPerSecond: fc.integer({ min: 5, max: 80 }),
        steps: fc.array(fc.record({ waitMs: fc.integer({ min: 0, max: 150 }), cost: fc.integer({ min: 1, max: 9 }) }), { minLength: 2, maxLength: 8 }),
      });
      await t.property(
        arb,
        async ({ capacity, tenthsPerSecond, steps }) => {
          const config = { capacity, refillPerSecond: tenthsPerSecond / 10, timeoutMs: PATIENT_MS };
          await rpc!.call("configure", [config]);
          const client = t.id("client");
          const model = new ModelBucket(config, performance.now());
          for (const [i, { waitMs, cost }] of steps.entries()) {
            if (waitMs > 0) await t.sleep(waitMs);
            const wrong = model.take(cost, await timedTake(rpc!, client, cost), `step ${i + 1}`);
            if (wrong) t.fail({ message: `${wrong}\nTakes so far: ${model.history.join("; ")}`, hint: MODEL_HINT });
          }
        },
        { runs: 6, timeLimitMs: 20_000, noun: "schedule of takes (config, then waits in ms and costs)" },
      );
    },
  },

  playground: async (t) => {
    const config = { capacity: 5, refillPerSecond: 2 };
    const rpcs = await limiters(t, 2, config);
    const clients = [t.id("noisy"), t.id("quiet"), t.id("quiet")];
    t.note(`${cfgText(config)}: a noisy client takes every 50 ms from two instances, two quiet ones every 700 ms`);
    for (let i = 0; !t.signal.aborted; i++) {
      const rpc = rpcs[i % rpcs.length]!;
      await rpc.call("take", [clients[0]]).catch(() => {});
      if (i % 14 === 0) for (const quiet of clients.slice(1)) await rpc.call("take", [quiet]).catch(() => {});
      await t.sleep(50);
    }
  },
});
