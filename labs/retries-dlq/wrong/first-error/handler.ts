// Read-only: the work a task does. It fails on purpose for its first `failures` runs, may take a
// while, and leaves a trace the grader reads: every run with its time, every failure with its
// time, and every success.
import { createRedis, sleep } from "@faultline/lab";

export interface Task {
  id: string;
  /**
   * How many runs fail before one succeeds: 0 always succeeds, 2 fails twice and then works (a
   * transient fault), 1000 never works (a poison task).
   */
  failures: number;
  /** How long each run takes before it throws or succeeds, in ms (0 when absent). A run can hang. */
  ms?: number;
}

const redis = createRedis();

/** Runs one task: counts the run, logs it with the time, works for `ms`, then throws or records success. */
export async function handle(task: Task): Promise<void> {
  const run = await redis.hincrby("effects:runs", task.id, 1);
  await redis.rpush("effects:log", JSON.stringify({ id: task.id, run, at: Date.now() }));
  if (task.ms) await sleep(task.ms);
  if (run <= task.failures) {
    await redis.rpush("effects:failed", JSON.stringify({ id: task.id, run, at: Date.now() }));
    throw new Error(`${task.id} failed on run ${run}`);
  }
  await redis.rpush("effects:done", task.id);
}
