// Read-only: the priority queue from the priority-queue lab, finished, plus a place to record
// failures. The worker you write in worker.ts takes its tasks from here.
import { createRedis } from "@faultline/lab";

export interface Task {
  id: string;
  /** Which handler runs the task. */
  name: string;
  payload: unknown;
  /** 0 is the most urgent. */
  priority: number;
  attempts: number;
}

const QUEUE = "queue:tasks"; // sorted set: task JSON, scored by priority then arrival
const SEQUENCE = "queue:seq";
const FAILED = "queue:failed"; // list: {"id","name","error"} JSON, oldest first

const redis = createRedis();
// While BZPOPMIN waits, its connection can send nothing else. Every dequeue in this process
// shares this one connection, so concurrent dequeues take turns on it: that is fine, since a
// dequeue returns at once whenever a task is waiting.
const blocking = createRedis();

/** Adds a task: most urgent (lowest priority) first, first in first out among equals. */
export async function enqueue(task: Task): Promise<void> {
  const sequence = await redis.incr(SEQUENCE);
  await redis.zadd(QUEUE, task.priority * 2 ** 32 + sequence, JSON.stringify(task));
}

/**
 * Removes and returns the most urgent task, waiting up to timeoutSeconds for one; null when none
 * came. Atomic: two consumers, in any processes, never get the same task.
 */
export async function dequeue(timeoutSeconds: number): Promise<Task | null> {
  const popped = await blocking.bzpopmin(QUEUE, timeoutSeconds);
  return popped ? (JSON.parse(popped[1]) as Task) : null;
}

/** Records that a task failed, and why, on the list queue:failed (the grader reads it). */
export async function recordFailure(task: Task, error: unknown): Promise<void> {
  const message = error instanceof Error ? error.message : String(error);
  await redis.rpush(FAILED, JSON.stringify({ id: task.id, name: task.name, error: message }));
}
