import { CheckFailure, defineChecks, type CheckContext, type RpcModule } from "../../lib/grader/index.ts";

/**
 * A probe with no answer by now has failed. The instructions ask for 1 s (a kubelet probe's default
 * timeoutSeconds); the extra half second is for a loaded machine, not for a slower design.
 */
const PROBE_TIMEOUT_MS = 1500;
/** Between probes while the grader waits for /readyz to change its answer. */
const PROBE_EVERY_MS = 100;
/**
 * A /readyz 200 must rest on a reply from Redis that came back at most this long before it (the
 * instructions say so): a PING per probe is milliseconds old, a flag refreshed every 250 ms or so
 * well under a second. A 200 with no recent reply behind it was decided some other way. It is also
 * the grace a program gets before it must notice that Redis stopped answering, so it is no longer.
 */
const BACKED_WITHIN_MS = 1000;
/** A reply slower than this does not count as Redis answering: the instructions' 500 ms, and slack. */
const FAST_MS = 750;

/**
 * Ports the server may be asked to listen on: below Linux's ephemeral range (32768 and up, where
 * outgoing connections take theirs). Inside bubblewrap the run has its own loopback, so any free
 * port would do; on a weaker tier the loopback is the host's, and a port computable from the seed
 * could be taken in advance by a server of the learner's own that answers the probes. So the port
 * is drawn from the runner's CSPRNG, and one that happens to be in use is replaced.
 */
const PORTS = { from: 10_000, count: 22_000 };

/** A probe's answer, with when the grader sent it and when the answer came back (performance.now()). */
type Probe = { answered: true; status: number; body: string; sentAt: number; at: number } | { answered: false; error: string };
type Answered = Extract<Probe, { answered: true }>;

interface Server {
  rpc: RpcModule;
  port: number;
}

const clip = (text: string) => (text.length > 300 ? `${text.slice(0, 300)}…` : text);
const show = (p: Probe) => (p.answered ? `${p.status} ${clip(p.body)}` : `no answer: ${p.error}`);

function describeEnd(rpc: RpcModule): string {
  const outcome = rpc.outcome;
  if (!outcome) return "is running";
  return outcome.kind === "exited" ? `exited with code ${outcome.code}` : outcome.kind === "signalled" ? `was stopped by ${outcome.signal}` : outcome.message;
}

/** Loads server.ts in its own sandboxed process and calls start(port) on an unpredictable free port. */
async function startServer(t: CheckContext, limits: { wallMs: number } = { wallMs: 40_000 }): Promise<Server> {
  for (let attempt = 1; ; attempt++) {
    const port = PORTS.from + Math.floor(t.unpredictable() * PORTS.count);
    const rpc = await t.load("server.ts", { name: attempt === 1 ? "server" : `server-${attempt}`, limits });
    try {
      await rpc.call("start", [port], 3000);
      return { rpc, port };
    } catch (error) {
      const taken = error instanceof CheckFailure && /EADDRINUSE/.test(`${error.message} ${String(error.actual ?? "")}`);
      if (!taken || attempt >= 3) throw error;
      t.note(`port ${port} is in use on this machine; trying another`);
      await rpc.kill();
    }
  }
}

/** One GET from inside the server's own sandbox. A probe that gets no answer is a result, not a throw. */
async function probe(t: CheckContext, { rpc, port }: Server, path: string): Promise<Probe> {
  const sentAt = performance.now();
  try {
    const res = await rpc.http(port, path, { timeoutMs: PROBE_TIMEOUT_MS });
    return { answered: true, status: res.status, body: res.body, sentAt, at: performance.now() };
  } catch (error) {
    const raw = error instanceof Error ? error.message : String(error);
    if (!rpc.alive) {
      t.fail({
        message: `The server process ${describeEnd(rpc)} while the grader was probing ${path}.`,
        actual: [raw, rpc.output().slice(-1500)].filter(Boolean).join("\n"),
        hint: "A probe handler must never take the process down: catch what a Redis call throws (and listen for ioredis 'error' events) and answer 503 instead.",
      });
    }
    // The RPC layer names its own builtin ("$http() threw Error: …"); the learner only needs the cause.
    const cause = raw.replace(/^\$http\(\) threw \w*Error: /, "").replace(/^\$http\(\) did not return/, "the server's event loop did not let the request run");
    return { answered: false, error: cause.includes("ECONNREFUSED") ? `nothing listens on port ${port} (${cause})` : cause };
  }
}

interface Situation {
  /** "while Redis was unreachable" */
  when: string;
  /** What to change when a probe hangs in this situation. */
  hangHint: string;
}

/** Fails unless the probe was answered within the deadline. */
function requireAnswer(t: CheckContext, path: string, p: Probe, { when, hangHint }: Situation): asserts p is Extract<Probe, { answered: true }> {
  if (p.answered) return;
  t.fail({
    message: `GET ${path} got no answer within ${PROBE_TIMEOUT_MS} ms ${when}.`,
    expected: `an answer within ${PROBE_TIMEOUT_MS} ms, always`,
    actual: p.error,
    hint: hangHint,
  });
}

/**
 * Probes `path` every PROBE_EVERY_MS until it answers `want`, failing on a probe that hangs or when
 * `withinMs` passes first. Returns the probe that answered `want`.
 */
async function until(
  t: CheckContext,
  server: Server,
  path: string,
  want: number,
  withinMs: number,
  situation: Situation & { stuckHint: string },
  record: Answered[] = [],
): Promise<Answered> {
  const deadline = performance.now() + withinMs;
  const seen: string[] = [];
  for (;;) {
    const p = await probe(t, server, path);
    requireAnswer(t, path, p, situation);
    record.push(p);
    if (p.status === want) return p;
    seen.push(show(p));
    if (performance.now() > deadline) {
      t.fail({
        message: `GET ${path} did not answer ${want} within ${(withinMs / 1000).toFixed(1)} s ${situation.when}; it kept answering ${p.status}.`,
        expected: `${want} within ${(withinMs / 1000).toFixed(1)} s`,
        actual: `${seen.length} probe(s), the last: ${seen.at(-1)}`,
        hint: situation.stuckHint,
      });
    }
    await t.sleep(PROBE_EVERY_MS);
  }
}

/**
 * Probes `path` every PROBE_EVERY_MS for `forMs`, failing on the first answer other than `want`.
 * How long is drawn from the runner's CSPRNG by the caller: a program that answered by counting
 * probes or by the clock, instead of asking Redis, cannot know when the fault will come.
 */
async function steady(t: CheckContext, server: Server, path: string, want: number, forMs: number, situation: Situation & { changedMessage: string; changedHint: string }, record: Answered[]): Promise<void> {
  const end = performance.now() + forMs;
  while (performance.now() < end) {
    await t.sleep(PROBE_EVERY_MS);
    const p = await probe(t, server, path);
    requireAnswer(t, path, p, situation);
    record.push(p);
    if (p.status !== want) t.fail({ message: situation.changedMessage, expected: `${want} on every probe ${situation.when}`, actual: show(p), hint: situation.changedHint });
  }
}

/**
 * performance.now() minus the proxy log's clock (`at`). Read right after the grader's own fault
 * call, whose entry is then the log's last: both clocks are this process's, so it stays constant.
 */
function logOffset(t: CheckContext): number {
  return performance.now() - t.proxy.log.at(-1)!.at;
}

/** A reply the server got from Redis through the proxy, on the grader's clock. */
interface RedisReply {
  command: string;
  ok: boolean;
  /** Back within FAST_MS of being sent. */
  fast: boolean;
  summary: string;
  at: number;
}

function redisReplies(t: CheckContext, offset: number): RedisReply[] {
  return t
    .commands()
    .filter((e) => e.reply !== undefined && e.durationMs !== undefined)
    .map((e) => ({ command: e.args[0]!, ok: e.reply!.type !== "error", fast: e.durationMs! <= FAST_MS, summary: e.reply!.summary, at: e.at + e.durationMs! + offset }))
    .sort((a, b) => a.at - b.at);
}

const readinessHint =
  "Readiness is what Redis answers now: PING on each /readyz (with a deadline), or keep a flag that a loop refreshes from a PING every 250 ms or so, and answer 200 only after a PONG. The connection's status, or an answer decided earlier, does not say Redis can serve.";

/**
 * Judges every 200 from /readyz against what the proxy's log shows the server got from Redis (not
 * anything the server says about itself), whatever its design (a PING per probe, or a flag a loop
 * refreshes):
 * - backed: a quick successful reply came back in the BACKED_WITHIN_MS before it (and after
 *   `since`, a grader time, when given);
 * - not contradicted: if the last reply before the probe was sent was an error, a successful one
 *   came back since. A program that does not look at what Redis answers cannot meet this while
 *   Redis answers errors, however often it asks.
 */
function judgeReadiness(t: CheckContext, answers: Answered[], offset: number, when: string, since = -Infinity): void {
  const replies = redisReplies(t, offset);
  const slack = 5; // ms: the two clocks are one, but the answer's timestamp is taken after it arrives
  for (const answer of answers.filter((a) => a.status === 200)) {
    const from = Math.max(answer.at - BACKED_WITHIN_MS, since);
    if (!replies.some((r) => r.ok && r.fast && r.at >= from && r.at <= answer.at + slack)) {
      const before = replies.filter((r) => r.ok && r.at <= answer.at + slack).at(-1);
      t.fail({
        message: `GET /readyz answered 200 ${when}, but your server had no quick reply from Redis in the ${BACKED_WITHIN_MS / 1000} s before it${Number.isFinite(since) ? " since Redis came back" : ""}: that 200 did not come from asking Redis.`,
        expected: `a 200 only right after a command to Redis (a PING) succeeded within ${FAST_MS} ms`,
        actual: before ? `the server's last successful reply (to ${before.command}) came back ${Math.round(answer.at - before.at)} ms before that 200${before.fast ? "" : `, and late`}` : "the server had no successful reply from Redis at all",
        hint: readinessHint,
      });
    }
    const last = replies.filter((r) => r.at < answer.sentAt).at(-1);
    if (last && !last.ok && !replies.some((r) => r.ok && r.at > last.at && r.at <= answer.at + slack)) {
      t.fail({
        message: `GET /readyz answered 200 ${when}, although the last reply your server had from Redis before that probe was an error, and none has succeeded since.`,
        expected: "503 while Redis answers errors",
        actual: `the last reply, to ${last.command}: ${last.summary}`,
        hint: `An error reply means Redis cannot serve (here it is still loading its data). ${readinessHint}`,
      });
    }
  }
}

/** The 503 must say which dependency failed, as JSON, so whoever is paged knows where to look. */
function requireNamedDependency(t: CheckContext, p: Extract<Probe, { answered: true }>): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(p.body);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || !/redis/i.test(JSON.stringify(parsed))) {
    t.fail({
      message: "GET /readyz answered 503, but its body is not JSON naming the dependency that failed.",
      expected: '{ "status": "unavailable", "failing": ["redis"] } (any JSON that mentions redis)',
      actual: clip(p.body) || "(empty body)",
      hint: "Send a small JSON body with the 503 naming what is down, e.g. JSON.stringify({ status: \"unavailable\", failing: [\"redis\"] }).",
    });
  }
}

const upHints: Situation & { stuckHint: string } = {
  when: "with Redis up",
  hangHint: "Look for an await in the /readyz handler that never settles, and make sure every request gets res.end().",
  stuckHint: "With Redis reachable, /readyz should answer 200: PING Redis (with a deadline) and answer 200 when PONG comes back.",
};

/** What Redis answers while it loads its dataset after a restart. */
const LOADING = "LOADING Redis is loading the dataset in memory";

const upChanged = {
  changedMessage: "GET /readyz stopped answering 200 while Redis was up and answering at once.",
  changedHint: "With Redis reachable and quick, every /readyz should be 200: a PING with a 500 ms deadline comes back in a millisecond or two. Look for a deadline far too short, or a flag that is cleared and not set again.",
};

const offlineQueueHint =
  "ioredis queues a command while it has no connection (enableOfflineQueue, on by default) and resends one whose connection dropped, so `await redis.ping()` waits for the whole outage. Give the probe its own client with enableOfflineQueue: false (fail at once while disconnected) and commandTimeout: 500 (give up on a PING that is never answered), and answer 503 when the PING fails.";

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
        "/healthz answers one question: is this process alive and its event loop turning? A Redis outage is not fixed by restarting this process, so /healthz must not touch Redis: answer 200 straight away.";
      const up = await probe(t, server, "/healthz");
      requireAnswer(t, "/healthz", up, { when: "with Redis up", hangHint: livenessHint });
      t.equal(up.status, 200, { message: "GET /healthz did not answer 200 with the process running and Redis up.", hint: livenessHint });

      t.proxy.partition();
      t.note("partition: Redis is unreachable from now on; /healthz must not care");
      for (let i = 0; i < 5; i++) {
        const p = await probe(t, server, "/healthz");
        requireAnswer(t, "/healthz", p, { when: "while Redis was unreachable", hangHint: livenessHint });
        if (p.status !== 200) {
          t.fail({
            message: `GET /healthz answered ${p.status} while Redis was unreachable, although the process itself was fine.`,
            expected: "200: liveness does not depend on Redis",
            actual: show(p),
            hint: `${livenessHint} An orchestrator restarts a process whose liveness probe fails; restarting every replica because Redis is down makes the outage worse.`,
          });
        }
        await t.sleep(150);
      }
    },

    "readyz-follows-redis": async (t) => {
      const server = await startServer(t);
      const up: Answered[] = [];
      await until(t, server, "/readyz", 200, 3000, upHints, up);
      // Each phase lasts a stretch no program can know in advance (the runner's CSPRNG, not the
      // seed): only asking Redis tells when it changed.
      await steady(t, server, "/readyz", 200, 800 + t.unpredictable() * 2500, { ...upHints, ...upChanged }, up);

      // Redis answers every command with an error, as while it loads its data after a restart.
      t.proxy.failNext(1_000_000, { message: LOADING });
      const offset = logOffset(t);
      judgeReadiness(t, up, offset, "with Redis up");
      t.note("Redis now answers every command with a LOADING error; /readyz must turn 503");
      const erring = {
        when: "while Redis answered every command with an error",
        hangHint: "A PING answered with an error settles at once (ioredis rejects it): look for an await in the handler that never settles.",
        stuckHint: "An error reply to the PING means Redis cannot serve now: catch the rejected PING and answer 503.",
      };
      const failing: Answered[] = [];
      requireNamedDependency(t, await until(t, server, "/readyz", 503, 2000, erring, failing));
      await steady(
        t,
        server,
        "/readyz",
        503,
        300 + t.unpredictable() * 900,
        { ...erring, changedMessage: "GET /readyz went back to 200 while Redis still answered every command with an error.", changedHint: "Answer 200 only after a PING came back with PONG." },
        failing,
      );
      t.proxy.failNext(0);
      t.note("Redis answers normally again; /readyz must turn 200");
      await until(t, server, "/readyz", 200, 2000, { ...upHints, when: "after Redis stopped answering errors" }, failing);
      await steady(t, server, "/readyz", 200, 500 + t.unpredictable() * 2500, { ...upHints, ...upChanged }, failing);

      t.proxy.partition();
      judgeReadiness(t, failing, offset, "around the time Redis answered errors");
      t.note("partition: Redis is unreachable; /readyz must turn 503 within 2.5 s and answer every probe");
      const down = {
        when: "while Redis was unreachable",
        hangHint: offlineQueueHint,
        stuckHint:
          "/readyz must reflect Redis now, not what was true at startup: PING Redis on each probe (with a deadline), or keep a flag that a loop updates from PINGs every few hundred ms, and answer 503 when the PING fails.",
      };
      const turning: Answered[] = [];
      const failed = await until(t, server, "/readyz", 503, 2500, down, turning);
      judgeReadiness(t, turning, offset, "after Redis became unreachable");
      requireNamedDependency(t, failed);
      await steady(
        t,
        server,
        "/readyz",
        503,
        500 + t.unpredictable() * 1500,
        {
          ...down,
          changedMessage: "GET /readyz went back to 200 while Redis was still unreachable.",
          changedHint: "Answer 200 only after a PING actually came back with PONG; a connection that is merely being retried is not ready.",
        },
        turning,
      );

      t.proxy.heal();
      const healedAt = performance.now();
      t.note("heal: Redis is reachable again; /readyz must turn 200 within 4 s");
      const again = {
        when: "while Redis was reachable again",
        hangHint: offlineQueueHint,
        stuckHint:
          "ioredis reconnects by itself when Redis comes back (unless retryStrategy gives up): check Redis afresh on each probe, or keep updating the flag, rather than remembering a failure forever.",
      };
      const back: Answered[] = [];
      await until(t, server, "/readyz", 200, 4000, again, back);
      await steady(t, server, "/readyz", 200, 300 + t.unpredictable() * 700, { ...again, ...upChanged }, back);
      judgeReadiness(t, back, offset, "after Redis came back", healedAt);
    },

    "readyz-slow-redis": async (t) => {
      const server = await startServer(t);
      const up: Answered[] = [];
      await until(t, server, "/readyz", 200, 3000, upHints, up);
      await steady(t, server, "/readyz", 200, 500 + t.unpredictable() * 2500, { ...upHints, ...upChanged }, up);

      t.proxy.setLatency({ ms: 2500 });
      const offset = logOffset(t);
      judgeReadiness(t, up, offset, "with Redis up");
      t.note("latency: Redis now answers every command 2.5 s late, on a connection that stays open");
      const slow: Answered[] = [];
      const failed = await until(
        t,
        server,
        "/readyz",
        503,
        3000,
        {
          when: "while Redis answered 2.5 s late",
          hangHint:
            "The connection is open, so nothing is offline: the PING is sent and waits for a reply that takes 2.5 s. enableOfflineQueue: false does not cover this. Give the PING its own deadline (commandTimeout: 500 on the probe's client, or race it against a timer) and answer 503 when it passes.",
          stuckHint:
            "An open connection is not proof that Redis can do the work. Readiness should come from a PING that returned within its deadline (about 500 ms), not from the connection's status or an unanswered PING still in flight.",
        },
        slow,
      );
      judgeReadiness(t, slow, offset, "while Redis answered 2.5 s late");
      requireNamedDependency(t, failed);
    },
  },
});
