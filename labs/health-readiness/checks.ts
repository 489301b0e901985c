import { CheckFailure, defineChecks, fc, type CheckContext, type RpcModule } from "../../lib/grader/index.ts";
import type { CommandLogEntry } from "../../lib/runner/chaos-proxy.ts";

/**
 * A probe with no answer by now has failed. The instructions ask for 1 s (a kubelet probe's default
 * timeoutSeconds); the extra half second is for a loaded machine, not for a slower design.
 */
const PROBE_TIMEOUT_MS = 1500;
/** Between probes while the grader watches /readyz (a probe waits for the previous one's answer). */
const PROBE_EVERY_MS = 100;
/**
 * /healthz answers at once (the instructions: 250 ms). The grader fails one slower than this, but
 * forgives one such answer per phase: a two-core machine running four checks stalls now and then.
 * A liveness probe that waits on Redis, or on readiness work, is late on every answer.
 */
const HEALTHZ_MS = 400;
/**
 * A /readyz 200 must rest on a reply from Redis that came back at most this long before it (the
 * instructions say so): a PING per probe is milliseconds old, a flag refreshed every 250 ms or so
 * well under a second. It is also the grace a program gets before it must notice that Redis
 * stopped answering, so it is no longer.
 */
const BACKED_WITHIN_MS = 1000;
/**
 * A reply slower than this does not count as Redis answering, and a command without a reply this
 * long after it was sent has failed: the instructions' 500 ms deadline, and slack for the machine.
 */
const FAST_MS = 750;
/** /readyz must change its answer within this long of Redis failing or recovering (instructions: 1 s). */
const TURN_MS = 1500;
/** How long after start() /readyz may take to answer 200 for the first time, with Redis up. */
const FIRST_READY_MS = 3000;
/** start() must resolve this soon (instructions: 1 s), whether Redis is reachable or not. */
const START_MS = 1500;
/**
 * At most one command waits for Redis at any moment. A command counts as waiting from the moment
 * it reaches the proxy until its reply, but for this long at most: a PING given up at its deadline
 * (never shorter than this, since a reply 340 ms late must still count) stops counting then.
 */
const WAITING_COUNTS_MS = 300;
/** Connections the server may hold open (a probe connection, a work connection, one reconnecting). */
const MAX_CONNECTIONS = 3;
/** This many commands within BURST_MS of each other, while the grader probes one at a time, are a crowd. */
const BURST = 3;
const BURST_MS = 50;
/** Probes sent at once in a storm: a load balancer's nodes, the kubelet and a dashboard together. */
const STORM = 60;
/** Redis replies "slightly slow" (must still be ready) and "too slow" (must not be), in ms. */
const UNDER_BUDGET = { ms: 300, jitterMs: 40 };
const OVER_BUDGET = { ms: 900, jitterMs: 50 };

/**
 * Ports the server may be asked to listen on: below Linux's ephemeral range (32768 and up, where
 * outgoing connections take theirs). Inside bubblewrap the run has its own loopback, so any free
 * port would do; on a weaker tier the loopback is the host's, and a port computable from the seed
 * could be taken in advance by a server of the learner's own that answers the probes. So the port
 * is drawn from the runner's CSPRNG, and one that happens to be in use is replaced.
 */
const PORTS = { from: 10_000, count: 22_000 };

/** What Redis answers while it loads its dataset after a restart, and other errors it gives. */
const LOADING = "LOADING Redis is loading the dataset in memory";
const ERROR_REPLIES = [
  LOADING,
  "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
  "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
];

/** A probe's answer, with when the grader sent it and when the answer came back (performance.now()). */
type Probe =
  | { answered: true; status: number; body: string; headers: Record<string, string>; sentAt: number; at: number }
  | { answered: false; error: string; sentAt: number };
type Answered = Extract<Probe, { answered: true }>;

interface Server {
  rpc: RpcModule;
  port: number;
}

const clip = (text: string, max = 300) => (text.length > max ? `${text.slice(0, max)}…` : text);
const show = (p: Probe) => (p.answered ? `${p.status} ${clip(p.body)}` : `no answer: ${p.error}`);
const ms = (n: number) => `${Math.round(n)} ms`;
const secs = (n: number) => `${(n / 1000).toFixed(1)} s`;
/** A stretch no program can know in advance (the runner's CSPRNG, not the seed). */
const unpredictableMs = (t: CheckContext, low: number, high: number) => Math.round(low + t.unpredictable() * (high - low));

function describeEnd(rpc: RpcModule): string {
  const outcome = rpc.outcome;
  if (!outcome) return "is running";
  return outcome.kind === "exited" ? `exited with code ${outcome.code}` : outcome.kind === "signalled" ? `was stopped by ${outcome.signal}` : outcome.message;
}

/**
 * Loads server.ts in a sandboxed process of its own (the probes' timing must not depend on other
 * checks' programs) and calls start(port) on an unpredictable free port.
 */
async function startServer(t: CheckContext, { redisDown = false, wallMs = 40_000 } = {}): Promise<Server> {
  const downHint =
    "Create the Redis client when the module loads, but never wait for it: no top-level await on Redis and no await on a PING or a 'ready' event in start(). Listen at once; /healthz answers 200 and /readyz 503 until Redis answers.";
  for (let attempt = 1; ; attempt++) {
    const port = PORTS.from + Math.floor(t.unpredictable() * PORTS.count);
    let rpc: RpcModule;
    try {
      // Room for a storm of probes: each one is a socket at both ends, in this one process.
      rpc = await t.load("server.ts", { name: attempt === 1 ? "server" : `server-${attempt}`, process: true, limits: { wallMs, openFiles: 256 } });
    } catch (error) {
      if (redisDown && error instanceof CheckFailure && /did not finish loading/.test(error.message)) {
        t.fail({
          message: `server.ts did not finish loading while Redis was unreachable: its top-level code waits for Redis.`,
          expected: "the module loads at once, whatever Redis does",
          actual: error.message,
          hint: downHint,
        });
      }
      throw error;
    }
    try {
      await rpc.call("start", [port], START_MS);
      return { rpc, port };
    } catch (error) {
      const taken = error instanceof CheckFailure && /EADDRINUSE/.test(`${error.message} ${String(error.actual ?? "")}`);
      if (taken && attempt < 3) {
        t.note(`port ${port} is in use on this machine; trying another`);
        await rpc.kill();
        continue;
      }
      if (error instanceof CheckFailure && /did not return within/.test(error.message)) {
        t.fail({
          message: `start(${port}) did not return within ${secs(START_MS)}${redisDown ? " while Redis was unreachable" : ""}.`,
          expected: `start() resolves as soon as the server listens, within 1 s${redisDown ? ", whether Redis answers or not" : ""}`,
          actual: error.message,
          hint: redisDown
            ? `${downHint} A process that cannot start while Redis is down never reports itself unready: the orchestrator sees it fail its liveness probe and restarts it, again and again, for as long as Redis is away.`
            : "start() should only listen: look for an await in it that waits on something else.",
        });
      }
      throw error;
    }
  }
}

/** One request from inside the server's own sandbox. A probe that gets no answer is a result, not a throw. */
async function probe(t: CheckContext, { rpc, port }: Server, path: string, method = "GET"): Promise<Probe> {
  const sentAt = performance.now();
  try {
    const res = await rpc.http(port, path, { method, timeoutMs: PROBE_TIMEOUT_MS });
    return { answered: true, status: res.status, body: res.body, headers: res.headers, sentAt, at: performance.now() };
  } catch (error) {
    const raw = error instanceof Error ? error.message : String(error);
    if (!rpc.alive) {
      t.fail({
        message: `The server process ${describeEnd(rpc)} while the grader was requesting ${method} ${path}.`,
        actual: [raw, rpc.output().slice(-1500)].filter(Boolean).join("\n"),
        hint: "A probe handler must never take the process down: catch what a Redis call throws (and listen for ioredis 'error' events) and answer 503 instead.",
      });
    }
    // The RPC layer names its own builtin ("$http() threw Error: …"); the learner only needs the cause.
    const cause = raw.replace(/^\$http\(\) threw \w*Error: /, "").replace(/^\$http\(\) did not return/, "the server's event loop did not let the request run");
    return { answered: false, error: cause.includes("ECONNREFUSED") ? `nothing listens on port ${port} (${cause})` : cause, sentAt };
  }
}

interface Situation {
  /** "while Redis was unreachable" */
  when: string;
  /** What to change when a probe hangs in this situation. */
  hangHint: string;
}

const offlineQueueHint =
  "ioredis queues a command while it has no connection (enableOfflineQueue, on by default) and resends one whose connection dropped, so `await redis.ping()` waits for the whole outage. Give the probe its own client with enableOfflineQueue: false (fail at once while disconnected), autoResendUnfulfilledCommands: false, and commandTimeout: 500 (give up on a PING that is never answered), and answer 503 when the PING fails.";
const deadlineHint =
  "The connection is open, so nothing is offline: the PING is sent and waits for a reply that does not come in time. enableOfflineQueue: false does not cover this. Give the PING its own deadline (commandTimeout: 500 on the probe's client) and answer 503 when it passes.";
const readinessHint =
  "Readiness is what Redis answers now: PING on /readyz (one PING shared by the probes that arrive while it waits, with a 500 ms deadline), or keep a flag that a loop refreshes from a PING every 250 ms or so, and answer 200 only after a PONG. The connection's status, or an answer decided earlier, does not say Redis can serve.";
const oneAtATimeHint =
  "Send a PING only when none is waiting: let probes that arrive while a PING waits share its answer (keep the pending promise and hand it to them), or answer from a flag that a single loop refreshes, one PING after the other. Give the probe client enableOfflineQueue: false and autoResendUnfulfilledCommands: false, so no PING is parked during an outage and sent with a crowd of others when Redis is back.";

/** A reply the server got from Redis through the proxy, on the grader's clock. */
interface RedisReply {
  command: string;
  ok: boolean;
  /** Back within FAST_MS of being sent. */
  fast: boolean;
  /** How long after it was sent. */
  tookMs: number;
  summary: string;
  /** When the proxy delivered it. */
  at: number;
}

/** Commands a client sends when it connects: not the server's readiness work. */
const SETUP = new Set(["CLIENT", "SELECT", "INFO", "HELLO", "READONLY", "(connect)"]);

/**
 * The grader's view of one server during a check: it sends the probes, and judges every /readyz
 * answer the moment it arrives against what the proxy's log shows the server sent to Redis and got
 * back (never against anything the server says about itself), whatever its design.
 */
class Watch {
  /** performance.now() minus the proxy log's clock (`at`): both are this process's, so it is constant. */
  private offset: number | undefined;
  situation: Situation = {
    when: "with Redis up",
    hangHint: "Look for an await in the /readyz handler that never settles, and make sure every request gets res.end().",
  };

  constructor(
    readonly t: CheckContext,
    readonly server: Server,
  ) {
    // The first log entry the proxy announces gives the offset: a fault is announced as it is
    // recorded, a command when its reply went out (`at` + `durationMs` is then now).
    const listener = (entry: CommandLogEntry) => {
      this.offset ??= performance.now() - (entry.at + (entry.durationMs ?? 0));
      t.proxy.off("command", listener);
    };
    t.proxy.on("command", listener);
  }

  /** Now, on the proxy log's clock. */
  private logNow(): number {
    return performance.now() - (this.offset ?? 0);
  }

  /** What the server sent Redis in this check, apart from what a client sends on connecting. */
  private sent(): CommandLogEntry[] {
    return this.t.commands().filter((e) => e.owner === this.server.rpc.name && !SETUP.has(e.args[0]!));
  }

  private replies(): RedisReply[] {
    const offset = this.offset ?? 0;
    return this.sent()
      .filter((e) => e.reply !== undefined && e.durationMs !== undefined)
      .map((e) => ({
        command: e.args[0]!,
        ok: e.reply!.type !== "error",
        fast: e.durationMs! <= FAST_MS,
        tookMs: e.durationMs!,
        summary: e.reply!.summary,
        at: e.at + e.durationMs! + offset,
      }))
      .sort((a, b) => a.at - b.at);
  }

  /** Probes /readyz once: it must answer, and a 200 must rest on a fresh reply from Redis. */
  async readyz(): Promise<Answered> {
    const p = await probe(this.t, this.server, "/readyz");
    this.requireAnswer("/readyz", p);
    this.judge(p);
    this.oneAtATime();
    return p;
  }

  requireAnswer(path: string, p: Probe): asserts p is Answered {
    if (p.answered) return;
    this.t.fail({
      message: `GET ${path} got no answer within ${ms(PROBE_TIMEOUT_MS)} ${this.situation.when}.`,
      expected: `an answer within 1 s, always (the grader waits ${ms(PROBE_TIMEOUT_MS)})`,
      actual: p.error,
      hint: this.situation.hangHint,
    });
  }

  /**
   * Judges a /readyz answer. A 200 must be:
   * - backed: a quick successful reply came back in the BACKED_WITHIN_MS before it;
   * - not contradicted by an error: if the last reply before the probe was sent was an error, a
   *   successful one came back since;
   * - not contradicted by silence: no command had gone FAST_MS without a reply before the probe
   *   was sent, unless a successful reply came back after that.
   */
  judge(answer: Answered): void {
    if (answer.status !== 200) return;
    const { t } = this;
    const when = this.situation.when;
    const replies = this.replies();
    const slack = 5; // ms: one clock, but the answer's timestamp is taken after it arrives
    const okSince = (from: number) => replies.some((r) => r.ok && r.fast && r.at > from && r.at <= answer.at + slack);
    if (!okSince(answer.at - BACKED_WITHIN_MS - 1e-9)) {
      const before = replies.filter((r) => r.ok && r.at <= answer.at + slack).at(-1);
      t.fail({
        message: `GET /readyz answered 200 ${when}, but your server had no quick reply from Redis in the ${secs(BACKED_WITHIN_MS)} before it: that 200 did not come from asking Redis.`,
        expected: `a 200 only within ${secs(BACKED_WITHIN_MS)} of a PING that Redis answered with PONG within its 500 ms deadline (the grader counts a reply up to ${ms(FAST_MS)} late)`,
        actual: before
          ? `the server's last successful reply (to ${before.command}) came back ${ms(answer.at - before.at)} before that 200${before.fast ? "" : `, ${ms(before.tookMs)} after it was sent: too late to count`}`
          : "the server had no successful reply from Redis at all",
        hint: readinessHint,
      });
    }
    const last = replies.filter((r) => r.at < answer.sentAt).at(-1);
    if (last && !last.ok && !okSince(last.at)) {
      t.fail({
        message: `GET /readyz answered 200 ${when}, although the last reply your server had from Redis before that probe was an error, and none has succeeded since.`,
        expected: "503 while Redis answers errors",
        actual: `the last reply, to ${last.command}: ${last.summary}`,
        hint: `An error reply means Redis cannot serve (LOADING: it is still loading its data). ${readinessHint}`,
      });
    }
    // A command sent later that was answered quickly and well (a PING after the failed one succeeded).
    const offset = this.offset ?? 0;
    const sent = this.sent();
    const inTime = (e: CommandLogEntry) => e.reply !== undefined && e.durationMs !== undefined && e.durationMs <= FAST_MS;
    const succeededAfter = (c: CommandLogEntry) =>
      sent.some((e) => e.at > c.at && inTime(e) && e.reply!.type !== "error" && e.at + e.durationMs! + offset <= answer.at + slack);
    const silent = sent.find((e) => !inTime(e) && e.at + offset + FAST_MS < answer.sentAt && !succeededAfter(e));
    if (silent) {
      t.fail({
        message: `GET /readyz answered 200 ${when}, although your server's ${silent.args[0]} sent ${ms(answer.sentAt - (silent.at + offset))} before that probe had ${silent.reply ? `been answered only after ${ms(silent.durationMs!)}` : "no reply"}, and no PING has succeeded since.`,
        expected: `503 once a PING has gone ${ms(500)} without a PONG, until one comes back in time`,
        actual: `the ${silent.args[0]} reached the proxy and ${silent.reply ? `got ${silent.reply.summary} ${ms(silent.durationMs!)} later` : "got no reply in time"}`,
        hint: `A PING that misses its deadline is a failed PING: Redis is too slow, stalled or cut off. ${readinessHint}`,
      });
    }
  }

  /**
   * Fails when the server had two commands waiting for Redis at once (each counted from when it
   * reached the proxy until its reply, for WAITING_COUNTS_MS at most).
   */
  oneAtATime(): void {
    const now = this.logNow();
    const sent = this.sent().sort((a, b) => a.at - b.at || a.seq - b.seq);
    const waiting: { entry: CommandLogEntry; until: number }[] = [];
    let first: { entry: CommandLogEntry; behind: CommandLogEntry } | null = null;
    let peak = 0;
    for (const entry of sent) {
      for (let i = waiting.length - 1; i >= 0; i--) if (waiting[i]!.until <= entry.at) waiting.splice(i, 1);
      if (waiting.length > 0 && !first) first = { entry, behind: waiting[0]!.entry };
      waiting.push({ entry, until: entry.at + Math.min(entry.durationMs ?? now - entry.at, WAITING_COUNTS_MS) });
      peak = Math.max(peak, waiting.length);
    }
    if (!first) return;
    const { entry, behind } = first;
    this.t.fail({
      message: `Your server sent Redis a ${entry.args[0]} while its ${behind.args[0]} sent ${ms(entry.at - behind.at)} earlier was still waiting for its reply (${this.situation.when}); at the worst moment ${peak} of its commands were waiting at once.`,
      expected: "at most one command waiting for Redis at any moment: a new PING only once the last one was answered or given up at its deadline",
      actual: `${sent.length} command(s) sent in this check; ${peak} waiting at once`,
      hint: `Every probe that sends its own PING multiplies the load on a Redis that is already struggling, and parked PINGs all arrive at once when it comes back. ${oneAtATimeHint}`,
    });
  }

  /**
   * Fails when BURST commands reached Redis within BURST_MS of each other, whatever their replies:
   * PINGs parked during an outage are flushed in one go when the connection comes back, and on a
   * loaded machine Redis may answer each before the next arrives, which oneAtATime cannot see.
   * The grader probes one at a time here, so a program asking Redis once per probe (or from one
   * refresh loop) never sends three commands in so short a stretch.
   */
  noBurst(): void {
    const sent = this.sent().sort((a, b) => a.at - b.at || a.seq - b.seq);
    for (let i = 0; i + BURST - 1 < sent.length; i++) {
      const first = sent[i]!;
      const last = sent[i + BURST - 1]!;
      if (last.at - first.at > BURST_MS) continue;
      this.t.fail({
        message: `Your server sent Redis ${BURST} commands within ${ms(last.at - first.at)} (${this.situation.when}), while the grader was sending one probe at a time.`,
        expected: "one PING per probe, or per tick of a single refresh loop: never a crowd of them at once",
        actual: sent
          .slice(i, i + BURST)
          .map((e) => `${e.args[0]} at ${ms(e.at - first.at)}`)
          .join(", "),
        hint: `Commands parked in ioredis's offline queue during an outage all go out together when Redis is back. ${oneAtATimeHint}`,
      });
    }
  }

  /**
   * Probes /readyz every PROBE_EVERY_MS until it answers `want`, failing on a probe that hangs or
   * when `withinMs` passes first (counted from `since`, a grader time, or from now).
   */
  async until(
    want: number,
    withinMs: number,
    stuckHint: string,
    since = performance.now(),
    expected = `${want} within 1 s of the change (the grader waited ${secs(withinMs)})`,
  ): Promise<Answered> {
    const deadline = since + withinMs;
    const seen: string[] = [];
    for (;;) {
      const p = await this.readyz();
      if (p.status === want) return p;
      seen.push(show(p));
      if (performance.now() > deadline) {
        this.t.fail({
          message: `GET /readyz did not answer ${want} within ${secs(withinMs)} ${this.situation.when}; it kept answering ${p.status}.`,
          expected,
          actual: `${seen.length} probe(s), the last: ${seen.at(-1)}`,
          hint: stuckHint,
        });
      }
      await this.t.sleep(PROBE_EVERY_MS);
    }
  }

  /**
   * Probes /readyz every PROBE_EVERY_MS for `forMs` (and at least `minProbes` times), failing on an
   * answer other than `want`; `excused` such answers are forgiven (and noted).
   */
  async steady(want: number, forMs: number, changed: { message: string; hint: string }, { minProbes = 1, excused = 0 } = {}): Promise<void> {
    const end = performance.now() + forMs;
    let probes = 0;
    const others: Answered[] = [];
    while (performance.now() < end || probes < minProbes) {
      await this.t.sleep(PROBE_EVERY_MS);
      const p = await this.readyz();
      probes++;
      if (p.status === want) continue;
      others.push(p);
      if (others.length > excused) {
        this.t.fail({
          message: changed.message,
          expected: `${want} on every probe ${this.situation.when}`,
          actual: `${others.length} of ${probes} probes answered otherwise: ${others.map(show).join("; ")}`,
          hint: changed.hint,
        });
      }
      this.t.note(`one /readyz answered ${p.status} ${this.situation.when}; forgiven once, as a hiccup of a loaded machine`);
    }
  }

  /** Many /readyz at once: every one must answer in time; each 200 is judged; returns them. */
  async storm(n: number): Promise<Answered[]> {
    const probes = await Promise.all(Array.from({ length: n }, () => probe(this.t, this.server, "/readyz")));
    const lost = probes.filter((p) => !p.answered);
    if (lost.length > 0) {
      this.t.fail({
        message: `${lost.length} of ${n} GET /readyz sent at once got no answer within ${ms(PROBE_TIMEOUT_MS)} ${this.situation.when}.`,
        expected: "every probe answered within 1 s, however many arrive at once",
        actual: lost
          .slice(0, 3)
          .map((p) => (p.answered ? "" : p.error))
          .join("; "),
        hint: this.situation.hangHint,
      });
    }
    const answered = probes.filter((p): p is Answered => p.answered).sort((a, b) => a.at - b.at);
    for (const p of answered) this.judge(p);
    this.oneAtATime();
    return answered;
  }

  /** Fails when the server holds more than MAX_CONNECTIONS connections, once the count has settled. */
  async connectionsSettled(when: string): Promise<void> {
    let open = this.t.proxy.stats().connectionsOpen;
    for (let i = 0; i < 10; i++) {
      await this.t.sleep(100);
      const now = this.t.proxy.stats().connectionsOpen;
      if (now === open) break;
      open = now;
    }
    if (open > MAX_CONNECTIONS) {
      this.t.fail({
        message: `Your server held ${open} connections to Redis ${when}.`,
        expected: `at most ${MAX_CONNECTIONS}: the probe's connection, opened once and reconnected by ioredis (and a work connection, if you keep one)`,
        actual: `${open} connections open through the proxy`,
        hint: "ioredis reconnects a client by itself after a cut. A client created after each failure (or per probe) and never closed keeps reconnecting in the background, and each one holds a connection Redis has to serve. Create the probe client once, when the module loads.",
      });
    }
  }
}

/** The 503 must say which dependency failed, as JSON, so whoever is paged knows where to look. */
function requireNamedDependency(t: CheckContext, p: Answered): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(p.body);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || !/redis/i.test(JSON.stringify(parsed))) {
    t.fail({
      message: "GET /readyz answered 503, but its body is not JSON naming the dependency that failed.",
      expected: '{ "status": "unavailable", "failing": ["redis"] }',
      actual: clip(p.body) || "(empty body)",
      hint: 'Send a small JSON body with the 503 naming what is down: JSON.stringify({ status: "unavailable", failing: ["redis"] }).',
    });
  }
}

const upHint = "With Redis reachable, /readyz should answer 200: PING Redis (with a 500 ms deadline) and answer 200 when PONG comes back.";
const upChanged = {
  message: "GET /readyz stopped answering 200 while Redis was up and answering at once.",
  hint: "With Redis reachable and quick, every /readyz should be 200: a PING with a 500 ms deadline comes back in a millisecond or two. Look for a deadline far too short, or a flag that is cleared and not set again.",
};
const downStuck =
  "/readyz must reflect Redis now, not what was true earlier: PING Redis when probed (with a deadline), or keep a flag that a loop updates from PINGs every few hundred ms, and answer 503 when the PING fails.";
const backStuck =
  "Once Redis answers again, /readyz must say so within a second: ioredis reconnects by itself (unless retryStrategy gives up, or waits long), so keep asking Redis, with no backoff or remembered failure that outlasts the outage. A cached answer is stale the moment Redis changes.";

/** Waits for the first 200 after start(), then watches it hold for a stretch no program can predict. */
async function becomeReady(watch: Watch, holdMs: number): Promise<void> {
  watch.situation = { ...watch.situation, when: "with Redis up, right after start()" };
  await watch.until(200, FIRST_READY_MS, upHint, performance.now(), `200 soon after start() (the grader waited ${secs(FIRST_READY_MS)})`);
  watch.situation = { ...watch.situation, when: "with Redis up" };
  await watch.steady(200, holdMs, upChanged);
}

/** Redis stalls for `forMs`: connections stay open, nothing is answered, then everything is. */
async function stallRedis(t: CheckContext, forMs: number): Promise<number> {
  t.fault(`Redis stalls for ${forMs} ms (CLIENT PAUSE ALL): connections stay open, no command is answered until it ends`);
  await t.redis.call("CLIENT", "PAUSE", String(forMs), "ALL");
  return performance.now() + forMs;
}

/** A route the instructions do not define, for the generated requests. */
const NEAR_MISSES = [
  "/",
  "/healthz/",
  "/readyz/",
  "/HEALTHZ",
  "/Readyz",
  "/healthzz",
  "/readyz.json",
  "/health",
  "/ready",
  "/livez",
  "/healthz/readyz",
  "/readyz/healthz",
  "/api/readyz",
];

interface Request {
  method: string;
  path: string;
  query: string | null;
}

const segment = fc
  .string({ minLength: 1, maxLength: 8, unit: "grapheme" })
  .map(encodeURIComponent)
  .filter((s) => s !== "." && s !== "..");
const queryArb: fc.Arbitrary<string | null> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.constantFrom("", "verbose", "probe=kubelet", "a=1&a=2") },
  {
    weight: 3,
    arbitrary: fc
      .array(fc.tuple(fc.string({ maxLength: 6, unit: "grapheme" }), fc.string({ maxLength: 10, unit: "grapheme" })), { maxLength: 3 })
      .map((pairs) => new URLSearchParams(pairs).toString()),
  },
);
const requestArb = (paths: fc.Arbitrary<string>): fc.Arbitrary<Request> =>
  fc.record({
    method: fc.oneof({ weight: 4, arbitrary: fc.constant("GET") }, { weight: 2, arbitrary: fc.constantFrom("POST", "PUT", "DELETE", "PATCH", "OPTIONS") }),
    path: paths,
    query: queryArb,
  });
const anyPath = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom("/healthz", "/readyz") },
  { weight: 1, arbitrary: fc.constantFrom(...NEAR_MISSES) },
  { weight: 1, arbitrary: fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => `/${s.join("/")}`) },
);

export default defineChecks({
  timeoutMs: 30_000,
  // The live view: the grader probes both endpoints twice a second and cuts Redis off for 5 s
  // in every 10; the log shows each change in what the probes answer.
  playground: async (t) => {
    const server = await startServer(t, { wallMs: 70_000 });
    t.note(`server listening on port ${server.port}; probing /healthz and /readyz every 500 ms`);
    // Sleeps that end early when the playground does, so no note lands after the run has ended.
    const pause = (ms: number) =>
      new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          t.signal.removeEventListener("abort", done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        t.signal.addEventListener("abort", done, { once: true });
      });
    const watch = async () => {
      let last = "";
      while (!t.signal.aborted) {
        const [health, ready] = await Promise.all([probe(t, server, "/healthz"), probe(t, server, "/readyz")]);
        const now = `/healthz ${health.answered ? health.status : "no answer"} · /readyz ${ready.answered ? ready.status : "no answer"}`;
        if (now !== last) t.note(`${now}${ready.answered && ready.status !== 200 ? ` ${clip(ready.body)}` : ""}`);
        last = now;
        await pause(500);
      }
    };
    const chaos = async () => {
      for (;;) {
        await pause(5000);
        if (t.signal.aborted) return;
        t.note("partition: Redis is unreachable for 5 s");
        t.proxy.partition();
        await pause(5000);
        if (t.signal.aborted) return; // the run's cleanup heals the proxy
        t.proxy.heal();
        t.note("heal: Redis is reachable again");
      }
    };
    await Promise.all([watch(), chaos()]);
  },
  checks: {
    "healthz-alive": async (t) => {
      const server = await startServer(t);
      const livenessHint =
        "/healthz answers one question: is this process alive and its event loop turning? A Redis outage is not fixed by restarting this process, so /healthz must not touch Redis, wait for a readiness check, or count Redis's failures: answer 200 straight away.";
      /** Probes /healthz: 200 within HEALTHZ_MS, one slower answer per phase forgiven. */
      const late: number[] = [];
      const healthz = async (when: string) => {
        const p = await probe(t, server, "/healthz");
        if (!p.answered)
          return t.fail({
            message: `GET /healthz got no answer within ${ms(PROBE_TIMEOUT_MS)} ${when}.`,
            expected: "200 within 250 ms, always",
            actual: p.error,
            hint: livenessHint,
          });
        if (p.status !== 200) {
          t.fail({
            message: `GET /healthz answered ${p.status} ${when}, although the process itself was fine.`,
            expected: "200: liveness does not depend on Redis",
            actual: show(p),
            hint: `${livenessHint} An orchestrator restarts a process whose liveness probe fails; restarting every replica because Redis is down makes the outage worse.`,
          });
        }
        const took = p.at - p.sentAt;
        if (took > HEALTHZ_MS) {
          late.push(took);
          if (late.length > 1) {
            t.fail({
              message: `GET /healthz took ${ms(took)} to answer ${when} (and ${ms(late[0]!)} once before in this phase).`,
              expected: `200 within 250 ms (the grader allows ${ms(HEALTHZ_MS)}, and forgives one slower answer per phase)`,
              actual: `answers after ${late.map(ms).join(", ")}`,
              hint: `${livenessHint} If /healthz awaits anything that involves Redis (a PING, the readiness check, a lock or queue it shares with /readyz), it is as slow as Redis is: the orchestrator's liveness probe times out and it restarts a healthy process.`,
            });
          }
        }
      };

      for (let i = 0; i < 3; i++) await healthz("with Redis up");

      // Redis slow, and /readyz requests waiting on it: /healthz must not wait with them.
      late.length = 0;
      t.proxy.setLatency({ ms: 2500 });
      t.note(`latency: Redis answers every command 2.5 s late; ${STORM / 2} /readyz requests are sent and left waiting while /healthz is probed`);
      const waiting = Promise.all(Array.from({ length: STORM / 2 }, () => probe(t, server, "/readyz")));
      await t.sleep(50);
      for (let i = 0; i < 8; i++) {
        await healthz("while Redis answered 2.5 s late and /readyz requests waited");
        await t.sleep(80);
      }
      await waiting;

      // A long outage: liveness must not give up on the process however long Redis is away.
      late.length = 0;
      t.proxy.setLatency({ ms: 0 });
      t.proxy.partition();
      const outage = unpredictableMs(t, 2600, 3400);
      t.note(`partition: Redis is unreachable for ${secs(outage)}; /healthz and /readyz are probed throughout, /healthz must stay 200`);
      const end = performance.now() + outage;
      while (performance.now() < end) {
        await healthz(`while Redis had been unreachable for ${secs(outage - (end - performance.now()))}`);
        await probe(t, server, "/readyz");
        await t.sleep(100);
      }
      t.proxy.heal();
      await healthz("right after Redis came back");
    },

    "readyz-follows-redis": async (t) => {
      const server = await startServer(t);
      const watch = new Watch(t, server);
      await becomeReady(watch, unpredictableMs(t, 300, 800));

      t.proxy.partition();
      t.note("partition: Redis is unreachable; /readyz must turn 503 within 1 s and answer every probe");
      watch.situation = { when: "while Redis was unreachable", hangHint: offlineQueueHint };
      requireNamedDependency(t, await watch.until(503, TURN_MS, downStuck));
      await watch.steady(503, unpredictableMs(t, 300, 700), {
        message: "GET /readyz went back to 200 while Redis was still unreachable.",
        hint: "Answer 200 only after a PING actually came back with PONG; a connection that is merely being retried is not ready.",
      });

      t.proxy.heal();
      t.note("heal: Redis is reachable again; /readyz must turn 200 within 1 s");
      watch.situation = { when: "after Redis became reachable again", hangHint: offlineQueueHint };
      await watch.until(200, TURN_MS, backStuck);
      await watch.connectionsSettled("after Redis came back from a partition");
      await watch.steady(200, unpredictableMs(t, 200, 600), upChanged);

      // Redis answers every command with an error, as while it loads its data after a restart.
      t.proxy.failNext(1_000_000, { message: LOADING });
      t.note("Redis now answers every command with a LOADING error; /readyz must turn 503");
      watch.situation = {
        when: "while Redis answered every command with a LOADING error",
        hangHint: "A PING answered with an error settles at once (ioredis rejects it): look for an await in the handler that never settles.",
      };
      requireNamedDependency(
        t,
        await watch.until(503, TURN_MS, "An error reply to the PING means Redis cannot serve now: catch the rejected PING and answer 503."),
      );
      await watch.steady(503, unpredictableMs(t, 300, 700), {
        message: "GET /readyz went back to 200 while Redis still answered every command with an error.",
        hint: "Answer 200 only after a PING came back with PONG. An error reply proves Redis is reachable, not that it can serve.",
      });
      t.proxy.failNext(0);
      t.note("Redis answers normally again; /readyz must turn 200 within 1 s");
      watch.situation = { when: "after Redis stopped answering errors", hangHint: "Look for an await in the /readyz handler that never settles." };
      await watch.until(200, TURN_MS, backStuck);
      await watch.steady(200, unpredictableMs(t, 200, 500), upChanged);
      await watch.connectionsSettled("after an outage and a spell of errors");
    },

    "readyz-slow-redis": async (t) => {
      const server = await startServer(t);
      const watch = new Watch(t, server);
      await becomeReady(watch, unpredictableMs(t, 300, 600));

      t.proxy.setLatency(OVER_BUDGET);
      t.note(
        `latency: Redis now answers every command ${OVER_BUDGET.ms - OVER_BUDGET.jitterMs}–${OVER_BUDGET.ms + OVER_BUDGET.jitterMs} ms late, on a connection that stays open; /readyz must turn 503 within 1 s`,
      );
      watch.situation = {
        when: `while Redis answered ${OVER_BUDGET.ms - OVER_BUDGET.jitterMs}–${OVER_BUDGET.ms + OVER_BUDGET.jitterMs} ms late`,
        hangHint: deadlineHint,
      };
      requireNamedDependency(
        t,
        await watch.until(
          503,
          TURN_MS,
          "An open connection is not proof that Redis can do the work. Readiness should come from a PING that returned within its 500 ms deadline, not from the connection's status or a PING that took a second.",
        ),
      );
      await watch.steady(503, unpredictableMs(t, 400, 800), {
        message: "GET /readyz went back to 200 while Redis still answered every command far too late.",
        hint: "A PONG after 900 ms is not Redis answering in time: give the PING a 500 ms deadline and treat a late reply as a failure.",
      });

      t.proxy.setLatency({ ms: 0 });
      const quickAt = performance.now();
      t.note("latency removed: replies already on their way still arrive late, new ones at once; /readyz must turn 200 within 1 s of Redis answering promptly");
      watch.situation = { when: "after Redis became quick again", hangHint: deadlineHint };
      // Replies Redis already gave are still held for their latency; after those, Redis is quick.
      await watch.until(200, OVER_BUDGET.ms + OVER_BUDGET.jitterMs + TURN_MS, backStuck, quickAt);
      await watch.steady(200, unpredictableMs(t, 200, 500), upChanged);

      t.proxy.setLatency(UNDER_BUDGET);
      t.note(
        `latency: Redis now answers every command ${UNDER_BUDGET.ms - UNDER_BUDGET.jitterMs}–${UNDER_BUDGET.ms + UNDER_BUDGET.jitterMs} ms late: slower than usual, well inside the 500 ms deadline; /readyz must stay 200`,
      );
      watch.situation = {
        when: `while Redis answered ${UNDER_BUDGET.ms - UNDER_BUDGET.jitterMs}–${UNDER_BUDGET.ms + UNDER_BUDGET.jitterMs} ms late`,
        hangHint: deadlineHint,
      };
      await watch.steady(
        200,
        unpredictableMs(t, 1000, 1400),
        {
          message: `GET /readyz answered 503 while Redis answered every PING ${UNDER_BUDGET.ms - UNDER_BUDGET.jitterMs}–${UNDER_BUDGET.ms + UNDER_BUDGET.jitterMs} ms late, inside the 500 ms deadline.`,
          hint: "A PONG that comes back within 500 ms means Redis can serve: a deadline much shorter than that (100 or 200 ms) turns an ordinary slow moment into an outage, and every replica drops out of the load balancer at once. Use a 500 ms deadline.",
        },
        { minProbes: 5, excused: 1 },
      );
    },

    "readyz-probe-storm": async (t) => {
      const server = await startServer(t);
      const watch = new Watch(t, server);
      await becomeReady(watch, unpredictableMs(t, 200, 500));

      t.proxy.setLatency(UNDER_BUDGET);
      watch.situation = {
        when: `while Redis answered ${UNDER_BUDGET.ms - UNDER_BUDGET.jitterMs}–${UNDER_BUDGET.ms + UNDER_BUDGET.jitterMs} ms late and ${STORM} probes arrived at once`,
        hangHint: deadlineHint,
      };
      await t.sleep(unpredictableMs(t, 0, 300));
      let opened = t.proxy.stats().connectionsTotal;
      t.note(`latency ${UNDER_BUDGET.ms}±${UNDER_BUDGET.jitterMs} ms; ${STORM} GET /readyz at once`);
      await watch.storm(STORM);
      const judgeConnections = (when: string) => {
        const now = t.proxy.stats().connectionsTotal;
        if (now - opened > MAX_CONNECTIONS) {
          t.fail({
            message: `Your server opened ${now - opened} new connections to Redis while answering ${STORM} probes at once ${when}.`,
            expected: `no connection per probe: the probe's client is created once (the grader allows ${MAX_CONNECTIONS} new connections)`,
            actual: `${now - opened} connections opened during the storm, ${t.proxy.stats().connectionsOpen} open afterwards`,
            hint: "Opening a connection per probe costs Redis a connection (and an AUTH) for every probe from every replica, and under a storm runs into Redis's connection limit. Create the probe's client once, when the module loads, and share it.",
          });
        }
        opened = now;
      };
      judgeConnections(`with Redis ${UNDER_BUDGET.ms} ms slow`);

      await t.sleep(unpredictableMs(t, 100, 400));
      const stalled = t.random() < 0.5;
      const stallEnds = stalled ? await stallRedis(t, 1400) : 0;
      if (!stalled) t.proxy.setLatency({ ms: 2500 });
      watch.situation = { when: `while Redis ${stalled ? "stalled" : "answered 2.5 s late"} and ${STORM} probes arrived at once`, hangHint: deadlineHint };
      t.note(`${STORM} GET /readyz at once, ${stalled ? "while Redis stalls" : "with Redis 2.5 s slow"}: every one must answer within 1 s`);
      await t.sleep(unpredictableMs(t, 50, 250));
      await watch.storm(STORM);
      await t.sleep(150);
      await watch.storm(STORM / 2);
      judgeConnections(stalled ? "while Redis stalled" : "with Redis 2.5 s slow");
      if (stalled) await t.sleep(Math.max(0, stallEnds - performance.now()));
    },

    "readyz-flapping": async (t) => {
      const server = await startServer(t);
      const watch = new Watch(t, server);
      await becomeReady(watch, unpredictableMs(t, 200, 500));

      // Three outages of three kinds, in an order the seed picks, each lasting a stretch no
      // program can predict: only asking Redis tells when it changed.
      const order: ("partition" | "stall" | "errors")[] = ["partition", "stall", "errors"];
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(t.random() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      for (const [i, kind] of order.entries()) {
        const outage = unpredictableMs(t, 600, 1200);
        let healedAt: number;
        if (kind === "stall") {
          watch.situation = { when: `while Redis stalled (outage ${i + 1} of 3)`, hangHint: deadlineHint };
          healedAt = await stallRedis(t, outage);
        } else if (kind === "partition") {
          t.proxy.partition();
          t.note(`partition: Redis unreachable for ${ms(outage)} (outage ${i + 1} of 3)`);
          watch.situation = { when: `while Redis was unreachable (outage ${i + 1} of 3)`, hangHint: offlineQueueHint };
          healedAt = performance.now() + outage;
        } else {
          const reply = ERROR_REPLIES[Math.floor(t.random() * ERROR_REPLIES.length)]!;
          t.proxy.failNext(1_000_000, { message: reply });
          t.note(`Redis answers every command with "${reply.split(" ")[0]}" for ${ms(outage)} (outage ${i + 1} of 3)`);
          watch.situation = {
            when: `while Redis answered every command with an error (outage ${i + 1} of 3)`,
            hangHint: "A PING answered with an error settles at once: look for an await in the handler that never settles.",
          };
          healedAt = performance.now() + outage;
        }
        // Outages this short need not turn /readyz 503, but every 200 must still rest on a PONG.
        while (performance.now() < healedAt - PROBE_EVERY_MS) {
          await watch.readyz();
          await t.sleep(PROBE_EVERY_MS);
        }
        await t.sleep(Math.max(0, healedAt - performance.now()));
        if (kind === "partition") t.proxy.heal();
        if (kind === "errors") t.proxy.failNext(0);
        if (kind !== "stall") healedAt = performance.now();
        t.note(`Redis is back (after outage ${i + 1} of 3); /readyz must turn 200 within 1 s`);
        watch.situation = {
          when: `after Redis came back from outage ${i + 1} of 3 (${kind === "stall" ? "a stall" : kind === "partition" ? "a partition" : "error replies"})`,
          hangHint: offlineQueueHint,
        };
        await watch.until(200, TURN_MS, backStuck, healedAt);
        await watch.steady(200, unpredictableMs(t, 150, 400), upChanged);
      }
      await watch.connectionsSettled("after three outages");
    },

    "readyz-starts-while-redis-down": async (t) => {
      t.proxy.partition();
      t.note("partition: Redis is unreachable before the server starts; it must start, answer /healthz 200 and /readyz 503 from the first probe");
      const server = await startServer(t, { redisDown: true });
      const watch: Watch = new Watch(t, server);
      watch.situation = { when: "right after start(), with Redis unreachable since before the process started", hangHint: offlineQueueHint };
      const [firstProbes, health] = await Promise.all([
        Promise.all(Array.from({ length: 8 }, () => probe(t, server, "/readyz"))),
        Promise.all([probe(t, server, "/healthz"), probe(t, server, "/healthz")]),
      ]);
      for (const h of health) {
        watch.requireAnswer("/healthz", h);
        if (h.status !== 200) {
          t.fail({
            message: `GET /healthz answered ${h.status} right after start(), with Redis unreachable.`,
            expected: "200: the process is alive whether or not Redis is",
            actual: show(h),
            hint: "/healthz must not depend on Redis: a server that fails liveness while Redis is down is restarted over and over for the whole outage.",
          });
        }
      }
      const first = firstProbes.map((p) => {
        watch.requireAnswer("/readyz", p);
        return p;
      });
      const early = first.find((p) => p.status !== 503);
      if (early) {
        t.fail({
          message: `GET /readyz answered ${early.status} right after start(), while Redis had been unreachable since before the process started.`,
          expected: "503 from the very first probe until Redis answers a PING",
          actual: show(early),
          hint: "Start unready: readiness is false until a PING has succeeded, not true until one fails.",
        });
      }
      for (const p of first) watch.judge(p);
      watch.oneAtATime();
      requireNamedDependency(t, first[0]!);
      watch.situation = { when: "while Redis stayed unreachable after the server started", hangHint: offlineQueueHint };
      // Long enough that a program parking its PINGs while Redis is away has several parked.
      await watch.steady(503, unpredictableMs(t, 1000, 1600), {
        message: "GET /readyz answered 200 while Redis had never been reachable.",
        hint: readinessHint,
      });

      t.proxy.heal();
      t.note("heal: Redis appears for the first time since the server started; /readyz must turn 200 within 1 s");
      watch.situation = { when: "after Redis appeared for the first time since the server started", hangHint: offlineQueueHint };
      await watch.until(
        200,
        TURN_MS,
        "A server that started while Redis was down must become ready when Redis appears, without a restart: keep the client reconnecting (ioredis does by default) and keep asking.",
      );
      await watch.steady(200, unpredictableMs(t, 300, 500), upChanged);
      await watch.connectionsSettled("after starting while Redis was down");
      // Now that the log has settled: nothing parked during the outage went out in a crowd.
      watch.oneAtATime();
      watch.noBurst();
    },

    "probe-responses": async (t) => {
      const server = await startServer(t);
      const watch = new Watch(t, server);
      await becomeReady(watch, 0);
      const contractHint =
        'GET /healthz → 200 {"status":"ok"}; GET /readyz → 200 {"status":"ready"} or 503 {"status":"unavailable","failing":["redis"]}, both as JSON (content-type: application/json), whatever query string the path carries. Any other path → 404; /healthz or /readyz with another method → 405.';
      const target = (r: Request) => {
        if (r.query === null) return r.path;
        // An unpredictable value in every query, so no program can know the requests in advance.
        const nonce = `n=${t.id("q")}`;
        return `${r.path}?${r.query === "" ? nonce : `${r.query}&${nonce}`}`;
      };
      const showRequest = (r: Request) =>
        `${r.method} ${r.path}${r.query === null ? "" : `?${r.query === "" ? "" : `${r.query}&`}n=… (an unpredictable value)`}`;
      const expectAnswer = async (r: Request, redisUp: boolean) => {
        const path = target(r);
        const p = await probe(t, server, path, r.method);
        if (!p.answered)
          return t.fail({
            message: `${r.method} ${path} got no answer within ${ms(PROBE_TIMEOUT_MS)}.`,
            expected: "an answer within 1 s, whatever the request",
            actual: p.error,
            hint: contractHint,
          });
        const known = r.path === "/healthz" || r.path === "/readyz";
        const wrong = (expected: string) =>
          t.fail({
            message: `${r.method} ${path} ${redisUp ? "with Redis up" : "with Redis unreachable"} answered ${p.status} ${clip(p.body, 120)}.`,
            expected,
            actual: show(p),
            hint: contractHint,
          });
        if (!known) {
          if (p.status !== 404) wrong("404: no such route (only exactly /healthz and /readyz are probes; the query string is not part of the path)");
          return;
        }
        if (r.method !== "GET") {
          if (p.status !== 405) wrong(`405: ${r.path} answers GET only`);
          return;
        }
        let body: unknown;
        try {
          body = JSON.parse(p.body);
        } catch {
          body = undefined;
        }
        const field = (name: string) => (typeof body === "object" && body !== null ? (body as Record<string, unknown>)[name] : undefined);
        const json = /^application\/json\b/i.test(p.headers["content-type"] ?? "");
        if (r.path === "/healthz") {
          if (p.status !== 200 || field("status") !== "ok" || !json) wrong('200 {"status":"ok"} as application/json');
          return;
        }
        if (redisUp) {
          if (p.status === 200) watch.judge(p);
          if (p.status !== 200 || field("status") !== "ready" || !json) wrong('200 {"status":"ready"} as application/json, with Redis up and quick');
          return;
        }
        const failing = field("failing");
        if (p.status !== 503 || field("status") !== "unavailable" || !Array.isArray(failing) || failing.length !== 1 || failing[0] !== "redis" || !json) {
          wrong('503 {"status":"unavailable","failing":["redis"]} as application/json, with Redis unreachable');
        }
      };
      await t.property(requestArb(anyPath), (r) => expectAnswer(r, true), { runs: 40, timeLimitMs: 5000, noun: "request", show: showRequest });

      t.proxy.partition();
      t.note("partition: Redis is unreachable; the same kinds of requests again");
      watch.situation = { when: "while Redis was unreachable", hangHint: offlineQueueHint };
      await watch.until(503, TURN_MS, downStuck);
      await t.property(
        requestArb(fc.oneof({ weight: 3, arbitrary: fc.constant("/readyz") }, { weight: 1, arbitrary: anyPath })),
        (r) => expectAnswer(r, false),
        { runs: 30, timeLimitMs: 5000, noun: "request", show: showRequest },
      );
    },
  },
});
