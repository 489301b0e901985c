import { createRedis, sleep } from "@faultline/lab";
import { handle, type Task } from "./handler.ts";

export type { Task };

// Fixed by the lab (instructions.md): the grader measures against them.
const MAX_ATTEMPTS = 4; // the 4th failure dead-letters the task
const BACKOFF_MS = 200; // wait after the 1st failure; it doubles after each one after that
const POLL_MS = 25; // how long an idle worker waits before it looks again

/** What the dead-letter queue keeps about a task that ran out of attempts. */
export interface DeadLetter {
  task: Task;
  attempts: number;
  error: string;
  failedAt: number;
}

// Suggested keys (the grader does not read them): a sorted set of task ids scored by the time
// they are due, and a hash of dead letters by task id.
const SCHEDULE = "queue:schedule";
const DEAD = "queue:dead";

const redis = createRedis();

// Delete this line once your code uses them all.
void [MAX_ATTEMPTS, BACKOFF_MS, DEAD];

/** Adds a task, due now. Called by the grader from a process that never runs main. */
export async function enqueue(task: Task): Promise<void> {
  // TODO: the queue must also remember how many attempts the task has used (0 so far).
  await redis.zadd(SCHEDULE, Date.now(), JSON.stringify(task));
}

/** TODO: take the first task that is due (score <= now), in one atomic step. */
async function claim(): Promise<Task | null> {
  const [json] = await redis.zrangebyscore(SCHEDULE, "-inf", Date.now(), "LIMIT", 0, 1);
  if (!json) return null;
  await redis.zrem(SCHEDULE, json);
  return JSON.parse(json) as Task;
}

/** TODO: every dead-lettered task, with its attempts and the error of its last attempt. */
export async function deadLetters(): Promise<DeadLetter[]> {
  return [];
}

/** TODO: move a dead letter back to the queue as a fresh task. false if there is none by that id. */
export async function replay(id: string): Promise<boolean> {
  console.log(`replay(${id}) is not implemented yet`);
  return false;
}

/** The worker: the grader starts one process per worker and calls main with its name. */
export async function main(workerName: string): Promise<void> {
  for (;;) {
    const task = await claim();
    if (!task) {
      await sleep(POLL_MS);
      continue;
    }
    try {
      await handle(task);
    } catch (error) {
      // TODO: a failed task must not vanish. Retry it after BACKOFF_MS, doubling the wait after each
      // failure; after MAX_ATTEMPTS failed attempts, dead-letter it with its last error. Record each
      // outcome in one atomic step, and keep this loop alive when Redis refuses a command.
      console.log(`${workerName}: ${task.id} failed and is dropped: ${String(error)}`);
    }
  }
}
