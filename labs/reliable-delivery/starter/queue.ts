import { createRedis, sleep } from "@faultline/lab";
import { handle, type Task } from "./handler.ts";

export type { Task };

// Fixed by the lab (instructions.md): the grader's timings are built around them.
const LEASE_MS = 1000; // a claimed task belongs to its worker until now + LEASE_MS
const HEARTBEAT_MS = 250; // while a task runs, its worker extends the lease this often
const REAPER_MS = 250; // every worker requeues expired leases this often
const IDLE_MS = 50; // how long an idle worker waits before it looks again
const HANDLER_TIMEOUT_MS = 3000; // a handler that has not settled by then has failed

// Suggested keys (the grader does not read them): a list of waiting tasks, and an in-flight
// sorted set whose scores are lease deadlines in milliseconds.
const PENDING = "queue:pending";
const IN_FLIGHT = "queue:inflight";

const redis = createRedis();

// Delete this line once your code uses them all.
void [IN_FLIGHT, LEASE_MS, HEARTBEAT_MS, REAPER_MS, HANDLER_TIMEOUT_MS];

/** Adds a task to the queue. Called by the grader, from a process that never runs main. */
export async function enqueue(task: Task): Promise<void> {
  // TODO: store the task (JSON.stringify) where workers will find it.
  throw new Error(`enqueue is not implemented yet (task ${task.id})`);
}

/**
 * Moves every task whose lease deadline has passed back to the queue. Every worker calls it every
 * REAPER_MS; the grader also calls it directly, from several processes at once.
 * TODO: in one atomic step, so two reapers cannot requeue the same task twice.
 */
export async function reap(): Promise<void> {}

/**
 * TODO: take the oldest waiting task AND record its lease (deadline = Date.now() + LEASE_MS) in
 * one atomic step. As written, the task exists only in this worker's memory once popped: if the
 * worker dies now, the task is gone.
 */
async function claim(): Promise<Task | null> {
  const json = await redis.lpop(PENDING);
  return json ? (JSON.parse(json) as Task) : null;
}

/** The worker: the grader starts one process per worker and calls main with its name. */
export async function main(workerName: string): Promise<void> {
  // TODO: run reap() every REAPER_MS, in every worker (a failed round must not stop the next).

  for (;;) {
    const task = await claim();
    if (!task) {
      await sleep(IDLE_MS);
      continue;
    }
    // TODO: while handle runs, extend the lease every HEARTBEAT_MS; once it returns, ack
    // (remove the lease). If handle throws, rejects or has not settled within
    // HANDLER_TIMEOUT_MS, do not ack: stop the heartbeat and let the lease run out.
    console.log(`${workerName} runs ${task.id}`);
    await handle(task);
  }
}
