import { assertEachOnce, defineChecks, type CheckContext, type LearnerProcess, type RpcModule } from "../../lib/grader/index.ts";

interface Task {
  id: string;
  name: string;
  payload: unknown;
  priority: number;
  attempts: number;
}

// The keys the read-only queue.ts and handlers.ts write (instructions.md names them).
const QUEUE = "queue:tasks";
const DONE = "effects:done";
const STARTED = "effects:started";
const FAILED = "queue:failed";
const OVERRAN = "effects:overran";
const PEAK = (worker: string) => `effects:peak:${worker}`;

interface Done {
  id: string;
  handler: string;
  worker: string;
}
interface Started {
  id: string;
  worker: string;
}
interface Failed {
  id: string;
  name: string;
  error: string;
}

// Workers outlive a single call, so they get more wall time than the sandbox's default.
const LIMITS = { wallMs: 40_000 };

// A timed-out task must be recorded no earlier than timeoutMs after its handler started and at most
// this much later (instructions.md). The grader compares the failure record with the handler's own
// stopwatch (effects:overran), a timer in the same process, so a machine that delays every timer
// there delays both alike. What it cannot cancel is the proxy reading the two writes, from two
// connections, at different moments when the runner itself stalls; so it holds the window on the
// median of a check's timeouts, and each single one only to the looser bounds below.
const TIMEOUT_LATE_MS = 300;
const TIMEOUT_EARLY_SLACK_MS = 150;
const TIMEOUT_ONE_LATE_MS = 1000;
const TIMEOUT_ONE_EARLY_MS = 400;
// A handler that settles within this much of its own timeoutMs mark may be judged either way.
const BOUNDARY_MS = 100;
// While tasks wait, a slot that frees takes the next task at once: a slot that stays free longer
// than this is a stall, and a worker may stall at most once per STALLS_PER tasks (instructions.md).
// A correct worker refills in a round trip or two; one that waits for a batch stalls for the
// length of its longest task.
const STALL_MS = 350;
const STALLS_PER = 4;

// Ids come from the runner's CSPRNG, never from the seed: a worker learns of a task only by
// taking it from the queue. The seed decides only the shape (names, priorities, faults).
const newId = (t: CheckContext) => t.id("task");
const task = (id: string, name: string, priority = 5, payload: unknown = null): Task => ({ id, name, payload, priority, attempts: 0 });
const slow = (t: CheckContext, ms: number, priority = 5): Task => task(newId(t), "report.slow", priority, { ms });
const timedTask = (t: CheckContext, markMs: number, ms: number | null, priority = 5, fail = false): Task =>
  task(newId(t), "report.slow", priority, { ms, ...(fail ? { fail } : {}), markMs });
const between = (t: CheckContext, low: number, high: number) => low + Math.floor(t.random() * (high - low + 1));
const pick = <T>(t: CheckContext, items: readonly T[]): T => items[Math.floor(t.random() * items.length)]!;

function shuffled<T>(t: CheckContext, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(t.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const parseAll = <T>(items: string[]) => items.map((item) => JSON.parse(item) as T);
async function seen(t: CheckContext): Promise<{ done: Done[]; failed: Failed[]; started: Started[] }> {
  const [done, failed, started] = await Promise.all([t.redis.lrange(DONE, 0, -1), t.redis.lrange(FAILED, 0, -1), t.redis.lrange(STARTED, 0, -1)]);
  return { done: parseAll<Done>(done), failed: parseAll<Failed>(failed), started: parseAll<Started>(started) };
}
const count = <T extends { id: string }>(items: T[], id: string) => items.filter((x) => x.id === id).length;
const list = (ids: string[], max = 8) => `${ids.slice(0, max).join(", ")}${ids.length > max ? ` and ${ids.length - max} more` : ""}`;

// The producer is the lab's own queue.ts, and start() must return at once: on a machine busy
// enough to stall them, they still get there.
const ENQUEUE_MS = 15_000;
const START_MS = 10_000;

/** Enqueues one after another, from a process that runs no worker: FIFO among equal priorities. */
async function enqueueAll(producer: RpcModule, tasks: Task[]): Promise<void> {
  for (const each of tasks) await producer.call("enqueue", [each], ENQUEUE_MS);
}

/** Enqueues all at once, in no particular order: quicker on a busy machine, where order does not matter. */
async function enqueueAtOnce(producer: RpcModule, tasks: Task[]): Promise<void> {
  await Promise.all(tasks.map((each) => producer.call("enqueue", [each], ENQUEUE_MS)));
}

function describeEnd(worker: LearnerProcess): string {
  const outcome = worker.outcome;
  if (!outcome) return `${worker.name} is running`;
  const how =
    outcome.kind === "exited" ? `exited with code ${outcome.code}` : outcome.kind === "signalled" ? `was stopped by ${outcome.signal}` : outcome.message;
  return `${worker.name} ${how}`;
}

/** Open connections through the proxy, once the count has held still for 100 ms (connects are asynchronous). */
async function steadyConnections(t: CheckContext): Promise<number> {
  let last = t.proxy.stats().connectionsOpen;
  for (let i = 0; i < 20; i++) {
    await t.sleep(100);
    const now = t.proxy.stats().connectionsOpen;
    if (now === last) return now;
    last = now;
  }
  return last;
}

const printed = (workers: LearnerProcess[]) =>
  workers.map((w) => (w.output().trim() ? `--- ${w.name} printed:\n${w.output().slice(-600)}` : "")).filter(Boolean);

const workerHint =
  "start() should return at once and run loops that each take a task with dequeue(1), run the handler registered for task.name, and go back for the next; a null from dequeue only means nothing came yet.";
const slotHint =
  "Keep exactly `concurrency` tasks in flight while tasks wait: start `concurrency` loops, each of which takes a task only when it is free (dequeue, then await the task's outcome, then dequeue again). A task stops being in flight when its handler settles or its timeout passes, once.";

/**
 * Waits until every id in `doneIds` is in effects:done and every id in `failedIds` in
 * queue:failed. Fails with `details` on a timeout, when no task has been finished for `quietMs`
 * (what is missing is not coming), or at once when a worker process has died.
 */
async function until(
  t: CheckContext,
  workers: LearnerProcess[],
  want: { doneIds: string[]; failedIds: string[]; outcomeIds?: string[]; quietMs?: number; quietFromStart?: boolean },
  timeoutMs: number,
  details: (missing: { done: string[]; failed: string[] }) => { message: string; hint: string },
): Promise<void> {
  // outcomeIds: done or recorded as failed, either one.
  const deadline = performance.now() + timeoutMs;
  let lastChange = performance.now();
  let lastSize = -1;
  for (;;) {
    const { done, failed } = await seen(t);
    const unfinished = (want.outcomeIds ?? []).filter((id) => !done.some((d) => d.id === id) && !failed.some((f) => f.id === id));
    const missing = {
      done: [...want.doneIds.filter((id) => !done.some((d) => d.id === id)), ...unfinished],
      failed: want.failedIds.filter((id) => !failed.some((f) => f.id === id)),
    };
    if (missing.done.length === 0 && missing.failed.length === 0) return;
    if (done.length + failed.length !== lastSize) [lastSize, lastChange] = [done.length + failed.length, performance.now()];
    // A worker just spawned may take a while to start on a busy machine: until one of the wanted
    // tasks is finished, silence counts only for workers that were already running.
    const progressed =
      want.quietFromStart || missing.done.length + missing.failed.length < want.doneIds.length + want.failedIds.length + (want.outcomeIds?.length ?? 0);
    const quiet = want.quietMs !== undefined && progressed && performance.now() - lastChange > want.quietMs;
    const dead = workers.filter((w) => !w.alive);
    if (dead.length > 0 || quiet || performance.now() > deadline) {
      const lines = [
        missing.done.length > 0 ? `never done${want.outcomeIds ? " (nor recorded as failed)" : ""}: ${list(missing.done)}` : "",
        missing.failed.length > 0 ? `never recorded in ${FAILED}: ${list(missing.failed)}` : "",
        ...workers.map(describeEnd),
        // What the workers printed last often names the cause (a loop that stopped, a crash).
        ...printed(workers),
      ].filter(Boolean);
      if (dead.length > 0) {
        t.fail({
          message: `${dead.map(describeEnd).join(", ")} before the tasks were finished: ${missing.done.length} not done, ${missing.failed.length} failure(s) not recorded.`,
          expected: "the worker process alive, running task after task",
          actual: lines.join("\n"),
          hint: "A worker process must outlive any task: run each handler inside try/catch and await it there, so a handler that throws at once and one whose promise rejects both end up in recordFailure, never in an unhandled rejection. A failed Redis write (recordFailure's too) must be caught as well.",
        });
      }
      const nothing = missing.done.length === want.doneIds.length + (want.outcomeIds?.length ?? 0) && missing.failed.length === want.failedIds.length;
      const { message, hint } = details(missing);
      const waited = `${((performance.now() - deadline + timeoutMs) / 1000).toFixed(1)} s`;
      t.fail({
        message: `${message}${nothing ? ` Not one of them was run or recorded as failed in ${waited}.` : ""}`,
        actual: lines.join("\n"),
        hint: nothing ? `${hint} ${workerHint}` : hint,
      });
    }
    await t.sleep(25);
  }
}

// ---------------------------------------------------------------------------------------------
// The grader's view of the work, from the proxy's command log (its clock, in ms). A BZPOPMIN
// that returned a task puts one in flight for the program that sent it, at the moment the reply
// went out; the first effects:done or queue:failed write naming a task takes it out of flight.
// Nothing here asks the learner's process anything.

interface WorkEvent {
  kind: "enqueue" | "take" | "finish";
  owner: string;
  at: number;
  seq: number;
  id?: string;
}
interface Snapshot {
  at: number;
  seq: number;
  owner: string;
  held: number;
}

const idIn = (value: string | undefined) => (value ? /"id":"([^"]+)"/.exec(value)?.[1] : undefined);
const ORDER = { finish: 0, enqueue: 1, take: 2 } as const;

function workEvents(t: CheckContext): WorkEvent[] {
  const events: WorkEvent[] = [];
  for (const e of t.commands("BZPOPMIN", "RPUSH", "ZADD")) {
    if (!e.owner) continue;
    const [name, key, value] = e.args;
    if (name === "BZPOPMIN") {
      if (e.reply?.type === "array" && e.reply.summary !== "(nil)" && e.durationMs !== undefined)
        events.push({ kind: "take", owner: e.owner, at: e.at + e.durationMs, seq: e.seq });
    } else if (name === "RPUSH" && (key === DONE || key === FAILED)) {
      // A write that died with its program before it reached Redis recorded nothing.
      if (e.fault?.includes("stops before")) continue;
      const id = idIn(value);
      if (id) events.push({ kind: "finish", owner: e.owner, at: e.at, seq: e.seq, id });
    } else if (name === "ZADD" && key === QUEUE) events.push({ kind: "enqueue", owner: e.owner, at: e.at, seq: e.seq });
  }
  // At one instant a finish counts before a take: a slot that frees and refills is not two tasks.
  events.sort((a, b) => a.at - b.at || ORDER[a.kind] - ORDER[b.kind]);
  const ended = new Set<string>();
  // Only a task's first outcome ends it: a handler that finishes after its timeout changes nothing.
  return events.filter((e) => e.kind !== "finish" || (!ended.has(e.id!) && ended.add(e.id!)));
}

/** How many tasks each program held (taken, not yet finished) after each event. */
function heldSeries(events: WorkEvent[]): Snapshot[] {
  const held = new Map<string, number>();
  const out: Snapshot[] = [];
  for (const e of events) {
    if (e.kind === "enqueue") continue;
    const now = (held.get(e.owner) ?? 0) + (e.kind === "take" ? 1 : -1);
    held.set(e.owner, now);
    out.push({ at: e.at, seq: e.seq, owner: e.owner, held: now });
  }
  return out;
}

/** The most tasks `owner` held at once, counting only moments after log position `afterSeq`. */
function peakHeld(series: Snapshot[], owner: string, afterSeq = 0): number {
  return series.filter((s) => s.owner === owner && s.seq > afterSeq).reduce((max, s) => Math.max(max, s.held), 0);
}

/** What `owner` holds at the end of the log (a dead program: what died with it). */
function heldAtEnd(series: Snapshot[], owner: string): number {
  return series.filter((s) => s.owner === owner).at(-1)?.held ?? 0;
}

/**
 * What a dead program may have taken with it: what it held, plus each BZPOPMIN it had sent to
 * Redis and never got an answer to (Redis may pop a task for it the instant its connection
 * closes, and that reply is lost with the connection), at most its concurrency.
 */
function mayHaveTaken(t: CheckContext, series: Snapshot[], owner: string, slots: number): number {
  const unanswered = t.commands("BZPOPMIN").filter((e) => e.owner === owner && e.reply === undefined && !e.fault?.includes("stops before")).length;
  return Math.min(slots, heldAtEnd(series, owner) + unanswered);
}

/**
 * How long `owner` took to take a next task after each slot it freed while tasks were waiting
 * (the grader counts a task as waiting from its ZADD until some program's BZPOPMIN returned it).
 */
function refillDelays(events: WorkEvent[], owner: string): number[] {
  const delays: number[] = [];
  let waiting = 0;
  events.forEach((e, i) => {
    if (e.kind === "enqueue") waiting++;
    if (e.kind === "take") waiting--;
    if (e.kind !== "finish" || e.owner !== owner || waiting <= 0) return;
    const next = events.slice(i + 1).find((n) => n.kind === "take" && n.owner === owner);
    if (next) delays.push(next.at - e.at);
  });
  return delays;
}

/** The first RPUSH to `key` naming `id`, as the proxy logged it. */
function writeOf(t: CheckContext, key: string, id: string) {
  return t.commands("RPUSH").find((e) => e.args[1] === key && idIn(e.args[2]) === id);
}
/** When that write reached the proxy, on its clock. */
const writeAt = (t: CheckContext, key: string, id: string) => writeOf(t, key, id)?.at;
/** When `id`'s handler returned: its effects:done write was answered (it returns right after). */
function settledAt(t: CheckContext, id: string): number | undefined {
  const done = writeOf(t, DONE, id);
  return done?.durationMs === undefined ? undefined : done.at + done.durationMs;
}

const payloadOf = (x: Task) => x.payload as { ms: number | null; fail?: boolean; markMs?: number };
const describe = (x: Task) => {
  const { ms, fail } = payloadOf(x);
  return ms === null ? "hangs" : `runs ${ms} ms, then ${fail ? "rejects" : "finishes"}`;
};

/**
 * Judges each report.slow task's outcome against its handler's own stopwatch (markMs =
 * timeoutMs): a handler still running timeoutMs after it started must be recorded once as timed
 * out, typically within TIMEOUT_LATE_MS of its stopwatch; one that settled in time must have its own
 * outcome only. Returns what is wrong, and how long after the stopwatch each timeout came.
 */
function judgeOutcomes(
  t: CheckContext,
  tasks: Task[],
  { done, failed }: { done: Done[]; failed: Failed[] },
  timeoutMs: number,
): { problems: string[]; delays: number[] } {
  const problems: string[] = [];
  const delays: number[] = [];
  for (const x of tasks) {
    const records = failed.filter((f) => f.id === x.id);
    const what = `${x.id} (handler ${describe(x)})`;
    const at = { start: writeAt(t, STARTED, x.id), mark: writeAt(t, OVERRAN, x.id), failed: writeAt(t, FAILED, x.id), done: settledAt(t, x.id) };
    if (at.start === undefined) {
      problems.push(`${what}: its handler never started`);
      continue;
    }
    if (records.length > 1) {
      problems.push(`${what}: ${records.length} failure records: ${records.map((r) => JSON.stringify(r.error)).join(", ")}`);
      continue;
    }
    const timedOutRecord = records.find((r) => /timed? ?out/i.test(r.error));
    // A rejecting handler writes nothing when it settles; its own failure record comes right after.
    if (at.done === undefined && records.length === 1 && !timedOutRecord) at.done = at.failed;
    // A handler that settles the very moment its time is up may land on either side of it.
    const near = (a?: number, b?: number) => a !== undefined && b !== undefined && Math.abs(a - b) <= BOUNDARY_MS;
    if (at.mark !== undefined && !near(at.done, at.mark)) {
      // Still running timeoutMs after it started, by its own process's clock: a timeout.
      if (!timedOutRecord) {
        problems.push(
          `${what}: still running ${timeoutMs} ms after it started, but ${records.length ? `recorded with ${JSON.stringify(records[0]!.error)}, which does not say it timed out` : "never recorded as timed out"}`,
        );
        continue;
      }
      const after = Math.round(at.failed! - at.mark);
      delays.push(after);
      if (after < -TIMEOUT_ONE_EARLY_MS) problems.push(`${what}: recorded as timed out ${-after} ms before its handler had run ${timeoutMs} ms`);
      if (after > TIMEOUT_ONE_LATE_MS) problems.push(`${what}: recorded as timed out ${after} ms after its handler had run ${timeoutMs} ms`);
      continue;
    }
    if (at.mark === undefined && timedOutRecord && !near(at.done, at.failed)) {
      const early = at.done !== undefined ? `, ${Math.round(at.failed! - at.done)} ms after it had finished` : "";
      problems.push(
        `${what}: settled within ${timeoutMs} ms by its own clock, yet recorded ${JSON.stringify(timedOutRecord.error)} ${Math.round(at.failed! - at.start)} ms after it started${early}`,
      );
      continue;
    }
    if (timedOutRecord) continue;
    if (payloadOf(x).fail ? records.length !== 1 || !records[0]!.error.includes(`report failed: ${x.id}`) : records.length > 0 || count(done, x.id) !== 1) {
      problems.push(
        `${what}: settled within the timeout; recorded ${records.length ? records.map((r) => JSON.stringify(r.error)).join(", ") : "no failure"}, done ${count(done, x.id)} times`,
      );
    }
  }
  // Timeouts recorded too early or too late as a rule, not once in a while.
  const typical = median(delays);
  if (delays.length > 0 && (typical < -TIMEOUT_EARLY_SLACK_MS || typical > TIMEOUT_LATE_MS)) {
    problems.push(
      `timeouts were recorded ${Math.abs(typical)} ms ${typical < 0 ? "before" : "after"} the handler had run ${timeoutMs} ms, typically (the median of ${delays.length}: ${delays.join(", ")} ms)${typical > 0 ? `; at most ${TIMEOUT_LATE_MS} ms after is allowed` : ""}`,
    );
  }
  return { problems, delays };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length === 0 ? 0 : sorted.length % 2 ? sorted[mid]! : Math.round((sorted[mid - 1]! + sorted[mid]!) / 2);
}

/** Whether `workers` hold no task and wait on no reply but a blocking dequeue's, by the command log. */
function quiescent(t: CheckContext, workers: LearnerProcess[]): boolean {
  const names = new Set(workers.map((w) => w.name));
  const series = heldSeries(workEvents(t));
  if (workers.some((w) => heldAtEnd(series, w.name) > 0)) return false;
  return t.commands().every((e) => !e.owner || !names.has(e.owner) || e.args[0] === "BZPOPMIN" || e.durationMs !== undefined);
}

/** Fails, saying how, when a task ended more than once: done twice, failed twice, or both. */
function expectNoSecondOutcome(t: CheckContext, tasks: Task[], { done, failed }: { done: Done[]; failed: Failed[] }, hint: string): void {
  const twice = tasks.flatMap((x) => {
    const runs = done.filter((d) => d.id === x.id);
    const records = failed.filter((f) => f.id === x.id);
    if (runs.length + records.length < 2) return [];
    const where = [...runs.map((d) => `done by ${d.worker}`), ...records.map((f) => `recorded as failed: ${JSON.stringify(f.error)}`)];
    return [`${x.id} (${x.name}): ${where.join("; ")}`];
  });
  if (twice.length > 0) {
    t.fail({
      message: `${twice.length} task(s) ended more than once.`,
      expected: "each task done once or recorded as failed once",
      actual: twice.slice(0, 8).join("\n"),
      hint,
    });
  }
}

/**
 * Fails when a worker finished tasks the grader never saw it take: it counts only what dequeue's
 * BZPOPMIN hands out, so a worker taking tasks some other way cannot be judged.
 */
function expectTakesSeen(t: CheckContext, series: Snapshot[], workers: LearnerProcess[]): void {
  const unseen = workers.filter((w) => series.some((s) => s.owner === w.name && s.held < 0));
  if (unseen.length > 0) {
    t.fail({
      message: `${unseen.map((w) => w.name).join(", ")} finished tasks that the grader never saw it take from the queue with a BZPOPMIN.`,
      expected: "every task taken with dequeue(1) from queue.ts",
      actual: "more effects:done / queue:failed writes than BZPOPMIN replies that returned a task",
      hint: "Take tasks only with queue.ts's dequeue: the grader counts tasks in flight from the BZPOPMIN replies it sees.",
    });
  }
}

/** Fails when any of `workers` held more than `slots` tasks at once, naming the first that did. */
function expectAtMost(t: CheckContext, series: Snapshot[], workers: LearnerProcess[], slots: number, context: string, hint = slotHint): void {
  expectTakesSeen(t, series, workers);
  for (const worker of workers) {
    const peak = peakHeld(series, worker.name);
    if (peak > slots) {
      t.fail({
        message: `${context}: ${worker.name} had ${peak} tasks in flight at once, with concurrency ${slots}.`,
        expected: `at most ${slots} in flight: taken with dequeue and not yet finished, failed or timed out`,
        actual: `${peak} at once, counted from the command log (each BZPOPMIN that returned a task, each effects:done or queue:failed write)`,
        hint,
      });
    }
  }
}

export default defineChecks({
  timeoutMs: 30_000,
  // The live view: two worker processes (concurrency 2, 10 s per task) drain a mixed stream: quick
  // tasks, slow ones, handlers that throw, reject or hang, and a task name nobody handles.
  playground: async (t) => {
    const limits = { wallMs: 70_000, cpuSeconds: 30 };
    const producer = await t.load("queue.ts", { name: "producer", limits });
    t.spawn("main.ts", { name: "worker-1", limits });
    t.spawn("main.ts", { name: "worker-2", limits });
    const names = ["email.send", "image.resize", "report.slow", "report.slow", "report.slow", "task.explode", "task.explode-now", "video.transcode"];
    for (let i = 0; !t.signal.aborted; i++) {
      const name = pick(t, names);
      const roll = t.random();
      const hangs = name === "report.slow" && roll < 0.05;
      const payload = name === "report.slow" ? (hangs ? { ms: null } : { ms: 300 + Math.floor(t.random() * 2400), fail: roll > 0.85 }) : null;
      const each = task(newId(t), name, Math.floor(t.random() * 3), payload);
      if (hangs) t.fault(`handler hangs for ${each.id} (the workers time it out after 10 s)`);
      await producer.call("enqueue", [each]).catch(() => {});
      await t.sleep(250);
    }
  },
  checks: {
    "handler-registration": async (t) => {
      const producer = await t.load("queue.ts", { name: "producer", limits: LIMITS });
      const emails = Array.from({ length: between(t, 3, 5) }, () => task(newId(t), "email.send", between(t, 0, 3)));
      const images = Array.from({ length: between(t, 3, 5) }, () => task(newId(t), "image.resize", between(t, 0, 3)));
      // Names with no handler, among them ones every plain object answers to.
      const unknownNames = [
        "constructor",
        "toString",
        ...shuffled(t, ["video.transcode", "hasOwnProperty", "valueOf", "__proto__", "isPrototypeOf"]).slice(0, 2),
      ];
      const unknown = unknownNames.map((name) => task(newId(t), name, between(t, 0, 3)));
      // One task nobody handles comes out first, so the ones after it show the worker went on.
      unknown[0]!.priority = 0;
      const all = [unknown[0]!, ...shuffled(t, [...emails, ...images, ...unknown.slice(1)])];
      const early = all.slice(0, Math.ceil(all.length / 2));
      await enqueueAtOnce(producer, early);
      const worker = t.spawn("main.ts", { name: "worker-1", limits: LIMITS });
      t.note(
        `${emails.length} email.send, ${images.length} image.resize and ${unknown.length} tasks named ${unknownNames.map((n) => JSON.stringify(n)).join(", ")} (no handler); one worker, concurrency 2; half of them are enqueued after it starts`,
      );
      await enqueueAtOnce(producer, all.slice(early.length));
      // While tasks wait, another process creates a worker and registers on it but never starts it.
      const probe = await t.load("main.ts", { name: "probe", limits: LIMITS });
      const message = await probe.call<string | null>("registerTwice", [], START_MS);
      // Checked first whichever way the wait ends: a worker that takes tasks unstarted explains the rest.
      const expectProbeIdle = () => {
        const probeTakes = t.commands("BZPOPMIN").filter((e) => e.owner === probe.name).length;
        if (probeTakes > 0) {
          t.fail({
            message: `A worker that was created and given handlers, but never started (registerTwice() in ${probe.name}), sent ${probeTakes} BZPOPMIN(s): it was taking tasks from the queue.`,
            expected: "createWorker and register take no tasks; only start() does",
            actual: `${probeTakes} BZPOPMIN from ${probe.name}`,
            hint: "Start the loops in start(), not in createWorker: a program may create a worker, register its handlers and start it later, or never.",
          });
        }
      };
      await until(t, [worker], { doneIds: [...emails, ...images].map((x) => x.id), failedIds: unknown.map((u) => u.id), quietMs: 3000 }, 12_000, (missing) =>
        (expectProbeIdle(), missing.failed.length > 0)
          ? {
              message: `${missing.failed.length} task(s) for which no handler is registered were never recorded as failed: ${unknown
                .filter((u) => missing.failed.includes(u.id))
                .map((u) => `${u.id} named ${JSON.stringify(u.name)}`)
                .join(", ")}.`,
              hint: 'A task whose name has no handler is a failure, not something to skip in silence: call recordFailure(task, new Error(`no handler for ${task.name}`)) and go on. Look handlers up in a Map: a plain object answers handlers["constructor"] and handlers["toString"] with Object\'s own functions, which then \'run\' the task.',
            }
          : {
              message: `${missing.done.length} of the ${emails.length + images.length} email.send and image.resize tasks were not done within 12 s.`,
              hint: workerHint,
            },
      );
      await t.sleep(300);
      expectProbeIdle();
      const { done, failed } = await seen(t);
      const wrongHandler = [...emails.map((e) => [e, "sendEmail"] as const), ...images.map((i) => [i, "resizeImage"] as const)].flatMap(([x, handler]) =>
        done.filter((d) => d.id === x.id && d.handler !== handler).map((d) => `${x.id} (${x.name}) ran ${d.handler}, not ${handler}`),
      );
      if (wrongHandler.length > 0) {
        t.fail({
          message: "Some tasks ran a handler registered for another name.",
          expected: "email.send → sendEmail, image.resize → resizeImage",
          actual: wrongHandler.join("\n"),
          hint: "Look the handler up by the task's own name, handlers.get(task.name), in a Map filled by register.",
        });
      }
      assertEachOnce(
        [...emails, ...images].map((x) => x.id),
        done.map((d) => d.id),
        { noun: "task", hintLost: workerHint, hintDuplicate: "Run each task you dequeue once: a task goes to exactly one handler call." },
      );
      const unrecorded = unknown.filter((u) => count(failed, u.id) !== 1 || count(done, u.id) > 0);
      if (unrecorded.length > 0) {
        t.fail({
          message: "Each task with no handler should be recorded in queue:failed exactly once, and run nothing.",
          actual: unrecorded
            .map((u) => `${u.id} named ${JSON.stringify(u.name)}: ${count(failed, u.id)} failure record(s), ${count(done, u.id)} done`)
            .join("\n"),
          hint: "Call recordFailure once per task that has no handler.",
        });
      }
      if (!worker.alive)
        t.fail({ message: `The worker should still be running, but ${describeEnd(worker)}.`, actual: worker.output().slice(-800), hint: workerHint });

      if (message === null) {
        t.fail({
          message: "Registering a second handler for email.send did not throw, so the second one silently replaced the first.",
          expected: "register throws when the task name already has a handler",
          actual: "no error",
          hint: "In register, check handlers.has(taskName) first and throw an Error that names the task: two handlers for one name is a wiring mistake that should stop the program at start-up.",
        });
      }
    },

    "survives-throwing-handler": async (t) => {
      const producer = await t.load("queue.ts", { name: "producer", limits: LIMITS });
      const throwing = (priority: number) => task(newId(t), t.random() < 0.5 ? "task.explode-now" : "task.explode", priority);
      // Dequeued in this order: failing tasks first and among the emails, so a worker that dies on
      // them leaves the email.send tasks behind it undone.
      const failingFirst = Array.from({ length: between(t, 3, 4) }, () => throwing(0));
      failingFirst[0]!.name = "task.explode-now";
      failingFirst[1]!.name = "task.explode";
      const emails = Array.from({ length: between(t, 4, 6) }, () => task(newId(t), "email.send", 5));
      const between1 = Array.from({ length: 2 }, () => throwing(5));
      const lastEmails = Array.from({ length: 2 }, () => task(newId(t), "email.send", 7));
      const wave1 = [...failingFirst, ...shuffled(t, [...emails, ...between1]), ...lastEmails];
      await enqueueAtOnce(producer, wave1);
      const worker = t.spawn("main.ts", { name: "worker-1", limits: LIMITS });
      t.note(
        `${failingFirst.length + between1.length} tasks whose handlers throw (at once) or reject, ahead of and among ${emails.length + lastEmails.length} email.send; one worker, concurrency 2`,
      );
      for (const x of [...failingFirst, ...between1]) t.fault(`handler ${x.name === "task.explode-now" ? "throws at once" : "rejects"} for ${x.id}`);
      const throwing1 = [...failingFirst, ...between1];
      const emails1 = [...emails, ...lastEmails];
      await until(t, [worker], { doneIds: emails1.map((e) => e.id), failedIds: throwing1.map((x) => x.id), quietMs: 3000 }, 12_000, (missing) =>
        missing.failed.length > 0 && missing.done.length === 0
          ? {
              message: `${missing.failed.length} task(s) whose handler threw were never recorded in queue:failed.`,
              hint: "Catch what the handler throws and call recordFailure(task, error) with it.",
            }
          : {
              message: `After handlers that throw, ${missing.done.length} of the ${emails1.length} email.send tasks were not done within 12 s.`,
              hint: "Something a handler throws must never stop the loop that called it. `Promise.resolve(handler(task)).catch(...)` misses a handler that throws before it returns a promise, and a try/catch around a call you do not await misses one whose promise rejects later: `try { await handler(task) } catch (error) { ... }` catches both.",
            },
      );

      // A fault on another path: recordFailure's own write fails. The worker must log it and go on
      // with every loop it had; the failure record it could not write is excused.
      const refusals = between(t, 1, 2);
      const markRefused = t.logPosition();
      t.proxy.failNext(refusals, { match: "RPUSH" });
      const throwing2 = Array.from({ length: refusals + 2 }, () => throwing(3));
      t.note(
        `Redis will refuse the next ${refusals} RPUSH: the write recordFailure makes for the next failing task(s). Then ${throwing2.length} failing tasks`,
      );
      for (const x of throwing2) t.fault(`handler ${x.name === "task.explode-now" ? "throws at once" : "rejects"} for ${x.id}`);
      await enqueueAtOnce(producer, throwing2);
      const refusedIds = () =>
        t
          .commands("RPUSH")
          .filter((e) => e.seq > markRefused && e.fault === "failNext")
          .map((e) => idIn(e.args[2]) ?? "?");
      await t.waitFor(
        async () => {
          const { failed } = await seen(t);
          const refused = refusedIds();
          return !worker.alive || throwing2.every((x) => failed.some((f) => f.id === x.id) || refused.includes(x.id));
        },
        {
          message: `After Redis refused ${refusals} failure record(s), the other failing tasks were not recorded within 5 s.`,
          hint: "When recordFailure rejects, log it and go on: catch it inside the loop.",
          timeoutMs: 5000,
        },
      );
      if (!worker.alive) {
        t.fail({
          message: `Redis refused the RPUSH of a failure record (recordFailure rejected), and then ${describeEnd(worker)}.`,
          actual: worker.output().slice(-800),
          hint: "recordFailure is a Redis write and can fail like any other. Catch its rejection (log it) so that it neither crashes the process nor ends the loop that called it.",
        });
      }

      // Afterwards both slots must still work: slow tasks, two at a time.
      const markSlots = t.logPosition();
      const slowOnes = Array.from({ length: 4 }, () => slow(t, between(t, 250, 400), 4));
      await enqueueAtOnce(producer, slowOnes);
      t.note(`${slowOnes.length} slow tasks: the worker must still run 2 at a time`);
      await until(t, [worker], { doneIds: slowOnes.map((x) => x.id), failedIds: [] }, 6000, (missing) => ({
        message: `After Redis refused a failure record, ${missing.done.length} of ${slowOnes.length} slow tasks were not done within 6 s.`,
        hint: "A failed recordFailure must not end the loop that called it: catch it inside the loop.",
      }));
      const peak = peakHeld(heldSeries(workEvents(t)), worker.name, markSlots);
      if (peak < 2) {
        t.fail({
          message: `After Redis refused the write of ${refusals} failure record(s) (RPUSH queue:failed: ${list(refusedIds())}), the worker never had more than ${peak} task in flight, with 4 slow tasks waiting and concurrency 2: a loop stopped.`,
          expected: "2 in flight while tasks wait, as before the fault",
          actual: [`at most ${peak} at once`, ...printed([worker])].join("\n"),
          hint: "recordFailure is a Redis write and can reject. `catch (error) { await recordFailure(task, error) }` lets that rejection escape the loop and end it; catch it too (`.catch(log)`), so every loop goes on.",
        });
      }

      await t.sleep(300);
      const { done, failed } = await seen(t);
      const refused = refusedIds();
      const badRecords = [...throwing1, ...throwing2].flatMap((x) => {
        const records = failed.filter((f) => f.id === x.id);
        const allowed = refused.includes(x.id) ? [0, 1] : [1];
        if (!allowed.includes(records.length)) return [`${x.id} (${x.name}) recorded ${records.length} times`];
        return records.every((r) => r.error.includes(x.id)) ? [] : [`${x.id} (${x.name}) recorded with error ${JSON.stringify(records[0]!.error)}`];
      });
      if (badRecords.length > 0) {
        t.fail({
          message: "Each task whose handler threw should be recorded once, with the error the handler threw.",
          expected: `one entry each, whose error is the handler's message (it names the task id, e.g. "boom now: ${failingFirst[0]!.id} failed at once")`,
          actual: badRecords.join("\n"),
          hint: "Pass the caught error itself to recordFailure(task, error), once per failed task.",
        });
      }
      assertEachOnce(
        [...emails1, ...slowOnes].map((e) => e.id),
        done.map((d) => d.id),
        { noun: "email.send or report.slow task", hintLost: workerHint, hintDuplicate: "Run each dequeued task once." },
      );
      if (!worker.alive)
        t.fail({
          message: `The worker should still be running after handlers threw, but ${describeEnd(worker)}.`,
          actual: worker.output().slice(-800),
          hint: "Nothing a handler throws may end the process: catch it (await the handler inside try) and record it.",
        });
    },

    "bounded-concurrency": async (t) => {
      const slots = between(t, 2, 4);
      const producer = await t.load("queue.ts", { name: "producer", limits: LIMITS });
      const worker = await t.load("main.ts", { name: "worker-1", process: true, limits: LIMITS });
      // Long and short tasks by turns: a worker that waits for a whole batch before taking more
      // leaves the short tasks' slots free beside each long one.
      const total = 4 * slots + 2;
      const durations = Array.from({ length: total }, (_, i) => (i % 2 === 0 ? between(t, 650, 750) : between(t, 40, 90)));
      const tasks = durations.map((ms) => slow(t, ms));
      const early = tasks.slice(0, 2 * slots + 1);
      await enqueueAll(producer, early);
      const baseline = await steadyConnections(t);
      t.note(
        `${early.length} tasks are waiting, long (650-750 ms) and short (40-90 ms) by turns; start(${slots}) is called twice on one worker (a boot script that runs twice), which must still keep exactly ${slots} in flight`,
      );
      const second = await worker.call<string | null>("start", [slots, 5000, 2], START_MS);
      if (second !== null) t.note(`the second start() threw: ${second}`);
      await t.sleep(between(t, 150, 350));
      await enqueueAll(producer, tasks.slice(early.length));
      t.note(`${tasks.length - early.length} more tasks enqueued while it works`);

      // Connections are a resource to watch directly: a worker that opens one per task runs out.
      let mostOpen = baseline;
      const deadline = performance.now() + 10_000;
      for (;;) {
        mostOpen = Math.max(mostOpen, t.proxy.stats().connectionsOpen);
        if (mostOpen - baseline > slots + 1) {
          t.fail({
            message: `The worker opened ${mostOpen - baseline} more connections to Redis while it ran ${tasks.length} tasks with concurrency ${slots}.`,
            expected: `a fixed number: the ones queue.ts and handlers.ts open, plus at most one per slot (${slots + 1} more at most)`,
            actual: `${baseline} open before start(), ${mostOpen} at most since`,
            hint: "Open connections once, when the worker starts (or use queue.ts's dequeue, which shares one), never per task or per dequeue: every createRedis() stays open until you quit() it.",
          });
        }
        const { done } = await seen(t);
        if (tasks.every((x) => done.some((d) => d.id === x.id))) break;
        if (!worker.alive || performance.now() > deadline) {
          await until(t, [worker], { doneIds: tasks.map((x) => x.id), failedIds: [] }, 0, (missing) => ({
            message: `${missing.done.length} of ${tasks.length} tasks were not done within 10 s by a worker with concurrency ${slots} (about ${Math.round(durations.reduce((a, b) => a + b, 0) / slots / 100) / 10} s of work).`,
            hint: workerHint,
          }));
        }
        await t.sleep(25);
      }
      await t.sleep(200);

      const events = workEvents(t);
      const series = heldSeries(events);
      expectTakesSeen(t, series, [worker]);
      const peak = peakHeld(series, worker.name);
      const handlerPeak = Number((await t.redis.get(PEAK("worker-1"))) ?? 0);
      if (peak > slots || handlerPeak > slots) {
        t.fail({
          message: `With concurrency ${slots} (start() called twice), the worker had ${Math.max(peak, handlerPeak)} tasks in flight at once.`,
          expected: `at most ${slots} at once`,
          actual: `${peak} at once taken and not finished (command log); ${handlerPeak} handlers running at once (effects:peak:worker-1)`,
          hint: `Take a task only when a slot is free: start \`concurrency\` loops that each await their task before dequeuing again (or count tasks in flight and wait while there are \`concurrency\`; mind < against <=). Starting every task you dequeue without waiting has no limit at all, and a second start() must start nothing more.`,
        });
      }
      if (peak < slots) {
        t.fail({
          message: `With concurrency ${slots} and ${tasks.length} tasks waiting, the worker never had more than ${peak} in flight at once.`,
          expected: `${slots} at once while tasks are waiting`,
          actual: `at most ${peak} at once (command log); ${handlerPeak} handlers at once (effects:peak:worker-1)`,
          hint: "One loop that awaits each handler runs one task at a time. Run `concurrency` loops side by side (for (let i = 0; i < concurrency; i++) loop()), each awaiting its own task.",
        });
      }
      const delays = refillDelays(events, worker.name);
      const stalls = delays.filter((d) => d > STALL_MS);
      const allowed = Math.max(1, Math.floor(tasks.length / STALLS_PER));
      t.note(
        `${peak} in flight at most (command log), ${handlerPeak} handlers at once (effects:peak); a freed slot took its next task after ${delays.length ? `${Math.round(Math.min(...delays))}-${Math.round(Math.max(...delays))}` : "-"} ms; ${stalls.length} stall(s) over ${STALL_MS} ms, ${allowed} allowed`,
      );
      if (stalls.length > allowed) {
        t.fail({
          message: `While tasks were waiting, ${stalls.length} times a slot of the worker stood free for more than ${STALL_MS} ms before it took the next task: a slot that frees up must take the next task at once, not wait for the others.`,
          expected: `a freed slot takes the next waiting task within ${STALL_MS} ms (at most ${allowed} exceptions in ${tasks.length} tasks)`,
          actual: `free for ${stalls.map((d) => Math.round(d)).join(", ")} ms; peak ${peak} in flight`,
          hint: "Do not take tasks in batches of `concurrency` and wait for the whole batch (Promise.all) before the next: one long task then holds back the slots of the short ones. Give each slot its own loop that goes back to dequeue as soon as its own task ends.",
        });
      }
      assertEachOnce(
        tasks.map((s) => s.id),
        (await seen(t)).done.map((d) => d.id),
        { noun: "task", hintLost: workerHint, hintDuplicate: "Run each dequeued task once." },
      );
    },

    "competing-consumers": async (t) => {
      const producer = await t.load("queue.ts", { name: "producer", limits: LIMITS });
      const names = ["email.send", "image.resize", "email.send", "image.resize", "task.explode"];
      const wave = () => Array.from({ length: 30 }, () => task(newId(t), pick(t, names), Math.floor(t.random() * 3)));
      const first = wave();
      const second = wave();
      const failing = new Set([...first, ...second].filter((x) => x.name === "task.explode").map((x) => x.id));
      // The shape of the faults comes from the seed, so a replay meets them at the same points.
      const latencyMs = 5 + Math.floor(t.random() * 15);
      const jitterMs = 10 + Math.floor(t.random() * 20);
      const victimIndex = Math.floor(t.random() * 3);
      const killAfter = 6 + Math.floor(t.random() * 10);
      const outcomes = async () => {
        const { done, failed } = await seen(t);
        return [...done.map((d) => d.id), ...failed.map((f) => f.id)];
      };
      // Half the first wave is waiting when the workers start; the rest races their first dequeues.
      await enqueueAtOnce(producer, first.slice(0, 15));
      const workers = [1, 2, 3].map((n) => t.spawn("main.ts", { name: `worker-${n}`, limits: LIMITS }));
      t.proxy.setLatency({ ms: latencyMs, jitterMs });
      t.note(
        `30 tasks (a few of whose handlers reject) for 3 worker processes (concurrency 2 each), half of them enqueued as the workers start; every Redis reply is delayed ${latencyMs} ms ± ${jitterMs} ms from now on`,
      );
      await enqueueAtOnce(producer, first.slice(15));
      await t.waitFor(async () => workers.some((w) => !w.alive) || (await outcomes()).length >= killAfter, {
        message: `Fewer than ${killAfter} of the first 30 tasks were done within 10 s by 3 workers.`,
        hint: workerHint,
        timeoutMs: 10_000,
      });
      const doneIdsOf = (tasks: Task[]) => tasks.filter((x) => !failing.has(x.id)).map((x) => x.id);
      const failedIdsOf = (tasks: Task[]) => tasks.filter((x) => failing.has(x.id)).map((x) => x.id);
      if (workers.some((w) => !w.alive))
        await until(t, workers, { doneIds: doneIdsOf(first), failedIds: failedIdsOf(first) }, 0, () => ({ message: "", hint: workerHint }));

      // A peer dies mid-way. The tasks it had taken and not finished (at most its concurrency, 2)
      // die with it: this queue has no leases, so nothing gives them back. Everything else must run.
      const victim = workers[victimIndex]!;
      const living = workers.filter((w) => w !== victim);
      const doneAtKill = (await outcomes()).length;
      t.note(
        `${doneAtKill} tasks finished: killing ${victim.name} (SIGKILL). The tasks it had taken and not finished (at most 2) are lost, since this queue has no leases; every other task must still run exactly once, on the other two`,
      );
      await victim.kill();
      // A moment for anything the dead process had already sent to reach Redis before the snapshot.
      await t.sleep(100);
      // What was still queued after the kill was never taken by the dead worker: it must all run.
      const queuedAfterKill = new Set((await t.redis.zrange(QUEUE, 0, -1)).map((member) => (JSON.parse(member) as Task).id));
      const firstDeadline = performance.now() + 10_000;
      for (;;) {
        const finished = await outcomes();
        const missing = first.filter((x) => !finished.includes(x.id));
        const queued = await t.redis.zcard(QUEUE);
        if (queued === 0 && missing.length <= 2) break;
        const dead = living.filter((w) => !w.alive);
        if (dead.length > 0 || performance.now() > firstDeadline) {
          const still = first.filter((x) => queuedAfterKill.has(x.id));
          await until(t, living, { doneIds: doneIdsOf(still), failedIds: failedIdsOf(still) }, 0, (m) => ({
            message: `After ${victim.name} was killed, the other two workers did not finish the first 30 tasks within 10 s: ${m.done.length + m.failed.length} task(s) still queued when it died were never done or recorded as failed.`,
            hint: `${workerHint} A worker that dies takes only its own tasks with it; the others keep taking tasks from the queue.`,
          }));
          t.fail({
            message: `After ${victim.name} was killed, ${missing.length} of the first 30 tasks were not finished within 10 s (at most 2, the ones it had taken, may be lost).`,
            actual: [...workers.map(describeEnd)].join("\n"),
            hint: workerHint,
          });
        }
        await t.sleep(25);
      }
      // Nothing of the survivors' may be on the wire when the connections are cut: a write whose
      // reply is lost is sent again on reconnect, and would run twice through no fault of theirs.
      await t.waitFor(() => quiescent(t, living), {
        message: `The two surviving workers still had tasks or commands in flight 5 s after the queue emptied.`,
        hint: workerHint,
        timeoutMs: 5000,
      });
      await t.sleep(200);

      t.note(
        "the queue is now empty for 3 s; meanwhile every connection to Redis is cut and the next 4 dequeue commands (BZPOPMIN) fail with an error: the workers must keep waiting for work",
      );
      const idleStarted = performance.now();
      const mark = t.logPosition();
      t.proxy.failNext(4, { match: "BZPOPMIN" });
      t.proxy.cutAll();
      await t.waitFor(
        () => t.commands("BZPOPMIN").filter((e) => e.seq > mark && e.fault === "failNext").length >= 4 || performance.now() - idleStarted > 6000,
        { message: "", hint: "", timeoutMs: 8000 },
      );
      await t.sleep(Math.max(0, 3000 - (performance.now() - idleStarted)));
      await enqueueAtOnce(producer, second);
      t.note(`30 more tasks, for ${living.map((w) => w.name).join(" and ")}`);
      await until(t, living, { doneIds: doneIdsOf(second), failedIds: failedIdsOf(second), quietMs: 4000, quietFromStart: true }, 10_000, (missing) => ({
        message: `After the queue had been empty for 3 s, its connections cut and 4 dequeues failed, ${missing.done.length + missing.failed.length} of 30 new tasks were not finished within 10 s: the workers had stopped taking tasks.`,
        hint: "A worker runs until its process ends. dequeue(1) returns null when nothing came within a second, and rejects when Redis fails it (an error reply, a dropped connection): neither is the end of the work. Catch a failed dequeue inside the loop, wait a moment, and ask again; on null, simply ask again.",
      }));
      await t.sleep(300);
      const finished = await outcomes();
      const lost = first.filter((x) => !finished.includes(x.id));
      const wronglyLost = lost.filter((x) => queuedAfterKill.has(x.id));
      // The grader's own count of what the dead worker held: its tasks taken and never finished.
      const series = heldSeries(workEvents(t));
      const heldByVictim = mayHaveTaken(t, series, victim.name, 2);
      if (lost.length > heldByVictim || wronglyLost.length > 0) {
        t.fail({
          message: `${lost.length} of the first 30 tasks never ran${wronglyLost.length > 0 ? `, ${wronglyLost.length} of them still in the queue when ${victim.name} died` : ""}: only the tasks the killed worker had taken and not finished (it held at most ${heldByVictim}, and may hold at most 2) may be lost.`,
          actual: lost.map((x) => x.id).join(", "),
          hint: workerHint,
        });
      }
      expectAtMost(t, series, workers, 2, "Under latency, a kill and cut connections");
      const lostIds = new Set(lost.map((x) => x.id));
      expectNoSecondOutcome(
        t,
        [...first, ...second],
        await seen(t),
        "Each task must run once across all processes: run exactly the tasks dequeue hands you, once each, and record each failure once.",
      );
      assertEachOnce(
        [...first, ...second].map((x) => x.id).filter((id) => !lostIds.has(id)),
        finished,
        {
          noun: "task",
          hintLost: workerHint,
          hintDuplicate: "Each task must run once across all processes: run exactly the tasks dequeue hands you, once each, and record each failure once.",
        },
      );
      const { done } = await seen(t);
      const byWorker = workers.map((w) => `${w.name} ran ${done.filter((d) => d.worker === w.name).length}`);
      t.note(`${60 - lost.length} tasks, each once (${lost.length} lost with ${victim.name}): ${byWorker.join(", ")}`);
    },

    "handler-timeout": async (t) => {
      const slots = between(t, 2, 3);
      const timeoutMs = pick(t, [300, 400, 500]);
      const producer = await t.load("queue.ts", { name: "producer", limits: LIMITS });
      const worker = await t.load("main.ts", { name: "worker-1", process: true, limits: LIMITS });
      // Every task carries the grader's stopwatch (markMs): its handler says so if it is still
      // running timeoutMs after it started, on a timer in the worker's own process.
      const timed = (ms: number | null, priority = 5, fail = false) => timedTask(t, timeoutMs, ms, priority, fail);
      // Well past the timeout, so a timer that fires a little late on a loaded machine still wins.
      const late = () => timeoutMs + between(t, 250, 400);
      // As many hanging handlers as slots come out first, so every slot hangs at once.
      const hangsFirst = Array.from({ length: slots }, () => timed(null, 0));
      const hangLater = timed(null);
      const slowOk = Array.from({ length: 2 }, () => timed(late()));
      const slowFail = Array.from({ length: 2 }, () => timed(late(), 5, true));
      const quick = Array.from({ length: 4 }, () => timed(Math.round(timeoutMs * (0.1 + t.random() * 0.2))));
      const quickFail = timed(Math.round(timeoutMs * 0.2), 5, true);
      const rest = shuffled(t, [hangLater, ...slowOk, ...slowFail, ...quick, quickFail]);
      const overrunning = [...hangsFirst, hangLater, ...slowOk, ...slowFail];
      for (const x of overrunning) t.fault(`handler ${describe(x)}, past the ${timeoutMs} ms timeout, for ${x.id}`);
      for (const x of [...quick, quickFail]) t.fault(`handler ${describe(x)}, within the timeout, for ${x.id}`);

      const firstBurst = [...hangsFirst, ...rest.slice(0, 3)];
      await enqueueAtOnce(producer, firstBurst);
      t.note(
        `start(${slots}, ${timeoutMs}): ${slots + 1} handlers that hang, 4 that run past ${timeoutMs} ms (2 then reject), 5 that finish in time (1 rejects); the first ${slots} to come out all hang`,
      );
      await worker.call("start", [slots, timeoutMs], START_MS);
      // The rest arrive in two bursts while it works, so the tasks start at scattered moments.
      await t.sleep(between(t, timeoutMs / 2, timeoutMs));
      await enqueueAtOnce(producer, rest.slice(3, 7));
      await t.sleep(between(t, timeoutMs / 2, timeoutMs));
      await enqueueAtOnce(producer, rest.slice(7));

      const settleMs = Math.ceil(((slots + 6) * timeoutMs) / slots) + 4000;
      const hangs = [...hangsFirst, hangLater];
      const others = [...slowOk, ...slowFail, ...quick, quickFail];
      await until(
        t,
        [worker],
        { doneIds: [], failedIds: hangs.map((x) => x.id), outcomeIds: others.map((x) => x.id), quietMs: timeoutMs + 3500, quietFromStart: true },
        settleMs,
        (missing) => {
          const hung = hangs.filter((x) => missing.failed.includes(x.id));
          return hung.length > 0
            ? {
                message: `${hung.length} task(s) whose handler hangs (never settles) were never recorded as timed out, with timeoutMs ${timeoutMs}: ${list(hung.map((x) => x.id))}.`,
                hint: "A timeout cannot be checked after the handler returns: a hung handler never returns. Race the handler against a timer (Promise.race with a promise that rejects after timeoutMs), record the timeout when the timer wins, and let the loop go on to its next task.",
              }
            : {
                message: `After handlers hung or ran past the ${timeoutMs} ms timeout, ${missing.done.length} task(s) were never finished nor recorded: ${list(missing.done)}.`,
                hint: "A task whose timeout passed frees its slot at once: the loop must go on to the next task instead of still awaiting the hung handler.",
              };
        },
      );
      // Late effects show up now: stale timers of finished tasks, handlers that settle after their timeout.
      await t.sleep(timeoutMs + 400);

      const { done, failed } = await seen(t);
      const { problems, delays } = judgeOutcomes(t, [...overrunning, ...quick, quickFail], { done, failed }, timeoutMs);
      t.note(`timeouts recorded ${delays.join(", ")} ms after the handlers' own ${timeoutMs} ms stopwatch`);
      if (problems.length > 0) {
        t.fail({
          message: `With timeoutMs ${timeoutMs}, ${problems.length} task outcome(s) were recorded wrongly.`,
          expected: `a handler still running ${timeoutMs} ms after it started: recorded once as timed out, within ${TIMEOUT_LATE_MS} ms of that moment, and nothing more when it settles later; a handler that settles in time: its own outcome only`,
          actual: problems.join("\n"),
          hint: "Start one timer per task when its handler starts and clear it as soon as the task settles: a timer left running records a timeout for a task that already finished. When the timer wins, record the timeout and ignore whatever the handler does later. Time each task with a timer of its own, not a sweep that looks now and then.",
        });
      }
      const series = heldSeries(workEvents(t));
      expectAtMost(
        t,
        series,
        [worker],
        slots,
        `With handlers that hang or settle after their ${timeoutMs} ms timeout`,
        "A task leaves flight once: when its handler settles or when its timeout passes, whichever comes first. If you count free slots, free the slot of a timed-out task once, not again when its handler settles later.",
      );
      const peak = peakHeld(series, worker.name);
      if (peak < slots) {
        t.fail({
          message: `With concurrency ${slots} and tasks waiting, the worker never had more than ${peak} in flight at once.`,
          expected: `${slots} at once`,
          actual: `${peak}`,
          hint: slotHint,
        });
      }
    },

    "crash-between-commands": async (t) => {
      const producer = await t.load("queue.ts", { name: "producer", limits: LIMITS });
      const make = (): Task => {
        const name = pick(t, ["email.send", "image.resize", "report.slow", "report.slow", "task.explode", "task.explode-now"]);
        return name === "report.slow" ? slow(t, between(t, 30, 150), between(t, 0, 2)) : task(newId(t), name, between(t, 0, 2));
      };
      // Everything the seed decides is drawn here, before anything runs concurrently, so a replay
      // meets the same tasks and the same crash points in the same order.
      const supply = Array.from({ length: 96 }, make);
      const pauses = Array.from({ length: 16 }, () => between(t, 50, 200));
      const plans = [0, 1].map(() => {
        const victimRoll = t.random();
        // Where in its work it dies: a take (BZPOPMIN), a recorded outcome (RPUSH), or any command.
        const match = pick(t, ["*", "*", "BZPOPMIN", "RPUSH"]);
        const nth = match === "*" ? between(t, 1, 8) : between(t, 1, 3);
        return { victimRoll, match, nth, when: pick(t, ["before", "after"] as const), settleMs: between(t, 50, 250) };
      });
      const tasks = supply.slice(0, 12);
      await enqueueAtOnce(producer, tasks);
      let next = 1;
      const spawn = () => t.spawn("main.ts", { name: `worker-${next++}`, limits: LIMITS });
      const workers = [spawn(), spawn(), spawn()];
      t.note(
        "tasks (quick, slow, failing) for 3 worker processes (concurrency 2 each): 12 are waiting, and more come in bursts of 6 while the grader kills two workers between two of their Redis commands",
      );
      let crashes = 0;
      let over = false;
      // Tasks keep coming (at least 36, more until both crashes happened), so each victim has work to die in.
      const feeding = (async () => {
        for (let i = 0; !over && (tasks.length < 36 || (crashes < 2 && tasks.length < supply.length)); i++) {
          await t.sleep(pauses[i % pauses.length]!);
          if ((await t.redis.zcard(QUEUE)) >= 4) continue;
          const burst = supply.slice(tasks.length, tasks.length + 6);
          tasks.push(...burst);
          await enqueueAtOnce(producer, burst);
        }
      })();
      // If the check fails first, the feeding stops with it and its last call fails unheard.
      feeding.catch(() => {});
      const victims: LearnerProcess[] = [];
      const points: string[] = [];
      try {
        for (const [round, { victimRoll, match, nth, when, settleMs }] of plans.entries()) {
          const living = workers.filter((w) => w.alive && !victims.includes(w));
          const victim = living[Math.floor(victimRoll * living.length)]!;
          const crash = t.crashAt(victim, { match, nth, when });
          const at = await Promise.race([crash, t.sleep(5000).then(() => undefined)]);
          if (at === undefined) {
            return t.fail({
              message: `${victim.name} sent fewer than ${nth} ${match === "*" ? "commands" : `${match} commands`} to Redis in 5 s of work on a queue holding tasks.`,
              actual: [describeEnd(victim), ...printed([victim])].join("\n"),
              hint: workerHint,
            });
          }
          crashes++;
          const point = `${victim.name} died ${when} its ${nth}${["th", "st", "nd", "rd"][nth] ?? "th"} ${match === "*" ? "command" : match} from then (${at?.args.slice(0, 2).join(" ") ?? "?"})`;
          points.push(point);
          victims.push(victim);
          t.note(
            `${point}; ${when === "after" ? "Redis applied that command, nothing after it was sent" : "that command never reached Redis"}${round === 0 ? ". A new worker takes its place" : ""}`,
          );
          if (round === 0) workers.push(spawn());
          await t.sleep(settleMs);
        }
        await feeding;
      } finally {
        over = true;
      }

      // Everything still queued must be run; only what the dead workers held may be lost.
      const survivors = workers.filter((w) => !victims.includes(w));
      const deadline = performance.now() + 10_000;
      for (;;) {
        const { done, failed } = await seen(t);
        const finished = new Set([...done.map((d) => d.id), ...failed.map((f) => f.id)]);
        const queued = await t.redis.zcard(QUEUE);
        const missing = tasks.filter((x) => !finished.has(x.id));
        if (queued === 0 && missing.length <= 2 * victims.length) break;
        if (survivors.some((w) => !w.alive) || performance.now() > deadline) {
          t.fail({
            message: `After ${points.join(" and ")}, ${missing.length} of ${tasks.length} tasks were not finished within 10 s (${queued} still queued).`,
            actual: [...workers.map(describeEnd), ...printed(survivors)].join("\n"),
            hint: `${workerHint} A worker that dies takes only the tasks it had taken with it; the others keep taking tasks.`,
          });
        }
        await t.sleep(25);
      }
      await t.sleep(400);
      const series = heldSeries(workEvents(t));
      expectAtMost(
        t,
        series,
        workers,
        2,
        `With tasks waiting (${points.join("; ")})`,
        "Take a task only when you can start it: each loop dequeues its next task after its current one ends, never ahead of time. A task taken early sits in the memory of a process that can die, and dies with it.",
      );
      const { done, failed } = await seen(t);
      const finished = [...done.map((d) => d.id), ...failed.map((f) => f.id)];
      const lost = tasks.filter((x) => !finished.includes(x.id));
      const held = victims.map((v) => ({ name: v.name, held: mayHaveTaken(t, series, v.name, 2) }));
      const mayLose = held.reduce((sum, v) => sum + v.held, 0);
      if (lost.length > mayLose) {
        t.fail({
          message: `${lost.length} task(s) were never finished after ${points.join(" and ")}; only what the dead workers had taken and not finished may be lost.`,
          expected: `at most ${mayLose}: ${held.map((v) => `${v.name} held ${v.held}`).join(", ")} when it died (taken and not finished, counting a dequeue Redis may have answered as it died; at most 2 each)`,
          actual: `lost: ${list(lost.map((x) => `${x.id} (${x.name})`))}`,
          hint: workerHint,
        });
      }
      const lostIds = new Set(lost.map((x) => x.id));
      const expected = tasks.filter((x) => !lostIds.has(x.id));
      expectNoSecondOutcome(
        t,
        tasks,
        { done, failed },
        "Run each task you dequeue once and record each failure once: nothing gives a task back here, so a second outcome can only come from running it twice.",
      );
      assertEachOnce(
        expected.map((x) => x.id),
        finished,
        {
          noun: "task",
          hintLost: workerHint,
          hintDuplicate:
            "Run each task you dequeue once and record each failure once: nothing gives a task back here, so a second outcome can only come from running it twice.",
        },
      );
      const wrongKind = expected.filter((x) => x.name.startsWith("task.explode") !== failed.some((f) => f.id === x.id));
      if (wrongKind.length > 0) {
        t.fail({
          message: "Some tasks ended the wrong way: a failing handler's task must be recorded in queue:failed, and the others done.",
          actual: list(wrongKind.map((x) => `${x.id} (${x.name})`)),
          hint: workerHint,
        });
      }
    },

    "paused-worker": async (t) => {
      const timeoutMs = pick(t, [500, 600, 700]);
      const producer = await t.load("queue.ts", { name: "producer", limits: LIMITS });
      const [a, b] = await Promise.all([1, 2].map((n) => t.load("main.ts", { name: `worker-${n}`, process: true, limits: LIMITS })));
      const [paused, other] = t.random() < 0.5 ? [a!, b!] : [b!, a!];
      await Promise.all([paused.call("start", [2, timeoutMs], START_MS), other.call("start", [2, timeoutMs], START_MS)]);
      // Every task carries the grader's stopwatch (markMs), so a timeout a busy machine forces on a
      // short task is told apart from one the worker invents.
      // Drawn before anything runs: how many polls it takes to catch the worker is up to the machine.
      const first = Array.from({ length: 10 }, () => timedTask(t, timeoutMs, between(t, 250, 400)));
      const spare = Array.from({ length: 20 }, () => timedTask(t, timeoutMs, between(t, 250, 400)));
      const pauseMs = timeoutMs + between(t, 300, 600);
      await enqueueAtOnce(producer, first);
      t.note(`two workers, start(2, ${timeoutMs}); ${first.length} tasks of 250-400 ms`);

      // Pause one while both its slots are mid-handler (more tasks come if the queue runs dry first).
      const holding = (await t.waitFor(
        async () => {
          const { started, done, failed } = await seen(t);
          const ids = started
            .filter((s) => s.worker === paused.name && !done.some((d) => d.id === s.id) && !failed.some((f) => f.id === s.id))
            .map((s) => s.id);
          if (ids.length >= 2) return ids;
          if (spare.length > 0 && (await t.redis.zcard(QUEUE)) === 0) {
            const more = spare.splice(0, 4);
            first.push(...more);
            await enqueueAtOnce(producer, more);
          }
          return null;
        },
        {
          message: `${paused.name} never had 2 handlers running at once within 8 s, with tasks waiting and concurrency 2.`,
          hint: slotHint,
          timeoutMs: 8000,
          intervalMs: 10,
        },
      ))!; // waitFor returns only a truthy value
      const doneBefore = (await seen(t)).done.filter((d) => d.worker === other.name).length;
      paused.pause();
      t.note(
        `${paused.name} paused (SIGSTOP) for ${pauseMs} ms, past the ${timeoutMs} ms timeout of the 2 tasks it is running (${holding.join(", ")}); ${other.name} must go on meanwhile`,
      );
      await t.sleep(pauseMs / 2);
      const during = Array.from({ length: 4 }, () => timedTask(t, timeoutMs, between(t, 20, 60)));
      await enqueueAtOnce(producer, during);
      await t.sleep(pauseMs / 2);
      // Tasks waiting at the moment it resumes: its overdue timers all fire at once, and whatever
      // it thinks of its free slots decides how many of these it takes.
      const after = Array.from({ length: 8 }, () => timedTask(t, timeoutMs, between(t, 100, 200)));
      await enqueueAtOnce(producer, after);
      const doneDuring = (await seen(t)).done.filter((d) => d.worker === other.name).length - doneBefore;
      const resumedAt = t.logPosition();
      paused.resume();
      t.note(`${paused.name} resumed; 8 more tasks of 100-200 ms are waiting`);
      if (doneDuring < 2) {
        t.fail({
          message: `While ${paused.name} was paused for ${pauseMs} ms, ${other.name} finished only ${doneDuring} task(s), with tasks waiting.`,
          expected: `${other.name} working on, 2 at a time`,
          actual: [describeEnd(other), ...printed([other])].join("\n"),
          hint: "Workers share nothing but the queue: one that stalls must not hold the others up.",
        });
      }

      const all = [...first, ...during, ...after];
      // Done, or (on a machine busy enough to hold a short task past its timeout) recorded.
      await until(t, [paused, other], { doneIds: [], failedIds: [], outcomeIds: all.map((x) => x.id) }, 10_000, (missing) => ({
        message: `After ${paused.name} was paused for ${pauseMs} ms and resumed, ${missing.done.length} task(s) were never done.`,
        hint: "A paused process resumes where it stopped: its connections and its loops must carry on. Each task it had taken runs to its end (or times out) once.",
      }));
      // The held tasks' overdue timeouts fired on resume; their handlers settle a moment later.
      await t.sleep(timeoutMs + 300);

      const { done, failed } = await seen(t);
      const events = workEvents(t);
      const series = heldSeries(events);
      expectAtMost(
        t,
        series,
        [paused, other],
        2,
        `After ${paused.name} was paused for ${pauseMs} ms (past its tasks' ${timeoutMs} ms timeout) and resumed, with tasks waiting`,
        "On resume, a paused worker's overdue timers all fire together: each timed-out task leaves flight once. If you count free slots, free a timed-out task's slot when its timeout fires and not again when its handler settles later.",
      );
      // The held tasks' handlers and timers were all overdue on resume; either outcome, once, is
      // right for them, as for any task, by their own stopwatch.
      const { problems } = judgeOutcomes(t, all, { done, failed }, timeoutMs);
      if (problems.length > 0) {
        t.fail({
          message: `After ${paused.name} was paused for ${pauseMs} ms and resumed, ${problems.length} task(s) ended wrongly.`,
          expected: `each task done once, or recorded once as timed out when its handler was still running ${timeoutMs} ms after it started (by its own clock: a pause counts), within ${TIMEOUT_LATE_MS} ms`,
          actual: problems.join("\n"),
          hint: "Clear each task's timer when the task settles, and record each timeout once; what a handler does after its timeout is not recorded again.",
        });
      }
      const takenAfter = events.filter((e) => e.kind === "take" && e.owner === paused.name && e.seq > resumedAt).length;
      if (takenAfter === 0 || !paused.alive) {
        t.fail({
          message: `After it was resumed, ${paused.name} ${paused.alive ? "took no more tasks" : "died"}, with 8 tasks waiting.`,
          actual: [describeEnd(paused), ...printed([paused])].join("\n"),
          hint: "A pause is not a failure: after SIGCONT the loops carry on where they were, and take tasks again.",
        });
      }
    },
  },
});
