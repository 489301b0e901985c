import { defineChecks, type CheckContext, type LearnerProcess, type RpcModule } from "../../lib/grader/index.ts";

interface Task {
  id: string;
  failures: number;
}

interface DeadLetter {
  task: Task;
  attempts: number;
  error: string;
}

interface Run {
  id: string;
  run: number;
  at: number;
}

// What instructions.md fixes: the policy, and the keys handler.ts writes.
const MAX_ATTEMPTS = 4;
const BACKOFF_MS = [200, 400, 800];
const POISON = 1000;
const LOG = "effects:log";
const DONE = "effects:done";

// A retry may come late on a loaded machine, never early; this only absorbs clock rounding.
const EARLY_MS = 10;
/** After run 3 starts, by when its failure is surely recorded (it throws at once), and still far from run 4. */
const RETRY_RECORDED_MS = 250;

const WORKER_LIMITS = { wallMs: 30_000 };

// Ids come from the runner's CSPRNG, never from the seed: a worker learns of a task only through
// the queue. The seed decides only the shape (how often a playground task fails).
const newTask = (t: CheckContext, name: string, failures: number): Task => ({ id: t.id(name), failures });

// The keys handler.ts writes: a task id found there says nothing about where the queue keeps it.
const EFFECTS = ["effects:*"];

function spawnWorkers(t: CheckContext, n: number, first = 1): LearnerProcess[] {
  return Array.from({ length: n }, (_, i) => t.spawn("queue.ts", { name: `worker-${first + i}`, limits: WORKER_LIMITS }));
}

async function producer(t: CheckContext): Promise<RpcModule> {
  return t.load("queue.ts", { name: "producer", limits: WORKER_LIMITS });
}

async function runsOf(t: CheckContext, id: string): Promise<Run[]> {
  const all = (await t.redis.lrange(LOG, 0, -1)).map((line) => JSON.parse(line) as Run);
  return all.filter((r) => r.id === id).sort((a, b) => a.run - b.run);
}

async function doneCount(t: CheckContext, id: string): Promise<number> {
  return (await t.redis.lrange(DONE, 0, -1)).filter((x) => x === id).length;
}

function describeRuns(runs: Run[]): string {
  if (runs.length === 0) return "no runs";
  const t0 = runs[0]!.at;
  return runs.map((r) => `run ${r.run} at +${r.at - t0} ms`).join(", ");
}

type Failure = Parameters<CheckContext["fail"]>[0];

/** Polls until `done` holds; on a timeout fails with details built then, from the state then. */
async function until(t: CheckContext, done: () => Promise<boolean>, timeoutMs: number, failure: () => Promise<Failure>): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await done())) {
    if (performance.now() > deadline) t.fail(await failure());
    await t.sleep(50);
  }
}

/** Lists the dead letters through the learner's own deadLetters(), checking their shape. */
async function deadLetters(t: CheckContext, queue: RpcModule): Promise<DeadLetter[]> {
  const letters = await queue.call<unknown>("deadLetters", []);
  if (!Array.isArray(letters)) {
    t.fail({ message: "deadLetters() did not return an array.", expected: "DeadLetter[]", actual: letters, hint: "Return every dead letter as { task, attempts, error }, [] when there are none." });
  }
  return letters as DeadLetter[];
}

const findLetter = (letters: DeadLetter[], id: string) => letters.find((l) => typeof l === "object" && l !== null && l.task?.id === id);

/** Waits until the task is dead-lettered; fails at once if it runs more than MAX_ATTEMPTS times first. */
async function untilDeadLettered(t: CheckContext, queue: RpcModule, task: Task, timeoutMs: number): Promise<DeadLetter> {
  const what = task.failures >= POISON ? `Poison task ${task.id} (it fails every time)` : `Task ${task.id} (it fails ${task.failures} times)`;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const letter = findLetter(await deadLetters(t, queue), task.id);
    if (letter) return letter;
    const runs = await runsOf(t, task.id);
    if (runs.length > MAX_ATTEMPTS) {
      t.fail({
        message: `${what} ran ${runs.length} times without being dead-lettered.`,
        expected: `${MAX_ATTEMPTS} runs, then an entry in deadLetters()`,
        actual: describeRuns(runs),
        hint: `Count the attempts in what the queue stores for the task, and when the ${MAX_ATTEMPTS}th attempt fails, move the task to the dead-letter queue instead of scheduling another retry.`,
      });
    }
    if (performance.now() > deadline) {
      t.fail({
        message: `${what} was not in deadLetters() ${timeoutMs / 1000} s after it was enqueued.`,
        expected: `dead-lettered after ${MAX_ATTEMPTS} runs, about 1.5 s in (200 + 400 + 800 ms of backoff)`,
        actual: describeRuns(runs),
        hint: `After the ${MAX_ATTEMPTS}th failed attempt, store { task, attempts, error } where deadLetters() finds it.`,
      });
    }
    await t.sleep(50);
  }
}

export default defineChecks({
  timeoutMs: 25_000,
  // The live view: two workers drain a mix of healthy, flaky and poison tasks; watch retries wait
  // in the schedule with growing delays, poison tasks land in the dead-letter queue, and every
  // 8 s the grader replays the dead letters (and they come back, being poison).
  playground: async (t) => {
    const limits = { wallMs: 70_000, cpuSeconds: 30 };
    for (let i = 1; i <= 2; i++) t.spawn("queue.ts", { name: `worker-${i}`, limits });
    const queue = await t.load("queue.ts", { name: "producer", limits });
    const produce = async () => {
      while (!t.signal.aborted) {
        const roll = t.random();
        const task = roll < 0.6 ? newTask(t, "healthy", 0) : roll < 0.9 ? newTask(t, "flaky", 1 + Math.floor(t.random() * 3)) : newTask(t, "poison", POISON);
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
      // One worker first, so the first run is surely worker-1's; worker-2 joins after it.
      const [first] = spawnWorkers(t, 1);
      const queue = await producer(t);
      const flaky = newTask(t, "flaky", 3);
      const healthy = newTask(t, "healthy", 0);
      await queue.call("enqueue", [flaky]);
      await queue.call("enqueue", [healthy]);
      t.note(`${flaky.id} fails on its first 3 runs and works on the 4th`);
      const runCount = async () => (await runsOf(t, flaky.id)).length;
      const finished = async () => (await doneCount(t, flaky.id)) > 0 || (await runCount()) > MAX_ATTEMPTS;
      await until(t, async () => (await runCount()) > 0, 5000, async () => ({
        message: `Task ${flaky.id} did not run within 5 s of being enqueued.`,
        hint: "main(workerName) should loop: take a due task, run handle(task) from handler.ts, and look again about every 25 ms when nothing is due.",
      }));
      spawnWorkers(t, 1, 2);
      // A retry waits in Redis, where any worker finds it when it is due: it must outlive the
      // worker that ran the failed attempt. Kill worker-1 well inside the 800 ms before run 4.
      await until(t, async () => (await runCount()) >= 3 || (await finished()), 8000, async () => ({
        message: `Task ${flaky.id}, which fails 3 times and then works, did not reach its 3rd run within 8 s.`,
        expected: "runs 200 ms and then 400 ms after its 1st and 2nd failures",
        actual: describeRuns(await runsOf(t, flaky.id)),
        hint: "A failed task must come back: schedule it again, due after the backoff delay, instead of dropping it.",
      }));
      let killed = false;
      if (!(await finished())) {
        await t.sleep(RETRY_RECORDED_MS);
        if ((await runCount()) === 3) {
          t.note(`SIGKILL worker-1 while ${flaky.id} waits out its 800 ms backoff; worker-2 must run the retry when it is due`);
          await first!.kill();
          killed = true;
        }
      }
      await until(t, finished, 10_000, async () =>
        killed
          ? {
              message: `Task ${flaky.id}'s 4th run never came after worker-1 was killed while the retry waited out its backoff.`,
              expected: `run 4 by worker-2, about ${BACKOFF_MS[2]} ms after run 3`,
              actual: describeRuns(await runsOf(t, flaky.id)),
              hint: "A retry must wait in Redis (for instance in a sorted set scored by the time it is due), where any worker takes it once it is due. A worker that sleeps and runs the task again from its own memory loses the retry when it dies, and blocks its loop while it waits.",
            }
          : {
              message: `Task ${flaky.id}, which fails 3 times and then works, was not done within 10 s.`,
              expected: "done on its 4th run, about 1.5 s after it was enqueued",
              actual: describeRuns(await runsOf(t, flaky.id)),
              hint: "A failed task must come back: schedule it again, due after the backoff delay, instead of dropping it.",
            },
      );
      const runs = await runsOf(t, flaky.id);
      if (runs.length < 2) {
        t.fail({ message: `Task ${flaky.id} was done without failing first.`, actual: describeRuns(runs), hint: "Run each task through handle(task) from handler.ts." });
      }
      for (let i = 1; i < Math.min(runs.length, BACKOFF_MS.length + 1); i++) {
        const gap = runs[i]!.at - runs[i - 1]!.at;
        const wanted = BACKOFF_MS[i - 1]!;
        if (gap < wanted - EARLY_MS) {
          const grows = i > 1 && gap < wanted - EARLY_MS && gap >= BACKOFF_MS[i - 2]! - EARLY_MS;
          t.fail({
            message: grows
              ? `Retry ${i} of ${flaky.id} came ${gap} ms after failure ${i}; the backoff did not grow.`
              : `Retry ${i} of ${flaky.id} came only ${gap} ms after failure ${i}.`,
            expected: `waits of at least ${BACKOFF_MS.join(", ")} ms before retries 1, 2 and 3`,
            actual: describeRuns(runs),
            hint: grows
              ? "Double the delay after each failure: BACKOFF_MS * 2 ** (failures - 1), where failures counts this task's failed attempts so far."
              : `Do not retry at once: a failure that just happened will likely happen again. Schedule the retry due at Date.now() + delay, and let workers take only tasks whose due time has come.${gap < 15 ? " If you already do, two workers may have taken the same task at once: find a due task and remove it in one atomic step (a Lua script)." : ""}`,
          });
        }
      }
      if (runs.length !== 4) {
        t.fail({ message: `Task ${flaky.id} ran ${runs.length} times; it fails 3 times, so it should succeed on run 4.`, actual: describeRuns(runs), hint: "Stop retrying a task once handle(task) returns." });
      }
      await t.sleep(300);
      for (const task of [flaky, healthy]) {
        const n = await doneCount(t, task.id);
        t.equal(n, 1, {
          message: `Task ${task.id} was done ${n} times.`,
          hint: n === 0 ? "Every task should be run: the healthy one too." : "Once handle(task) returns, the task is finished: remove it, so no worker runs it again.",
        });
      }
    },

    "dead-letters-after-n": async (t) => {
      spawnWorkers(t, 2);
      const queue = await producer(t);
      const poison = newTask(t, "poison", POISON);
      const lastChance = newTask(t, "last-chance", MAX_ATTEMPTS - 1);
      const healthy = newTask(t, "healthy", 0);
      for (const task of [poison, lastChance, healthy]) await queue.call("enqueue", [task]);
      t.note(`${poison.id} is a poison task (it always fails); ${lastChance.id} fails 3 times and works on its 4th and last attempt`);
      const letter = await untilDeadLettered(t, queue, poison, 10_000);
      // Longer than the last backoff, so a 5th run would have shown up.
      await t.sleep(BACKOFF_MS.at(-1)! + 600);
      const runs = await runsOf(t, poison.id);
      if (runs.length !== MAX_ATTEMPTS) {
        t.fail({
          message: `Poison task ${poison.id} ran ${runs.length} times.`,
          expected: `${MAX_ATTEMPTS} runs (the first and ${MAX_ATTEMPTS - 1} retries), then the dead-letter queue`,
          actual: describeRuns(runs),
          hint: runs.length > MAX_ATTEMPTS ? "A dead-lettered task must no longer be scheduled: remove it from the queue in the same step that dead-letters it." : `Count every attempt, the first one too: the task is dead-lettered when attempt ${MAX_ATTEMPTS} fails.`,
        });
      }
      t.equal(letter.task, poison, { message: "The dead letter's task is not the task that was enqueued.", hint: "Store the task itself, unchanged, in the dead letter's task field." });
      t.equal(letter.attempts, MAX_ATTEMPTS, { message: `The dead letter of ${poison.id} says it made ${String(letter.attempts)} attempts.`, hint: "attempts is the number of times the task was run, the first run included." });
      const lastError = `${poison.id} failed on run ${MAX_ATTEMPTS}`;
      if (typeof letter.error !== "string" || !letter.error.includes(lastError)) {
        t.fail({
          message: `The dead letter of ${poison.id} does not carry the error of its last attempt.`,
          expected: `an error containing "${lastError}"`,
          actual: letter.error,
          hint: "Store the message of the error that the last attempt threw (error.message), not the first one and not a summary: it is what an operator reads to decide whether a replay can work.",
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
        async () => (await doneCount(t, lastChance.id)) > 0 && (await doneCount(t, healthy.id)) > 0,
        3000,
        async () => ({
          message: `Task ${lastChance.id} (it fails 3 times, then works) or ${healthy.id} was not done.`,
          expected: `${lastChance.id} done on its ${MAX_ATTEMPTS}th run, which is its last allowed attempt, and ${healthy.id} done at once`,
          actual: `${lastChance.id}: ${describeRuns(await runsOf(t, lastChance.id))}; ${healthy.id}: ${describeRuns(await runsOf(t, healthy.id))}`,
          hint: `A task gets ${MAX_ATTEMPTS} attempts in all: dead-letter it only when attempt ${MAX_ATTEMPTS} fails, not when attempt ${MAX_ATTEMPTS - 1} does.`,
        }),
      );
      const early = findLetter(await deadLetters(t, queue), lastChance.id);
      if (early) t.fail({ message: `Task ${lastChance.id} is in the dead-letter queue although its ${MAX_ATTEMPTS}th attempt succeeded.`, actual: early, hint: "Dead-letter only a task whose last attempt failed." });
    },

    replay: async (t) => {
      spawnWorkers(t, 2);
      const queue = await producer(t);
      const task = newTask(t, "fixed-later", MAX_ATTEMPTS + 1);
      await queue.call("enqueue", [task]);
      t.note(`${task.id} fails on runs 1-${MAX_ATTEMPTS + 1} and works from run ${MAX_ATTEMPTS + 2}: it is dead-lettered, then replayed`);
      await untilDeadLettered(t, queue, task, 10_000);
      const missing = await queue.call("replay", ["no-such-task"]);
      t.equal(missing, false, { message: "replay('no-such-task') did not return false.", hint: "replay returns false when no dead letter has that id, and changes nothing." });
      t.note(`replay(${task.id}): its next run fails once more, then a retry works`);
      const replayed = await queue.call("replay", [task.id]);
      t.equal(replayed, true, { message: `replay(${JSON.stringify(task.id)}) did not return true for a task in the dead-letter queue.`, hint: "Return true once the task is back in the queue." });
      const deadline = performance.now() + 8000;
      for (;;) {
        const runs = await runsOf(t, task.id);
        if ((await doneCount(t, task.id)) > 0) break;
        if (runs.length > MAX_ATTEMPTS && findLetter(await deadLetters(t, queue), task.id)) {
          t.fail({
            message: `After its replay, ${task.id} was dead-lettered again after ${runs.length - MAX_ATTEMPTS} run(s).`,
            expected: `a replayed task gets ${MAX_ATTEMPTS} fresh attempts, so it is retried and works on run ${MAX_ATTEMPTS + 2}`,
            actual: describeRuns(runs),
            hint: "Replay must reset the attempt count to 0: a task that comes back with its old count is dead-lettered on its first failure.",
          });
        }
        if (performance.now() > deadline) {
          t.fail({
            message: `${task.id} was not done within 8 s of its replay.`,
            expected: `run ${MAX_ATTEMPTS + 1} fails, and after a 200 ms backoff run ${MAX_ATTEMPTS + 2} works`,
            actual: describeRuns(runs),
            hint: "replay must put the task back where workers take tasks from, due now.",
          });
        }
        await t.sleep(50);
      }
      await t.sleep(300);
      const letters = await deadLetters(t, queue);
      if (findLetter(letters, task.id)) {
        t.fail({ message: `${task.id} is still in deadLetters() after its replay succeeded.`, actual: letters, hint: "Remove the dead letter in the same atomic step that puts the task back in the queue." });
      }
      const n = await doneCount(t, task.id);
      t.equal(n, 1, { message: `${task.id} was done ${n} times after one replay.`, hint: "Replay should put the task back once: move it from the dead-letter queue in one atomic step." });
    },
  },
});
