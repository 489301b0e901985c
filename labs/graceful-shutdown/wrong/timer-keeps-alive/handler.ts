// Read-only: the work a task does. The grader decides, through each task's payload, how long it
// takes, and reads what it records under effects:* to tell a task that ran once and finished from
// one that ran twice, or never finished.
import type { Redis } from "@faultline/lab";
import { sleep } from "@faultline/lab";

export interface Task {
  id: string;
  /** How long the work takes, in milliseconds. */
  ms: number;
  /** A value the work records when it finishes. */
  n: number;
}

/**
 * Runs one task, given as the exact string taken from the queue, over your connection: records
 * that it started, works for task.ms, records that it finished (its effect). Resolves once the
 * effect is stored; rejects if Redis refuses one of its writes.
 */
export async function handle(redis: Redis, raw: string): Promise<void> {
  const task = JSON.parse(raw) as Task;
  await redis.hincrby("effects:started", task.id, 1);
  await sleep(task.ms);
  await redis.multi().hincrby("effects:done", task.id, 1).hset("effects:value", task.id, String(task.n)).exec();
}
