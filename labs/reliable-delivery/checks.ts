import { assertEachOnce, defineChecks, type CheckContext, type LearnerProcess } from "../../lib/grader/index.ts";

interface Task {
  id: string;
  ms: number;
}

// The keys handler.ts writes (instructions.md names them); the grader reads nothing else.
const STARTED = "effects:started";
const DONE = "effects:done";
const WORKER = "effects:worker";

// Workers outlive a single RPC call, so they get more wall time than the sandbox's default.
const WORKER_LIMITS = { wallMs: 30_000 };

// Ids come from the runner's CSPRNG, never from the seed, so a worker can only learn of a task
// through the queue; the seed decides only how long tasks take.
const newTask = (t: CheckContext, ms: number): Task => ({ id: t.id("task"), ms });

const countOf = (ids: string[], id: string) => ids.filter((x) => x === id).length;

async function effects(t: CheckContext): Promise<{ started: string[]; done: string[] }> {
  const [started, done] = await Promise.all([t.redis.lrange(STARTED, 0, -1), t.redis.lrange(DONE, 0, -1)]);
  return { started, done };
}

/**
 * Starts n workers and waits until each is talking to Redis (its first command reached the
 * proxy). Tasks enqueued before then would be claimed by a worker still connecting, whose claim
 * may wait in its client's queue for longer than a lease on a loaded machine: a lease that has
 * run out before Redis records it is the connection's doing, not the queue's.
 */
async function spawnWorkers(t: CheckContext, n: number): Promise<LearnerProcess[]> {
  const workers = Array.from({ length: n }, (_, i) => t.spawn("queue.ts", { name: `worker-${i + 1}`, limits: WORKER_LIMITS }));
  const silent = () => workers.filter((w) => !t.commands().some((e) => e.owner === w.name));
  const deadline = performance.now() + 10_000;
  while (silent().length > 0 && workers.every((w) => w.alive)) {
    if (performance.now() > deadline) {
      t.fail({ message: "Your workers did not talk to Redis within 10 s of starting.", expected: "each worker polling the queue as soon as main(workerName) runs", actual: silent().map(describeEnd).join(", "), hint: workerHint });
    }
    await t.sleep(25);
  }
  return workers;
}

/**
 * Fails unless every task was run by one of the workers (effects:worker names the process that
 * ran it): a task enqueue ran itself, in the producer, never went through the queue at all.
 */
async function expectRunByWorkers(t: CheckContext, ids: string[], workers: LearnerProcess[]): Promise<void> {
  const names = new Set(workers.map((w) => w.name));
  const holders = await Promise.all(ids.map(async (id) => [id, await t.redis.hget(WORKER, id)] as const));
  const elsewhere = holders.filter(([, holder]) => holder === null || !names.has(holder));
  if (elsewhere.length > 0) {
    t.fail({
      message: `${elsewhere.length} task(s) were not run by a worker.`,
      expected: `each task run by one of ${[...names].join(", ")}`,
      actual: elsewhere.map(([id, holder]) => `${id} run by ${holder ?? "nobody"}`).join(", "),
      hint: "enqueue should only add the task to the queue in Redis; the workers, in main(workerName), claim and run it.",
    });
  }
}

/** Enqueues through the learner's own enqueue, from a process of its own. */
async function enqueueAll(t: CheckContext, tasks: Task[]): Promise<void> {
  const producer = await t.load("queue.ts", { name: "producer" });
  await Promise.all(tasks.map((task) => producer.call("enqueue", [task])));
}

function describeEnd(worker: LearnerProcess): string {
  const outcome = worker.outcome;
  if (!outcome) return `${worker.name} is running`;
  const how = outcome.kind === "exited" ? `exited with code ${outcome.code}` : outcome.kind === "signalled" ? `was stopped by ${outcome.signal}` : outcome.message;
  return `${worker.name} ${how}`;
}

/**
 * Waits until every id is in effects:done, or `stop` says there is no point waiting longer.
 * On a timeout it fails with what is missing and what became of the workers.
 */
async function untilDone(
  t: CheckContext,
  ids: string[],
  workers: LearnerProcess[],
  timeoutMs: number,
  onTimeout: (missing: string[]) => { message: string; expected?: unknown; hint: string },
  stop: (seen: { started: string[]; done: string[] }) => boolean = () => false,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const seen = await effects(t);
    const missing = ids.filter((id) => !seen.done.includes(id));
    if (missing.length === 0 || stop(seen)) return;
    if (performance.now() > deadline) {
      const dead = workers.filter((w) => !w.alive);
      const details = onTimeout(missing);
      const lines = [`not done after ${timeoutMs / 1000} s: ${missing.join(", ")}`, `started: ${seen.started.join(", ") || "(none)"}`, `done: ${seen.done.join(", ") || "(none)"}`];
      if (dead.length > 0) lines.push(...dead.map(describeEnd), ...dead.map((w) => w.output().slice(-600)).filter(Boolean));
      t.fail({ ...details, actual: lines.join("\n") });
    }
    await t.sleep(25);
  }
}

/**
 * Why a task may fairly have started twice: its first worker sent Redis nothing for longer than a
 * lease lasts (the machine did not run it), so its lease ran out and the reaper rightly handed the
 * task on. Returns that explanation, or null when the worker was talking to Redis all along and
 * the redelivery is the queue's fault. Judged from the command log: every command a worker sends
 * (heartbeats, idle polls, the handler's writes) shows it alive. Only for tasks shorter than the
 * silence it looks for, so a worker that simply never heartbeats is never excused.
 */
function starvedHolder(t: CheckContext, id: string): string | null {
  const starts = t.commands("RPUSH").filter((e) => e.args[1] === STARTED && e.args[2] === id);
  const [first, second] = starts;
  if (!first?.owner || !second) return null;
  const times = t
    .commands()
    .filter((e) => e.owner === first.owner && e.at >= first.at && e.at <= second.at)
    .map((e) => e.at);
  let silence = 0;
  for (let i = 1; i < times.length; i++) silence = Math.max(silence, times[i]! - times[i - 1]!);
  // The last command before the second start counts up to that moment too.
  silence = Math.max(silence, second.at - (times.at(-1) ?? first.at));
  return silence >= STARVED_MS ? `${first.owner} sent Redis nothing for ${Math.round(silence)} ms while it held ${id}` : null;
}

// Longer than any task these checks run without a heartbeat's help (800 ms), close to the lease.
const STARVED_MS = 900;

/** The ids of `ids` started more than once whose redelivery no starved worker explains; notes the excused. */
function unexplainedRestarts(t: CheckContext, ids: string[], started: string[]): string[] {
  return ids.filter((id) => {
    if (countOf(started, id) < 2) return false;
    const excuse = starvedHolder(t, id);
    if (excuse) t.note(`${excuse}: its lease ran out, so ${id} starting again is correct, and not held against you`);
    return excuse === null;
  });
}

const workerHint = "main(workerName) should loop forever: claim a task with a lease, run handle(task) from handler.ts, then ack it; when the queue is empty, wait a little and try again.";

export default defineChecks({
  timeoutMs: 20_000,
  // The live view: three workers drain a steady trickle of tasks, and every few seconds one of them
  // is SIGKILLed and replaced; watch queue and in-flight keys as leases expire and come back.
  playground: async (t) => {
    let next = 1;
    const workers = new Set(Array.from({ length: 3 }, () => t.spawn("queue.ts", { name: `worker-${next++}`, limits: { wallMs: 70_000, cpuSeconds: 30 } })));
    const producer = await t.load("queue.ts", { name: "producer", limits: { wallMs: 70_000 } });
    const produce = async () => {
      while (!t.signal.aborted) {
        await producer.call("enqueue", [newTask(t, 300 + Math.floor(t.random() * 1500))]).catch(() => {});
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
        workers.add(t.spawn("queue.ts", { name: `worker-${next++}`, limits: { wallMs: 70_000, cpuSeconds: 30 } }));
      }
    };
    await Promise.all([produce(), chaos()]);
  },
  checks: {
    "each-task-once": async (t) => {
      const workers = await spawnWorkers(t, 3);
      const tasks = Array.from({ length: 9 }, () => newTask(t, 300 + Math.floor(t.random() * 200)));
      const ids = tasks.map((task) => task.id);
      await enqueueAll(t, tasks);
      t.note("9 tasks of 300-500 ms enqueued; 3 workers compete for them, and none is killed");
      await untilDone(t, ids, workers, 10_000, (missing) => ({
        message: `${missing.length} of 9 tasks were not done within 10 s, with 3 healthy workers.`,
        expected: "all 9 in effects:done within about 2 s",
        hint: workerHint,
      }));
      await t.sleep(500); // a redelivery of a finished task would show up now
      const { started, done } = await effects(t);
      const restarted = unexplainedRestarts(t, ids, started);
      const twice = restarted.map((id) => `${id} ×${countOf(started, id)}`);
      if (twice.length > 0) {
        t.fail({
          message: `${twice.length} task(s) were started more than once, although no worker died or stalled.`,
          expected: "each task started once: a live worker keeps its lease",
          actual: twice.slice(0, 10).join(", "),
          hint: "The reaper took back leases that had not run out. Requeue only tasks whose deadline is in the past, and keep deadlines and now in one unit: Date.now() is milliseconds, so a 1 s lease is + 1000.",
        });
      }
      // A task whose starved worker lost its lease may also finish twice: the handler is not idempotent.
      const excused = new Set(ids.filter((id) => countOf(started, id) > 1 && !restarted.includes(id)));
      assertEachOnce(ids, done.filter((id, i) => !excused.has(id) || done.indexOf(id) === i), {
        noun: "task",
        hintLost: workerHint,
        hintDuplicate: "Each task should be claimed by exactly one worker: take it from the queue and record its lease in one atomic step (a Lua script, or MULTI), and requeue only expired leases.",
      });
      await expectRunByWorkers(t, ids, workers);
    },

    "killed-worker-task-completes": async (t) => {
      const workers = await spawnWorkers(t, 2);
      const tasks = Array.from({ length: 2 }, () => newTask(t, 800));
      const ids = tasks.map((task) => task.id);
      await enqueueAll(t, tasks);
      const found = await t.waitFor(
        async () => {
          const { started, done } = await effects(t);
          const id = started.find((s) => !done.includes(s));
          const holder = id ? await t.redis.hget(WORKER, id) : null;
          return id && holder ? { id, holder } : null;
        },
        { message: "No worker started a task within 5 s of two being enqueued.", hint: workerHint, timeoutMs: 5000 },
      );
      const victim = found!; // waitFor returns only a truthy value
      const worker = workers.find((w) => w.name === victim.holder);
      if (!worker) {
        return t.fail({
          message: `Task ${victim.id} was run by '${victim.holder}', not by a worker.`,
          expected: "tasks run only in main(workerName)'s loop",
          actual: victim.holder,
          hint: "enqueue should only add the task to the queue; the workers run it.",
        });
      }
      t.note(`SIGKILL ${worker.name} while it runs ${victim.id} (800 ms of work); the other worker must finish it`);
      await worker.kill();
      if ((await effects(t)).done.includes(victim.id)) throw new Error(`${victim.id} finished before ${worker.name} could be killed; the machine is too slow for this check`);
      const survivors = workers.filter((w) => w !== worker);
      await untilDone(t, ids, survivors, 6000, (missing) =>
        missing.includes(victim.id)
          ? {
              message: `Task ${victim.id}, whose worker was SIGKILLed mid-task, was never finished by the surviving worker.`,
              expected: `${victim.id} in effects:done within about 2 s of the kill (1 s lease + 250 ms reaper + 800 ms of work)`,
              hint: "A task taken with a plain pop, or acked before it ran, dies with its worker. On claim, move the task atomically to an in-flight set with a deadline; ack only after handle returns; and have every worker run a reaper every 250 ms that moves expired leases back to the queue.",
            }
          : {
              message: `The surviving worker did not finish ${missing.join(", ")} after ${worker.name} was killed.`,
              hint: workerHint,
            },
      );
      await t.sleep(400); // a second redelivery would show up now
      const { started, done } = await effects(t);
      // The victim's task starts twice by design and is never excused; the other task may restart
      // only if its worker was starved past its lease.
      const others = ids.filter((id) => id !== victim.id && countOf(started, id) > 1);
      const excused = new Set(others.filter((id) => unexplainedRestarts(t, [id], started).length === 0));
      assertEachOnce(ids, done.filter((id, i) => !excused.has(id) || done.indexOf(id) === i), {
        noun: "task",
        hintLost: "Every task must reach effects:done.",
        hintDuplicate: "The killed worker's task should be requeued once: requeue and remove the expired lease in one atomic step, and only leases whose deadline has passed.",
      });
    },

    "crash-between-commands": async (t) => {
      // Crash points sweep the start of a worker's work: claim, then the handler's first writes.
      // Dying right after any one of those commands (all before the task's `done`) must lose no
      // task and finish none twice; a claim made of several commands loses the task in between.
      const rounds = 3;
      const first = 1 + Math.floor(t.random() * 2);
      const tasks = Array.from({ length: rounds }, () => newTask(t, 100));
      const ids = tasks.map((task) => task.id);
      await enqueueAll(t, tasks);
      const victims: LearnerProcess[] = [];
      for (let round = 0; round < rounds; round++) {
        const nth = first + round;
        const victim = t.spawn("queue.ts", { name: `worker-${round + 1}`, limits: WORKER_LIMITS });
        victims.push(victim);
        const crash = t.crashAt(victim, { match: "*", nth, when: "after" });
        const at = await Promise.race([crash, t.sleep(4000).then(() => undefined)]);
        if (at === undefined) {
          return t.fail({
            message: `${victim.name} sent fewer than ${nth} commands to Redis in 4 s of work on a queue holding tasks.`,
            actual: describeEnd(victim),
            hint: workerHint,
          });
        }
        t.note(`${victim.name} died right after its command #${nth} (${at?.args.slice(0, 3).join(" ") ?? "?"}): Redis applied it, nothing after it was sent`);
      }
      const survivor = t.spawn("queue.ts", { name: "survivor", limits: WORKER_LIMITS });
      await untilDone(t, ids, [...victims, survivor], 6000, (missing) => ({
        message: `After ${rounds} workers died between two of their Redis commands, ${missing.length} task(s) were never finished by the worker that took over.`,
        expected: "every task leased until it is acked, so an expired lease brings it back (1 s lease + 250 ms reaper)",
        hint: "Claim in one atomic step: a Lua script (or LMOVE into a list plus a lease written by the same script) that takes the task off the queue and records its lease together. Between two separate commands the task exists only in the memory of a worker that can die there.",
      }));
      await t.sleep(400); // a second delivery would show up now
      assertEachOnce(ids, (await effects(t)).done, {
        noun: "task",
        hintLost: "Every task must reach effects:done.",
        hintDuplicate: "A task whose worker died before it was done may run again, but must be done once: ack after handle, and requeue only leases that expired.",
      });
    },

    "slow-task-keeps-lease": async (t) => {
      const workers = await spawnWorkers(t, 2);
      const task = newTask(t, 2200);
      await enqueueAll(t, [task]);
      t.note(`${task.id} takes 2.2 s, more than twice the 1 s lease; its worker stays alive, and the other worker's reaper is watching`);
      await untilDone(
        t,
        [task.id],
        workers,
        10_000,
        () => ({ message: `Task ${task.id} (2.2 s of work) was not done within 10 s.`, expected: "done about 2.2 s after it was enqueued", hint: workerHint }),
        ({ started }) => countOf(started, task.id) > 1,
      );
      await t.sleep(300);
      const { started, done } = await effects(t);
      const starts = countOf(started, task.id);
      if (starts > 1) {
        t.fail({
          message: `Task ${task.id}, 2.2 s of work under a 1 s lease, was started ${starts} times although its worker was alive the whole time.`,
          expected: "started once: the worker's heartbeats keep the lease from expiring",
          actual: `effects:started has ${task.id} ×${starts}`,
          hint: "While handle(task) runs, extend the lease every 250 ms (deadline = now + 1000 ms) on a timer beside the handler, not after it; stop the timer when the task is acked.",
        });
      }
      assertEachOnce([task.id], done, { noun: "task", hintLost: workerHint, hintDuplicate: "A live worker's task must not be handed to another worker: keep its lease alive with heartbeats." });
      await expectRunByWorkers(t, [task.id], workers);
    },
  },
});
