import { createRedis, sleep } from "@faultline/lab";
import { handle, type Task } from "./handler.ts";

export type { Task };

// Fixed by the lab (instructions.md): the grader's timings are built around them.
const LEASE_MS = 1000; // a claimed task belongs to its worker until now + LEASE_MS
const HEARTBEAT_MS = 250; // while a task runs, its worker extends the lease this often
const REAPER_MS = 250; // every worker requeues expired leases this often
const IDLE_MS = 50; // how long an idle worker waits before it looks again

// Suggested keys (the grader does not read them): a list of waiting tasks, and an in-flight
// sorted set whose scores are lease deadlines in milliseconds.
const PENDING = "queue:pending";
const IN_FLIGHT = "queue:inflight";

const redis = createRedis();

// Delete this line once your code uses them all.
void [PENDING, IN_FLIGHT, LEASE_MS, HEARTBEAT_MS, REAPER_MS, reap];

/** Adds a task to the queue. Called by the grader, from a process that never runs main. */
export async function enqueue(task: Task): Promise<void> {
  // TODO: store the task (JSON.stringify) where workers will find it.
  throw new Error(`enqueue is not implemented yet (task ${task.id})`);
}

/**
 * TODO: take the oldest waiting task AND record its lease (deadline = Date.now() + LEASE_MS) in
 * one atomic step. If a worker could die between the two, a task could vanish.
 */
async function claim(): Promise<Task | null> {
  return null;
}

/** TODO: move every task whose lease deadline has passed back to the queue. */
async function reap(): Promise<void> {
  await redis.ping();
}

/** The worker: the grader starts one process per worker and calls main with its name. */
export async function main(workerName: string): Promise<void> {
  // TODO: run reap() every REAPER_MS, in every worker.

  for (;;) {
    const task = await claim();
    if (!task) {
      await sleep(IDLE_MS);
      continue;
    }
    // TODO: while handle runs, extend the lease every HEARTBEAT_MS; once it returns, ack
    // (remove the lease). If handle throws, do not ack: the reaper will give the task to someone.
    console.log(`${workerName} runs ${task.id}`);
    await handle(task);
  }
}
