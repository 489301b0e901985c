import { defineChecks, type CheckContext, type LearnerProcess } from "../../lib/grader/index.ts";
import type { CommandLogEntry } from "../../lib/runner/chaos-proxy.ts";

/** A job as the grader adds it to the stream; handler.ts's toJob reads the same fields. */
interface Job {
  id: string;
  ms: number;
  input: string;
  /** The handler throws on the job's first attempt. */
  fail?: "throw";
  /** The handler's first attempt takes this long instead of `ms`. */
  stallMs?: number;
}

// The names instructions.md fixes: the grader adds jobs to STREAM, reads GROUP's pending list and
// RESULTS, and reads the trace handler.ts leaves (effects:*).
const STREAM = "jobs";
const GROUP = "workers";
const RESULTS = "results";
const STARTED = "effects:started";
const DONE = "effects:done";
const WORKER = "effects:worker";

// The windows instructions.md states, which the checks hold.
const CLAIM_MS = 2000;
const BLOCK_MS = 500;
const LONGEST_JOB_MS = 1200;
const STALL_MS = 3000;
/** What the grader adds to a stated upper bound for a loaded 2-core machine (process wake-ups, polling). */
const SLACK_MS = 600;
/** Connections a consumer process may hold open: its own one or two, and the handler's. */
const CONNECTIONS_PER_CONSUMER = 3;

// Consumers outlive a single RPC call, so they get more wall time than the sandbox's default.
const LIMITS = { wallMs: 40_000 };

/** What handle() returns for a job: the grader knows it, so it can tell a real output from a made-up one. */
const outputOf = (job: Job) => [...job.input].reverse().join("");

/** Ids and inputs come from the runner's CSPRNG: a consumer learns them only from the stream. The seed decides only durations. */
function newJob(t: CheckContext, ms: number, extra: Pick<Job, "fail" | "stallMs"> = {}): Job {
  return { id: t.id("job"), ms, input: t.id("in"), ...extra };
}

function shortJobs(t: CheckContext, n: number, minMs = 100, spreadMs = 150): Job[] {
  return Array.from({ length: n }, () => newJob(t, minMs + Math.floor(t.random() * spreadMs)));
}

function shuffled<T>(t: CheckContext, items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(t.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const countOf = (ids: string[], id: string) => ids.filter((x) => x === id).length;

function fieldMap(fields: string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i]!, fields[i + 1]!);
  return map;
}

/**
 * A consumer as the grader runs it: main(workerName) in an instance of the run's shared sandbox
 * (cheap to start, and killed as SIGKILL would), or in a process of its own (Pipeline.start says
 * when). In an instance, main returning or throwing ends the consumer as a process's exit would.
 */
class Consumer {
  private ended: string | null = null;

  constructor(
    readonly proc: LearnerProcess,
    main?: Promise<unknown>,
  ) {
    main?.then(
      () => void (this.ended ??= "main() returned: its loop ended"),
      (error: unknown) => {
        if (this.proc.alive) this.ended ??= error instanceof Error ? error.message : String(error);
      },
    );
  }

  get name(): string {
    return this.proc.name;
  }

  get alive(): boolean {
    return this.proc.alive && this.ended === null;
  }

  kill(): Promise<unknown> {
    return this.proc.kill();
  }

  output(): string {
    return this.proc.output();
  }

  describeEnded(): string {
    return this.ended ?? "running";
  }
}

function describeEnd(c: Consumer): string {
  const o = c.proc.outcome;
  if (!o) return c.alive ? `${c.name} is running` : `${c.name}: ${c.describeEnded()}`;
  const how = o.kind === "exited" ? `exited with code ${o.code}` : o.kind === "signalled" ? `was stopped by ${o.signal}` : o.message;
  return `${c.name} ${how}`;
}

/** Polls `done` until it holds or `atMostMs` passes: a wait for a state, never a failure by itself. */
async function waitUntil(t: CheckContext, done: () => Promise<boolean>, atMostMs: number, everyMs = 10): Promise<boolean> {
  const deadline = performance.now() + atMostMs;
  for (;;) {
    if (await done()) return true;
    if (performance.now() > deadline) return false;
    await t.sleep(everyMs);
  }
}

async function effects(t: CheckContext): Promise<{ started: string[]; done: string[] }> {
  const [started, done] = await Promise.all([t.redis.lrange(STARTED, 0, -1), t.redis.lrange(DONE, 0, -1)]);
  return { started, done };
}

interface Published {
  entryId: string;
  id: string;
  output: string;
}

/** The results stream as the consumers left it. */
async function published(t: CheckContext): Promise<Published[]> {
  const type = await t.redis.type(RESULTS);
  if (type === "none") return [];
  if (type !== "stream") {
    t.fail({
      message: `'${RESULTS}' is a ${type}, not a stream.`,
      expected: `a stream of entries with the fields id and output`,
      hint: `Publish each job's output to the next stage with XADD ${RESULTS} * id <job id> output <output>.`,
    });
  }
  const rows = (await t.redis.xrange(RESULTS, "-", "+")) as [string, string[]][];
  return rows.map(([entryId, fields]) => {
    const map = fieldMap(fields);
    return { entryId, id: map.get("id") ?? "", output: map.get("output") ?? "" };
  });
}

const timesPublished = (rows: Published[], id: string) => rows.filter((r) => r.id === id).length;

interface PendingEntry {
  entryId: string;
  consumer: string;
  idleMs: number;
  deliveries: number;
}

async function pending(t: CheckContext): Promise<PendingEntry[]> {
  const rows = (await t.redis.xpending(STREAM, GROUP, "-", "+", 1000).catch(() => [])) as [string, string, number, number][];
  return rows.map(([entryId, consumer, idleMs, deliveries]) => ({ entryId, consumer, idleMs, deliveries }));
}

/** One entry of the pending list, or null once it is acknowledged. */
async function pendingEntry(t: CheckContext, entryId: string): Promise<PendingEntry | null> {
  const rows = (await t.redis.xpending(STREAM, GROUP, entryId, entryId, 1).catch(() => [])) as [string, string, number, number][];
  const row = rows[0];
  return row ? { entryId: row[0], consumer: row[1], idleMs: row[2], deliveries: row[3] } : null;
}

/** One entry of the pending list and Redis's clock at the same instant, so delivery and claim times compare exactly. */
async function pendingEntryAt(t: CheckContext, entryId: string): Promise<{ entry: PendingEntry | null; redisMs: number }> {
  const replies = (await t.redis.multi().time().xpending(STREAM, GROUP, entryId, entryId, 1).exec()) ?? [];
  const [time, rows] = replies.map(([error, value]) => (error ? null : value)) as [[string, string], [string, string, number, number][] | null];
  const row = rows?.[0];
  return {
    entry: row ? { entryId: row[0], consumer: row[1], idleMs: row[2], deliveries: row[3] } : null,
    redisMs: Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000),
  };
}

const inStream = async (t: CheckContext, entryId: string) => ((await t.redis.xrange(STREAM, entryId, entryId)) as unknown[]).length > 0;

/** The entry of a job a consumer is running must be pending for that consumer: it is its claim on the job. */
async function expectPendingFor(t: CheckContext, entryId: string, job: Job, consumer: Consumer): Promise<PendingEntry> {
  const entry = await pendingEntry(t, entryId);
  if (entry && entry.consumer === consumer.name) return entry;
  return t.fail({
    message: `Job ${job.id} was running in ${consumer.name}, but its entry ${entryId} was not pending for ${consumer.name}.`,
    expected: `${entryId} pending for ${consumer.name} until its job is done`,
    actual: entry ? `pending for ${entry.consumer}` : "not pending: acknowledged before the job ran, or never read through the group",
    hint: "Read entries through the group (XREADGROUP … >) and acknowledge an entry only after its job is done, in the step that publishes its output.",
  });
}

// Sets an entry's idle time without moving it, and only while it is still pending (for whoever holds it).
const AGE = `
local e = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)[1]
if not e then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], e[2], 0, ARGV[2], 'IDLE', ARGV[3], 'JUSTID')
return 1`;

/**
 * Ages a pending entry past the claim threshold, as if 2 s had passed, so the next XAUTOCLAIM
 * takes it: for checks about what happens once an entry is claimed, not about when (that is
 * claims-from-dead-consumer's). It stays with the consumer that holds it.
 */
async function agePending(t: CheckContext, entryId: string): Promise<void> {
  await t.redis.eval(AGE, 1, STREAM, GROUP, entryId, String(CLAIM_MS + 1000));
}

const BLOCKING = new Set(["XREADGROUP", "XREAD", "BLPOP", "BRPOP", "BLMOVE", "BRPOPLPUSH", "BZPOPMIN", "BZPOPMAX", "BLMPOP", "BZMPOP", "WAIT"]);

/**
 * The longest a reply to a quick command took, beyond the latency the grader injected, since log
 * position `since`: time the runner (the proxy, Redis) held it on a loaded machine, which a
 * timing window must not count against the learner's code.
 */
function proxyLagMs(t: CheckContext, since: number): number {
  const lags = t
    .commands()
    .filter((e) => e.seq > since && e.durationMs !== undefined && !BLOCKING.has(e.args[0]!))
    .map((e) => e.durationMs! - (e.faultDelayMs ?? 0));
  return Math.max(0, ...lags);
}

/** Connections Redis holds blocked in a command (XREADGROUP … BLOCK), read with the grader's own connection. */
async function blockedClients(t: CheckContext): Promise<number> {
  return Number(/^blocked_clients:(\d+)/m.exec(await t.redis.info("clients"))?.[1] ?? 0);
}

/** What a consumer's XGROUP commands were answered, for a failure that says why it died at start. */
function groupReplies(t: CheckContext, name: string): string {
  const replies = t
    .commands("XGROUP")
    .filter((e) => e.owner === name)
    .map((e) => e.reply?.summary ?? "(no reply)");
  return replies.length > 0 ? `its XGROUP command(s) were answered: ${replies.join(" / ")}` : "it sent no XGROUP command";
}

const consumerHint = `main(workerName) creates the group, then loops: XAUTOCLAIM one entry idle for 2000 ms or more, else XREADGROUP GROUP ${GROUP} <workerName> COUNT 1 BLOCK 500 STREAMS ${STREAM} >; run handle(toJob(fields)); then, in one step, publish its output to '${RESULTS}', XACK the entry and XDEL it.`;
const loopHint =
  "Wrap each pass of the loop in try/catch: a failed command, a cut connection or a handler that throws must cost at most that one entry (left pending, so it is claimed again), never the consumer.";
const fenceHint = `Commit in one atomic step (a Lua script): check with XPENDING ${STREAM} ${GROUP} <id> <id> 1 that the entry is still pending for this consumer, and only then XADD the output to '${RESULTS}', XACK and XDEL the entry. A consumer that stalled or was paused past 2 s has lost the entry to another one; its commit must then do nothing.`;

/** A claim that moved an entry to another consumer before it had been pending CLAIM_MS. */
interface EarlyClaim {
  entryId: string;
  from: string;
  to: string;
  idleMs: number;
}

/**
 * Watches the pending list for a whole check and records every claim that moved an entry from
 * one consumer to another before it had been idle 2000 ms. That is the rule itself, timed with
 * Redis's own clock, so a consumer slowed down by a loaded machine (whose entry is rightly
 * claimed once it is 2 s old, and then runs twice) is not mistaken for one robbed by an early
 * claim.
 */
class ClaimWatch {
  readonly early: EarlyClaim[] = [];
  private readonly seen = new Map<string, { consumer: string; deliveries: number; deliveredAt: number }>();
  private running = true;
  private readonly loop: Promise<void>;

  constructor(private readonly t: CheckContext) {
    this.loop = this.watch();
  }

  private async watch(): Promise<void> {
    // Bounded, so a check that fails before stop() does not leave it polling.
    const until = performance.now() + 30_000;
    while (this.running && performance.now() < until) {
      const replies = await this.t.redis
        .multi()
        .time()
        .xpending(STREAM, GROUP, "-", "+", 1000)
        .exec()
        .catch(() => null);
      const [time, rows] = (replies ?? []).map(([error, value]) => (error ? null : value)) as [
        [string, string] | null,
        [string, string, number, number][] | null,
      ];
      if (time && rows) {
        const now = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
        for (const [entryId, consumer, idleMs, deliveries] of rows) {
          const deliveredAt = now - idleMs;
          const before = this.seen.get(entryId);
          if (before && consumer !== before.consumer) {
            // Two deliveries since the last look, 15 ms ago: the later one came at once.
            const idle = deliveries - before.deliveries >= 2 ? 0 : deliveredAt - before.deliveredAt;
            if (idle < CLAIM_MS) this.early.push({ entryId, from: before.consumer, to: consumer, idleMs: idle });
          }
          this.seen.set(entryId, { consumer, deliveries, deliveredAt });
        }
      }
      await this.t.sleep(15);
    }
  }

  /** Stops watching; fails if an entry was claimed away from a consumer before it was 2 s old. */
  async assertNoEarlyClaim(p: Pipeline, during: string): Promise<void> {
    this.running = false;
    await this.loop;
    if (this.early.length === 0) return;
    this.t.fail({
      message: `${this.early.length} entr${this.early.length === 1 ? "y was" : "ies were"} claimed away from ${this.early.length === 1 ? "its consumer" : "their consumers"} before ${this.early.length === 1 ? "it" : "they"} had been pending 2000 ms, ${during}.`,
      expected: "an entry claimed only once it has been pending (idle) 2000 ms or more",
      actual: this.early.map((c) => `${c.entryId} (${p.jobOfEntry(c.entryId)?.id ?? "?"}): ${c.from} → ${c.to} after ${c.idleMs} ms`).join("\n"),
      hint: `XAUTOCLAIM's min-idle-time decides what counts as stuck: ${CLAIM_MS} (milliseconds), longer than any job takes. At 0 every pending entry qualifies, including the ones live consumers are busy with. And claim in one command: XAUTOCLAIM both finds an entry idle for 2000 ms and transfers it, resetting its idle time, so a second claimer no longer sees it; finding stuck entries with XPENDING and then taking them with XCLAIM (min-idle 0) lets two consumers take the same one.`,
    });
  }
}

/**
 * One check's jobs and consumers: what the grader added (and each job's entry id), who it
 * started, and the waits and verdicts that read them back from Redis.
 */
class Pipeline {
  readonly jobs: Job[] = [];
  /** job id → stream entry id */
  readonly entries = new Map<string, string>();
  readonly consumers: Consumer[] = [];
  private nextName = 1;

  constructor(private readonly t: CheckContext) {}

  /**
   * Starts n consumers at once: as instances in the run's shared sandbox (cheap, and started at
   * the same moment), or as processes of their own where a check pauses one or holds one to a
   * deadline (the claim window), which the shared sandbox's other work must not delay.
   * `arm` runs for each right before its main() starts, so a crash point counts all its commands.
   */
  async start(n: number, options: { process?: boolean; arm?: (c: LearnerProcess) => void } = {}): Promise<Consumer[]> {
    const names = Array.from({ length: n }, () => `consumer-${this.nextName++}`);
    const started = options.process
      ? names.map((name) => {
          const proc = this.t.spawn("consumer.ts", { name, limits: LIMITS });
          options.arm?.(proc);
          return new Consumer(proc);
        })
      : await Promise.all(
          names.map(async (name) => {
            const rpc = await this.t.load("consumer.ts", { name, limits: LIMITS });
            options.arm?.(rpc);
            return new Consumer(rpc, rpc.call("main", [name], 10 * 60_000));
          }),
        );
    this.consumers.push(...started);
    return started;
  }

  /** Adds jobs to the stream the way a producer would. */
  async add(jobs: Job[]): Promise<void> {
    for (const job of jobs) {
      const fields = ["id", job.id, "ms", String(job.ms), "input", job.input];
      if (job.fail) fields.push("fail", job.fail);
      if (job.stallMs !== undefined) fields.push("stall", String(job.stallMs));
      this.entries.set(job.id, (await this.t.redis.xadd(STREAM, "*", ...fields))!);
      this.jobs.push(job);
    }
  }

  entryOf(job: Job): string {
    return this.entries.get(job.id)!;
  }

  jobOfEntry(entryId: string): Job | undefined {
    return this.jobs.find((j) => this.entries.get(j.id) === entryId);
  }

  /** The job whose output a command carries (its args), if any. */
  jobInCommand(entry: CommandLogEntry): Job | undefined {
    return this.jobs.find((j) => entry.args.slice(1).some((a) => a.includes(outputOf(j)) || a === this.entries.get(j.id)));
  }

  /** Waits until the group exists, so jobs added next are delivered whatever its start id. */
  async untilGroup(timeoutMs: number, faults = ""): Promise<void> {
    const t = this.t;
    const exists = async () => {
      if ((await t.redis.type(STREAM)) !== "stream") return false;
      const groups = (await t.redis.xinfo("GROUPS", STREAM)) as unknown[][];
      return groups.some((g) => g[1] === GROUP);
    };
    const since = performance.now();
    if (await waitUntil(t, async () => (await exists()) || this.consumers.every((c) => !c.alive), timeoutMs, 25)) {
      if (await exists()) return;
    }
    const allDead = this.consumers.every((c) => !c.alive);
    t.fail({
      message: `No consumer group '${GROUP}' on '${STREAM}' ${allDead ? "and no consumer left to create it" : `${((performance.now() - since) / 1000).toFixed(0)} s after the consumers started`}${faults}.`,
      expected: `the group created by the consumers (XGROUP CREATE ${STREAM} ${GROUP} 0 MKSTREAM)`,
      actual: this.consumers.map((c) => `${describeEnd(c)}; ${groupReplies(t, c.name)}`).join("\n"),
      hint: `Every consumer creates the group on start. BUSYGROUP means another consumer made it first: carry on. Any other error (a refused command, a lost connection) means the group may not exist: try again a moment later. Swallowing every error, or checking first and creating after, leaves no group or kills the consumer.`,
    });
  }

  /** Finds a job of `jobs` that has started and not finished, and the consumer running it. */
  async runningJob(jobs: Job[]): Promise<{ job: Job; consumer: Consumer }> {
    const t = this.t;
    let found: { job: Job; consumer: Consumer } | undefined;
    await waitUntil(
      t,
      async () => {
        const { started, done } = await effects(t);
        for (const job of jobs) {
          if (!started.includes(job.id) || done.includes(job.id)) continue;
          const holder = await t.redis.hget(WORKER, job.id);
          const consumer = this.consumers.find((c) => c.name === holder && c.alive);
          if (consumer) {
            found = { job, consumer };
            return true;
          }
        }
        return false;
      },
      6000,
      10,
    );
    if (found) return found;
    return t.fail({
      message: `No consumer started any of ${jobs.map((j) => j.id).join(", ")} within 6 s of ${jobs.length === 1 ? "it" : "them"} being added.`,
      actual: this.consumers.map((c) => `${describeEnd(c)}\n${c.output().slice(-300)}`).join("\n"),
      hint: consumerHint,
    });
  }

  /** Waits until every job's output is in RESULTS; on a timeout fails with what is missing and why it may be. */
  async untilPublished(jobs: Job[], timeoutMs: number, onTimeout: (missing: Job[]) => { message: string; hint: string; expected?: string }): Promise<void> {
    const t = this.t;
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const now = await this.snapshot();
      const missing = jobs.filter((j) => !now.published.has(j.id));
      if (missing.length === 0) return;
      // A job that is neither published, nor pending, nor in the stream exists nowhere: it was
      // deleted (trimmed) with its job undone, and can never be published now.
      const gone = missing.filter((j) => !now.pending.has(this.entryOf(j)) && !now.kept.has(this.entryOf(j)));
      if (gone.length > 0 || performance.now() > deadline) {
        const [{ started }, pel] = await Promise.all([effects(t), pending(t)]);
        const dead = this.consumers.filter((c) => !c.alive);
        const actual = [
          `not published: ${missing.map((j) => j.id).join(", ")}`,
          `started: ${missing.map((j) => `${j.id} ×${countOf(started, j.id)}`).join(", ")}`,
          `pending in '${GROUP}': ${pel.map((p) => `${p.entryId} (${p.consumer}, idle ${p.idleMs} ms, delivered ${p.deliveries}×)`).join(", ") || "(none)"}`,
          ...dead.map((c) => `${describeEnd(c)}\n${c.output().slice(-400)}`),
        ].join("\n");
        if (gone.length > 0) {
          t.fail({
            message: `${gone.length} job(s) were not published, and their entries are gone from '${STREAM}' and from the pending list: they were deleted before their job was done, and are lost.`,
            expected: "an entry deleted only in the step that publishes its output and acknowledges it",
            actual: `deleted unfinished: ${gone.map((j) => `${j.id} (entry ${this.entryOf(j)})`).join(", ")}\n${actual}`,
            hint: `Delete exactly the entry you commit (XDEL ${STREAM} <id>, in the step that publishes and acks it). Trimming by length or by id (XTRIM ${STREAM} MAXLEN/MINID …) also removes older entries that other consumers, or dead ones, still hold pending: XAUTOCLAIM then finds them deleted and their jobs are lost.`,
          });
        }
        t.fail({ ...onTimeout(missing), actual: `after ${(timeoutMs / 1000).toFixed(1)} s, ${actual}` });
      }
      await t.sleep(25);
    }
  }

  /** The job ids published, and the entries pending and still in the stream, read at one instant. */
  private async snapshot(): Promise<{ published: Set<string>; pending: Set<string>; kept: Set<string> }> {
    const t = this.t;
    const replies =
      (await t.redis.multi().type(RESULTS).xrange(RESULTS, "-", "+").xpending(STREAM, GROUP, "-", "+", 1000).xrange(STREAM, "-", "+").exec()) ?? [];
    const [type, rows, pel, kept] = replies.map(([error, value]) => (error ? null : value)) as [
      string,
      [string, string[]][] | null,
      [string, string, number, number][] | null,
      [string, string[]][] | null,
    ];
    if (type !== "none" && type !== "stream") await published(t); // fails, saying what RESULTS should be
    return {
      published: new Set((rows ?? []).map(([, fields]) => fieldMap(fields).get("id") ?? "")),
      pending: new Set((pel ?? []).map(([entryId]) => entryId)),
      kept: new Set((kept ?? []).map(([entryId]) => entryId)),
    };
  }

  /** Each job's output in RESULTS exactly once, and the output handle() returned for it. */
  async assertPublishedOnce(
    jobs: Job[],
    why: { faults: string; hintDuplicate: string; hintLost?: string; blame?: (job: Job) => string | undefined },
  ): Promise<void> {
    const t = this.t;
    const rows = await published(t);
    const blame = (job: Job) => {
      const said = why.blame?.(job);
      return said ? ` (${said})` : "";
    };
    const twice = jobs.filter((j) => timesPublished(rows, j.id) > 1);
    if (twice.length > 0) {
      t.fail({
        message: `${twice.length} job(s) were published to '${RESULTS}' more than once ${why.faults}.`,
        expected: `each job's output in '${RESULTS}' exactly once`,
        actual: twice.map((j) => `${j.id} ×${timesPublished(rows, j.id)}${blame(j)}`).join("\n"),
        hint: why.hintDuplicate,
      });
    }
    const lost = jobs.filter((j) => timesPublished(rows, j.id) === 0);
    if (lost.length > 0) {
      t.fail({
        message: `${lost.length} job(s) were never published ${why.faults}.`,
        expected: `each job's output in '${RESULTS}' exactly once`,
        actual: lost.map((j) => `${j.id}${blame(j)}`).join("\n"),
        hint: why.hintLost ?? consumerHint,
      });
    }
    const wrong = jobs.filter((j) => rows.find((r) => r.id === j.id)!.output !== outputOf(j));
    if (wrong.length > 0) {
      const shown = wrong
        .slice(0, 4)
        .map(
          (j) => `${j.id}${blame(j)}: published ${JSON.stringify(rows.find((r) => r.id === j.id)!.output)}, handle() returned ${JSON.stringify(outputOf(j))}`,
        );
      t.fail({
        message: `The output published for ${wrong.length} job(s) is not what handle() returned for them.`,
        expected: `XADD ${RESULTS} * id <job id> output <handle's return value>`,
        actual: shown.join("\n"),
        hint: `Publish exactly what await handle(job) returned, in the field 'output', beside the job's id in the field 'id'. A job whose handler threw has no output yet: leave its entry pending (no commit), so it is claimed and tried again after 2 s.`,
      });
    }
  }

  /**
   * Waits (up to 2 s) for the pending list to empty: an entry left pending by a fault is claimed
   * and committed again after 2 s, and a second publication would show only then.
   */
  async settle(): Promise<void> {
    await waitUntil(this.t, async () => (await pending(this.t)).length === 0, CLAIM_MS, 50);
  }

  /** Nothing left pending once every job is published, and every acknowledged entry deleted from the stream. */
  async assertDrained(during: string): Promise<void> {
    const t = this.t;
    await this.settle();
    if ((await pending(t)).length > 0) {
      const left = await pending(t);
      t.fail({
        message: `Every job was published ${during}, but ${left.length} entr${left.length === 1 ? "y is" : "ies are"} still pending 2 s later: never acknowledged.`,
        expected: `XPENDING ${STREAM} ${GROUP}: nothing`,
        actual: left
          .map((p) => `${p.entryId} (${this.jobOfEntry(p.entryId)?.id ?? "?"}, ${p.consumer}, delivered ${p.deliveries}×, idle ${p.idleMs} ms)`)
          .join("\n"),
        hint: "Acknowledge every entry whose output you publish, in the same step, whichever way it came (XREADGROUP or XAUTOCLAIM): an entry left pending is claimed again 2 s later and runs again.",
      });
    }
    const left = (await t.redis.xrange(STREAM, "-", "+")) as [string, string[]][];
    if (left.length > 0) {
      t.fail({
        message: `Every job was published ${during} and nothing is pending, but '${STREAM}' still holds ${left.length} of their entries: the stream only grows.`,
        expected: `'${STREAM}' empty once every job is done (XLEN ${STREAM} = 0)`,
        actual: left
          .slice(0, 5)
          .map(([id, fields]) => `${id} (${fieldMap(fields).get("id") ?? "?"})`)
          .join(", "),
        hint: `A finished entry has no further use: delete it (XDEL ${STREAM} <id>) in the same step that publishes its output and acknowledges it, so the stream holds only work not yet done.`,
      });
    }
  }

  /** Fails unless every consumer the grader did not kill is still running. */
  assertAlive(consumers: Consumer[], after: string, hint = loopHint): void {
    const dead = consumers.filter((c) => !c.alive);
    if (dead.length === 0) return;
    this.t.fail({
      message: `${dead.map(describeEnd).join("; ")} ${after}. Nothing killed ${dead.length === 1 ? "it" : "them"}: a consumer must outlive every failure it meets.`,
      expected: "every consumer still running",
      actual: dead.map((c) => `${c.name}: ${c.output().slice(-600) || "(printed nothing)"}`).join("\n"),
      hint,
    });
  }

  /** Fails when a job was started more often than the grader's faults can explain. */
  async assertStarts(expected: (job: Job) => number, jobs: Job[], why: { message: (over: string[]) => string; hint: string }): Promise<void> {
    const { started } = await effects(this.t);
    const over = jobs.filter((j) => countOf(started, j.id) > expected(j));
    if (over.length === 0) return;
    this.t.fail({
      message: why.message(over.map((j) => j.id)),
      expected: over.map((j) => `${j.id} started ${expected(j)}×`).join(", "),
      actual: over.map((j) => `${j.id} started ×${countOf(started, j.id)}`).join(", "),
      hint: why.hint,
    });
  }
}

/** The command that carried a job's output to Redis (the commit, or its publishing part), learned from a job done before. */
interface CommitCommand {
  name: string;
  /** Queued inside MULTI: failing it aborts the transaction; duplicating it would queue it twice. */
  inMulti: boolean;
}

function commitCommand(t: CheckContext, job: Job): CommitCommand | null {
  const log = t.commands();
  const output = outputOf(job);
  // The last one that Redis accepted: a script sent as EVALSHA first may be refused (NOSCRIPT) and sent again as EVAL.
  const carrying = log.filter((e) => e.owner !== undefined && e.args.slice(1).some((a) => a.includes(output)) && e.reply?.type !== "error");
  const entry = carrying.at(-1);
  if (!entry) return null;
  let inMulti = false;
  for (const e of log) {
    if (e.seq >= entry.seq) break;
    if (e.conn !== entry.conn) continue;
    if (e.args[0] === "MULTI") inMulti = true;
    else if (e.args[0] === "EXEC" || e.args[0] === "DISCARD") inMulti = false;
  }
  return { name: entry.args[0]!, inMulti };
}

/** The first log entry after `mark` with this fault, once the proxy has injected it. */
async function faultFired(t: CheckContext, mark: number, fault: string, name: string, timeoutMs: number): Promise<CommandLogEntry | null> {
  const find = () => t.commands(name).find((e) => e.seq > mark && e.fault === fault);
  await waitUntil(t, async () => find() !== undefined, timeoutMs, 20);
  return find() ?? null;
}

/** Where one consumer of the crash check dies, once it is armed on a consumer (its name). */
interface CrashPlan {
  point: { match: string; nth: number; when: "before" | "after" };
  where: string;
  victim?: string;
  fired?: Promise<CommandLogEntry | null>;
}

const ordinal = (n: number) => `${n}${["th", "st", "nd", "rd"][n] ?? "th"}`;

export default defineChecks({
  timeoutMs: 30_000,
  // The live view: jobs arrive every 250 ms for three consumers; every 6 s one of them is
  // SIGKILLed mid-job and replaced. Watch its entries sit in the pending list, then get claimed,
  // and the results stream grow by one entry per job.
  playground: async (t) => {
    const limits = { wallMs: 70_000, cpuSeconds: 30 };
    let next = 1;
    const consumers = new Set(Array.from({ length: 3 }, () => t.spawn("consumer.ts", { name: `consumer-${next++}`, limits })));
    const produce = async () => {
      while (!t.signal.aborted) {
        const job = newJob(t, 200 + Math.floor(t.random() * 800));
        await t.redis.xadd(STREAM, "*", "id", job.id, "ms", String(job.ms), "input", job.input);
        await t.sleep(250);
      }
    };
    const chaos = async () => {
      while (!t.signal.aborted) {
        await t.sleep(6000);
        if (t.signal.aborted) break;
        const victim = [...consumers][Math.floor(t.random() * consumers.size)]!;
        t.note(`killing ${victim.name}; its pending entry must be claimed once it has been idle 2 s`);
        await victim.kill();
        consumers.delete(victim);
        consumers.add(t.spawn("consumer.ts", { name: `consumer-${next++}`, limits }));
      }
    };
    await Promise.all([produce(), chaos()]);
  },
  checks: {
    "group-consumes-all": async (t) => {
      const p = new Pipeline(t);
      const early = shortJobs(t, 6);
      const late = shortJobs(t, 6);
      await p.add(early);
      // Slow replies at start widen the gap between a consumer asking whether the group exists and
      // creating it, so consumers that look first all see "no". And Redis refuses 3 XGROUPs: a
      // consumer that takes any error for BUSYGROUP never creates the group.
      const startLatency = 120 + Math.floor(t.random() * 80);
      t.proxy.setLatency({ ms: startLatency, jitterMs: 40 });
      t.proxy.failNext(3, { match: "XGROUP" });
      t.note(
        `6 jobs are in '${STREAM}' and there is no group; 3 consumers start together, replies come ${startLatency}±40 ms late, and Redis refuses the first 3 XGROUP commands`,
      );
      const consumers = await p.start(3);
      const claims = new ClaimWatch(t);
      await p.untilGroup(8000, ", although only the first 3 XGROUP commands were refused");
      t.proxy.setLatency({ ms: 2 + Math.floor(t.random() * 4), jitterMs: 3 });
      await p.untilPublished(early, 12_000, (missing) => ({
        message: `${missing.length} of the 6 jobs added before the group existed were not published within 12 s.`,
        hint: `A group created at "$" starts after the stream's last entry, so everything already in it is skipped. Create it at 0 (XGROUP CREATE ${STREAM} ${GROUP} 0 MKSTREAM) to deliver the whole stream.`,
      }));
      p.assertAlive(
        consumers,
        "while the group was being created by 3 consumers at once, with every first XGROUP CREATE refused",
        `Creating the group races with the other consumers: BUSYGROUP means another consumer made it first, which is fine; any other error means try again a moment later. Do not check whether it exists and then create it: between the two, another consumer can create it. ${loopHint}`,
      );

      // Every consumer now waits in XREADGROUP … BLOCK on an empty stream. The network goes down
      // (every connection cut, none accepted) while the late jobs arrive, then comes back.
      await waitUntil(t, async () => (await blockedClients(t)) >= 3, 1500);
      const downMs = 300 + Math.floor(t.random() * 300);
      t.note(
        `every consumer waits in XREADGROUP BLOCK on an empty stream: the grader cuts every connection and accepts none for ${downMs} ms, adds 6 jobs meanwhile, then refuses the next 2 XREADGROUPs`,
      );
      t.proxy.partition();
      await p.add(late);
      await t.sleep(downMs);
      t.proxy.heal();
      t.proxy.failNext(2, { match: "XREADGROUP" });
      const all = [...early, ...late];
      // Midway through the late jobs, every connection drops again, under whatever is in flight.
      const cutAfter = 1 + Math.floor(t.random() * 3);
      await waitUntil(t, async () => (await published(t)).filter((r) => late.some((j) => j.id === r.id)).length >= cutAfter, 5000);
      t.note(`${cutAfter} of the 6 late jobs are published: the grader cuts every connection again, under whatever commands are in flight`);
      t.proxy.cutAll();
      await p.untilPublished(all, 15_000, (missing) => ({
        message: `After the connections were cut (under the consumers' blocking XREADGROUP, then under jobs in progress), ${missing.length} of the 6 jobs added since were not published within 15 s.`,
        hint: `ioredis reconnects by itself and sends again what it had in flight; a consumer must keep its loop going through an error (try/catch around each pass). ${consumerHint}`,
      }));
      await t.sleep(300); // a second delivery of a finished job would show up now
      const rows = await published(t);
      if (all.every((j) => timesPublished(rows, j.id) >= consumers.length)) {
        t.fail({
          message: `Each job was published ${consumers.length} times: every consumer received every entry.`,
          expected: "each job published once: the group hands each entry to one consumer",
          actual: all
            .slice(0, 4)
            .map((j) => `${j.id} ×${timesPublished(rows, j.id)}`)
            .join(", "),
          hint: `Plain XREAD gives every reader every entry. XREADGROUP GROUP ${GROUP} <workerName> … STREAMS ${STREAM} > hands each entry to one consumer of the group.`,
        });
      }
      p.assertAlive(consumers, "after its connections were cut (while it waited in XREADGROUP, and again while it worked) and Redis refused an XREADGROUP");
      await p.assertPublishedOnce(all, {
        faults: "with no consumer dead or stalled",
        hintDuplicate: `With no consumer dead or slow, each entry is delivered once: read with XREADGROUP … ">", and claim only entries idle for 2000 ms or more.`,
      });
      await claims.assertNoEarlyClaim(p, "although no consumer died or stalled");
      await assertThroughGroup(t, p, all);
      await p.assertDrained("by 3 healthy consumers");
      const open = t.proxy.stats().connectionsOpen;
      if (open > CONNECTIONS_PER_CONSUMER * consumers.length) {
        t.fail({
          message: `${consumers.length} consumers hold ${open} connections to Redis open after ${all.length} jobs: connections are opened and never closed.`,
          expected: `at most ${CONNECTIONS_PER_CONSUMER} per consumer (its own, and the one handler.ts opens), ${CONNECTIONS_PER_CONSUMER * consumers.length} in all`,
          actual: `${open} open`,
          hint: "Create each consumer's connection(s) once, when the module loads, and reuse them on every pass. A createRedis() per read or per job leaks a connection each time, until Redis's limit refuses them all.",
        });
      }
    },

    "acks-after-processing": async (t) => {
      const p = new Pipeline(t);
      const [consumer] = await p.start(1);
      await p.untilGroup(5000);
      // Replies come late, so two separate commands (publish, then ack) leave a gap the grader can see.
      const latency = 30 + Math.floor(t.random() * 20);
      t.proxy.setLatency({ ms: latency, jitterMs: 10 });
      const job = newJob(t, LONGEST_JOB_MS);
      await p.add([job]);
      const entryId = p.entryOf(job);
      t.note(
        `${job.id} takes 1.2 s; replies come ${latency}±10 ms late. While it runs its entry must be pending; then publish, ack and delete must happen at one instant`,
      );
      await p.runningJob([job]);
      const mid = await pendingEntry(t, entryId);
      if (!mid) {
        t.fail({
          message: `While job ${job.id} was running (started, not done), its entry ${entryId} was not in the group's pending list: it had been acknowledged already (or was never read through the group).`,
          expected: `${entryId} pending for ${consumer!.name} until the job finishes`,
          actual: `pending: ${(await pending(t)).map((e) => e.entryId).join(", ") || "(none)"}`,
          hint: "XACK tells the group the entry is finished and can be forgotten. Sent before handle(), a consumer that dies mid-job takes the job with it. Run handle(toJob(fields)) first, then XACK.",
        });
      }
      // From here the grader watches the entry closely: pending? published? still in the stream?
      const states: string[] = [];
      const finished = await waitUntil(
        t,
        async () => {
          const replies = await t.redis.multi().xpending(STREAM, GROUP, entryId, entryId, 1).xrange(RESULTS, "-", "+").xrange(STREAM, entryId, entryId).exec();
          const [pel, rows, kept] = (replies ?? []).map(([, value]) => value) as [unknown[], [string, string[]][], unknown[]];
          const isPending = pel.length > 0;
          const isPublished = rows.some(([, fields]) => fieldMap(fields).get("id") === job.id);
          const isKept = kept.length > 0;
          const state =
            isPending && !isPublished
              ? ""
              : !isPending && isPublished && !isKept
                ? "done"
                : `${isPending ? "pending" : "acknowledged"}, ${isPublished ? "published" : "not published"}, ${isKept ? "still in the stream" : "deleted"}`;
          if (state && state !== "done" && !states.includes(state)) states.push(state);
          return state === "done";
        },
        LONGEST_JOB_MS + 6000,
        3,
      );
      const between = states.find((s) => s.startsWith("pending, published")) ?? states.find((s) => s.startsWith("acknowledged, not published")) ?? states[0];
      if (between) {
        const lostIfCrash = between.startsWith("acknowledged, not published");
        t.fail({
          message: `Job ${job.id}'s last step was not one step: the grader saw its entry ${between}.`,
          expected: "pending and unpublished while the job runs, then published, acknowledged and deleted at the same instant",
          actual: `states seen after the job started: ${states.join(" → ")}${finished ? " → done" : ""}`,
          hint: `A consumer can die between any two commands. ${lostIfCrash ? "Acked before it is published, the job is lost if it dies in between." : "Published while still pending, the job is published again by whoever claims it if it dies in between."} Publish (XADD ${RESULTS}), XACK and XDEL in one atomic step: a Lua script (EVAL) or MULTI/EXEC.`,
        });
      }
      if (!finished) {
        t.fail({
          message: `Job ${job.id} (1.2 s of work) was not published, acknowledged and deleted within 7 s of starting.`,
          expected: `its output in '${RESULTS}', nothing pending, its entry gone from '${STREAM}'`,
          actual: `${describeEnd(consumer!)}; pending: ${(await pending(t)).map((e) => `${e.entryId} (${e.consumer})`).join(", ") || "(none)"}; published: ${(await published(t)).map((r) => r.id).join(", ") || "(none)"}`,
          hint: consumerHint,
        });
      }
      await p.assertPublishedOnce([job], { faults: "by a single healthy consumer", hintDuplicate: "Publish once, in the step that acknowledges the entry." });
    },

    "claims-from-dead-consumer": async (t) => {
      const p = new Pipeline(t);
      const consumers = await p.start(2, { process: true });
      await p.untilGroup(5000);
      // Both wait in XREADGROUP, so an entry is delivered the instant it is added.
      await waitUntil(t, async () => (await blockedClients(t)) >= 2, 1500);
      t.proxy.setLatency({ ms: 3, jitterMs: 3 });
      const jobs = [newJob(t, 700), newJob(t, 700)];
      await p.add(jobs);
      const { job, consumer: victim } = await p.runningJob(jobs);
      const entryId = p.entryOf(job);
      const survivor = consumers.find((c) => c !== victim)!;
      t.note(
        `SIGKILL ${victim.name} while it runs ${job.id} (0.7 s of work); ${survivor.name} must claim its entry once it has been idle 2 s, and within 2.5 s of its delivery`,
      );
      await victim.kill();
      if ((await published(t)).some((r) => r.id === job.id))
        throw new Error(`${job.id} was published before ${victim.name} could be killed; the machine is too slow for this check`);
      // Redis's idle times, read with Redis's own clock, date the delivery and the claim.
      const before = await expectPendingFor(t, entryId, job, victim);
      const first = await pendingEntryAt(t, entryId);
      const deliveredAt = first.redisMs - (first.entry?.idleMs ?? before.idleMs);
      // The bound is the stated 2.5 s plus the grader's slack, plus what the proxy itself held
      // replies back on a loaded machine: an idle consumer's look is one XREADGROUP reply and one
      // XAUTOCLAIM away, and the time those spent in the runner is not the consumer's.
      const waitFrom = t.logPosition();
      const latestClaim = () => CLAIM_MS + BLOCK_MS + SLACK_MS + Math.min(2 * proxyLagMs(t, waitFrom), 1200);
      let claim: { at: number; by: string } | null = null;
      for (let now = first; !claim && now.redisMs - deliveredAt < latestClaim(); now = await pendingEntryAt(t, entryId)) {
        const entry = now.entry;
        if (!entry) {
          const gone = !(await inStream(t, entryId));
          return t.fail({
            message: `The entry of job ${job.id}, whose consumer was SIGKILLed mid-job, left the pending list ${now.redisMs - deliveredAt} ms after its delivery without being claimed${gone ? ", and it is gone from the stream" : ""}: the job can no longer be recovered.`,
            expected: `the entry pending for ${victim.name} until ${survivor.name} claims it, 2.0–2.5 s after its delivery`,
            actual: `${job.id} published ×${timesPublished(await published(t), job.id)}; entry ${gone ? "deleted" : "still in the stream"}`,
            hint: `Only the consumer that holds an entry acknowledges it, after publishing its output. Delete only the entry you commit (XDEL ${STREAM} <id>): trimming by id or length (XTRIM … MINID/MAXLEN) removes entries others still hold.`,
          });
        }
        if (entry.consumer !== victim.name || entry.deliveries > before.deliveries) claim = { at: now.redisMs - entry.idleMs, by: entry.consumer };
        else await t.sleep(10);
      }
      if (!claim) {
        const { started } = await effects(t);
        return t.fail({
          message: `The entry of job ${job.id}, whose consumer was SIGKILLed mid-job, was still pending for dead ${victim.name} ${(latestClaim() / 1000).toFixed(1)} s after its delivery: ${survivor.name} did not take it over.`,
          expected: `claimed by ${survivor.name} 2.0–2.5 s after its delivery (2000 ms min-idle, then at most one 500 ms BLOCK before the next look)`,
          actual: `${describeEnd(survivor)}; ${job.id} started ×${countOf(started, job.id)}`,
          hint: `An entry delivered to a consumer stays in the group's pending list until it is acked; XREADGROUP with ">" never returns it again. On every pass, before reading new entries, take over one stuck entry: XAUTOCLAIM ${STREAM} ${GROUP} <workerName> 2000 0-0 COUNT 1. Block at most 500 ms in XREADGROUP, so an idle consumer looks at least twice a second.`,
        });
      }
      const idleAtClaim = Math.round(claim.at - deliveredAt);
      if (idleAtClaim < CLAIM_MS) {
        t.fail({
          message: `The entry of job ${job.id} was claimed ${idleAtClaim} ms after its delivery, before it counted as stuck.`,
          expected: `claimed once it has been pending ${CLAIM_MS} ms or more`,
          actual: `claimed by ${claim.by} after ${idleAtClaim} ms`,
          hint: `XAUTOCLAIM's min-idle-time decides what counts as stuck: ${CLAIM_MS} (milliseconds). Below the longest job (1.2 s) it takes entries from consumers that are alive and working on them.`,
        });
      }
      t.note(`${claim.by} claimed the entry ${idleAtClaim} ms after its delivery`);
      await p.untilPublished(jobs, 8000, (missing) =>
        missing.includes(job)
          ? {
              message: `Job ${job.id}, claimed from dead ${victim.name}, was never published by ${survivor.name}.`,
              hint: `A claimed entry is run and committed like a new one: handle(toJob(fields)), then publish, XACK and XDEL in one step. ${fenceHint}`,
            }
          : { message: `${survivor.name} did not publish ${missing.map((j) => j.id).join(", ")}.`, hint: consumerHint },
      );
      await t.sleep(300);
      await p.assertPublishedOnce(jobs, {
        faults: `after ${victim.name} was killed mid-job`,
        hintDuplicate: "The dead consumer's entry is claimed once and published once: claim one entry at a time, and commit it as soon as its job is done.",
      });
      await p.assertStarts((j) => (j === job ? 2 : 1), jobs, {
        message: (over) =>
          `${over.join(", ")} ran more often than one claim explains: the killed consumer's job should run twice (once in ${victim.name}, once in ${survivor.name}), the other once.`,
        hint: "Claim one entry at a time with XAUTOCLAIM and min-idle-time 2000: a claim resets the entry's idle time, so it is not claimed again while it runs.",
      });
      await p.assertDrained(`after ${victim.name} was killed`);
    },

    "pending-drains": async (t) => {
      const p = new Pipeline(t);
      const consumers = await p.start(3);
      await p.untilGroup(5000);
      t.proxy.setLatency({ ms: 2 + Math.floor(t.random() * 4), jitterMs: 3 });
      const jobs = shortJobs(t, 12, 200, 200);
      await p.add(jobs);
      const first = await p.runningJob(jobs);
      t.note(`SIGKILL ${first.consumer.name} while it runs ${first.job.id}`);
      await first.consumer.kill();
      const second = await p.runningJob(jobs);
      t.note(`SIGKILL ${second.consumer.name} while it runs ${second.job.id}; consumer-4 starts`);
      await second.consumer.kill();
      const live = [...consumers.filter((c) => c.alive), ...(await p.start(1))];
      await p.untilPublished(jobs, 15_000, (missing) => ({
        message: `After two consumers were SIGKILLed mid-job, ${missing.length} of 12 jobs were never published.`,
        hint: `The killed consumers' entries wait in the pending list. Every consumer, on every pass, should XAUTOCLAIM one entry idle for 2000 ms or more before reading new ones, run it, and commit it.`,
      }));
      await p.settle();
      // A killed consumer never published (its commit is one step), so every job is published once.
      await p.assertPublishedOnce(jobs, {
        faults: `after ${first.consumer.name} and ${second.consumer.name} were killed mid-job`,
        hintDuplicate: "Publish and acknowledge in one step, and claim one entry at a time: an entry is then published by whoever acknowledges it, once.",
      });
      await p.assertDrained(`after ${first.consumer.name} and ${second.consumer.name} were killed`);
      p.assertAlive(live, "while the killed consumers' entries were being claimed");
    },

    "live-entries-not-stolen": async (t) => {
      const p = new Pipeline(t);
      const consumers = await p.start(2);
      await p.untilGroup(5000);
      t.proxy.setLatency({ ms: 3, jitterMs: 3 });
      const job = newJob(t, LONGEST_JOB_MS);
      const claims = new ClaimWatch(t);
      await p.add([job]);
      const { consumer } = await p.runningJob([job]);
      t.note(
        `${consumer.name} runs ${job.id} (1.2 s of work, the longest job; the claim threshold is 2 s); the other consumer is idle and looks for stuck entries twice a second`,
      );
      await waitUntil(t, async () => claims.early.length > 0 || timesPublished(await published(t), job.id) > 0, 8000, 25);
      await t.sleep(300);
      await claims.assertNoEarlyClaim(p, `while ${consumer.name}, alive, ran a 1.2 s job`);
      await p.untilPublished([job], 1000, () => ({ message: `Job ${job.id} (1.2 s of work) was not published within 9 s.`, hint: consumerHint }));
      await p.assertPublishedOnce([job], { faults: "by a live consumer", hintDuplicate: "Claim only entries idle for 2000 ms or more." });
      p.assertAlive(consumers, "while the other consumer ran a 1.2 s job");
    },

    "crash-between-read-and-ack": async (t) => {
      // Crash points sweep one entry's life in a consumer: delivered (XREADGROUP), worked on,
      // committed. Whatever the instant, no job may be lost and none published twice.
      const p = new Pipeline(t);
      t.proxy.setLatency({ ms: 2 + Math.floor(t.random() * 3), jitterMs: 2 });
      const [reader] = await p.start(1);
      await p.untilGroup(5000);
      const warmup = newJob(t, 50);
      await p.add([warmup]);
      await p.untilPublished([warmup], 8000, () => ({
        message: `Job ${warmup.id} was not published within 8 s by a single healthy consumer.`,
        hint: consumerHint,
      }));
      const commit = commitCommand(t, warmup);
      if (!commit) {
        return t.fail({
          message: `Job ${warmup.id} was published, but no command your consumer sent carried its output (${outputOf(warmup)}).`,
          hint: `Publish handle's return value yourself: XADD ${RESULTS} * id <job id> output <output>, inside the commit step.`,
        });
      }
      await waitUntil(t, async () => (await blockedClients(t)) >= 1, 1000);
      // The reader already runs; three more consumers start, each armed before its first command.
      const nth = () => 1 + Math.floor(t.random() * 2);
      const [readNth, beforeNth, afterNth] = [nth(), nth(), nth()];
      const anyNth = 3 + Math.floor(t.random() * 10);
      const anyWhen = t.random() < 0.5 ? "before" : "after";
      const plans: CrashPlan[] = [
        {
          point: { match: "XREADGROUP", nth: readNth, when: "after" },
          where: `right after its ${ordinal(readNth)} XREADGROUP from now was served (the entry delivered, its reply lost), before the job ran`,
        },
        {
          point: { match: commit.name, nth: beforeNth, when: "before" },
          where: `after its ${ordinal(beforeNth)} job ran, right before the ${commit.name} that carries the output`,
        },
        {
          point: { match: commit.name, nth: afterNth, when: "after" },
          where: `right after its ${ordinal(afterNth)} ${commit.name} carrying an output reached Redis (applied, its reply lost)`,
        },
        { point: { match: "*", nth: anyNth, when: anyWhen }, where: `${anyWhen} its ${ordinal(anyNth)} command` },
      ];
      const arm = (plan: CrashPlan, proc: LearnerProcess) => {
        plan.victim = proc.name;
        plan.fired = t.crashAt(proc, plan.point);
      };
      arm(plans[0]!, reader!.proc);
      let next = 1;
      await p.start(3, { arm: (proc) => arm(plans[next++]!, proc) });
      const victimOf = (plan: CrashPlan) => p.consumers.find((c) => c.name === plan.victim)!;
      const jobs = shortJobs(t, 12, 50, 100);
      t.note(`12 jobs for 4 consumers that each die at a command boundary: ${plans.map((plan) => `${plan.victim} ${plan.where}`).join("; ")}`);
      await p.add(jobs);
      const hits = await Promise.all(plans.map((plan) => Promise.race([plan.fired!, t.sleep(6000).then(() => undefined)])));
      // Who held what when they died: the pending list, just after the crashes.
      const pel = await pending(t);
      const held = new Map<string, string>();
      for (const [i, plan] of plans.entries()) {
        const hit = hits[i];
        const victim = victimOf(plan);
        if (!hit) {
          t.note(`${victim.name} never reached its crash point (${describeEnd(victim)}); it is killed now`);
          await victim.kill();
          continue;
        }
        for (const e of pel.filter((e) => e.consumer === victim.name)) held.set(e.entryId, `${victim.name} died ${plan.where} while it held this entry`);
        const carried = p.jobInCommand(hit);
        if (carried) held.set(p.entryOf(carried), `${victim.name} died ${plan.where}, the ${hit.args[0]} for ${carried.id}`);
      }
      // Claiming after 2 s is claims-from-dead-consumer's business: here the grader ages what the dead hold.
      for (const e of pel.filter((e) => plans.some((plan) => plan.victim === e.consumer))) await agePending(t, e.entryId);
      const survivors = await p.start(2);
      t.note(
        `the grader ages the dead consumers' pending entries past 2 s; ${survivors.map((s) => s.name).join(" and ")} start: they must claim what the dead left pending and finish the rest`,
      );
      const all = [warmup, ...jobs];
      const blame = (job: Job) => held.get(p.entryOf(job));
      await p.untilPublished(all, 15_000, (missing) => ({
        message: `After 4 consumers died at command boundaries, ${missing.length} job(s) were never published: ${missing.map((j) => `${j.id}${blame(j) ? ` (${blame(j)})` : ""}`).join("; ")}.`,
        hint: `Acknowledge an entry only in the step that publishes its output, after handle() returned: until then it stays pending and a surviving consumer's XAUTOCLAIM takes it over after 2 s. Acked first (or published in a separate command after the ack), a crash in between loses the job.`,
      }));
      await p.settle();
      await t.sleep(300);
      await p.assertPublishedOnce(all, {
        faults: "after 4 consumers died at command boundaries",
        hintDuplicate: `Published in one command and acknowledged in another, a consumer that dies in between leaves the entry pending with its output already out: the claimer publishes it again. Publish, XACK and XDEL in one atomic step (a Lua script or MULTI/EXEC).`,
        blame,
      });
      await p.assertDrained("after 4 consumers died at command boundaries");
      p.assertAlive(survivors, "while claiming the dead consumers' entries");
    },

    "paused-consumer-fenced": async (t) => {
      const p = new Pipeline(t);
      // Processes, not instances: only a process can be paused (SIGSTOP).
      const consumers = await p.start(2, { process: true });
      await p.untilGroup(5000);
      await waitUntil(t, async () => (await blockedClients(t)) >= 2, 1500);
      t.proxy.setLatency({ ms: 3, jitterMs: 3 });
      const job = newJob(t, 700);
      await p.add([job]);
      const entryId = p.entryOf(job);
      const { consumer: paused } = await p.runningJob([job]);
      const claimer = consumers.find((c) => c !== paused)!;
      await expectPendingFor(t, entryId, job, paused);
      const delay = Math.floor(t.random() * 200);
      await t.sleep(delay);
      paused.proc.pause();
      if ((await effects(t)).done.includes(job.id))
        throw new Error(`${job.id} finished before ${paused.name} could be paused; the machine is too slow for this check`);
      t.note(`SIGSTOP ${paused.name} ${delay} ms into ${job.id} (0.7 s of work); ${claimer.name} should claim its entry once it has been idle 2 s`);
      const claimed = await waitUntil(t, async () => (await pendingEntry(t, entryId))?.consumer === claimer.name, CLAIM_MS + BLOCK_MS + SLACK_MS + 1000);
      if (!claimed) {
        const now = await pendingEntry(t, entryId);
        paused.proc.resume();
        t.fail({
          message: `The entry of job ${job.id} stayed with ${paused.name}, paused (SIGSTOP) for ${((CLAIM_MS + BLOCK_MS + SLACK_MS + 1000) / 1000).toFixed(1)} s: ${claimer.name} never claimed it.`,
          expected: `claimed by ${claimer.name} once pending 2000 ms`,
          actual: now ? `pending for ${now.consumer}, idle ${now.idleMs} ms, delivered ${now.deliveries}×` : "not pending",
          hint: `A paused consumer looks dead from outside: its entries age in the pending list like a dead one's. XAUTOCLAIM ${STREAM} ${GROUP} <workerName> 2000 0-0 COUNT 1 on every pass takes them over.`,
        });
      }
      // The claimer now runs the job (0.7 s). Until it sends its own commit (a command carrying the
      // entry's id or the job's output), any change to the entry is the resumed consumer's doing.
      // Whatever Redis applied before a snapshot was logged by the proxy before it, so the log read
      // after the snapshot tells whether the claimer can have caused what the snapshot shows.
      const claimedAt = t.logPosition();
      paused.proc.resume();
      t.note(`resume ${paused.name}: its handler finishes at once, but ${claimer.name} owns the entry now and is running the job`);
      const output = outputOf(job);
      const claimerCommitting = () =>
        t.commands().some((e) => e.seq > claimedAt && e.owner === claimer.name && e.args.slice(1).some((a) => a === entryId || a.includes(output)));
      const seen: { wrong: string | null } = { wrong: null };
      await waitUntil(
        t,
        async () => {
          const replies = await t.redis.multi().xpending(STREAM, GROUP, entryId, entryId, 1).xrange(RESULTS, "-", "+").exec();
          const [pel, rows] = (replies ?? []).map(([, value]) => value) as [[string, string, number, number][], [string, string[]][]];
          if (claimerCommitting()) return true;
          const entry = pel[0];
          if (rows.some(([, fields]) => fieldMap(fields).get("id") === job.id))
            seen.wrong = `${job.id} was published while ${claimer.name} still owned its entry and was running it: ${paused.name}, resumed, published it`;
          else if (!entry)
            seen.wrong = `the entry left the pending list while ${claimer.name} still owned it and was running the job: ${paused.name}, resumed, acknowledged an entry it no longer owned`;
          else if (entry[1] !== claimer.name) seen.wrong = `the entry was taken back by ${entry[1]} while ${claimer.name} was running it`;
          return seen.wrong !== null;
        },
        job.ms + 3000,
        5,
      );
      if (seen.wrong) {
        t.fail({
          message: `${paused.name} was paused mid-job past the claim threshold and ${claimer.name} claimed its entry; then ${seen.wrong}.`,
          expected: `the resumed ${paused.name} publishes nothing and acknowledges nothing: the entry is ${claimer.name}'s`,
          actual: `pending: ${(await pending(t)).map((e) => `${e.entryId} (${e.consumer})`).join(", ") || "(none)"}; published ×${timesPublished(await published(t), job.id)}`,
          hint: fenceHint,
        });
      }
      await p.untilPublished([job], 6000, () => ({
        message: `Job ${job.id}, claimed by ${claimer.name} from paused ${paused.name}, was never published.`,
        hint: fenceHint,
      }));
      await t.sleep(300);
      await p.assertPublishedOnce([job], {
        faults: `after ${paused.name} was paused past the claim threshold and resumed`,
        hintDuplicate: `When its handler returned, ${paused.name} no longer owned the entry. ${fenceHint}`,
      });
      await p.assertDrained(`after ${paused.name} was paused and resumed`);
      p.assertAlive(consumers, `after ${paused.name} was paused and resumed`);
    },

    "concurrent-claimers": async (t) => {
      const p = new Pipeline(t);
      // A consumer that died earlier, consumer-0, left 10 entries pending for 5 s; 4 more are new.
      const stuck = shortJobs(t, 10, 50, 100);
      await p.add(stuck);
      await t.redis.xgroup("CREATE", STREAM, GROUP, "0");
      await t.redis.xreadgroup("GROUP", GROUP, "consumer-0", "COUNT", stuck.length, "STREAMS", STREAM, ">");
      await t.redis.call("XCLAIM", STREAM, GROUP, "consumer-0", "0", ...stuck.map((j) => p.entryOf(j)), "IDLE", "5000", "JUSTID");
      const fresh = shortJobs(t, 4, 50, 100);
      await p.add(fresh);
      const latency = 40 + Math.floor(t.random() * 30);
      t.proxy.setLatency({ ms: latency, jitterMs: 30 });
      t.note(
        `consumer-0 died holding 10 entries, pending for 5 s; 4 more are new. 3 consumers start at once (the group exists) with replies ${latency}±30 ms late, and race to claim the stuck entries`,
      );
      const claims = new ClaimWatch(t);
      // Instances start at the same moment, so their first claims collide.
      const consumers = await p.start(3);
      const all = [...stuck, ...fresh];
      await p.untilPublished(all, 15_000, (missing) => ({
        message: `${missing.length} of 14 jobs (10 left pending by dead consumer-0, 4 new) were not published within 15 s by 3 consumers.`,
        hint: `The group already exists when these consumers start (BUSYGROUP: carry on). ${consumerHint}`,
      }));
      await t.sleep(200);
      p.assertAlive(consumers, "while racing the others for the entries dead consumer-0 left pending");
      await claims.assertNoEarlyClaim(p, "while 3 consumers raced for the entries dead consumer-0 left pending");
      await p.assertPublishedOnce(all, { faults: "by 3 consumers racing for the stuck entries", hintDuplicate: fenceHint });
      await p.assertDrained("by 3 consumers racing for the stuck entries");
    },

    "handler-failures": async (t) => {
      const p = new Pipeline(t);
      const consumers = await p.start(2);
      await p.untilGroup(5000);
      t.proxy.setLatency({ ms: 3, jitterMs: 3 });
      const throwing = newJob(t, 100, { fail: "throw" });
      const stalling = newJob(t, 150, { stallMs: STALL_MS });
      const jobs = shuffled(t, [throwing, stalling, ...shortJobs(t, 4)]);
      t.fault(`handler throws for ${throwing.id} on its first attempt`);
      t.fault(`handler stalls for ${stalling.id}: ${STALL_MS / 1000} s on its first attempt, past the 2 s claim threshold`);
      await p.add(jobs);
      await p.untilPublished(jobs, 15_000, (missing) => ({
        message: `${missing.length} of ${jobs.length} jobs were not published within 15 s: ${missing.map((j) => (j === throwing ? `${j.id} (its handler threw on the first attempt)` : j === stalling ? `${j.id} (its handler stalled 3 s on the first attempt)` : j.id)).join(", ")}.`,
        hint: `A handler that throws must leave its entry pending (no ack, nothing published), so it is claimed again after 2 s and retried. Acknowledging it "so it does not block the queue" loses the job. ${loopHint}`,
      }));
      // The stalled first attempt ends 3 s after it began; its consumer then tries to commit.
      await waitUntil(t, async () => countOf((await effects(t)).done, stalling.id) >= 2, STALL_MS + 2000, 25);
      await t.sleep(300);
      const holder = await t.redis.hget(WORKER, throwing.id);
      p.assertAlive(consumers, `after the handler threw for ${throwing.id}${holder ? ` (last run by ${holder})` : ""}, or stalled 3 s for ${stalling.id}`);
      await p.assertPublishedOnce(jobs, {
        faults: `when the handler threw for ${throwing.id} and stalled for ${stalling.id}`,
        hintDuplicate: `A handler that returns after its entry was claimed by another consumer belongs to a consumer that no longer owns the entry. ${fenceHint}`,
        blame: (j) =>
          j === throwing
            ? "its handler threw on the first attempt"
            : j === stalling
              ? "its handler stalled 3 s on the first attempt, and was claimed meanwhile"
              : undefined,
      });
      await p.assertDrained(`when the handler threw for ${throwing.id} and stalled for ${stalling.id}`);
    },

    "commit-faults": async (t) => {
      const p = new Pipeline(t);
      const consumers = await p.start(2);
      await p.untilGroup(5000);
      t.proxy.setLatency({ ms: 3, jitterMs: 3 });
      const warmup = shortJobs(t, 2, 50, 30);
      await p.add(warmup);
      await p.untilPublished(warmup, 8000, () => ({ message: "2 jobs were not published within 8 s by 2 healthy consumers.", hint: consumerHint }));
      const commit = commitCommand(t, warmup[1]!) ?? commitCommand(t, warmup[0]!);
      if (!commit) {
        return t.fail({
          message: `Jobs were published, but no command your consumers sent carried their output.`,
          hint: `Publish handle's return value yourself: XADD ${RESULTS} * id <job id> output <output>, inside the commit step.`,
        });
      }
      const entryIds = new Set(warmup.map((j) => p.entryOf(j)));
      const acksAlone = t.commands("XACK").some((e) => e.owner !== undefined && e.args.some((a) => entryIds.has(a)));
      // The next commit is refused; the one after it reaches Redis twice (a client that retried it).
      const again = commit.inMulti ? "EXEC" : commit.name;
      let mark = t.logPosition();
      t.proxy.failNext(1, { match: commit.name });
      t.proxy.duplicateNext(1, { match: again });
      const batch = shortJobs(t, 4, 80, 80);
      t.note(
        `Redis refuses the next ${commit.name} (the command that carried an output), and the ${again} after it reaches Redis twice; an entry a refusal leaves pending is aged past 2 s, so it is claimed again at once`,
      );
      await p.add(batch);
      const refused = await faultFired(t, mark, "failNext", commit.name, 4000);
      const doubled = await faultFired(t, mark, "duplicate", again, 4000);
      const faultOf = new Map<string, string>();
      const refusedJob = refused && p.jobInCommand(refused);
      if (refusedJob) faultOf.set(refusedJob.id, `Redis refused its ${commit.name}`);
      // What the refusal left pending is aged past 2 s, so it is claimed and committed again now.
      if (refusedJob) await agePending(t, p.entryOf(refusedJob));
      const doubledJob = doubled && p.jobInCommand(doubled);
      if (doubledJob) faultOf.set(doubledJob.id, `its ${again} reached Redis twice`);
      if (!refused || !doubled) t.note(`not every fault met a commit (refused: ${refused ? "yes" : "no"}, duplicated: ${doubled ? "yes" : "no"})`);
      const all = [...warmup, ...batch];
      if (acksAlone && commit.name !== "XACK") {
        // The consumers acknowledge with an XACK of its own: refuse one.
        mark = t.logPosition();
        t.proxy.failNext(1, { match: "XACK" });
        const more = shortJobs(t, 2, 80, 80);
        t.note("Redis refuses the next XACK");
        await p.add(more);
        all.push(...more);
        const ack = await faultFired(t, mark, "failNext", "XACK", 4000);
        const ackJob = ack && p.jobInCommand(ack);
        if (ackJob) faultOf.set(ackJob.id, "Redis refused its XACK");
        if (ackJob) await agePending(t, p.entryOf(ackJob));
      }
      await p.untilPublished(all, 12_000, (missing) => ({
        message: `${missing.length} job(s) were never published after Redis refused a commit: ${missing.map((j) => `${j.id}${faultOf.has(j.id) ? ` (${faultOf.get(j.id)})` : ""}`).join(", ")}.`,
        hint: `A commit that fails changed nothing: leave the entry pending (catch the error, carry on), and it is claimed and committed again after 2 s. If the ack can succeed while the publish fails, the job is lost: make them one step.`,
      }));
      // A refused ack left its entry pending (aged, so claimed at once): a second publication shows up now.
      await p.settle();
      await t.sleep(300);
      await p.assertPublishedOnce(all, {
        faults: "after Redis refused one commit and received another twice",
        hintDuplicate: `A publish and an ack sent as separate commands are not one step: when the ack fails (or a retried publish reaches Redis twice) the output goes out twice. Commit in one atomic step that does nothing if the entry is no longer pending for this consumer, so a commit that runs twice, or after a claim, publishes once. ${fenceHint}`,
        blame: (j) => faultOf.get(j.id),
      });
      await p.assertDrained("after Redis refused and duplicated commits");
      p.assertAlive(consumers, "after Redis refused a commit");
    },
  },
});

interface GroupState {
  lastDelivered: string;
  /** Entries delivered through the group with ">" (Redis 7 reports it). */
  entriesRead: number | null;
  pending: number;
  consumers: string[];
}

/** The group as Redis keeps it: how far it has delivered, what is unacknowledged, who is in it. */
async function groupState(t: CheckContext): Promise<GroupState | null> {
  const groups = (await t.redis.xinfo("GROUPS", STREAM)) as unknown[][];
  const raw = groups.find((g) => g[1] === GROUP);
  if (!raw) return null;
  const info = fieldMap(raw.map(String));
  const consumers = ((await t.redis.xinfo("CONSUMERS", STREAM, GROUP)) as unknown[][]).map((c) => String(c[c.indexOf("name") + 1]));
  const read = info.get("entries-read");
  return {
    lastDelivered: String(info.get("last-delivered-id")),
    entriesRead: read === undefined || read === "null" ? null : Number(read),
    pending: Number(info.get("pending")),
    consumers,
  };
}

/**
 * The group itself must show the work: every entry delivered through it (its last-delivered id at
 * the stream's last entry) and each job run by a consumer the group knows. Jobs done right while
 * the group sat unused are a queue built beside the group.
 */
async function assertThroughGroup(t: CheckContext, p: Pipeline, jobs: Job[]): Promise<void> {
  const last = p.entryOf(jobs.at(-1)!);
  const state = await groupState(t);
  if (!state)
    return t.fail({
      message: `The consumer group '${GROUP}' is gone from '${STREAM}'.`,
      hint: `Create it once (XGROUP CREATE ${STREAM} ${GROUP} 0 MKSTREAM) and never destroy it.`,
    });
  if (state.lastDelivered !== last || (state.entriesRead !== null && state.entriesRead < jobs.length)) {
    t.fail({
      message: `Every job was published, but the group '${GROUP}' did not hand them out: it has delivered entries only up to ${state.lastDelivered}${state.entriesRead === null ? "" : ` (${state.entriesRead} of ${jobs.length})`}.`,
      expected: `the group's last-delivered id at the stream's last entry, ${last}`,
      actual: `XINFO GROUPS ${STREAM}: last-delivered-id ${state.lastDelivered}, pending ${state.pending}`,
      hint: `Take new entries from the group: XREADGROUP GROUP ${GROUP} <workerName> COUNT 1 BLOCK 500 STREAMS ${STREAM} >. The group then remembers what it handed to whom, which is what lets a dead consumer's entries be found and claimed; a cursor or a read of your own keeps none of that.`,
    });
  }
  const ranBy = await t.redis.hmget(WORKER, ...jobs.map((j) => j.id));
  const strangers = [...new Set(ranBy.filter((name): name is string => name !== null && !state.consumers.includes(name)))];
  if (strangers.length > 0) {
    t.fail({
      message: `Jobs were run by ${strangers.join(", ")}, which ${strangers.length === 1 ? "is not a consumer" : "are not consumers"} of the group '${GROUP}'.`,
      expected: `each job run by the consumer the group delivered it to`,
      actual: `consumers of '${GROUP}': ${state.consumers.join(", ") || "(none)"}`,
      hint: `Read as the consumer named after the process: XREADGROUP GROUP ${GROUP} <workerName> …, and XAUTOCLAIM … <workerName> ….`,
    });
  }
}
