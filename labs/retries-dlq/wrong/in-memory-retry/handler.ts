// Read-only: the work a task does. It fails on purpose for its first `failures` runs, and leaves a
// trace the grader reads: every run with its time, and every success.
import { createRedis } from "@faultline/lab";

export interface Task {
  id: string;
  /**
   * How many runs fail before one succeeds: 0 always succeeds, 2 fails twice and then works (a
   * transient fault), 1000 never works (a poison task).
   */
  failures: number;
}

const redis = createRedis();

/** Runs one task: counts the run, logs it with the time, then throws or records success. */
export async function handle(task: Task): Promise<void> {
  const run = await redis.hincrby("effects:runs", task.id, 1);
  await redis.rpush("effects:log", JSON.stringify({ id: task.id, run, at: Date.now() }));
  if (run <= task.failures) throw new Error(`${task.id} failed on run ${run}`);
  await redis.rpush("effects:done", task.id);
}
