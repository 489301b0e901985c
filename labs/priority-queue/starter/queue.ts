import { createRedis } from "@faultline/lab";

export interface Task {
  id: string;
  /** 0 is the most urgent. */
  priority: number;
  payload?: unknown;
}

const redis = createRedis();

/** Adds a task to the queue. */
export async function enqueue(task: Task): Promise<void> {
  // TODO: add the task to a sorted set. What should its score be?
  await redis.ping();
  throw new Error(`enqueue is not implemented yet (task ${task.id})`);
}

/** Removes and returns the most urgent task, waiting up to timeoutSeconds; null when none came. */
export async function dequeue(timeoutSeconds: number): Promise<Task | null> {
  // TODO: take the lowest-scored task atomically, or wait for one.
  throw new Error(`dequeue is not implemented yet (timeout ${timeoutSeconds} s)`);
}
