import { defineChecks, type CheckContext, type RpcModule } from "../../lib/grader/index.ts";

/**
 * A probe with no answer by now has failed. The instructions ask for 1 s (a kubelet probe's default
 * timeoutSeconds); the extra half second is for a loaded machine, not for a slower design.
 */
const PROBE_TIMEOUT_MS = 1500;
/** Between probes while the grader waits for /readyz to change its answer. */
const PROBE_EVERY_MS = 100;

type Probe = { answered: true; status: number; body: string } | { answered: false; error: string };

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

/** Loads server.ts in its own sandboxed process and calls start(port) on a port of the seed's choosing. */
async function startServer(t: CheckContext, limits?: { wallMs: number }): Promise<Server> {
  const port = 8000 + Math.floor(t.random() * 1000);
  const rpc = await t.load("server.ts", { name: "server", limits });
  await rpc.call("start", [port], 3000);
  return { rpc, port };
}

/** One GET from inside the server's own sandbox. A probe that gets no answer is a result, not a throw. */
async function probe(t: CheckContext, { rpc, port }: Server, path: string): Promise<Probe> {
  try {
    const res = await rpc.http(port, path, { timeoutMs: PROBE_TIMEOUT_MS });
    return { answered: true, status: res.status, body: res.body };
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
): Promise<Extract<Probe, { answered: true }>> {
  const deadline = performance.now() + withinMs;
  const seen: string[] = [];
  for (;;) {
    const p = await probe(t, server, path);
    requireAnswer(t, path, p, situation);
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

const offlineQueueHint =
  "ioredis queues a command while it has no connection (enableOfflineQueue, on by default) and resends one whose connection dropped, so `await redis.ping()` waits for the whole outage. Give the probe its own client with enableOfflineQueue: false (fail at once while disconnected) and commandTimeout: 500 (give up on a PING that is never answered), and answer 503 when the PING fails.";

export default defineChecks({
  timeoutMs: 15_000,
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
      await until(t, server, "/readyz", 200, 3000, upHints);

      t.proxy.partition();
      t.note("partition: Redis is unreachable; /readyz must turn 503 within 2.5 s and answer every probe");
      const down = {
        when: "while Redis was unreachable",
        hangHint: offlineQueueHint,
        stuckHint:
          "/readyz must reflect Redis now, not what was true at startup: PING Redis on each probe (with a deadline), or keep a flag that a loop updates from PINGs every few hundred ms, and answer 503 when the PING fails.",
      };
      const failed = await until(t, server, "/readyz", 503, 2500, down);
      requireNamedDependency(t, failed);
      for (let i = 0; i < 3; i++) {
        await t.sleep(PROBE_EVERY_MS);
        const p = await probe(t, server, "/readyz");
        requireAnswer(t, "/readyz", p, down);
        if (p.status !== 503) {
          t.fail({
            message: `GET /readyz went back to ${p.status} while Redis was still unreachable.`,
            expected: "503 for as long as Redis cannot be reached",
            actual: show(p),
            hint: "Answer 200 only after a PING actually came back with PONG; a connection that is merely being retried is not ready.",
          });
        }
      }

      t.proxy.heal();
      t.note("heal: Redis is reachable again; /readyz must turn 200 within 4 s");
      await until(t, server, "/readyz", 200, 4000, {
        when: "while Redis was reachable again",
        hangHint: offlineQueueHint,
        stuckHint:
          "ioredis reconnects by itself when Redis comes back (unless retryStrategy gives up): check Redis afresh on each probe, or keep updating the flag, rather than remembering a failure forever.",
      });
    },

    "readyz-slow-redis": async (t) => {
      const server = await startServer(t);
      await until(t, server, "/readyz", 200, 3000, upHints);

      t.proxy.setLatency({ ms: 2500 });
      t.note("latency: Redis now answers every command 2.5 s late, on a connection that stays open");
      const failed = await until(t, server, "/readyz", 503, 3000, {
        when: "while Redis answered 2.5 s late",
        hangHint:
          "The connection is open, so nothing is offline: the PING is sent and waits for a reply that takes 2.5 s. enableOfflineQueue: false does not cover this. Give the PING its own deadline (commandTimeout: 500 on the probe's client, or race it against a timer) and answer 503 when it passes.",
        stuckHint:
          "An open connection is not proof that Redis can do the work. Readiness should come from a PING that returned within its deadline (about 500 ms), not from the connection's status or an unanswered PING still in flight.",
      });
      requireNamedDependency(t, failed);
    },
  },
});
