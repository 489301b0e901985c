import { defineChecks, QueueHistory, type CheckContext, type LearnerProcess, type QueueEvent, type RpcModule } from "../../lib/grader/index.ts";
import type { CommandLogEntry } from "../../lib/runner/chaos-proxy.ts";

/** A task as handler.ts defines it: `first` says how its first attempt goes instead. */
interface Task {
  id: string;
  ms: number;
  first?: { ms?: number; fail?: "throw" | "reject" | "hang" };
}

// The keys handler.ts writes (instructions.md names them). The grader reads nothing else by name:
// where the learner's queue keeps a task it finds by searching the whole keyspace for its id.
const STARTED = "effects:started";
const DONE = "effects:done";
const FAILED = "effects:failed";
const EFFECTS = "effects:";

// The numbers instructions.md states, which the checks hold.
const LEASE_MS = 1000;
const REAPER_MS = 250;
const IDLE_MS = 50;
const HANDLER_TIMEOUT_MS = 3000;
/** A task whose holder stopped renewing its lease is started again within this of the last renewal: the lease, a reaper round, an idle poll. */
const RETURN_MS = LEASE_MS + REAPER_MS + IDLE_MS;
/** What the grader adds to a stated upper bound (a "must happen within") for a loaded 2-core machine. */
const SLACK_MS = 700;
/**
 * A holder that sent Redis nothing for this long lost its lease fairly (the machine did not run
 * it, or the grader paused it), so its task starting again is correct. Below the lease, so that a
 * worker whose heartbeats were merely late by a scheduling hiccup is never blamed; above any gap a
 * live worker leaves (it heartbeats or reaps every 250 ms).
 */
const STARVED_MS = 900;
/** A gap in a live worker's commands longer than this is time the machine did not run it, and is added to a deadline. */
const STALL_GAP_MS = 300;
const MAX_ALLOWANCE_MS = 4000;
/** How often the grader looks at Redis while a check runs. */
const POLL_MS = 25;

// Workers outlive a single RPC call, so they get more wall time than the sandbox's default.
const LIMITS = { wallMs: 40_000 };

const between = (t: CheckContext, low: number, high: number) => low + Math.floor(t.random() * (high - low + 1));

function shuffled<T>(t: CheckContext, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(t.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;

/**
 * Counts, in one atomic step, where each id occurs in the learner's keys (every key not under
 * effects:): as an entry of a list, sorted set or stream (where a queue keeps what waits or is in
 * flight), and anywhere else (key names, hash fields and values, set members, strings). Read with
 * the grader's own connection, in a script, so no command of the learner's lands halfway through
 * the reading and a task moving from one key to another is never seen in neither.
 */
const PRESENCE = `
local n = #ARGV
local entries, other = {}, {}
for i = 1, n do entries[i] = 0; other[i] = 0 end
local function look(text, into)
  for i = 1, n do
    if string.find(text, ARGV[i], 1, true) then into[i] = into[i] + 1 end
  end
end
for _, key in ipairs(redis.call('KEYS', '*')) do
  if string.sub(key, 1, 8) ~= 'effects:' then
    look(key, other)
    local kind = redis.call('TYPE', key)['ok']
    if kind == 'list' then
      for _, v in ipairs(redis.call('LRANGE', key, 0, -1)) do look(v, entries) end
    elseif kind == 'zset' then
      for _, v in ipairs(redis.call('ZRANGE', key, 0, -1)) do look(v, entries) end
    elseif kind == 'stream' then
      for _, e in ipairs(redis.call('XRANGE', key, '-', '+')) do look(e[1] .. '\\0' .. table.concat(e[2], '\\0'), entries) end
    elseif kind == 'set' then
      for _, v in ipairs(redis.call('SMEMBERS', key)) do look(v, other) end
    elseif kind == 'hash' then
      for _, v in ipairs(redis.call('HGETALL', key)) do look(v, other) end
    elseif kind == 'string' then
      look(redis.call('GET', key), other)
    end
  end
end
local out = {}
for i = 1, n do out[2 * i - 1] = entries[i]; out[2 * i] = other[i] end
return out`;

interface Presence {
  /** Entries of lists, sorted sets and streams holding the id: copies of the task in a queue. */
  entries: number;
  /** Everything else that holds it (key names, hashes, sets, strings). */
  other: number;
}
const present = (p: Presence | undefined) => p !== undefined && p.entries + p.other > 0;

/**
 * A worker as the grader runs it: main(workerName) in an instance of the run's shared sandbox
 * (cheap to start, killed as SIGKILL would), or in a process of its own where a check pauses it.
 * In an instance, main returning or throwing ends the worker as a process's exit would.
 */
class Worker {
  private ended: string | null = null;

  constructor(
    readonly proc: LearnerProcess,
    main?: Promise<unknown>,
  ) {
    main?.then(
      () => void (this.ended ??= "main() returned (a worker's main must loop forever; the grader takes its return for the worker's end)"),
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

  describe(): string {
    const o = this.proc.outcome;
    if (!o) return this.ended ? `${this.name}: ${this.ended}` : `${this.name} is running`;
    return `${this.name} ${o.kind === "exited" ? `exited with code ${o.code}` : o.kind === "signalled" ? `was stopped by ${o.signal}` : o.message}`;
  }
}

/** One attempt at a task: a start the handler recorded (and Redis applied), and how it ended. */
interface Attempt {
  id: string;
  by: string;
  at: number;
  seq: number;
  /**
   * When the worker took it from the queue: its command whose reply carried the task (a claim
   * that returns the task's JSON), or, when no reply shows it, the start.
   */
  claimedAt: number;
  /**
   * The holder's last command before its claim: the lease's clock may have started as early as
   * that (a program the machine stalls between reading Date.now() and sending its claim sends
   * it late), so its silence is measured from there.
   */
  quietFrom: number;
  done?: CommandLogEntry;
  failed?: CommandLogEntry;
}

/** What the command log says happened, up to one position: the attempts at each task. */
interface Model {
  upTo: number;
  log: CommandLogEntry[];
  attempts: Map<string, Attempt[]>;
  /** Effects recorded with no attempt of the same program before them (run outside a claim). */
  strayDones: Map<string, CommandLogEntry[]>;
  /** The log's latest time (ms on the log's clock). */
  now: number;
}

const isStart = (e: CommandLogEntry) => e.args[0] === "RPUSH" && e.args[1] === STARTED;
const isDone = (e: CommandLogEntry) => e.args[0] === "RPUSH" && e.args[1] === DONE;
const isFailed = (e: CommandLogEntry) => e.args[0] === "RPUSH" && e.args[1] === FAILED;
const stoppedBefore = (e: CommandLogEntry) => e.fault?.includes("stops before") === true;
/** Redis applied it (or will: its reply is on the way). */
const appliedAlone = (e: CommandLogEntry) => e.reply?.type !== "error" && !stoppedBefore(e);

/**
 * The handler's records (starts, dones, failures) that Redis applied, in log order. The start is
 * written inside MULTI, so it counts only once the EXEC that carried it was applied: a worker that
 * dies between the MULTI and the EXEC started nothing.
 */
function effectRecords(log: CommandLogEntry[]): CommandLogEntry[] {
  const out: CommandLogEntry[] = [];
  const open = new Map<number, CommandLogEntry[]>();
  for (const e of log) {
    const name = e.args[0];
    if (name === "MULTI") {
      if (e.reply?.type !== "error") open.set(e.conn, []);
      continue;
    }
    if (name === "EXEC" || name === "DISCARD") {
      const queued = open.get(e.conn);
      open.delete(e.conn);
      if (queued && name === "EXEC" && appliedAlone(e) && e.reply?.summary !== "(nil)") out.push(...queued);
      continue;
    }
    if (!isStart(e) && !isDone(e) && !isFailed(e)) continue;
    const queued = open.get(e.conn);
    if (queued) {
      if (e.reply?.type !== "error") queued.push(e);
    } else if (appliedAlone(e)) out.push(e);
  }
  return out.sort((a, b) => a.seq - b.seq);
}

/** The worker's command, shortly before `start`, whose reply carried the task: its claim. */
function claimOf(log: CommandLogEntry[], index: number, id: string, by: string): CommandLogEntry | undefined {
  for (let i = index - 1; i >= 0 && i >= index - 500; i--) {
    const e = log[i]!;
    if (e.owner === by && e.reply?.summary.includes(id) && !e.args.some((a) => a.startsWith(EFFECTS))) return e;
  }
  return undefined;
}

/**
 * `cuts`: where the grader cut every connection (log seqs). ioredis sends again what it had in
 * flight when its connection drops, so a done written just before a cut may reach Redis twice:
 * the handler's effect, repeated by the client library, which the next lab makes idempotent.
 */
function buildModel(log: CommandLogEntry[], upTo: number, cuts: number[] = []): Model {
  const attempts = new Map<string, Attempt[]>();
  const strayDones = new Map<string, CommandLogEntry[]>();
  const index = new Map(log.map((e, i) => [e.seq, i]));
  for (const e of effectRecords(log)) {
    const id = e.args[2] ?? "";
    const by = e.owner ?? "?";
    const mine = attempts.get(id) ?? [];
    if (isStart(e)) {
      const claim = claimOf(log, index.get(e.seq) ?? 0, id, by);
      const from = index.get((claim ?? e).seq) ?? 0;
      let quietFrom = claim?.at ?? e.at;
      for (let i = from - 1; i >= 0; i--) {
        if (log[i]!.owner !== by) continue;
        quietFrom = log[i]!.at;
        break;
      }
      mine.push({ id, by, at: e.at, seq: e.seq, claimedAt: claim?.at ?? e.at, quietFrom });
      attempts.set(id, mine);
      continue;
    }
    const attempt = mine.findLast((a) => a.by === by && a.seq < e.seq && !a.done && !a.failed);
    const resent = mine.findLast((a) => a.by === by && a.seq < e.seq)?.done;
    if (!attempt && resent && isDone(e) && cuts.some((seq) => seq > resent.seq && seq < e.seq)) continue;
    if (attempt && isDone(e)) attempt.done = e;
    else if (attempt) attempt.failed = e;
    else if (isDone(e)) strayDones.set(id, [...(strayDones.get(id) ?? []), e]);
  }
  return { upTo, log, attempts, strayDones, now: log.at(-1)?.at ?? 0 };
}

/** The longest stretch in [from, to] (log clock) in which `owner` sent Redis nothing. */
function longestSilence(log: CommandLogEntry[], owner: string, from: number, to: number): number {
  let last = from;
  let longest = 0;
  for (const e of log) {
    if (e.owner !== owner || e.at < from) continue;
    if (e.at > to) break;
    longest = Math.max(longest, e.at - last);
    last = e.at;
  }
  return Math.max(longest, to - last);
}

interface Expectation {
  label: string;
  /** Once true (the clock starts when the grader first sees it), `met` must follow within `withinMs`. */
  start: (m: Model) => boolean;
  met: (m: Model) => boolean;
  withinMs: number;
  /** Whose stalls (time the machine did not run them) lengthen the wait. */
  workers: () => Worker[];
  failure: (m: Model) => { message: string; expected?: string; hint: string };
  startedAt?: { wall: number; log: number };
}

const goneHint =
  "From enqueue until it is acknowledged after handle returned, a task must be in Redis at every instant, so that whoever outlives its worker can find it: claim it by moving it, in one atomic step, from the queue to a lease (a Lua script); ack only after handle returned; and ack and heartbeat only the lease of your own claim.";
const workerHint =
  "main(workerName) should loop forever: claim a task with a lease, run handle(task) from handler.ts with a heartbeat beside it, then ack it; when the queue is empty, wait about 50 ms and try again. Keep each pass inside try/catch.";
const fenceHint =
  "Give every claim a lease id of its own (a random id, or an attempt number), keep the lease under that id, and have heartbeat and ack touch only that id: ZADD … XX <deadline> <leaseId> extends it only while it exists, and the ack removes exactly it. A worker paused past its lease then finds nothing of its own to extend or remove, and leaves the new holder's lease alone.";
const fifoHint =
  "Claim takes the oldest waiting task: enqueue appends at one end (RPUSH) and claim takes from the other (LPOP), so the queue is first in, first out. Pushing and popping at the same end (LPUSH with LPOP) makes a stack: the newest task goes first and the oldest waits behind every task that comes after it.";
const aliveHint =
  "Nothing the queue meets may stop a worker: a refused command, a cut connection, a lease found lost, a handler that throws. Catch it, log it, and go on with the next pass of the loop; a timer's callback needs its own catch (an unhandled rejection ends the process).";

/**
 * One check's queue as the grader watches it: the tasks it enqueued, the workers it started, and
 * every rule the instructions promise, checked against Redis and the command log each time the
 * grader looks (every 25 ms while it waits):
 * - a task enqueued and not yet done, or whose latest attempt is still running, is somewhere in
 *   Redis (outside effects:*): the queue keeps it, not a worker's memory;
 * - a task starts again only if its previous holder lost its lease fairly: killed, paused or
 *   starved (silent for 900 ms), or its handler failed;
 * - no worker dies unless the grader killed it.
 * A violation fails the check at once, with the task's history.
 */
class Bench {
  readonly tasks = new Map<string, Task>();
  readonly workers: Worker[] = [];
  private readonly enqueued = new Set<string>();
  private readonly gone = new Map<string, number>();
  private readonly excused = new Set<string>();
  private readonly expectations: Expectation[] = [];
  private producer: Promise<RpcModule> | null = null;
  private nextWorker = 1;

  /** A fresh worker name: a name is never reused, since a crash point freezes every connection of its owner. */
  workerName(): string {
    return `worker-${this.nextWorker++}`;
  }
  private readonly since: number;
  /** What the grader is doing now, for failure messages ("after worker-1 was paused past its lease"). */
  scene = "";
  /** Claims must follow the queue's order, up to this many ms (null: not checked). */
  fifoSlackMs: number | null = null;
  /** A hint for a task gone from Redis, where the check knows the likely cause. */
  goneHint = goneHint;
  last: { model: Model; presence: Map<string, Presence> } | null = null;

  constructor(private readonly t: CheckContext) {
    this.since = t.logPosition();
  }

  task(ms: number, first?: Task["first"]): Task {
    // Ids come from the runner's CSPRNG, never from the seed: a worker learns of a task only from
    // the queue. The seed decides only durations and which tasks fail.
    const task: Task = first ? { id: this.t.id("task"), ms, first } : { id: this.t.id("task"), ms };
    this.tasks.set(task.id, task);
    return task;
  }

  /** Enqueues through the learner's own enqueue, from a program that never runs main, all at once. */
  async enqueue(tasks: Task[]): Promise<void> {
    this.producer ??= this.t.load("queue.ts", { name: "producer", limits: LIMITS });
    const producer = await this.producer;
    await Promise.all(
      tasks.map(async (task) => {
        await producer.call("enqueue", [task]);
        this.enqueued.add(task.id);
      }),
    );
  }

  /** Loads the producer ahead of time, beside starting workers. */
  warmProducer(): void {
    this.producer ??= this.t.load("queue.ts", { name: "producer", limits: LIMITS });
  }

  /**
   * Starts n workers (instances, or processes where the check pauses one) and waits until each
   * is talking to Redis: a worker still connecting when its first claim goes out may hold that
   * claim in its client's queue for longer than a lease on a loaded machine.
   */
  async startWorkers(n: number, options: { process?: boolean } = {}): Promise<Worker[]> {
    const t = this.t;
    const names = Array.from({ length: n }, () => this.workerName());
    const started = options.process
      ? names.map((name) => new Worker(t.spawn("queue.ts", { name, limits: LIMITS })))
      : await Promise.all(
          names.map(async (name) => {
            const rpc = await t.load("queue.ts", { name, limits: LIMITS });
            return new Worker(rpc, rpc.call("main", [name], 10 * 60_000));
          }),
        );
    this.workers.push(...started);
    const silent = () => started.filter((w) => w.alive && !t.commands().some((e) => e.owner === w.name));
    const limitMs = options.process ? 10_000 : 5000;
    const deadline = performance.now() + limitMs;
    while (silent().length > 0) {
      this.assertAlive();
      if (performance.now() > deadline) {
        t.fail({
          message: `${plural(silent().length, "worker")} sent Redis nothing within ${limitMs / 1000} s of starting.`,
          expected: "each worker polling the queue as soon as main(workerName) runs",
          actual: silent()
            .map((w) => w.describe())
            .join(", "),
          hint: workerHint,
        });
      }
      await t.sleep(POLL_MS);
    }
    return started;
  }

  /** Kills a worker (SIGKILL, or its instance as SIGKILL would). */
  async kill(worker: Worker): Promise<void> {
    await worker.proc.kill();
  }

  private killedAfter(name: string, seq: number, before = Infinity): boolean {
    return this.t.proxy.log.some((e) => e.conn === 0 && e.seq > seq && e.seq < before && e.fault === `kill ${name}`);
  }

  private pausedBetween(name: string, seq: number, before: number): boolean {
    return this.t.proxy.log.some((e) => e.conn === 0 && e.seq > seq && e.seq < before && e.fault === `pause ${name}`);
  }

  private killedByGrader(name: string): boolean {
    return this.killedAfter(name, this.since);
  }

  /** Fails if a worker the grader did not kill has died. */
  assertAlive(): void {
    const dead = this.workers.filter((w) => !w.alive && !this.killedByGrader(w.name));
    if (dead.length === 0) return;
    this.t.fail({
      message: `${dead.map((w) => w.describe()).join("; ")}${this.scene ? `, ${this.scene}` : ""}. Nothing killed ${dead.length === 1 ? "it" : "them"}: a worker must outlive everything it meets.`,
      expected: "every worker the grader did not kill still running",
      actual: dead.map((w) => `${w.name}: ${w.proc.output().slice(-700) || "(printed nothing)"}`).join("\n"),
      hint: aliveHint,
    });
  }

  /** Where each enqueued task is in Redis right now (one atomic read), and the log up to then. */
  async look(ids: string[] = [...this.enqueued]): Promise<{ model: Model; presence: Map<string, Presence> }> {
    const t = this.t;
    const raw = ids.length > 0 ? ((await t.redis.eval(PRESENCE, 0, ...ids)) as number[]) : [];
    const presence = new Map(ids.map((id, i) => [id, { entries: raw[2 * i] ?? 0, other: raw[2 * i + 1] ?? 0 }]));
    // Every command Redis applied before the read reached the proxy, and its log, before it.
    const upTo = t.logPosition();
    const log = t.commands().filter((e) => e.seq <= upTo);
    const cuts = t.proxy.log.filter((e) => e.conn === 0 && e.seq > this.since && e.seq <= upTo && /^(cutAll|partition)/.test(e.fault ?? "")).map((e) => e.seq);
    return { model: buildModel(log, upTo, cuts), presence };
  }

  /** Looks, and fails at once on any broken rule. */
  async poll(): Promise<{ model: Model; presence: Map<string, Presence> }> {
    const ids = [...this.enqueued];
    const seen = await this.look(ids);
    this.last = seen;
    this.assertAlive();
    this.checkPresence(ids, seen.model, seen.presence);
    this.checkRestarts(seen.model);
    this.checkOrder(seen.model);
    this.checkExpectations(seen.model);
    return seen;
  }

  /** The attempts at a task, as of the last look. */
  attempts(id: string, model = this.last?.model): Attempt[] {
    return model?.attempts.get(id) ?? [];
  }

  isDone(id: string, model = this.last?.model): boolean {
    return this.attempts(id, model).some((a) => a.done) || (model?.strayDones.get(id)?.length ?? 0) > 0;
  }

  private checkPresence(ids: string[], model: Model, presence: Map<string, Presence>): void {
    for (const id of ids) {
      const mine = this.attempts(id, model);
      const latest = mine.at(-1);
      const running = latest !== undefined && !latest.done && !latest.failed;
      const done = this.isDone(id, model);
      if (present(presence.get(id))) continue;
      if (done && !running) {
        if (!this.gone.has(id)) this.gone.set(id, model.now);
        continue;
      }
      const task = this.tasks.get(id);
      const why = running
        ? done
          ? `${latest.by} was still running it (attempt ${mine.length}, started at ${this.rel(latest.at)}; an earlier attempt had finished)`
          : `${latest.by} was still running it (attempt ${mine.length}, started at ${this.rel(latest.at)}) and it was not done`
        : latest?.failed
          ? `its handler failed on ${latest.by} and it was never done: a failed task must run again`
          : task?.first?.fail === "throw"
            ? "it was never done (its handler throws synchronously on a worker's first try, before recording a start)"
            : "it was never done";
      this.t.fail({
        message: `Task ${id} is nowhere in your Redis (outside effects:*) although ${why}${this.scene ? `, ${this.scene}` : ""}: it was lost${running && done ? ", or someone removed the lease of the worker holding it" : ""}.`,
        expected: "every task in Redis from enqueue until it is acknowledged after its handler returned (a queue, a lease), so that it survives any worker",
        actual: this.history(id, model, "gone from Redis"),
        hint: this.goneHint,
      });
    }
  }

  /**
   * Every attempt after the first needs a reason: the one before it lost its lease fairly. A task
   * started again while its holder was alive, talking to Redis and still running it (or after it
   * finished) was handed out by a reaper that should not have.
   */
  private checkRestarts(model: Model): void {
    for (const [id, mine] of model.attempts) {
      for (let i = 1; i < mine.length; i++) {
        const before = mine[i - 1]!;
        const now = mine[i]!;
        const key = `${id}#${i}`;
        if (this.excused.has(key)) continue;
        const task = this.tasks.get(id);
        const reason = this.killedAfter(before.by, before.seq, now.seq)
          ? `${before.by} was killed`
          : this.pausedBetween(before.by, before.seq, now.seq)
            ? `${before.by} was paused`
            : before.failed || (i === 1 && task?.first?.fail === "hang")
              ? `its handler failed on ${before.by}`
              : longestSilence(model.log, before.by, before.quietFrom, now.at) >= STARVED_MS
                ? `${before.by} sent Redis nothing for ${Math.round(longestSilence(model.log, before.by, before.quietFrom, now.at))} ms while it held it (the machine did not run it)`
                : null;
        if (reason) {
          this.excused.add(key);
          if (!before.failed && !reason.includes("killed") && !reason.includes("paused") && !reason.includes("handler"))
            this.t.note(`${reason}: its lease ran out, so ${id} starting again is correct, and not held against you`);
          continue;
        }
        const silence = Math.round(longestSilence(model.log, before.by, before.quietFrom, now.at));
        this.t.fail({
          message: before.done
            ? `Task ${id} was started again by ${now.by} at ${this.rel(now.at)}, after ${before.by} had finished it at ${this.rel(before.done.at)}${this.scene ? `, ${this.scene}` : ""}: a finished task was handed out again.`
            : `Task ${id} was handed to ${now.by} at ${this.rel(now.at)} while ${before.by}, which had been running it since ${this.rel(before.at)}, was alive and talking to Redis (its longest silence: ${silence} ms)${this.scene ? `, ${this.scene}` : ""}.`,
          expected: "a task started again only once its holder stopped renewing its lease for 1000 ms (killed, paused, or its handler failed)",
          actual: `${this.history(id, model)}\n${before.by}'s commands meanwhile: ${this.commandsOf(model, before.by, before.claimedAt, now.at)}`,
          hint: before.done
            ? "Ack must remove the task's lease, the very record the reaper reads, once handle returns: a lease left behind runs out 1 s later and the reaper hands the finished task out again."
            : "The reaper took back a lease that had not run out. A lease lasts 1000 ms from the claim or the last heartbeat; the heartbeat renews it every 250 ms while handle runs, with deadline = Date.now() + 1000 (milliseconds, like Date.now()); the reaper requeues only leases whose deadline is below Date.now().",
        });
      }
    }
  }

  /**
   * Claims in the queue's order: a task claimed while an older one had been waiting for longer
   * than the slack. Only claims older than the slack are judged, so a task still about to be
   * claimed is not taken for one overtaken.
   */
  private checkOrder(model: Model, final = false): void {
    if (this.fifoSlackMs === null) return;
    const settled = final ? Infinity : model.now - this.fifoSlackMs - 20;
    // A claim counts from the worker command whose reply carried the task, even before the
    // handler records a start: a worker the machine stalls between the two has still claimed it.
    const workers = new Set(this.workers.map((w) => w.name));
    const carried = new Map<string, CommandLogEntry>();
    for (const e of model.log) {
      if (!e.owner || !workers.has(e.owner) || !e.reply || e.args.some((a) => a.startsWith(EFFECTS))) continue;
      for (const id of e.reply.summary.match(/task-[0-9a-z]{13}/g) ?? []) if (!carried.has(id)) carried.set(id, e);
    }
    const events: QueueEvent[] = [];
    for (const id of this.enqueued) {
      const enqueue = model.log.find((e) => e.owner === "producer" && e.args.some((a) => a.includes(id)));
      if (!enqueue) continue;
      events.push({ op: "enqueue", id, by: "producer", at: enqueue.at });
      const first = this.attempts(id, model)[0];
      const reply = carried.get(id);
      const at = Math.min(reply?.at ?? Infinity, first?.claimedAt ?? Infinity);
      if (at < Infinity) events.push({ op: "claim", id, by: reply?.owner ?? first?.by, at });
    }
    const history = new QueueHistory();
    history.add(events);
    const claimedAt = new Map(events.filter((e) => e.op === "claim").map((e) => [e.id, e.at]));
    const overtaken = history
      .violations({ order: "fifo", slackMs: this.fifoSlackMs, complete: false, once: false })
      .filter((v) => v.kind === "reordered" && (claimedAt.get(v.ids[1]!) ?? Infinity) < settled);
    const worst = overtaken[0];
    if (!worst) return;
    const origin = this.t.commands()[0]?.at ?? 0;
    this.t.fail({
      message: `Tasks were not claimed in the order they were enqueued${this.scene ? `, ${this.scene}` : ""}: ${worst.explain.replace(" and never claimed", `, and still was ${Math.round(model.now - (claimedAt.get(worst.ids[1]!) ?? model.now))} ms later`)}.`,
      expected: `the oldest waiting task claimed first (the grader allows ${this.fifoSlackMs} ms between workers' claims)`,
      actual: worst.slice.map((e) => `+${String(Math.round(e.at - origin)).padStart(5)} ms  ${e.op.padEnd(7)} ${e.id}${e.by ? `  by ${e.by}` : ""}`).join("\n"),
      hint: fifoHint,
    });
  }

  /** Registers a deadline: once `start` holds, `met` must within `withinMs` (plus time the machine did not run `workers`). */
  expect(expectation: Expectation): void {
    this.expectations.push(expectation);
  }

  private checkExpectations(model: Model): void {
    for (const x of this.expectations) {
      if (!x.startedAt) {
        if (x.start(model)) x.startedAt = { wall: performance.now(), log: model.now };
        continue;
      }
      if (x.met(model)) {
        this.expectations.splice(this.expectations.indexOf(x), 1);
        return this.checkExpectations(model);
      }
      const allowance = this.allowance(x.workers(), x.startedAt.log, model);
      if (performance.now() - x.startedAt.wall > x.withinMs + allowance) {
        const details = x.failure(model);
        this.t.fail({
          ...details,
          actual: this.state(model),
          message: `${details.message}${allowance > 0 ? ` (the grader waited ${((x.withinMs + allowance) / 1000).toFixed(1)} s, allowing ${allowance} ms in which the machine did not run your workers)` : ""}`,
        });
      }
    }
  }

  /** Time the machine did not run the live ones of `workers` since `from` (log clock): gaps in their commands beyond STALL_GAP_MS. */
  private allowance(workers: Worker[], from: number, model: Model): number {
    let most = 0;
    for (const w of workers.filter((x) => x.alive)) {
      const times = model.log.filter((e) => e.owner === w.name && e.at >= from).map((e) => e.at);
      let total = 0;
      let last = from;
      for (const at of [...times, model.now]) {
        total += Math.max(0, at - last - STALL_GAP_MS);
        last = at;
      }
      most = Math.max(most, total);
    }
    return Math.min(MAX_ALLOWANCE_MS, Math.round(most));
  }

  /** Polls until `condition` holds; fails with `onTimeout` after `timeoutMs` (plus stalls of `workers`). */
  async until(
    condition: (m: Model, presence: Map<string, Presence>) => boolean,
    timeoutMs: number,
    onTimeout: (m: Model) => { message: string; expected?: string; hint: string },
    workers: () => Worker[] = () => this.workers,
  ): Promise<void> {
    const start = await this.poll();
    const from = start.model.now;
    const wall = performance.now();
    for (let seen = start; ; seen = await this.poll()) {
      if (condition(seen.model, seen.presence)) return;
      const allowance = this.allowance(workers(), from, seen.model);
      if (performance.now() - wall > timeoutMs + allowance) {
        const details = onTimeout(seen.model);
        this.t.fail({ ...details, actual: this.state(seen.model) });
      }
      await this.t.sleep(POLL_MS);
    }
  }

  /** Keeps watching for `ms`: what would break shows up now (a second delivery, a lost lease). */
  async hold(ms: number): Promise<void> {
    const until = performance.now() + ms;
    do {
      await this.poll();
      await this.t.sleep(POLL_MS);
    } while (performance.now() < until);
  }

  /** Waits until every task is done. */
  async untilDone(tasks: Task[], timeoutMs: number, message: (missing: Task[]) => string, hint = workerHint): Promise<void> {
    await this.until(
      (m) => tasks.every((task) => this.isDone(task.id, m)),
      timeoutMs,
      (m) => ({ message: message(tasks.filter((task) => !this.isDone(task.id, m))), hint }),
    );
  }

  /** The worker running `task` (its latest attempt, not finished), once one is. */
  async untilRunning(task: Task, timeoutMs: number, what: string): Promise<Worker> {
    let found: Worker | undefined;
    await this.until(
      (m) => {
        const latest = this.attempts(task.id, m).at(-1);
        found = latest && !latest.done && !latest.failed ? this.workers.find((w) => w.name === latest.by && w.alive) : undefined;
        return found !== undefined;
      },
      timeoutMs,
      () => ({ message: `No worker started ${what} within ${(timeoutMs / 1000).toFixed(1)} s of it being enqueued.`, hint: workerHint }),
    );
    return found!;
  }

  /** "+1234 ms" on the check's timeline (the log's clock, from the first command of this check). */
  rel(at: number): string {
    const origin = this.t.commands()[0]?.at ?? at;
    return `+${Math.round(at - origin)} ms`;
  }

  /** A task's story as the grader saw it, for a failure: enqueue, each attempt, kills and pauses of its holders. */
  history(id: string, model: Model, end?: string): string {
    const origin = this.t.commands()[0]?.at ?? 0;
    const lines: { at: number; text: string }[] = [];
    const enqueue = model.log.find((e) => e.owner === "producer" && e.args.some((a) => a.includes(id)));
    if (enqueue) lines.push({ at: enqueue.at, text: `enqueued` });
    for (const a of this.attempts(id, model)) {
      lines.push({ at: a.at, text: `started by ${a.by}` });
      if (a.done) lines.push({ at: a.done.at, text: `done by ${a.by}` });
      if (a.failed) lines.push({ at: a.failed.at, text: `handler failed on ${a.by}` });
    }
    for (const d of model.strayDones.get(id) ?? []) lines.push({ at: d.at, text: `done by ${d.owner ?? "?"}, which had not started it` });
    for (const e of this.t.proxy.log) {
      if (e.conn !== 0 || e.seq <= this.since || e.seq > model.upTo || !e.fault) continue;
      const [verb, who] = e.fault.split(" ");
      if ((verb === "kill" || verb === "pause" || verb === "resume") && who?.startsWith("worker-")) lines.push({ at: e.at, text: `${verb} ${who}` });
      else if (/^(failNext [1-9]|duplicateNext [1-9]|cutAll|partition|latency [1-9])/.test(e.fault) || (e.fault.startsWith("handler ") && e.fault.includes(id)))
        lines.push({ at: e.at, text: `fault: ${e.fault}` });
    }
    lines.sort((a, b) => a.at - b.at);
    if (end) lines.push({ at: model.now, text: end });
    return lines.map((l) => `+${String(Math.round(l.at - origin)).padStart(5)} ms  ${l.text}`).join("\n");
  }

  /** What `owner` sent in [from, to] (log clock), briefly: "+120 EVAL, +370 ZADD, …". */
  commandsOf(model: Model, owner: string, from: number, to: number): string {
    const sent = model.log.filter((e) => e.owner === owner && e.at >= from && e.at <= to);
    const shown = sent.slice(-16).map((e) => `${this.rel(e.at)} ${e.args[0]}${e.args[1]?.startsWith(EFFECTS) ? ` ${e.args[1]}` : ""}`);
    return `${sent.length > 16 ? "… " : ""}${shown.join(", ") || "(nothing)"}`;
  }

  /** Where every unfinished task stands, for a timeout. */
  state(model: Model): string {
    const lines = [...this.tasks.values()]
      .filter((task) => this.enqueued.has(task.id) && !this.isDone(task.id, model))
      .map((task) => {
        const mine = this.attempts(task.id, model);
        return `${task.id}: ${mine.length === 0 ? "never started" : mine.map((a) => `started by ${a.by} ${this.rel(a.at)}${a.done ? ", done" : a.failed ? ", handler failed" : ""}`).join("; ")}`;
      });
    const dead = this.workers.filter((w) => !w.alive).map((w) => w.describe());
    return [...lines, ...dead].join("\n") || "(nothing)";
  }

  /**
   * The verdict on the whole history, against the queue the instructions promise: every task
   * enqueued is done, exactly once (an extra effect of an attempt whose holder lost its lease
   * fairly excepted: making effects idempotent is the next lab's job), never before it was
   * claimed, and never acknowledged (gone from Redis) before it was done.
   */
  async assertHistory(tasks: Task[]): Promise<void> {
    const { model } = await this.poll();
    const workerNames = new Set(this.workers.map((w) => w.name));
    const events: QueueEvent[] = [];
    for (const task of tasks) {
      const enqueue = model.log.find((e) => e.owner === "producer" && e.args.some((a) => a.includes(task.id)));
      events.push({ op: "enqueue", id: task.id, by: "producer", at: enqueue?.at ?? 0 });
      const mine = this.attempts(task.id, model);
      const dones = mine.filter((a) => a.done);
      // An effect of an attempt superseded by a fair redelivery may repeat; the others may not.
      const kept = dones.length > 1 ? dones.filter((a) => !this.excused.has(`${task.id}#${mine.indexOf(a) + 1}`)) : dones;
      for (const a of mine) if (workerNames.has(a.by)) events.push({ op: "claim", id: task.id, by: a.by, at: a.claimedAt });
      for (const a of kept.length > 0 ? kept : dones.slice(-1)) events.push({ op: "effect", id: task.id, by: a.by, at: a.done!.at });
      for (const d of model.strayDones.get(task.id) ?? []) events.push({ op: "effect", id: task.id, by: d.owner, at: d.at });
      const gone = this.gone.get(task.id);
      if (gone !== undefined) events.push({ op: "ack", id: task.id, at: gone });
    }
    this.checkOrder(model, true);
    const history = new QueueHistory();
    history.add(events);
    history.assert(
      { complete: true, once: true, claimBeforeEffect: true },
      {
        hints: {
          lost: goneHint,
          duplicated:
            "Each task must be done once while its workers are healthy: claim it and record its lease in one atomic step, ack only your own lease once handle returns, and requeue only leases that ran out, once.",
          "acked-not-done": "Ack (remove the lease) only after handle(task) has returned: a task acknowledged before it is done is lost with its worker.",
          unclaimed: "enqueue should only add the task to the queue in Redis; the workers, in main(workerName), claim it and run it.",
        },
      },
    );
  }
}

export default defineChecks({
  timeoutMs: 25_000,
  // Most workers are instances in one sandbox process, and every window is judged on the command
  // log with the time the machine did not run them allowed: all checks run at once.
  concurrency: 9,
  // The live view: three workers drain a steady trickle of tasks, and every few seconds one of them
  // is SIGKILLed and replaced; watch queue and in-flight keys as leases expire and come back.
  playground: async (t) => {
    let next = 1;
    const limits = { wallMs: 70_000, cpuSeconds: 30 };
    const workers = new Set(Array.from({ length: 3 }, () => t.spawn("queue.ts", { name: `worker-${next++}`, limits })));
    const producer = await t.load("queue.ts", { name: "producer", limits: { wallMs: 70_000 } });
    const produce = async () => {
      while (!t.signal.aborted) {
        const task: Task = { id: t.id("task"), ms: 300 + Math.floor(t.random() * 1500) };
        if (t.random() < 0.1) {
          task.first = { ms: 400, fail: "reject" };
          t.fault(`handler rejects for ${task.id} on its first attempt`);
        }
        await producer.call("enqueue", [task]).catch(() => {});
        await t.sleep(400);
      }
    };
    const chaos = async () => {
      while (!t.signal.aborted) {
        await t.sleep(5000);
        if (t.signal.aborted) break;
        const victim = [...workers][Math.floor(t.random() * workers.size)]!;
        t.note(`killing ${victim.name}; its task must come back when its lease runs out`);
        await victim.kill();
        workers.delete(victim);
        workers.add(t.spawn("queue.ts", { name: `worker-${next++}`, limits }));
      }
    };
    await Promise.all([produce(), chaos()]);
  },
  checks: {
    "each-task-once": async (t) => {
      const b = new Bench(t);
      b.warmProducer();
      const n = between(t, 2, 4);
      await b.startWorkers(n);
      const tasks = Array.from({ length: between(t, 6, 14) }, () => b.task(between(t, 150, 600)));
      // The first burst holds more tasks than there are workers, so some wait: the oldest must go
      // first. The rest come in up to 2 more bursts.
      const first = between(t, n + 2, tasks.length);
      const bursts = [tasks.slice(0, first)];
      const rest = tasks.slice(first);
      if (rest.length > 1 && t.random() < 0.5) {
        const cut = between(t, 1, rest.length - 1);
        bursts.push(rest.slice(0, cut), rest.slice(cut));
      } else if (rest.length > 0) bursts.push(rest);
      t.note(`${tasks.length} tasks of 150-600 ms in ${plural(bursts.length, "burst")}; ${n} workers compete for them, and none is killed or paused`);
      b.scene = `with ${n} healthy workers`;
      b.fifoSlackMs = 80;
      for (const [i, burst] of bursts.entries()) {
        if (i > 0) await b.hold(between(t, 100, 400));
        await b.enqueue(burst);
      }
      const work = tasks.reduce((sum, task) => sum + task.ms, 0);
      await b.untilDone(tasks, work / n + 2500, (missing) => `${missing.length} of ${tasks.length} tasks were not done in time by ${n} healthy workers.`);
      // A finished task whose lease outlived its ack comes back once that lease runs out: watch
      // until a lease taken with the first finished task would have been reaped.
      const firstDone = Math.min(...tasks.map((task) => b.attempts(task.id).find((a) => a.done)?.done?.at ?? Infinity));
      const waited = (b.last?.model.now ?? 0) - firstDone;
      await b.hold(Math.max(400, RETURN_MS + 400 - waited));
      await b.assertHistory(tasks);
    },

    "killed-worker-task-completes": async (t) => {
      const b = new Bench(t);
      b.warmProducer();
      await b.startWorkers(2);
      const tasks = [b.task(800), b.task(800)];
      await b.enqueue(tasks);
      let victim: { task: Task; worker: Worker } | undefined;
      await b.until(
        (m) => {
          for (const task of tasks) {
            const latest = b.attempts(task.id, m).at(-1);
            const worker = latest && !latest.done ? b.workers.find((w) => w.name === latest.by && w.alive) : undefined;
            if (worker) victim = { task, worker };
          }
          return victim !== undefined;
        },
        4000,
        () => ({ message: "No worker started either of 2 tasks within 4 s of their enqueue.", hint: workerHint }),
      );
      const { task, worker } = victim!;
      t.note(`SIGKILL ${worker.name} while it runs ${task.id} (800 ms of work); the other worker must take it over once its lease runs out`);
      await b.kill(worker);
      if (b.isDone(task.id)) throw new Error(`${task.id} finished before ${worker.name} could be killed; the machine is too slow for this check`);
      b.scene = `after ${worker.name} was killed while running ${task.id}`;
      const survivor = b.workers.filter((w) => w !== worker);
      const restarted = (m: Model) => b.attempts(task.id, m).length >= 2;
      await b.until(
        restarted,
        RETURN_MS + SLACK_MS,
        () => ({
          message: `Task ${task.id}, whose worker was SIGKILLed mid-task, was not started again by the surviving worker within ${((RETURN_MS + SLACK_MS) / 1000).toFixed(1)} s of the kill.`,
          expected: `${task.id} started again within ${RETURN_MS} ms of its holder's last heartbeat (1000 ms lease + a 250 ms reaper round + a 50 ms poll; the grader allows ${SLACK_MS / 1000} s more)`,
          hint: "A task taken with a plain pop, or acked before it ran, dies with its worker; one whose lease nobody reaps waits forever. On claim, move the task atomically to a lease with a deadline; ack only after handle returns; and have every worker run a reaper every 250 ms that moves expired leases back to the queue.",
        }),
        () => survivor,
      );
      await b.untilDone(
        tasks,
        800 + 2000,
        (missing) => `The surviving worker did not finish ${missing.map((x) => x.id).join(", ")} after ${worker.name} was killed.`,
      );
      await b.hold(400);
      await b.assertHistory(tasks);
    },

    "crash-between-commands": async (t) => {
      // Crash points sweep the start of a worker's work: claim, then the handler's first writes.
      // Dying right after any one of those commands (all before the task's done) must lose no
      // task and finish none twice; a claim made of several commands loses the task in between.
      const b = new Bench(t);
      const rounds = 3;
      const first = 1 + Math.floor(t.random() * 2);
      const tasks = Array.from({ length: rounds }, () => b.task(100));
      await b.enqueue(tasks);
      for (let round = 0; round < rounds; round++) {
        const nth = first + round;
        const name = b.workerName();
        const rpc = await t.load("queue.ts", { name, limits: LIMITS });
        const crash = t.crashAt(rpc, { match: "*", nth, when: "after" });
        const worker = new Worker(rpc, rpc.call("main", [name], 10 * 60_000));
        b.workers.push(worker);
        let at: CommandLogEntry | null | undefined;
        void crash.then((entry) => (at = entry));
        await b.until(
          () => at !== undefined,
          4000,
          () => ({ message: `${name} sent fewer than ${nth} commands to Redis in 4 s on a queue holding tasks.`, hint: workerHint }),
        );
        t.note(`${name} died right after its command #${nth} (${at?.args.slice(0, 3).join(" ") ?? "?"}): Redis applied it, nothing after it was sent`);
      }
      b.scene = `after ${rounds} workers died, each right after one of its first Redis commands`;
      await b.startWorkers(1);
      await b.untilDone(
        tasks,
        RETURN_MS + 3 * 100 + SLACK_MS + 500,
        (missing) =>
          `After ${rounds} workers died between two of their Redis commands, ${missing.length} task(s) were never finished by the worker that took over.`,
        "Every task must stay leased until it is acked, so an expired lease brings it back (1 s lease + 250 ms reaper). Claim in one atomic step: a Lua script that takes the task off the queue and records its lease together.",
      );
      await b.hold(400);
      await b.assertHistory(tasks);
    },

    "slow-task-keeps-lease": async (t) => {
      const b = new Bench(t);
      b.warmProducer();
      await b.startWorkers(2);
      const task = b.task(2200);
      b.scene = "while its 2.2 s of work went on";
      // Every reply comes 250 ms late: the lease's clock starts when the claim runs, the worker's
      // heartbeat timer only when the claim's reply arrives. A heartbeat every 250 ms renews the
      // lease with 500 ms to spare; one as rare as the lease itself comes 250 ms too late.
      t.proxy.setLatency({ ms: 250, jitterMs: 0 });
      await b.enqueue([task]);
      t.note(
        `${task.id} takes 2.2 s, more than twice the 1 s lease, and replies come 250 ms late until it has started; its worker stays alive, and the other worker's reaper is watching`,
      );
      // Once it has started, replies come at once again, so the 2.2 s stay well inside the handler timeout.
      await b.untilRunning(task, 4000, `task ${task.id}`);
      t.proxy.setLatency({ ms: 0, jitterMs: 0 });
      await b.untilDone([task], 2200 + 2500, () => `Task ${task.id} (2.2 s of work) was not done in time.`);
      await b.hold(300);
      await b.assertHistory([task]);
    },

    "paused-worker-fenced": async (t) => {
      const b = new Bench(t);
      b.warmProducer();
      await b.startWorkers(2, { process: true });
      // 700 ms on its first attempt (which the grader pauses), 1200 ms on later ones.
      const task = b.task(1200, { ms: 700 });
      await b.enqueue([task]);
      const holder = await b.untilRunning(task, 4000, `task ${task.id}`);
      const other = b.workers.find((w) => w !== holder)!;
      holder.proc.pause();
      t.note(
        `pause ${holder.name} (SIGSTOP) while it runs ${task.id}: its heartbeats stop, so ${other.name}'s reaper must hand the task to ${other.name} once the lease runs out`,
      );
      b.scene = `after ${holder.name} was paused (SIGSTOP) past its lease while it ran ${task.id}`;
      await b.until(
        (m) => b.attempts(task.id, m).length >= 2,
        RETURN_MS + SLACK_MS,
        () => ({
          message: `${holder.name} was paused mid-task and stopped heartbeating, but ${other.name} did not take ${task.id} over within ${((RETURN_MS + SLACK_MS) / 1000).toFixed(1)} s.`,
          expected: `${task.id} started again within ${RETURN_MS} ms of the pause (1000 ms lease + a 250 ms reaper round + a 50 ms poll; the grader allows ${SLACK_MS / 1000} s more)`,
          hint: "A paused worker looks dead from outside: its lease stops being renewed. Every worker's reaper, every 250 ms, must move leases whose deadline has passed back to the queue.",
        }),
        () => [other],
      );
      holder.proc.resume();
      t.note(
        `resume ${holder.name}: its handler finishes at once, but ${other.name} holds ${task.id} now and is running it; whatever ${holder.name} does with its old lease (heartbeat, ack) must leave ${other.name}'s alone`,
      );
      b.scene = `after ${holder.name}, paused past its lease, was resumed while ${other.name} ran ${task.id}`;
      b.goneHint = `The resumed ${holder.name} removed a lease that was no longer its own. ${fenceHint}`;
      // The resumed worker's handler returns at once (its 700 ms are long past); its ack, if any,
      // follows within a round trip.
      await b.until(
        (m) => {
          const [stale, current] = b.attempts(task.id, m);
          return stale?.done !== undefined || stale?.failed !== undefined || current?.done !== undefined;
        },
        2000,
        () => ({
          message: `${holder.name}, resumed, did not finish its old attempt at ${task.id} within 2 s, though its 700 ms of work were long over.`,
          hint: workerHint,
        }),
        () => [holder],
      );
      if (!b.attempts(task.id)[1]?.done) {
        // The new holder dies too: the task must come back from its lease, which is still there
        // only if the resumed worker's ack and heartbeat left it alone.
        t.note(
          `${holder.name}'s handler has returned; SIGKILL ${other.name}, which holds ${task.id} now: the task must come back from ${other.name}'s lease once it runs out`,
        );
        await b.kill(other);
        b.scene = `after ${holder.name}, paused past its lease, was resumed, and ${other.name}, which had taken ${task.id} over, was killed`;
        await b.until(
          (m) => b.attempts(task.id, m).length >= 3,
          RETURN_MS + SLACK_MS,
          () => ({
            message: `${other.name}, which held ${task.id} after taking it over from the paused ${holder.name}, was killed, and ${task.id} was not started again within ${((RETURN_MS + SLACK_MS) / 1000).toFixed(1)} s: its lease was gone or kept alive, by ${holder.name}'s late ack or heartbeat.`,
            expected: `${other.name}'s lease untouched by ${holder.name}, so it runs out and ${task.id} starts again within ${RETURN_MS} ms of the kill (the grader allows ${SLACK_MS / 1000} s more)`,
            hint: fenceHint,
          }),
          () => [holder],
        );
      }
      await b.until(
        (m) => b.attempts(task.id, m).at(-1)?.done !== undefined,
        1200 + 2000,
        () => ({ message: `${task.id} (1.2 s of work) was not finished after being taken over from the paused ${holder.name}.`, hint: fenceHint }),
      );
      await b.hold(400);
      await b.assertHistory([task]);
    },

    "handler-failures": async (t) => {
      const b = new Bench(t);
      b.warmProducer();
      const workers = await b.startWorkers(2);
      const rejecting = b.task(between(t, 80, 200), { ms: between(t, 100, 300), fail: "reject" });
      const hanging = b.task(between(t, 80, 200), { fail: "hang" });
      const throwing = b.task(between(t, 80, 200), { fail: "throw" });
      const plain = Array.from({ length: 3 }, () => b.task(between(t, 100, 300)));
      // The failing tasks go first, the hanging one (the longest to come back) at the head, so
      // their clocks start early.
      const tasks = [hanging, ...shuffled(t, [rejecting, throwing]), ...plain];
      t.fault(`handler rejects for ${rejecting.id} ${rejecting.first!.ms} ms into its first attempt`);
      t.fault(`handler hangs for ${hanging.id} on its first attempt: it never settles`);
      t.fault(`handler throws synchronously for ${throwing.id}, the first time each worker runs it`);
      b.scene = "when handlers threw, rejected or hung";
      b.goneHint =
        "A task whose handler failed was acknowledged anyway, and is lost. Ack only after handle(task) returned; when it throws, rejects or gives no answer within 3000 ms, stop the heartbeat and leave the lease alone (or release it back to the queue), so the task runs again.";
      const retried = (task: Task, m: Model) => b.attempts(task.id, m).length >= 2 || b.isDone(task.id, m);
      b.expect({
        label: "rejected",
        start: (m) => b.attempts(rejecting.id, m)[0]?.failed !== undefined,
        met: (m) => retried(rejecting, m),
        withinMs: RETURN_MS + SLACK_MS,
        workers: () => workers,
        failure: () => ({
          message: `The handler rejected for ${rejecting.id}, and the task was not started again within ${((RETURN_MS + SLACK_MS) / 1000).toFixed(1)} s.`,
          expected: `${rejecting.id} started again within ${RETURN_MS} ms of the failure (its lease runs out 1000 ms after the last heartbeat, then a 250 ms reaper round and a 50 ms poll; the grader allows ${SLACK_MS / 1000} s more)`,
          hint: "When handle rejects, stop the heartbeat (clearInterval in a finally), and do not ack: the lease then runs out and the reaper hands the task out again. A heartbeat left running keeps a failed task leased forever.",
        }),
      });
      b.expect({
        label: "hung",
        start: (m) => b.attempts(hanging.id, m).length >= 1,
        met: (m) => retried(hanging, m),
        withinMs: HANDLER_TIMEOUT_MS + RETURN_MS + SLACK_MS,
        workers: () => workers,
        failure: () => ({
          message: `The handler for ${hanging.id} never settled, and the task was not started again within ${((HANDLER_TIMEOUT_MS + RETURN_MS + SLACK_MS) / 1000).toFixed(1)} s of its start.`,
          expected: `the worker gives up on it ${HANDLER_TIMEOUT_MS} ms after handle started (stops the heartbeat, no ack), so it starts again within ${RETURN_MS} ms more (the grader allows ${SLACK_MS / 1000} s more)`,
          hint: `Race handle(task) against a ${HANDLER_TIMEOUT_MS} ms timer (Promise.race, and clearTimeout once it settles). When the timer wins, treat it as a failure: stop the heartbeat, do not ack, and go on with the loop.`,
        }),
      });
      await b.enqueue(tasks);
      await b.untilDone(
        tasks,
        HANDLER_TIMEOUT_MS + RETURN_MS + SLACK_MS + 2500,
        (missing) =>
          `${missing.length} of ${tasks.length} tasks were not done, among them tasks whose first attempt failed: ${missing.map((x) => `${x.id}${x.first?.fail ? ` (${x.first.fail})` : ""}`).join(", ")}.`,
      );
      await b.hold(300);
      await b.assertHistory(tasks);
    },

    "concurrent-reapers": async (t) => {
      const b = new Bench(t);
      b.warmProducer();
      const m = between(t, 2, 3);
      // Held by workers the grader kills: 5 s on their first attempt, short after.
      const held = Array.from({ length: m }, () => b.task(between(t, 30, 80), { ms: 5000 }));
      const reapersLoading = Promise.all([1, 2, 3].map((i) => t.load("queue.ts", { name: `reaper-${i}`, limits: LIMITS })));
      const victims = await b.startWorkers(m);
      await b.enqueue(held);
      await b.until(
        (mo) => held.every((task) => b.attempts(task.id, mo).length > 0),
        4000,
        () => ({ message: `${m} workers did not each start one of ${m} tasks within 4 s.`, hint: workerHint }),
      );
      t.note(`SIGKILL all ${m} workers, each mid-task: their leases run out 1 s later, with no worker left to reap them`);
      await Promise.all(victims.map((v) => b.kill(v)));
      const waiting = [b.task(40), b.task(40)];
      await b.enqueue(waiting);
      const reapers = await reapersLoading;
      await b.hold(LEASE_MS + 150);
      // How the queue holds them now (in flight, expired), to compare with how it holds them after.
      const before = (await b.poll()).presence;
      const latency = between(t, 20, 30);
      t.proxy.setLatency({ ms: latency, jitterMs: 10 });
      t.proxy.duplicateNext(1000);
      t.note(
        `the leases of ${held.map((x) => x.id).join(", ")} have run out: 3 reapers call reap() at the same moment, with replies ${latency}±10 ms late and every command reaching Redis twice (as a client's retry would)`,
      );
      b.scene = "after 3 reapers ran reap() at once over the same expired leases, each command reaching Redis twice";
      const results = await Promise.allSettled(reapers.map((r) => r.call("reap", [], 5000)));
      t.proxy.duplicateNext(0);
      t.proxy.setLatency({ ms: 0, jitterMs: 0 });
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) {
        t.fail({
          message: `reap() failed when 3 reapers ran it at once: ${failed.reason instanceof Error ? failed.reason.message : String(failed.reason)}`,
          hint: "reap() is called from programs that never run main, several at once: it must need nothing main sets up, and finish (returning anything) once every expired lease is back in the queue.",
        });
      }
      const { presence } = await b.poll();
      // A requeued task is held like a task that waits (or, where the queue keeps more about a task
      // once claimed, like it was held in flight): more entries than both are copies.
      const baseline = Math.max(...waiting.map((x) => presence.get(x.id)?.entries ?? 0));
      const allowed = (x: Task) => Math.max(baseline, before.get(x.id)?.entries ?? 0);
      const copies = held.filter((x) => (presence.get(x.id)?.entries ?? 0) > allowed(x));
      if (copies.length > 0) {
        t.fail({
          message: `After 3 reapers requeued the same expired leases at once (each command reaching Redis twice), ${plural(copies.length, "task")} ${copies.length === 1 ? "is" : "are"} in your queue more than once.`,
          expected: `each requeued task held by as many entries of your lists, sorted sets and streams as a task that was never claimed (${baseline}), or as it was while leased (${held.map((x) => before.get(x.id)?.entries ?? 0).join("/")})`,
          actual: copies.map((x) => `${x.id}: ${presence.get(x.id)!.entries} entries`).join("\n"),
          hint: "Requeue in one atomic step that also removes the lease, and only if the lease is still there: a Lua script that reads the expired leases, ZREMs each and LPUSHes its task back. Read-then-write from the client lets every reaper that read the lease push the task, and a retried LPUSH pushes it twice; a script that finds the lease already gone does nothing.",
        });
      }
      t.note("one worker starts and drains the queue: each requeued task must run once more, each waiting task once");
      b.scene = "after 3 reapers requeued the expired leases at once";
      await b.startWorkers(1);
      const all = [...held, ...waiting];
      await b.untilDone(
        all,
        3000,
        (missing) =>
          `${missing.length} of ${all.length} tasks were not done by the worker started after the reapers ran: ${missing.map((x) => x.id).join(", ")}.`,
        "reap() must move each expired lease's task back to the queue (and remove the lease), so the next worker's claim finds it.",
      );
      await b.hold(400);
      await b.assertHistory(all);
    },

    "heartbeat-and-reaper-faults": async (t) => {
      const b = new Bench(t);
      b.warmProducer();
      // Which commands the reaper sends: reap() once, from a program of its own.
      const probe = await t.load("queue.ts", { name: "reaper-probe", limits: LIMITS });
      const mark = t.logPosition();
      await probe.call("reap", [], 5000);
      const reapNames = [
        ...new Set(
          t
            .commands()
            .filter((e) => e.seq > mark && e.owner === probe.name)
            .map((e) => e.args[0]!),
        ),
      ];
      await b.startWorkers(2);
      const long = b.task(1300);
      const held = b.task(60, { ms: 5000 });
      await b.enqueue([long]);
      const busy = await b.untilRunning(long, 4000, `task ${long.id}`);
      await b.enqueue([held]);
      const victim = await b.untilRunning(held, 4000, `task ${held.id}`);
      // Both workers are busy: what they send now is heartbeats and reaper rounds.
      const since = t.logPosition();
      await b.hold(300);
      const periodic = t.commands().filter((e) => e.seq > since && e.owner === busy.name && !e.args.some((a) => a.startsWith(EFFECTS)));
      const heartbeatNames = [...new Set(periodic.map((e) => e.args[0]!))].filter((n) => !reapNames.includes(n) && n !== "MULTI" && n !== "EXEC");
      b.scene = `while ${busy.name} and ${victim.name} ran tasks and Redis refused, duplicated and cut their heartbeats and reaper rounds`;
      // Waits (watching all along) until a fault has met its commands; a fault that meets none
      // within 1.5 s is noted and withdrawn, and the check goes on: the rules it watches judge
      // what followed.
      const fired = async (fault: string, name: string | undefined, from: number, n: number) => {
        const hits = () => t.commands().filter((e) => e.seq > from && e.fault === fault && (name === undefined || e.args[0] === name)).length;
        const until = performance.now() + 1500;
        while (hits() < n && performance.now() < until) {
          await b.poll();
          await t.sleep(POLL_MS);
        }
        if (hits() < n) t.note(`the fault (${fault}${name ? ` ${name}` : ""}) met ${hits()} of ${n} commands in 1.5 s`);
        t.proxy.failNext(0);
        t.proxy.duplicateNext(0);
      };
      // Faults go in only while the long task has more than 450 ms left, so none lands on the
      // handler's own writes (a refused or repeated done is the handler's affair, not the queue's).
      const longStart = b.attempts(long.id)[0]!.at;
      const roomy = () => (b.last?.model.now ?? Infinity) - longStart < 1300 - 450;
      t.note("every connection is cut under whatever is in flight");
      t.proxy.cutAll();
      await b.hold(100);
      let from = t.logPosition();
      if (heartbeatNames.length > 0) {
        const hb = heartbeatNames[0]!;
        if (roomy()) {
          t.proxy.failNext(1, { match: hb });
          t.note(`Redis refuses the next heartbeat (${hb})`);
          await fired("failNext", hb, from, 1);
        }
        from = t.logPosition();
        const reap = reapNames[0];
        if (roomy()) {
          t.proxy.failNext(2, reap ? { match: reap } : {});
          t.note(`Redis refuses the next 2 reaper rounds (${reap ?? "any command"})`);
          await fired("failNext", reap, from, 2);
        }
        if (reap) {
          // Each worker whose round was refused goes on reaping: busy, it sends this command only
          // for its reaper, every 250 ms.
          const refused = t.commands().filter((e) => e.seq > from && e.fault === "failNext" && e.args[0] === reap);
          const owners = [...new Set(refused.map((e) => e.owner ?? "?"))];
          const after = refused.at(-1)?.seq ?? Infinity;
          // Once its task is done, the same command may be a claim: such a worker proves nothing.
          const reaped = (m: Model, o: string) => {
            const finished = [long, held].map((x) => b.attempts(x.id, m).find((a) => a.by === o)?.done?.seq ?? Infinity);
            return (
              t.commands().some((e) => e.seq > after && e.owner === o && e.args[0] === reap && e.seq < Math.min(...finished)) ||
              finished.some((seq) => seq < Infinity)
            );
          };
          await b.until(
            (m) => owners.every((o) => reaped(m, o)),
            REAPER_MS + SLACK_MS,
            (m) => ({
              message: `Redis refused a reaper round (${reap}) of ${owners.join(" and ")}, and ${owners.filter((o) => !reaped(m, o)).join(" and ")} sent no reaper round in the ${((REAPER_MS + SLACK_MS) / 1000).toFixed(2)} s after: its reaper stopped.`,
              expected: "a reaper round every 250 ms in every worker, a failed one only logged",
              hint: "Run the reaper on a timer whose every round catches its own error (setInterval(() => reap().catch(log), 250)): a loop wrapped in one try/catch ends at the first failure, and an uncaught rejection ends the process.",
            }),
            () => [busy, victim],
          );
        }
        from = t.logPosition();
        if (roomy()) {
          t.proxy.duplicateNext(2, { match: hb });
          t.note(`the next 2 heartbeats (${hb}) reach Redis twice`);
          await fired("duplicate", hb, from, 2);
        }
      } else if (roomy()) {
        t.proxy.failNext(2);
        t.note("Redis refuses the next 2 commands the busy workers send (heartbeats and reaper rounds share a command)");
        await fired("failNext", undefined, from, 2);
        from = t.logPosition();
        if (roomy()) {
          t.proxy.duplicateNext(2);
          t.note("the next 2 commands reach Redis twice");
          await fired("duplicate", undefined, from, 2);
        }
      }
      await b.until(
        (m, presence) => b.isDone(long.id, m) && !present(presence.get(long.id)),
        1300 + 2500,
        () => ({ message: `${busy.name} did not finish and acknowledge ${long.id} after Redis refused, duplicated and cut its heartbeats.`, hint: aliveHint }),
      );
      // Now the reaper's turn: the victim dies holding a task, and every command fails around the
      // moment its lease runs out, so the survivor's reaper rounds fail and must try again.
      t.note(`SIGKILL ${victim.name} while it holds ${held.id}; its lease runs out within 1 s`);
      await b.kill(victim);
      const killedAt = performance.now();
      b.scene = `after ${victim.name} was killed holding ${held.id} and Redis refused every command (and cut every connection) around the moment its lease ran out`;
      // Its lease runs out between 750 and 1000 ms after the kill (its last heartbeat was at most
      // 250 ms before): every command fails from 400 to 1300 ms, so at least one reaper round
      // that would have requeued it fails.
      await b.hold(400);
      t.proxy.failNext(100_000);
      t.proxy.cutAll();
      t.note(
        `Redis refuses every command, and every connection is cut, for 0.9 s around the moment ${held.id}'s lease runs out: ${busy.name}'s reaper rounds fail and must try again`,
      );
      await b.hold(killedAt + 1300 - performance.now());
      t.proxy.failNext(0);
      t.note("Redis answers again");
      await b.until(
        (m) => b.attempts(held.id, m).length >= 2,
        REAPER_MS + IDLE_MS + SLACK_MS,
        () => ({
          message: `${held.id}, whose worker was killed, was not started again within ${((REAPER_MS + IDLE_MS + SLACK_MS) / 1000).toFixed(1)} s of Redis answering again: ${busy.name}'s reaper stopped trying after its rounds failed.`,
          expected: `a reaper round every 250 ms, a failed one only logged, so ${held.id} comes back in the first round after the failures`,
          hint: "Run the reaper on a timer whose every round catches its own error (setInterval(() => reap().catch(log), 250)): a loop wrapped in one try/catch ends at the first failure, and an uncaught rejection ends the process.",
        }),
        () => [busy],
      );
      await b.untilDone([long, held], 2000, (missing) => `${missing.map((x) => x.id).join(", ")} not done after the faults.`);
      await b.hold(300);
      await b.assertHistory([long, held]);
    },

    "generated-workload": async (t) => {
      const b = new Bench(t);
      b.warmProducer();
      const workers = await b.startWorkers(3, { process: true });
      const tasks = Array.from({ length: between(t, 8, 14) }, () => b.task(between(t, 100, 500)));
      const killAfter = between(t, 1, 3);
      const pauseAfter = between(t, killAfter + 1, killAfter + 3);
      const pauseMs = between(t, 1200, 1600);
      const split = between(t, 1, tasks.length - 1);
      t.note(
        `${tasks.length} tasks of 100-500 ms for 3 workers, in 2 bursts; once ${killAfter} task(s) have started the grader kills a busy worker, once ${pauseAfter} have, it pauses another busy one for ${pauseMs} ms (past its lease)`,
      );
      await b.enqueue(tasks.slice(0, split));
      await b.hold(between(t, 50, 300));
      await b.enqueue(tasks.slice(split));
      let killed: Worker | null = null;
      let paused: Worker | null = null;
      let resumeAt = Infinity;
      const running = (m: Model, w: Worker) =>
        tasks.some((task) => {
          const latest = b.attempts(task.id, m).at(-1);
          return latest?.by === w.name && !latest.done && !latest.failed;
        });
      const starts = (m: Model) => tasks.reduce((n, task) => n + b.attempts(task.id, m).length, 0);
      const budget = tasks.reduce((sum, x) => sum + x.ms, 0) / 2 + pauseMs + RETURN_MS + SLACK_MS + 2500;
      const deadline = performance.now() + budget;
      for (;;) {
        const { model } = await b.poll();
        const busy = workers.filter((w) => w.alive && w !== killed && w !== paused && running(model, w));
        if (!killed && starts(model) >= killAfter && busy.length > 0) {
          killed = busy[Math.floor(t.random() * busy.length)]!;
          t.note(`SIGKILL ${killed.name} mid-task`);
          await b.kill(killed);
          b.scene = `after ${killed.name} was killed mid-task`;
          continue;
        }
        if (killed && !paused && starts(model) >= pauseAfter && busy.length > 0) {
          paused = busy[Math.floor(t.random() * busy.length)]!;
          t.note(`pause ${paused.name} mid-task for ${pauseMs} ms`);
          paused.proc.pause();
          resumeAt = performance.now() + pauseMs;
          b.scene = `after ${killed.name} was killed mid-task and ${paused.name} was paused past its lease`;
        }
        if (paused && performance.now() >= resumeAt) {
          paused.proc.resume();
          resumeAt = Infinity;
        }
        if (tasks.every((task) => b.isDone(task.id, model)) && resumeAt === Infinity) break;
        if (performance.now() > deadline) {
          t.fail({
            message: `${tasks.filter((x) => !b.isDone(x.id, model)).length} of ${tasks.length} tasks were not done within ${(budget / 1000).toFixed(1)} s, ${b.scene || "with 3 workers"}.`,
            actual: b.state(model),
            hint: workerHint,
          });
        }
        await t.sleep(POLL_MS);
      }
      await b.hold(600);
      await b.assertHistory(tasks);
    },
  },
});
