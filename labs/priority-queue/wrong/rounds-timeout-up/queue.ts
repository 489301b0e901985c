import { createRedis } from "@faultline/lab";

export interface Task {
  id: string;
  /** 0 is the most urgent. */
  priority: number;
  payload?: unknown;
}

const QUEUE = "queue:tasks";
const SEQUENCE = "queue:seq";

// Blocking pops get their own connection: while BZPOPMIN waits, its connection can send nothing else.
const redis = createRedis();
const blocking = createRedis();

/** Priority first, then arrival: priority × 2^32 + sequence stays exact in a double up to priority 2^21. */
function score(priority: number, sequence: number): number {
  return priority * 2 ** 32 + sequence;
}

export async function enqueue(task: Task): Promise<void> {
  const sequence = await redis.incr(SEQUENCE);
  await redis.zadd(QUEUE, score(task.priority, sequence), JSON.stringify(task));
}

export async function dequeue(timeoutSeconds: number): Promise<Task | null> {
  // BZPOPMIN removes and returns in one step, so no two consumers can get the same task.
  // BZPOPMIN's timeout is a whole number of seconds.
  const popped = await blocking.bzpopmin(QUEUE, Math.ceil(timeoutSeconds));
  return popped ? (JSON.parse(popped[1]) as Task) : null;
}
