import { createRedis } from "@faultline/lab";

export interface Task {
  id: string;
  /** 0 is the most urgent. */
  priority: number;
  payload?: unknown;
}

const QUEUE = "queue:tasks";

// Blocking pops get their own connection: while BZPOPMIN waits, its connection can send nothing else.
const redis = createRedis();
const blocking = createRedis();

/** Priority first, then arrival time: the clock already orders tasks, no counter needed. */
function score(priority: number): number {
  return priority * 1e13 + Date.now();
}

export async function enqueue(task: Task): Promise<void> {
  await redis.zadd(QUEUE, score(task.priority), JSON.stringify(task));
}

export async function dequeue(timeoutSeconds: number): Promise<Task | null> {
  // BZPOPMIN removes and returns in one step, so no two consumers can get the same task.
  const popped = await blocking.bzpopmin(QUEUE, timeoutSeconds);
  return popped ? (JSON.parse(popped[1]) as Task) : null;
}
