import { defineChecks, type CheckContext, type LearnerProcess, type RpcModule } from "../../lib/grader/index.ts";

interface Task {
  id: string;
  failures: number;
  ms?: number;
}

interface DeadLetter {
  task: Task;
  attempts: number;
  error: string;
  failedAt: number;
}

/** A line of effects:log (a run started) or effects:failed (a run threw), as handler.ts writes it. */
interface Mark {
  id: string;
  run: number;
  at: number;
}

/** What handler.ts recorded about one task. */
interface History {
  starts: Mark[];
  fails: Mark[];
  done: number;
}

type LogEntry = ReturnType<CheckContext["commands"]>[number];

// What instructions.md fixes: the policy, its timing window, and the keys handler.ts writes.
const MAX_ATTEMPTS = 4;
const BACKOFF_MS = [200, 400, 800];
const POISON = 1000;
const RUNS = "effects:runs";
const LOG = "effects:log";
const FAILED = "effects:failed";
const DONE = "effects:done";
// The keys handler.ts writes: a task id found there says nothing about where the queue keeps it.
const EFFECTS = ["effects:*"];

// A retry may not start before its delay has passed since the failure (both times are handle's
// own Date.now(), so this only absorbs a millisecond's rounding), and must start within LATE_MS
// of it: the idle poll, a few round trips, and a loaded machine's scheduling.
const EARLY_MS = 5;
const LATE_MS = 150;
/** Looks for due tasks that may pass a due retry by: one in flight per worker, and the one that takes it. */
const LOOK_SLACK = 4;
/** A look stamped just before the retry was due may reach Redis just after. */
const LOOK_SKEW_MS = 5;
/** However starved the workers, a retry this late is missing. */
const STARVED_MS = 3000;
/** Idle workers look about every 25 ms: the median gap between looks may not exceed this. */
const POLL_MAX_MS = 100;
/** A handler that hangs: longer than any check lasts. */
const HANG_MS = 10 * 60_000;

const WORKER_LIMITS = { wallMs: 30_000 };

// Commands that change nothing: a worker that dies after one of these has recorded nothing.
const READS = new Set([
  "GET",
  "MGET",
  "HGET",
  "HMGET",
  "HGETALL",
  "HEXISTS",
  "HLEN",
  "HKEYS",
  "HVALS",
  "HSCAN",
  "ZSCORE",
  "ZMSCORE",
  "ZRANGE",
  "ZRANGEBYSCORE",
  "ZREVRANGE",
  "ZREVRANGEBYSCORE",
  "ZRANK",
  "ZCARD",
  "ZCOUNT",
  "ZSCAN",
  "LRANGE",
  "LLEN",
  "LINDEX",
  "SMEMBERS",
  "SISMEMBER",
  "SCARD",
  "SSCAN",
  "EXISTS",
  "TYPE",
  "TTL",
  "PTTL",
  "SCAN",
  "KEYS",
  "PING",
  "WATCH",
  "UNWATCH",
  "EVAL_RO",
  "EVALSHA_RO",
  "SCRIPT",
  "XRANGE",
  "XLEN",
  "XREAD",
]);
// Never refused on purpose: the handler's own writes (a refused one would be the handler failing,
// not the queue), and MULTI, whose refusal the proxy cannot make behave like Redis's.
const NEVER_REFUSED = new Set(["HINCRBY", "RPUSH", "MULTI", "DISCARD", "WATCH", "UNWATCH"]);

// Ids come from the runner's CSPRNG, never from the seed: a worker learns of a task only through
// the queue. The seed decides only the shape: how often and how long tasks fail, where faults land.
function newTask(t: CheckContext, name: string, failures: number, ms?: number): Task {
  return ms === undefined ? { id: t.id(name), failures } : { id: t.id(name), failures, ms };
}

function shuffled<T>(t: CheckContext, items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(t.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
const isEffect = (e: LogEntry) => (e.args[1] ?? "").startsWith("effects:");
const show = (e: LogEntry) => e.args.map((a) => (a.length > 48 ? `${a.slice(0, 48)}…` : a)).join(" ");

function describeEnd(worker: LearnerProcess): string {
  const outcome = worker.outcome;
  if (!outcome) return `${worker.name} is running`;
  const how =
    outcome.kind === "exited" ? `exited with code ${outcome.code}` : outcome.kind === "signalled" ? `was stopped by ${outcome.signal}` : outcome.message;
  return `${worker.name} ${how}`;
}

const loopHint =
  "main(workerName) should loop forever: take a due task, run handle(task) from handler.ts, record the outcome, and look again about every 25 ms when nothing is due.";

/**
 * Starts workers and waits until each is talking to Redis: a task enqueued before then would wait
 * for a process still starting, which says nothing about the queue.
 */
async function startWorkers(t: CheckContext, names: string[]): Promise<LearnerProcess[]> {
  const workers = names.map((name) => t.spawn("queue.ts", { name, limits: WORKER_LIMITS }));
  const silent = () => workers.filter((w) => !t.commands().some((e) => e.owner === w.name));
  const deadline = performance.now() + 10_000;
  while (silent().length > 0) {
    const dead = workers.find((w) => !w.alive);
    if (dead || performance.now() > deadline) {
      t.fail({
        message: dead ? `${describeEnd(dead)} before it sent anything to Redis.` : "Your workers did not talk to Redis within 10 s of starting.",
        expected: "each worker polling the queue as soon as main(workerName) runs",
        actual: dead ? dead.output().slice(-1500) || describeEnd(dead) : silent().map(describeEnd).join(", "),
        hint: loopHint,
      });
    }
    await t.sleep(20);
  }
  return workers;
}

const workerNames = (n: number, first = 1) => range(first, first + n - 1).map((i) => `worker-${i}`);

async function producer(t: CheckContext, name = "producer"): Promise<RpcModule> {
  return t.load("queue.ts", { name, limits: WORKER_LIMITS });
}

function parseMark(line: string): Mark | null {
  try {
    const mark = JSON.parse(line) as Mark;
    return typeof mark.id === "string" && typeof mark.run === "number" && typeof mark.at === "number" ? mark : null;
  } catch {
    return null;
  }
}

/** What handler.ts recorded, for each of `ids`. */
async function histories(t: CheckContext, ids: string[]): Promise<Map<string, History>> {
  const [log, failed, done] = await Promise.all([t.redis.lrange(LOG, 0, -1), t.redis.lrange(FAILED, 0, -1), t.redis.lrange(DONE, 0, -1)]);
  const starts = log.map(parseMark).filter((m): m is Mark => m !== null);
  const fails = failed.map(parseMark).filter((m): m is Mark => m !== null);
  const byRun = (a: Mark, b: Mark) => a.run - b.run;
  return new Map(
    ids.map((id) => [
      id,
      {
        starts: starts.filter((m) => m.id === id).sort(byRun),
        fails: fails.filter((m) => m.id === id).sort(byRun),
        done: done.filter((x) => x === id).length,
      },
    ]),
  );
}

async function historyOf(t: CheckContext, id: string): Promise<History> {
  return (await histories(t, [id])).get(id)!;
}

/** The worker whose handler counted run `run` of task `id` (the command log names every command's program). */
function runOwner(t: CheckContext, id: string, run: number): string | undefined {
  return t.commands("HINCRBY").find((e) => e.args[1] === RUNS && e.args[2] === id && e.reply?.summary === String(run))?.owner;
}

/** "run 1 at +0 ms (worker-1), failed at +120 ms; run 2 at +331 ms (worker-2), …; done ×1" */
function timeline(t: CheckContext, id: string, h: History): string {
  if (h.starts.length === 0) return "no runs";
  const t0 = h.starts[0]!.at;
  const parts = h.starts.map((s) => {
    const failed = h.fails.find((f) => f.run === s.run);
    const owner = runOwner(t, id, s.run);
    return `run ${s.run} at +${s.at - t0} ms${owner ? ` (${owner})` : ""}${failed ? `, failed at +${failed.at - t0} ms` : ""}`;
  });
  return `${parts.join("; ")}${h.done > 0 ? `; done ×${h.done}` : ""}`;
}

type Failure = Parameters<CheckContext["fail"]>[0];

/** Polls until `done` holds; on a timeout fails with details built then, from the state then. */
async function until(t: CheckContext, done: () => Promise<boolean>, timeoutMs: number, failure: () => Promise<Failure>, everyMs = 20): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await done())) {
    if (performance.now() > deadline) t.fail(await failure());
    await t.sleep(everyMs);
  }
}

/** Lists the dead letters through the learner's own deadLetters(), checking their shape. */
async function deadLetters(t: CheckContext, queue: RpcModule): Promise<DeadLetter[]> {
  const letters = await queue.call<unknown>("deadLetters", []);
  if (!Array.isArray(letters)) {
    t.fail({
      message: "deadLetters() did not return an array.",
      expected: "DeadLetter[]",
      actual: letters,
      hint: "Return every dead letter as { task, attempts, error, failedAt }, [] when there are none.",
    });
  }
  return letters as DeadLetter[];
}

const findLetter = (letters: DeadLetter[], id: string) => letters.find((l) => typeof l === "object" && l !== null && l.task?.id === id);

const describeTask = (task: Task) =>
  task.failures >= POISON
    ? `Poison task ${task.id} (it fails every time)`
    : `Task ${task.id} (it fails ${task.failures} time${task.failures === 1 ? "" : "s"})`;

/** Waits until the task is dead-lettered; fails at once if it runs more than MAX_ATTEMPTS times first. */
async function untilDeadLettered(t: CheckContext, queue: RpcModule, task: Task, timeoutMs: number): Promise<DeadLetter> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const letter = findLetter(await deadLetters(t, queue), task.id);
    if (letter) return letter;
    const h = await historyOf(t, task.id);
    if (h.starts.length > MAX_ATTEMPTS) {
      t.fail({
        message: `${describeTask(task)} ran ${h.starts.length} times without being dead-lettered.`,
        expected: `${MAX_ATTEMPTS} runs, then an entry in deadLetters()`,
        actual: timeline(t, task.id, h),
        hint: `Count the attempts in what the queue stores for the task, and when the ${MAX_ATTEMPTS}th attempt fails, move the task to the dead-letter queue instead of scheduling another retry.`,
      });
    }
    if (performance.now() > deadline) {
      t.fail({
        message: `${describeTask(task)} was not in deadLetters() ${timeoutMs / 1000} s after it was enqueued.`,
        expected: `dead-lettered after ${MAX_ATTEMPTS} runs, about 1.5 s in (200 + 400 + 800 ms of backoff)`,
        actual: timeline(t, task.id, h),
        hint: `After the ${MAX_ATTEMPTS}th failed attempt, store { task, attempts, error, failedAt } where deadLetters() finds it.`,
      });
    }
    await t.sleep(40);
  }
}

/** Waits until handler.ts has recorded the start of run `run` of the task. */
async function untilStarted(t: CheckContext, task: Task, run: number, timeoutMs: number, why: string): Promise<Mark> {
  let found: Mark | undefined;
  await until(
    t,
    async () => (found = (await historyOf(t, task.id)).starts.find((s) => s.run === run)) !== undefined,
    timeoutMs,
    async () => ({
      message: `Run ${run} of ${task.id} did not start within ${timeoutMs / 1000} s${why}.`,
      actual: timeline(t, task.id, await historyOf(t, task.id)),
      hint: loopHint,
    }),
  );
  return found!;
}

/** Waits until handler.ts has recorded that run `run` of the task threw. */
async function untilFailed(t: CheckContext, task: Task, run: number): Promise<Mark> {
  let found: Mark | undefined;
  await until(
    t,
    async () => (found = (await historyOf(t, task.id)).fails.find((f) => f.run === run)) !== undefined,
    3000 + (task.ms ?? 0),
    async () => ({
      message: `Run ${run} of ${task.id} never threw, though it fails on its first ${task.failures} runs.`,
      actual: timeline(t, task.id, await historyOf(t, task.id)),
      hint: loopHint,
    }),
  );
  return found!;
}

/** How the grader reads workers' pace: what they send when idle, and the command log's clock. */
interface Pace {
  polls: Set<string>;
  /** Date.now() minus the command log's `at` (both this process's clocks). */
  offset: number;
}

/** Marks a handler fault on the timeline, and learns from that entry how the log's clock maps to Date.now(). */
function markAndClock(t: CheckContext, text: string): number {
  const wall = Date.now();
  t.fault(text);
  return wall - (t.proxy.log.at(-1)?.at ?? 0);
}

/**
 * How many times workers looked for due tasks between two moments (the log's clock): idle-poll
 * commands, counted per kind, the most frequent kind. A worker the machine did not run sends none.
 */
function looksBetween(t: CheckContext, polls: Set<string>, from: number, to: number): number {
  const counts = new Map<string, number>();
  for (const e of t.commands()) {
    if (!e.owner?.startsWith("worker-") || e.at <= from || e.at >= to || !polls.has(signature(e))) continue;
    counts.set(signature(e), (counts.get(signature(e)) ?? 0) + 1);
  }
  return Math.max(0, ...counts.values());
}

/**
 * Holds retry `failure` (the run after the failure-th failed run) to its window: it starts no
 * earlier than BACKOFF_MS[failure - 1] after that run threw (handle's own stamps in Redis), and no
 * later than LATE_MS after that. Lateness is held against the queue only if the workers were
 * running meanwhile: more than LOOK_SLACK looks for due tasks that passed the retry by. A loaded
 * machine that did not schedule them is not the learner's fault; the idle-poll cadence (held
 * separately) keeps a worker that simply looks rarely from hiding behind that.
 */
async function expectRetryInWindow(t: CheckContext, task: Task, failure: number, pace: Pace, during = ""): Promise<void> {
  const wanted = BACKOFF_MS[failure - 1]!;
  const failed = (await historyOf(t, task.id)).fails.find((f) => f.run === failure)!;
  const due = failed.at + wanted;
  // Looks pass the retry by only once it is surely due by the learner's own clock: `wanted` after
  // the last command that recorded the failure (its Date.now() was taken before that command).
  const marker = failureEntry(t, task.id, failure);
  const passedBy = (to = Infinity) => {
    const recorded = marker ? recordedAt(t, pace, marker) : undefined;
    return recorded === undefined ? 0 : looksBetween(t, pace.polls, Math.max(recorded + wanted, due - pace.offset) + LOOK_SKEW_MS, to);
  };
  const schedule = `waits of ${BACKOFF_MS.join(", ")} ms after failures 1, 2 and 3, each measured from when the failed run threw, and each retry started within ${LATE_MS} ms of its time`;
  let h = await historyOf(t, task.id);
  while (h.starts.length <= failure) {
    const late = Date.now() - due;
    const looks = passedBy();
    if ((late > LATE_MS && looks > LOOK_SLACK) || late > LATE_MS + STARVED_MS) {
      t.fail({
        message: `Retry ${failure} of ${task.id} had not started ${late} ms after it was due${during}${looks > 0 ? `; your workers looked for due tasks ${looks} times since, and passed it by` : ""}.`,
        expected: `run ${failure + 1} between ${wanted} and ${wanted + LATE_MS} ms after failure ${failure}`,
        actual: timeline(t, task.id, h),
        hint: during
          ? "A retry must wait in Redis (a sorted set scored by the time it is due), where any worker takes it once it is due. A worker that sleeps and runs the task again from its own memory loses the retry when it stops, and blocks its loop meanwhile."
          : "Schedule the retry due at Date.now() + 200 × 2^(failures − 1) (200 ms after the 1st failure, not 400), and have idle workers take any task whose due time has passed, about every 25 ms.",
      });
    }
    await t.sleep(10);
    h = await historyOf(t, task.id);
  }
  const next = h.starts.find((s) => s.run === failure + 1)!;
  const gap = next.at - failed.at;
  const previousStart = h.starts.find((s) => s.run === failure)!;
  if (gap < wanted - EARLY_MS) {
    const fromStart = next.at - previousStart.at;
    const grows = failure > 1 && gap >= BACKOFF_MS[failure - 2]! - EARLY_MS;
    const fromClaim = fromStart >= wanted - EARLY_MS;
    t.fail({
      message: grows
        ? `Retry ${failure} of ${task.id} came ${gap} ms after failure ${failure}: the backoff did not grow.`
        : `Retry ${failure} of ${task.id} came only ${gap} ms after run ${failure} failed${fromClaim ? `, ${fromStart} ms after that run started` : ""}.`,
      expected: schedule,
      actual: timeline(t, task.id, h),
      hint: grows
        ? "Double the delay after each failure: 200 × 2^(failures − 1), where failures counts this task's failed attempts so far."
        : fromClaim
          ? `Runs of ${task.id} take ${task.ms ?? 0} ms. The delay runs from the failure: take Date.now() when handle has thrown, not the time you claimed the task.`
          : `Do not retry at once: a failure that just happened will likely happen again. Schedule the retry due at Date.now() + delay, and let workers take only tasks whose due time has come.${gap < 15 ? " If you already do, two workers may have taken the same task at once: find a due task and remove it in one atomic step (a Lua script)." : ""}`,
    });
  }
  if (gap > wanted + LATE_MS) {
    const counted = t.commands("HINCRBY").find((e) => e.args[1] === RUNS && e.args[2] === task.id && e.reply?.summary === String(failure + 1));
    const looks = passedBy(counted?.at ?? Infinity);
    if (looks > LOOK_SLACK) {
      t.fail({
        message: `Retry ${failure} of ${task.id} came ${gap} ms after run ${failure} failed: ${gap - wanted} ms after it was due, and your workers looked for due tasks ${looks} times in between${during}.`,
        expected: schedule,
        actual: timeline(t, task.id, h),
        hint:
          gap >= 2 * wanted - LATE_MS
            ? "The delay after the 1st failure is 200 ms: 200 × 2^(failures − 1), with failures = 1 for the first retry."
            : "Once a retry is due, the next worker that looks should take it: look at the schedule itself (score <= now) about every 25 ms, rather than moving due tasks elsewhere on a slower timer.",
      });
    }
    t.note(
      `retry ${failure} of ${task.id} came ${gap - wanted} ms late, but your workers were barely running meanwhile (${looks} look(s)): the machine's doing, not held against you`,
    );
  }
}

/**
 * Fails unless each worker looked for due tasks about every 25 ms: the median gap between its
 * idle-poll commands of the commonest kind is at most POLL_MAX_MS. A median, so a handler's run or
 * a moment the machine did not schedule the worker does not count.
 */
function expectPollCadence(t: CheckContext, pace: Pace, workers: LearnerProcess[]): void {
  for (const worker of workers) {
    const bySignature = new Map<string, number[]>();
    for (const e of t.commands())
      if (e.owner === worker.name && pace.polls.has(signature(e))) bySignature.set(signature(e), [...(bySignature.get(signature(e)) ?? []), e.at]);
    const times = [...bySignature.values()].sort((a, b) => b.length - a.length)[0] ?? [];
    if (times.length < 3) continue;
    const gaps = times
      .slice(1)
      .map((at, i) => at - times[i]!)
      .sort((a, b) => a - b);
    const median = gaps[Math.floor(gaps.length / 2)]!;
    if (median > POLL_MAX_MS) {
      t.fail({
        message: `${worker.name} looked for due tasks every ${Math.round(median)} ms (the median gap between its looks).`,
        expected: `about every 25 ms when idle; at most ${POLL_MAX_MS} ms`,
        actual: `${times.length} looks over ${Math.round(times.at(-1)! - times[0]!)} ms`,
        hint: "When nothing is due, sleep about 25 ms and look again: a retry is due at an exact time, and a worker that looks once a second runs it up to a second late.",
      });
    }
  }
}

/**
 * When (the log's clock) the worker that sent `marker` had recorded what followed it: its last
 * command before it polled again. Undefined while it has not polled again.
 */
function recordedAt(t: CheckContext, pace: Pace, marker: LogEntry): number | undefined {
  const after = commandsOf(t, marker.owner ?? "", marker.seq);
  const end = after.findIndex((e) => pace.polls.has(signature(e)));
  if (end < 0) return undefined;
  return end === 0 ? marker.at : after[end - 1]!.at;
}

/** Waits until `owner` polls again after the command `after` (its failure recorded), or until `latest` (Date.now()). */
async function untilPollingAgain(t: CheckContext, pace: Pace, owner: string, after: number, latest: number): Promise<void> {
  while (Date.now() < latest && !commandsOf(t, owner, after).some((e) => pace.polls.has(signature(e)))) await t.sleep(5);
}

/** Every command the program sent to Redis itself (not through handler.ts) after `from`, up to `to` if given. */
const commandsOf = (t: CheckContext, owner: string, from: number, to = Infinity) =>
  t.commands().filter((e) => e.owner === owner && e.seq > from && e.seq <= to && !isEffect(e));

const signature = (e: LogEntry) => `${e.args[0]} ${e.args[1] ?? ""}`;

/**
 * What idle workers send: the commands of their poll for due tasks. Learned from the workers
 * themselves, so it holds whatever commands and keys they use.
 */
async function pollSignatures(t: CheckContext, workers: LearnerProcess[]): Promise<Set<string>> {
  const names = new Set(workers.map((w) => w.name));
  await t.sleep(120);
  return new Set(
    t
      .commands()
      .filter((e) => e.owner !== undefined && names.has(e.owner) && !isEffect(e))
      .map(signature),
  );
}

/**
 * The commands a worker sent after `marker` (a write of handler.ts) until it went back to polling:
 * what it does to record a failure or a success. Empty if it went straight back to polling.
 */
async function pathAfter(t: CheckContext, marker: LogEntry, polls: Set<string>): Promise<LogEntry[]> {
  const deadline = performance.now() + 1500;
  for (;;) {
    const after = commandsOf(t, marker.owner ?? "", marker.seq);
    const end = after.findIndex((e) => polls.has(signature(e)));
    if (end >= 0) return after.slice(0, end);
    if (performance.now() > deadline) return after;
    await t.sleep(10);
  }
}

/** Whether the command is the RPUSH handler.ts sends when run `run` of `id` throws. */
function isFailure(e: LogEntry, id: string, run: number): boolean {
  if (e.args[0] !== "RPUSH" || e.args[1] !== FAILED) return false;
  const mark = parseMark(e.args[2] ?? "");
  return mark?.id === id && mark.run === run;
}

const failureEntry = (t: CheckContext, id: string, run: number) => t.commands("RPUSH").find((e) => isFailure(e, id, run));

/**
 * Of the commands a program sent (in order, up to the one it died right after), those Redis
 * applied that change something about `id`. A command queued in MULTI is applied only by an EXEC
 * that reached Redis; the last command, the crash point, reached Redis (its reply never came back).
 */
function appliedWrites(entries: LogEntry[], crashSeq: number, id: string): LogEntry[] {
  const applied: LogEntry[] = [];
  let queued: LogEntry[] | null = null;
  for (const e of entries) {
    const name = e.args[0]!;
    const ok = e.seq === crashSeq || (e.reply !== undefined && e.reply.type !== "error");
    if (name === "MULTI") queued = ok ? [] : null;
    else if (name === "EXEC") {
      if (ok && queued) applied.push(...queued);
      queued = null;
    } else if (name === "DISCARD") queued = null;
    else if (queued) queued.push(e);
    else if (ok) applied.push(e);
  }
  return applied.filter((e) => !READS.has(e.args[0]!) && e.args.slice(1).some((a) => a.includes(id)));
}

/** Waits for a command in the log; fails with `failure` if none comes. */
async function untilLogged(t: CheckContext, match: (e: LogEntry) => boolean, timeoutMs: number, failure: () => Promise<Failure>): Promise<LogEntry> {
  let found: LogEntry | undefined;
  await until(t, async () => (found = t.commands().find(match)) !== undefined, timeoutMs, failure, 10);
  return found!;
}

export default defineChecks({
  timeoutMs: 25_000,
  // Two at a time: each check runs several worker processes, and the timing of retries suffers
  // when more share the machine's two cores.
  concurrency: 2,
  // The live view: two workers drain a mix of healthy, slow, flaky and poison tasks; watch retries
  // wait in the schedule with growing delays, poison tasks land in the dead-letter queue, and
  // every 8 s the grader replays the dead letters (and they come back, being poison).
  playground: async (t) => {
    const limits = { wallMs: 70_000, cpuSeconds: 30 };
    for (let i = 1; i <= 2; i++) t.spawn("queue.ts", { name: `worker-${i}`, limits });
    const queue = await t.load("queue.ts", { name: "producer", limits });
    const produce = async () => {
      while (!t.signal.aborted) {
        const roll = t.random();
        const ms = t.random() < 0.3 ? 100 + Math.floor(t.random() * 600) : undefined;
        const task =
          roll < 0.6 ? newTask(t, "healthy", 0, ms) : roll < 0.9 ? newTask(t, "flaky", 1 + Math.floor(t.random() * 3), ms) : newTask(t, "poison", POISON);
        await queue.call("enqueue", [task]).catch(() => {});
        await t.sleep(700);
      }
    };
    const replays = async () => {
      while (!t.signal.aborted) {
        await t.sleep(8000);
        if (t.signal.aborted) break;
        const letters = await queue.call<DeadLetter[]>("deadLetters", []).catch(() => []);
        for (const letter of Array.isArray(letters) ? letters : []) {
          t.note(`replaying ${letter.task.id} (dead after ${letter.attempts} attempts: ${letter.error})`);
          await queue.call("replay", [letter.task.id]).catch(() => {});
        }
      }
    };
    await Promise.all([produce(), replays()]);
  },
  checks: {
    "delayed-retries": async (t) => {
      const workers = await startWorkers(t, workerNames(2));
      const byName = new Map(workers.map((w) => [w.name, w]));
      const queue = await producer(t);
      const polls = await pollSignatures(t, workers);
      // Slow runs: a delay counted from the claim instead of the failure shows up as an early retry.
      const ms = 80 + Math.floor(t.random() * 170);
      const flaky = newTask(t, "flaky", 3, ms);
      const healthy = [newTask(t, "healthy", 0), newTask(t, "healthy", 0)];
      for (const task of shuffled(t, [flaky, ...healthy])) await queue.call("enqueue", [task]);
      const pace: Pace = {
        polls,
        offset: markAndClock(t, `handler runs slow and throws: each run of ${flaky.id} takes ${ms} ms; runs 1-3 throw, run 4 works`),
      };

      await untilStarted(t, flaky, 1, 5000, " of being enqueued, with two workers polling");
      await untilFailed(t, flaky, 1);
      await expectRetryInWindow(t, flaky, 1, pace);

      // The worker that failed run 2 stops (SIGSTOP) once it has recorded the failure (it polls
      // again), while the retry waits: another worker must take it.
      const failed2 = await untilFailed(t, flaky, 2);
      const owner2 = runOwner(t, flaky.id, 2);
      const paused = owner2 ? byName.get(owner2) : undefined;
      await untilPollingAgain(t, pace, owner2 ?? "", failureEntry(t, flaky.id, 2)?.seq ?? 0, failed2.at + BACKOFF_MS[1]! - 150);
      let during = "";
      if (paused?.alive && (await historyOf(t, flaky.id)).starts.length === 2) {
        const after = Date.now() - failed2.at;
        t.note(
          `pausing ${paused.name} (SIGSTOP), which ran and failed run 2 of ${flaky.id}, ${after} ms into its ${BACKOFF_MS[1]} ms backoff; the other worker must run the retry`,
        );
        paused.pause();
        during = `, while ${paused.name}, the worker that ran and failed run 2, was paused (SIGSTOP) from ${after} ms after that failure`;
      }
      try {
        await expectRetryInWindow(t, flaky, 2, pace, during);
      } finally {
        if (during) paused!.resume();
      }

      // The worker that failed run 3 dies (SIGKILL) while the retry waits, at a moment the seed
      // picks once it has recorded the failure: the retry lives on in Redis.
      const failed3 = await untilFailed(t, flaky, 3);
      const owner3 = runOwner(t, flaky.id, 3);
      const victim = owner3 ? byName.get(owner3) : undefined;
      const latest = failed3.at + BACKOFF_MS[2]! - 200;
      await untilPollingAgain(t, pace, owner3 ?? "", failureEntry(t, flaky.id, 3)?.seq ?? 0, latest);
      await t.sleep(Math.min(Math.floor(t.random() * 300), Math.max(0, latest - Date.now())));
      during = "";
      if (victim?.alive && (await historyOf(t, flaky.id)).starts.length === 3) {
        const after = Date.now() - failed3.at;
        t.note(
          `SIGKILL ${victim.name}, which ran and failed run 3 of ${flaky.id}, ${after} ms into its ${BACKOFF_MS[2]} ms backoff; the other worker must run the retry when it is due`,
        );
        await victim.kill();
        during = `, after ${victim.name}, the worker that ran and failed run 3, was SIGKILLed ${after} ms after that failure`;
      }
      await expectRetryInWindow(t, flaky, 3, pace, during);

      await until(
        t,
        async () => (await historyOf(t, flaky.id)).done > 0,
        2000 + ms,
        async () => ({
          message: `Task ${flaky.id} was not done after its 4th run.`,
          actual: timeline(t, flaky.id, await historyOf(t, flaky.id)),
          hint: "A task whose run returns is finished; its 4th run is its last chance and it works.",
        }),
      );
      await t.sleep(300); // a repeated run would show up now
      const all = await histories(t, [flaky.id, ...healthy.map((h) => h.id)]);
      const runs = all.get(flaky.id)!;
      if (runs.starts.length !== MAX_ATTEMPTS) {
        t.fail({
          message: `Task ${flaky.id} ran ${runs.starts.length} times; it fails 3 times, so it should be done on run 4 and never run again.`,
          actual: timeline(t, flaky.id, runs),
          hint: "Once handle(task) returns, the task is finished: remove it, so no worker runs it again. A paused worker that wakes up must not run a retry someone else already ran.",
        });
      }
      for (const [id, h] of all) {
        t.equal(h.done, 1, {
          message: `Task ${id} was done ${h.done} times.`,
          hint:
            h.done === 0
              ? "Every task should be run: the healthy ones too."
              : "Once handle(task) returns, the task is finished: remove it, so no worker runs it again.",
        });
      }
      expectPollCadence(t, pace, workers);
    },

    "dead-letters-after-n": async (t) => {
      await startWorkers(t, workerNames(2));
      const queue = await producer(t);
      const poison = newTask(t, "poison", POISON, Math.floor(t.random() * 60));
      const lastChance = newTask(t, "last-chance", MAX_ATTEMPTS - 1);
      const healthy = newTask(t, "healthy", 0);
      // Replies come late and out of step: nothing here is about timing, everything about counting.
      const latency = 2 + Math.floor(t.random() * 4);
      t.proxy.setLatency({ ms: latency, jitterMs: 3 });
      for (const task of shuffled(t, [poison, lastChance, healthy])) await queue.call("enqueue", [task]);
      t.fault(`handler throws on every run of ${poison.id}`);
      t.note(
        `${poison.id} is a poison task (it always fails); ${lastChance.id} fails 3 times and works on its 4th and last attempt; replies take ${latency}±3 ms`,
      );
      const letter = await untilDeadLettered(t, queue, poison, 10_000);
      const seenAt = Date.now();
      // Longer than the last backoff, so a 5th run would have shown up.
      await t.sleep(BACKOFF_MS.at(-1)! + 400);
      t.proxy.setLatency({ ms: 0 });
      const h = await historyOf(t, poison.id);
      if (h.starts.length !== MAX_ATTEMPTS) {
        t.fail({
          message: `Poison task ${poison.id} ran ${h.starts.length} times.`,
          expected: `${MAX_ATTEMPTS} runs (the first and ${MAX_ATTEMPTS - 1} retries), then the dead-letter queue`,
          actual: timeline(t, poison.id, h),
          hint:
            h.starts.length > MAX_ATTEMPTS
              ? "A dead-lettered task must no longer be scheduled: remove it from the queue in the same step that dead-letters it."
              : `Count every attempt, the first one too: the task is dead-lettered when attempt ${MAX_ATTEMPTS} fails.`,
        });
      }
      t.equal(letter.task, poison, {
        message: "The dead letter's task is not the task that was enqueued.",
        hint: "Store the task itself, unchanged (every field), in the dead letter's task field.",
      });
      t.equal(letter.attempts, MAX_ATTEMPTS, {
        message: `The dead letter of ${poison.id} says it made ${String(letter.attempts)} attempts.`,
        hint: "attempts is the number of times the task was run, the first run included.",
      });
      const lastError = `${poison.id} failed on run ${MAX_ATTEMPTS}`;
      if (typeof letter.error !== "string" || !letter.error.includes(lastError)) {
        t.fail({
          message: `The dead letter of ${poison.id} does not carry the error of its last attempt.`,
          expected: `an error containing "${lastError}"`,
          actual: letter.error,
          hint: "Store the message of the error that the last attempt threw (error.message), not the first one and not a summary: it is what an operator reads to decide whether a replay can work.",
        });
      }
      const lastFailure = h.fails.find((f) => f.run === MAX_ATTEMPTS);
      if (lastFailure && (typeof letter.failedAt !== "number" || letter.failedAt < lastFailure.at - EARLY_MS || letter.failedAt > seenAt + EARLY_MS)) {
        t.fail({
          message: `The dead letter of ${poison.id} has failedAt ${JSON.stringify(letter.failedAt)}, which is not when it was dead-lettered.`,
          expected: `Date.now() in ms, between ${lastFailure.at} (its last run threw) and ${seenAt} (the grader saw the dead letter)`,
          actual: letter.failedAt,
          hint: "failedAt is Date.now() (milliseconds) at the moment the last attempt failed and the task was dead-lettered.",
        });
      }
      // deadLetters() runs in the producer, which never ran the task: the letter lives in Redis.
      await t.expectInRedis([lastError], {
        ignore: EFFECTS,
        message: `The dead letter of ${poison.id} is not stored in your Redis.`,
        hint: "Keep dead letters in Redis (a hash or a list of { task, attempts, error, failedAt }), where deadLetters() in any process reads them.",
      });
      await until(
        t,
        async () => {
          const all = await histories(t, [lastChance.id, healthy.id]);
          return all.get(lastChance.id)!.done > 0 && all.get(healthy.id)!.done > 0;
        },
        3000,
        async () => ({
          message: `Task ${lastChance.id} (it fails 3 times, then works) or ${healthy.id} was not done.`,
          expected: `${lastChance.id} done on its ${MAX_ATTEMPTS}th run, which is its last allowed attempt, and ${healthy.id} done at once`,
          actual: `${lastChance.id}: ${timeline(t, lastChance.id, await historyOf(t, lastChance.id))}; ${healthy.id}: ${timeline(t, healthy.id, await historyOf(t, healthy.id))}`,
          hint: `A task gets ${MAX_ATTEMPTS} attempts in all: dead-letter it only when attempt ${MAX_ATTEMPTS} fails, not when attempt ${MAX_ATTEMPTS - 1} does.`,
        }),
      );
      const early = findLetter(await deadLetters(t, queue), lastChance.id);
      if (early)
        t.fail({
          message: `Task ${lastChance.id} is in the dead-letter queue although its ${MAX_ATTEMPTS}th attempt succeeded.`,
          actual: early,
          hint: "Dead-letter only a task whose last attempt failed.",
        });
    },

    replay: async (t) => {
      await startWorkers(t, workerNames(2));
      const [queue, operator] = [await producer(t), await producer(t, "operator")];
      const task = newTask(t, "fixed-later", MAX_ATTEMPTS + 1);
      await queue.call("enqueue", [task]);
      t.fault(`handler throws on runs 1-${MAX_ATTEMPTS + 1} of ${task.id} and works from run ${MAX_ATTEMPTS + 2}`);
      await untilDeadLettered(t, queue, task, 10_000);
      const unknown = t.id("missing");
      const missing = await queue.call("replay", [unknown]);
      t.equal(missing, false, {
        message: `replay(${JSON.stringify(unknown)}), an id that was never enqueued, did not return false.`,
        hint: "replay returns false when no dead letter has that id, and changes nothing.",
      });
      // Two operators press replay at the same moment, with replies slowed and out of step: a
      // replay that reads the dead letter and then moves it in a second step lets both through.
      t.proxy.setLatency({ ms: 6, jitterMs: 5 });
      t.note(`replay(${task.id}) from the producer and from a second process at the same moment; replies take 6±5 ms`);
      const results = await Promise.all([queue.call("replay", [task.id]), operator.call("replay", [task.id])]);
      t.proxy.setLatency({ ms: 0 });
      const trues = results.filter((r) => r === true).length;
      if (trues !== 1 || !results.every((r) => r === true || r === false)) {
        t.fail({
          message: `Two replay(${JSON.stringify(task.id)}) calls made at the same moment returned ${JSON.stringify(results)}.`,
          expected: "exactly one true (it moved the dead letter) and one false (there was none left to move)",
          actual: results,
          hint:
            trues === 2
              ? "Both calls saw the dead letter before either removed it. Check for the dead letter and move it in one atomic step (a Lua script that HGETs, HDELs and schedules the task), and return true only from the call that removed it."
              : "One of the calls must find the dead letter and return true.",
        });
      }
      const deadline = performance.now() + 8000;
      for (;;) {
        const h = await historyOf(t, task.id);
        if (h.done > 0) break;
        if (h.starts.length > MAX_ATTEMPTS && findLetter(await deadLetters(t, queue), task.id)) {
          t.fail({
            message: `After its replay, ${task.id} was dead-lettered again after ${h.starts.length - MAX_ATTEMPTS} run(s).`,
            expected: `a replayed task gets ${MAX_ATTEMPTS} fresh attempts, so it is retried and works on run ${MAX_ATTEMPTS + 2}`,
            actual: timeline(t, task.id, h),
            hint: "Replay must reset the attempt count to 0: a task that comes back with its old count is dead-lettered on its first failure.",
          });
        }
        if (performance.now() > deadline) {
          t.fail({
            message: `${task.id} was not done within 8 s of its replay.`,
            expected: `run ${MAX_ATTEMPTS + 1} fails, and after a 200 ms backoff run ${MAX_ATTEMPTS + 2} works`,
            actual: timeline(t, task.id, h),
            hint: "replay must put the task back where workers take tasks from, due now.",
          });
        }
        await t.sleep(40);
      }
      await t.sleep(300);
      const letters = await deadLetters(t, queue);
      if (findLetter(letters, task.id)) {
        t.fail({
          message: `${task.id} is still in deadLetters() after its replay succeeded.`,
          actual: letters,
          hint: "Remove the dead letter in the same atomic step that puts the task back in the queue.",
        });
      }
      const h = await historyOf(t, task.id);
      if (h.done !== 1 || h.starts.length !== MAX_ATTEMPTS + 2) {
        t.fail({
          message: `${task.id} ran ${h.starts.length} times and was done ${h.done} times after being replayed (twice at once).`,
          expected: `${MAX_ATTEMPTS + 2} runs (${MAX_ATTEMPTS} before the dead letter, one more failure after the replay, one retry that works), done once`,
          actual: timeline(t, task.id, h),
          hint: "Replay should put the task back once: move it from the dead-letter queue in one atomic step.",
        });
      }
    },

    "crash-while-failing": async (t) => {
      // Workers die between two Redis commands of recording a failure: after the k-th command
      // they send once handle has thrown (k swept from the seed, up to the length of the path).
      // Dying before anything is recorded may lose the task (it was running); dying after part of
      // it is recorded must neither lose the task nor give it an attempt it did not count.
      const live = new Map((await startWorkers(t, workerNames(2))).map((w) => [w.name, w]));
      let spawned = 2;
      const queue = await producer(t);
      const polls = await pollSignatures(t, [...live.values()]);

      interface Round {
        task: Task;
        attempt: number;
        k: number;
        worker?: string;
        crash?: LogEntry | null;
        crashedAt?: number;
        applied?: LogEntry[];
      }
      const rounds = new Map<string, Round>();
      let dlqPathLength = 0;
      const arm = (entry: LogEntry) => {
        if (entry.args[0] !== "HINCRBY" || entry.args[1] !== RUNS || !entry.owner) return;
        const round = rounds.get(entry.args[2] ?? "");
        const worker = live.get(entry.owner);
        if (!round || round.worker || !worker || entry.reply?.summary !== String(round.attempt)) return;
        if (round.attempt === MAX_ATTEMPTS) {
          if (dlqPathLength === 0) return; // not learned yet: this one dead-letters unharmed
          round.k = 1 + ((round.k - 1) % dlqPathLength);
        }
        round.worker = worker.name;
        // After handle's two writes (its run and its failure), the k-th command the worker sends.
        const crash = t.crashAt(worker, { match: "*", nth: 2 + round.k, when: "after" }).then((at) => {
          round.crash = at;
          round.crashedAt = Date.now();
          if (!at) return;
          live.delete(worker.name);
          const failed = failureEntry(t, round.task.id, round.attempt);
          round.applied = failed ? appliedWrites(commandsOf(t, worker.name, failed.seq, at.seq), at.seq, round.task.id) : [];
          const name = `worker-${++spawned}`;
          live.set(name, t.spawn("queue.ts", { name, limits: WORKER_LIMITS }));
        });
        crash.catch(() => {});
      };
      t.proxy.on("command", arm);
      try {
        // A poison task the grader only watches: how many commands record a failure, and a dead letter.
        const probe = newTask(t, "probe", POISON);
        await queue.call("enqueue", [probe]);
        t.fault(`handler throws on every run of every task here`);
        const probeFailed = await untilLogged(
          t,
          (e) => isFailure(e, probe.id, 1),
          5000,
          async () => ({
            message: `Run 1 of ${probe.id} did not fail within 5 s of being enqueued.`,
            actual: timeline(t, probe.id, await historyOf(t, probe.id)),
            hint: loopHint,
          }),
        );
        const retryPath = await pathAfter(t, probeFailed, polls);
        if (retryPath.length === 0) {
          t.fail({
            message: `After run 1 of ${probe.id} failed, its worker sent nothing to Redis before it went back to polling: the failure was not recorded.`,
            actual: timeline(t, probe.id, await historyOf(t, probe.id)),
            hint: "When handle throws, count the attempt and schedule the retry in Redis.",
          });
        }
        t.note(`recording a failure took ${retryPath.length} command(s): ${retryPath.map((e) => e.args[0]).join(", ")}`);
        // Each retry-path crash point on a fresh poison task, crashed on its first run.
        const retryKs = shuffled(t, range(1, retryPath.length)).slice(0, 3);
        const fresh = retryKs.map((k) => ({ task: newTask(t, "poison", POISON), attempt: 1, k }));
        // Dead-letter crash points, swept once the probe has shown how long dead-lettering is.
        const dlqKs = shuffled(t, range(1, 4)).slice(0, 3);
        const dying = dlqKs.map((k) => ({ task: newTask(t, "doomed", POISON), attempt: MAX_ATTEMPTS, k }));
        for (const round of fresh) {
          rounds.set(round.task.id, round);
          await queue.call("enqueue", [round.task]);
        }
        t.note(`crash points: ${fresh.map((r) => `${r.task.id} run 1 → after command ${r.k} of recording its failure`).join("; ")}`);
        await t.sleep(400); // the doomed tasks' 4th runs must come after the probe's
        for (const round of dying) {
          rounds.set(round.task.id, round);
          await queue.call("enqueue", [round.task]);
        }
        const probeLetter = await untilDeadLettered(t, queue, probe, 8000);
        const probeDead = failureEntry(t, probe.id, MAX_ATTEMPTS);
        const dlqPath = probeDead ? await pathAfter(t, probeDead, polls) : [];
        dlqPathLength = Math.max(1, dlqPath.length);
        t.note(
          `dead-lettering took ${dlqPath.length} command(s): ${dlqPath.map((e) => e.args[0]).join(", ")}; crash points: ${dying.map((r) => `${r.task.id} run 4 → after command ${1 + ((r.k - 1) % dlqPathLength)}`).join("; ")}`,
        );
        t.equal(probeLetter.attempts, MAX_ATTEMPTS, {
          message: `The dead letter of ${probe.id} says ${String(probeLetter.attempts)} attempts.`,
          hint: "attempts is the number of runs, the first included.",
        });

        // Settled: each task is dead-lettered, or nothing has happened to it for longer than its
        // next retry could take (it is lost).
        const all = [...rounds.values()];
        const quietFor = (h: History) => (h.starts.length < MAX_ATTEMPTS ? BACKOFF_MS[h.starts.length - 1]! : 0) + 700;
        let letters: DeadLetter[] = [];
        let seen = new Map<string, History>();
        const deadline = performance.now() + 9000;
        for (;;) {
          letters = await deadLetters(t, queue);
          seen = await histories(
            t,
            all.map((r) => r.task.id),
          );
          const settled = all.every((r) => {
            if (findLetter(letters, r.task.id)) return true;
            const h = seen.get(r.task.id)!;
            const last = Math.max(h.starts.at(-1)?.at ?? 0, r.crashedAt ?? 0);
            return r.crash !== undefined && Date.now() - last > quietFor(h);
          });
          if (settled || performance.now() > deadline) break;
          await t.sleep(50);
        }
        await t.sleep(300); // a run after the dead letter would show up now
        letters = await deadLetters(t, queue);
        seen = await histories(
          t,
          all.map((r) => r.task.id),
        );
        for (const r of all) {
          const h = seen.get(r.task.id)!;
          const letter = findLetter(letters, r.task.id);
          if (!r.crash) {
            if (!letter)
              t.fail({ message: `${describeTask(r.task)} was neither dead-lettered nor crashed on.`, actual: timeline(t, r.task.id, h), hint: loopHint });
            continue;
          }
          const where = `${r.worker} died right after sending ${r.crash.args[0]} (command ${r.k} of recording the failure of run ${r.attempt} of ${r.task.id}${r.attempt === MAX_ATTEMPTS ? ", its last attempt" : ""})`;
          const applied = r.applied ?? [];
          const wrote = applied.length > 0 ? `Redis had applied ${applied.map(show).join("; ")}` : "nothing about the task had reached Redis";
          if (!letter) {
            if (applied.length > 0) {
              t.fail({
                message: `${where}. ${wrote}, and then ${r.task.id} was never run again nor dead-lettered: it is lost, with half of its failure recorded.`,
                expected:
                  r.attempt === MAX_ATTEMPTS
                    ? "the task dead-lettered, or nothing of the dead-lettering applied"
                    : "the retry scheduled with the failure counted, or nothing of it applied",
                actual: timeline(t, r.task.id, h),
                hint: "Record a failure in one atomic step: count the attempt and schedule the retry (or write the dead letter and remove the task) in one MULTI/EXEC or one Lua script. Between two separate writes, the task exists only in the memory of a worker that can die there.",
              });
            }
            t.note(`${where}; ${wrote}, so the task was lost with its worker, as a running task may be`);
            continue;
          }
          // The crashed attempt counts once recorded; if nothing was recorded it may run once more.
          const allowed = MAX_ATTEMPTS + (applied.length > 0 ? 0 : 1);
          if (h.starts.length > allowed || letter.attempts !== MAX_ATTEMPTS) {
            t.fail({
              message: `${where}. ${wrote}; ${r.task.id} then ran ${h.starts.length} times in all${letter.attempts !== MAX_ATTEMPTS ? ` and its dead letter says ${String(letter.attempts)} attempts` : ""}.`,
              expected: `${MAX_ATTEMPTS} runs, then the dead-letter queue: a failure is either fully recorded (counted and scheduled) or not at all`,
              actual: timeline(t, r.task.id, h),
              hint:
                r.attempt === MAX_ATTEMPTS
                  ? "A dead-lettered task must leave the queue in the same atomic step that writes its dead letter (one MULTI/EXEC or Lua script), so a worker dying in between cannot leave it both dead and scheduled."
                  : "The retry was scheduled before the attempt was counted, so the crash erased a failure. Count the attempt and schedule the retry in one atomic step (MULTI/EXEC or a Lua script), or keep the count in the scheduled entry itself.",
            });
          }
        }
        const fallen = [...live.values()].filter((w) => !w.alive);
        if (fallen.length > 0)
          t.fail({
            message: `${fallen.map(describeEnd).join(", ")}, though the grader never stopped it.`,
            actual: fallen[0]!.output().slice(-1500),
            hint: loopHint,
          });
      } finally {
        t.proxy.off("command", arm);
      }
    },

    "replay-crash-safe": async (t) => {
      await startWorkers(t, workerNames(2));
      const queue = await producer(t);
      // Each fails its 4 attempts, so it is dead-lettered, and works on its first run after a replay.
      const tasks = Array.from({ length: 7 }, () => newTask(t, "dead", MAX_ATTEMPTS));
      for (const task of tasks) await queue.call("enqueue", [task]);
      t.fault(`handler throws on runs 1-${MAX_ATTEMPTS} of each of ${tasks.length} tasks`);
      for (const task of tasks) await untilDeadLettered(t, queue, task, 10_000);

      // How many commands one replay takes, from a program that does nothing else.
      const first = await producer(t, "operator-1");
      const mark = t.logPosition();
      t.equal(await first.call("replay", [tasks[0]!.id]), true, {
        message: `replay(${JSON.stringify(tasks[0]!.id)}) of a dead letter did not return true.`,
        hint: "Return true once the task is back in the queue.",
      });
      const steps = commandsOf(t, first.name, mark);
      if (steps.length === 0)
        t.fail({
          message: "replay() returned true without sending any command to Redis.",
          hint: "The dead letters live in Redis: replay must move one back to the queue there.",
        });
      t.note(`replay took ${steps.length} command(s): ${steps.map((e) => e.args[0]).join(", ")}`);

      // Operators that die right after the k-th command of their replay, k swept over the whole of it.
      const ks = shuffled(t, range(1, steps.length)).slice(0, tasks.length - 1);
      interface Round {
        task: Task;
        k: number;
        operator: string;
        crash: LogEntry | null;
      }
      const rounds: Round[] = await Promise.all(
        ks.map(async (k, i) => {
          const task = tasks[i + 1]!;
          const operator = await producer(t, `operator-${i + 2}`);
          let crash: LogEntry | null = null;
          const crashed = t.crashAt(operator, { match: "*", nth: k, when: "after" }).then((at) => (crash = at));
          const outcome = await operator.call("replay", [task.id]).then(
            () => null,
            (error: unknown) => error,
          );
          if (outcome === null)
            await operator.kill(); // its replay took fewer commands this time: disarm
          else await Promise.race([crashed, t.sleep(2000)]);
          if (outcome !== null && !crash) throw outcome; // replay threw on its own: that failure is the learner's
          return { task, k, operator: operator.name, crash };
        }),
      );
      t.note(
        `crash points: ${rounds.map((r) => `${r.operator} replaying ${r.task.id} → after its command ${r.k}${r.crash ? ` (${r.crash.args[0]})` : " (not reached)"}`).join("; ")}`,
      );

      // A replayed task is due at once: it runs within moments, or it was not replayed. The dead
      // letters no round needed stay where they are.
      const ids = [tasks[0]!, ...rounds.map((r) => r.task)].map((task) => task.id);
      await t.sleep(700);
      const letters = await deadLetters(t, queue);
      const seen = await histories(t, ids);
      const again: Task[] = [];
      for (const r of rounds) {
        const h = seen.get(r.task.id)!;
        const dead = findLetter(letters, r.task.id) !== undefined;
        const ran = h.starts.length > MAX_ATTEMPTS;
        const where = r.crash
          ? `${r.operator} died right after sending ${r.crash.args[0]}, command ${r.k} of replay(${JSON.stringify(r.task.id)})`
          : `replay(${JSON.stringify(r.task.id)}) returned`;
        if (dead && ran) {
          t.fail({
            message: `${where}. ${r.task.id} then ran again, and is still in deadLetters(): the replay was half done, and the task is now in two places.`,
            expected: "the dead letter moved back to the queue completely, or not at all",
            actual: timeline(t, r.task.id, h),
            hint: "Remove the dead letter and schedule the task in one atomic step (one Lua script or MULTI/EXEC), not one after the other.",
          });
        }
        if (!dead && !ran) {
          t.fail({
            message: `${where}. ${r.task.id} is no longer in deadLetters(), and it never ran again: the dead letter is lost.`,
            expected: "the dead letter moved back to the queue completely, or not at all",
            actual: timeline(t, r.task.id, h),
            hint: "Remove the dead letter and schedule the task in one atomic step (one Lua script or MULTI/EXEC): deleting it first and scheduling it with a second command loses it when the caller dies in between.",
          });
        }
        if (dead) again.push(r.task);
      }
      // Replays that never happened are tried again: the dead letter must still be whole.
      for (const task of again) {
        t.equal(await queue.call("replay", [task.id]), true, {
          message: `replay(${JSON.stringify(task.id)}) returned false for a task still in deadLetters().`,
          hint: "A replay that died before it changed anything must leave the dead letter as it was.",
        });
      }
      await until(
        t,
        async () => [...(await histories(t, ids)).values()].every((h) => h.done > 0),
        3000,
        async () => {
          const all = await histories(t, ids);
          const missing = ids.filter((id) => all.get(id)!.done === 0);
          return {
            message: `${missing.length} replayed task(s) were not done within 3 s.`,
            actual: missing.map((id) => `${id}: ${timeline(t, id, all.get(id)!)}`).join("\n"),
            hint: "replay must put the task back where workers take tasks from, due now, with its attempts reset.",
          };
        },
      );
      await t.sleep(300);
      const all = await histories(t, ids);
      const twice = ids.filter((id) => all.get(id)!.done > 1);
      if (twice.length > 0) {
        t.fail({
          message: `${twice.length} replayed task(s) were done more than once.`,
          actual: twice.map((id) => `${id}: ${timeline(t, id, all.get(id)!)}`).join("\n"),
          hint: "A replay puts the task back once: move it out of the dead-letter queue and into the schedule in one atomic step.",
        });
      }
      const left = (await deadLetters(t, queue)).filter((l) => ids.includes(l.task?.id));
      if (left.length > 0)
        t.fail({
          message: `${left.length} task(s) were done after their replay and are still in deadLetters().`,
          actual: left,
          hint: "Remove the dead letter in the same atomic step that puts the task back in the queue.",
        });
    },

    "survives-redis-faults": async (t) => {
      const workers = await startWorkers(t, workerNames(2));
      const queue = await producer(t);
      const polls = await pollSignatures(t, workers);
      const tasks: Task[] = [];
      const enqueue = async (task: Task) => {
        tasks.push(task);
        await queue.call("enqueue", [task]);
      };

      // Learn what recording a success and a failure take, then cut every connection while a
      // retry waits: the workers reconnect and the retry still comes.
      const calm = newTask(t, "healthy", 0);
      const shaky = newTask(t, "flaky", 1);
      await enqueue(calm);
      await enqueue(shaky);
      const nothing = async (): Promise<Failure> => ({ message: `Task ${calm.id} or ${shaky.id} did not run within 5 s of being enqueued.`, hint: loopHint });
      const doneMark = await untilLogged(t, (e) => e.args[0] === "RPUSH" && e.args[1] === DONE && e.args[2] === calm.id, 5000, nothing);
      const failMark = await untilLogged(t, (e) => isFailure(e, shaky.id, 1), 5000, nothing);
      const [successPath, retryPath] = await Promise.all([pathAfter(t, doneMark, polls), pathAfter(t, failMark, polls)]);
      t.note(`cutting every connection to Redis while ${shaky.id} waits out its ${BACKOFF_MS[0]} ms backoff`);
      t.proxy.cutAll();
      await until(
        t,
        async () => (await historyOf(t, shaky.id)).done > 0,
        4000,
        async () => ({
          message: `After the grader cut every connection while ${shaky.id} waited out its backoff, its retry never ran.`,
          actual: `${timeline(t, shaky.id, await historyOf(t, shaky.id))}\n${workers.map(describeEnd).join(", ")}`,
          hint: "A cut connection is not the end: ioredis reconnects by itself, so let the worker's loop carry on (catch errors around each step) and keep the retry in Redis, where it survives.",
        }),
      );

      // Now every reply is late and out of step, and Redis refuses one command on each path in
      // turn: a worker's poll, recording a failure, recording a success, and dead-lettering.
      const latency = 2 + Math.floor(t.random() * 4);
      t.proxy.setLatency({ ms: latency, jitterMs: 3 });
      const poison = newTask(t, "poison", POISON, 60 + Math.floor(t.random() * 40));
      await enqueue(poison);
      for (const task of shuffled(t, [newTask(t, "healthy", 0, Math.floor(t.random() * 30)), newTask(t, "flaky", 2), newTask(t, "healthy", 0)]))
        await enqueue(task);
      t.fault(`handler throws on every run of ${poison.id}, and on the first runs of the flaky tasks`);
      const pollNames = new Set([...polls].map((sig) => sig.split(" ")[0]!));
      const namesOf = (path: LogEntry[]) => path.map((e) => e.args[0]!);
      // A command of that path (not one idle polls send too, when there is a choice); never MULTI
      // or the handler's own writes.
      const pick = (names: string[], avoidPolls: boolean, prefer: string[] = []) => {
        const usable = [...new Set(names)].filter((n) => !NEVER_REFUSED.has(n));
        const own = avoidPolls ? usable.filter((n) => !pollNames.has(n)) : usable;
        const from = own.length > 0 ? own : usable;
        const preferred = from.filter((n) => prefer.includes(n));
        const choice = preferred.length > 0 ? preferred : from;
        return choice.length > 0 ? choice[Math.floor(t.random() * choice.length)]! : undefined;
      };
      interface Hit {
        path: string;
        name: string;
        entry?: LogEntry;
      }
      const hits: Hit[] = [];
      /** Redis refuses the next `name` command, whoever sends it; withdrawn if none comes in 1.5 s. */
      const refuse = async (path: string, name: string | undefined) => {
        if (!name) return t.note(`nothing recognisable to refuse in ${path}`);
        const mark = t.logPosition();
        t.proxy.failNext(1, { match: name });
        const deadline = performance.now() + 1500;
        let entry: LogEntry | undefined;
        while (!(entry = t.commands(name).find((e) => e.seq > mark && e.fault === "failNext")) && performance.now() < deadline) await t.sleep(10);
        if (!entry) t.proxy.failNext(0);
        hits.push({ path, name, entry });
        t.note(entry ? `Redis refused ${entry.owner ?? "?"}'s ${show(entry)} (${path})` : `no ${name} came within 1.5 s (${path}); fault withdrawn`);
      };
      const phases: Record<string, () => Promise<void>> = {
        "a worker's poll": () => refuse("a worker's poll", pick([...pollNames], false)),
        // The task is enqueued first (enqueue may use the same commands), and runs slowly enough
        // for the fault to be armed before its outcome is recorded.
        "recording a failure": async () => {
          await enqueue(newTask(t, "flaky", 1, 40 + Math.floor(t.random() * 40)));
          await refuse("recording a failure", pick(namesOf(retryPath), true));
        },
        "recording a success": async () => {
          await enqueue(newTask(t, "healthy", 0, 40 + Math.floor(t.random() * 40)));
          await refuse("recording a success", pick(namesOf(successPath), true));
        },
      };
      for (const phase of shuffled(t, Object.keys(phases))) await phases[phase]!();
      // Dead-lettering: refused while the poison task's last run is under way. Dead-lettering
      // likely ends the way recording a failure does (EXEC, a script), so that is preferred. A
      // poison task lost to an earlier fault never gets there; the verdict below says so.
      const lastRun = performance.now() + 6000;
      while ((await historyOf(t, poison.id)).starts.length < MAX_ATTEMPTS && performance.now() < lastRun) await t.sleep(10);
      if ((await historyOf(t, poison.id)).starts.length >= MAX_ATTEMPTS)
        await refuse("dead-lettering", pick(namesOf(retryPath), true, ["EXEC", "EVAL", "EVALSHA", "FCALL"]));
      t.proxy.setLatency({ ms: 0 });

      const faults = () =>
        hits
          .filter((h) => h.entry)
          .map((h) => `${h.entry!.owner}'s ${h.entry!.args[0]} refused (${h.path})`)
          .join("; ") || "none landed";
      const settledFor = async () => {
        const all = await histories(
          t,
          tasks.map((task) => task.id),
        );
        const letters = await deadLetters(t, queue);
        return { all, letters };
      };
      await until(
        t,
        async () => {
          if (workers.every((w) => !w.alive)) return true;
          const { all, letters } = await settledFor();
          return tasks.every((task) => (task.failures >= POISON ? findLetter(letters, task.id) !== undefined : all.get(task.id)!.done > 0));
        },
        6000,
        async () => {
          const { all, letters } = await settledFor();
          const open = tasks.filter((task) => (task.failures >= POISON ? !findLetter(letters, task.id) : all.get(task.id)!.done === 0));
          return {
            message: `${open.length} task(s) were neither done nor dead-lettered 6 s after the faults: lost. Faults injected: ${faults()}.`,
            expected: "every healthy and flaky task done, every poison task dead-lettered",
            actual: `${open.map((task) => `${task.id}: ${timeline(t, task.id, all.get(task.id)!)}`).join("\n")}\n${workers.map(describeEnd).join(", ")}`,
            hint: "A command Redis refuses is not the end of the task: when recording a failure or a success fails, try the write again (after a short pause) until it succeeds, instead of logging it and moving on. The task exists nowhere else.",
          };
        },
        50,
      );
      const dead = workers.filter((w) => !w.alive);
      if (dead.length > 0) {
        const w = dead[0]!;
        const hit = hits.filter((h) => h.entry?.owner === w.name).sort((a, b) => b.entry!.seq - a.entry!.seq)[0];
        t.fail({
          message: `${describeEnd(w)}${hit ? ` after Redis refused its ${hit.name} (${hit.path})` : ""}. Faults injected: ${faults()}.`,
          expected: "workers that outlive any failed command, and go on taking tasks",
          actual: w.output().slice(-1500) || describeEnd(w),
          hint: "An error from Redis (a refused command, a dropped connection) rejects the promise of that command. In main's loop, catch around each step (claiming, recording the outcome), log, pause briefly and go on: an uncaught rejection ends the worker, and every task after it waits forever.",
        });
      }
      await t.sleep(300); // a repeated run would show up now
      const { all, letters } = await settledFor();
      for (const task of tasks) {
        const h = all.get(task.id)!;
        if (task.failures >= POISON) {
          const letter = findLetter(letters, task.id)!;
          if (h.starts.length !== MAX_ATTEMPTS || letter.attempts !== MAX_ATTEMPTS) {
            t.fail({
              message: `Poison task ${task.id} ran ${h.starts.length} times and its dead letter says ${String(letter.attempts)} attempts. Faults injected: ${faults()}.`,
              expected: `${MAX_ATTEMPTS} runs and attempts: ${MAX_ATTEMPTS}`,
              actual: timeline(t, task.id, h),
              hint: "Count only the handler's failures as attempts, and record each one once: a refused write of your own is retried, not counted.",
            });
          }
          continue;
        }
        if (h.done !== 1 || h.starts.length !== task.failures + 1) {
          t.fail({
            message: `Task ${task.id} (it fails ${task.failures} time(s)) ran ${h.starts.length} times and was done ${h.done} times. Faults injected: ${faults()}.`,
            expected: `${task.failures + 1} run(s), done once`,
            actual: timeline(t, task.id, h),
            hint: "Only a throw from handle is a failed attempt. If the write that records a success is refused, retry that write; treating it as the task failing runs a finished task again.",
          });
        }
      }
      // A finished task leaves nothing behind in the queue's keys.
      const finished = tasks.filter((task) => task.failures < POISON).map((task) => task.id);
      const { missing } = await t.viewRedis(finished, { ignore: EFFECTS });
      const leaked = finished.filter((id) => !missing.includes(id));
      if (leaked.length > 0) {
        t.fail({
          message: `${leaked.length} of ${finished.length} finished task(s) are still stored in your Redis.`,
          expected: "nothing left of a finished task outside the effects: keys",
          actual: leaked.join(", "),
          hint: "When handle returns, forget the task: delete everything the queue stored for it (its entry, its attempt count), or your Redis grows with every task ever run.",
        });
      }
    },

    "slow-and-hung-handlers": async (t) => {
      await startWorkers(t, workerNames(2));
      const queue = await producer(t);
      const hung = newTask(t, "hung", 0, HANG_MS);
      const slowMs = 500 + Math.floor(t.random() * 300);
      const slow = newTask(t, "slow", 1, slowMs);
      const quick = shuffled(t, [newTask(t, "healthy", 0), newTask(t, "healthy", 0), newTask(t, "flaky", 1 + Math.floor(t.random() * 2))]);
      t.fault(`handler hangs for ${hung.id}: its run never returns`);
      t.fault(`handler runs slow for ${slow.id}: each run takes ${slowMs} ms, and the first throws`);
      await queue.call("enqueue", [hung]);
      const hungStart = await untilStarted(t, hung, 1, 5000, " of being enqueued");
      await queue.call("enqueue", [slow]);
      for (const task of quick) await queue.call("enqueue", [task]);
      const ids = [hung, slow, ...quick].map((task) => task.id);
      const others = [slow, ...quick];
      const hungOwner = runOwner(t, hung.id, 1) ?? "its worker";
      t.note(`${hungOwner} is stuck in ${hung.id}; the other worker must run everything else, and nobody may run ${hung.id} again`);
      const deadline = performance.now() + 2 * slowMs + 5000;
      let finishedAt: number | undefined;
      for (;;) {
        const all = await histories(t, ids);
        const h = all.get(hung.id)!;
        if (h.starts.length > 1) {
          t.fail({
            message: `${hung.id}, whose run on ${hungOwner} still hangs, was started again (run 2 ${h.starts[1]!.at - hungStart.at} ms after run 1${runOwner(t, hung.id, 2) ? `, by ${runOwner(t, hung.id, 2)}` : ""}).`,
            expected: "a task runs on one worker at a time: nobody else takes it while its handler has not returned or thrown",
            actual: timeline(t, hung.id, h),
            hint: "Take the task out of the schedule when a worker claims it (a Lua script: ZRANGEBYSCORE then ZREM). Leaving it there with a later score (a lease) hands it to a second worker once that score passes, however long the first still runs.",
          });
        }
        const s = all.get(slow.id)!;
        const [run1, run2] = s.starts;
        const failed1 = s.fails[0];
        if (run1 && run2 && (!failed1 || run2.at < failed1.at)) {
          t.fail({
            message: `Run 2 of ${slow.id} started ${run2.at - run1.at} ms after run 1, while run 1 (${slowMs} ms long) was still running.`,
            expected: "a task runs on one worker at a time",
            actual: timeline(t, slow.id, s),
            hint: "Take the task out of the schedule when a worker claims it, so no other worker sees it until it is rescheduled after a failure.",
          });
        }
        if (failed1 && run2 && run2.at - failed1.at < BACKOFF_MS[0]! - EARLY_MS) {
          t.fail({
            message: `Run 1 of ${slow.id} took ${slowMs} ms and threw; run 2 started only ${run2.at - failed1.at} ms after that.`,
            expected: `run 2 at least ${BACKOFF_MS[0]} ms after run 1 threw`,
            actual: timeline(t, slow.id, s),
            hint: "The backoff runs from the failure: take Date.now() when handle has thrown, not when the task was claimed.",
          });
        }
        const finished = others.every((task) => all.get(task.id)!.done > 0);
        finishedAt ??= finished ? Date.now() : undefined;
        // A lease on the hung task runs out while the other worker may still be busy with the slow
        // one; only a worker that has been idle a while, well past a 1 s lease, would have taken it.
        if (finishedAt !== undefined && Date.now() > Math.max(hungStart.at + 2000, finishedAt + 1200)) break;
        if (!finished && performance.now() > deadline) {
          const open = others.filter((task) => all.get(task.id)!.done === 0);
          t.fail({
            message: `With ${hungOwner} stuck in ${hung.id}'s hanging handler, ${open.length} other task(s) were not done.`,
            expected: `the other worker runs everything else: ${slow.id} (two runs of ${slowMs} ms) and ${quick.length} quick tasks`,
            actual: open.map((task) => `${task.id}: ${timeline(t, task.id, all.get(task.id)!)}`).join("\n"),
            hint: "A worker stuck in one task must hold only that task: claim one task at a time, and let workers share nothing but Redis (no lock held across handle).",
          });
        }
        await t.sleep(40);
      }
      await t.sleep(300);
      const all = await histories(t, ids);
      for (const task of others) {
        const h = all.get(task.id)!;
        if (h.done !== 1 || h.starts.length !== task.failures + 1) {
          t.fail({
            message: `Task ${task.id} (it fails ${task.failures} time(s)) ran ${h.starts.length} times and was done ${h.done} times.`,
            expected: `${task.failures + 1} run(s), done once`,
            actual: timeline(t, task.id, h),
            hint: "Once handle returns the task is finished: forget it; and a task runs on one worker at a time.",
          });
        }
      }
    },
  },
});
