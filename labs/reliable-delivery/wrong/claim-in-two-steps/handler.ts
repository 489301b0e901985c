// Read-only: the work a task does. It leaves a trace the grader reads, so it can tell a task that
// ran twice from one that ran once, and one that never finished from one that did.
import { createRedis, sleep, workerName } from "@faultline/lab";

export interface Task {
  id: string;
  /** How long the work takes, in milliseconds. */
  ms: number;
}

const redis = createRedis();

/** Runs one task: records that it started (and where), works for task.ms, records that it finished. */
export async function handle(task: Task): Promise<void> {
  await redis.multi().rpush("effects:started", task.id).hset("effects:worker", task.id, workerName).exec();
  await sleep(task.ms);
  await redis.rpush("effects:done", task.id);
}
