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

/** Priority first, then arrival: priority × 2^32 + sequence stays exact in a double up to priority 2^21. */
// Arrival order, counted locally: no round trip to Redis per enqueue.
let sequence = 0;

function score(priority: number, sequence: number): number {
  return priority * 2 ** 32 + sequence;
}

export async function enqueue(task: Task): Promise<void> {
  sequence += 1;
  await redis.zadd(QUEUE, score(task.priority, sequence), JSON.stringify(task));
}

export async function dequeue(timeoutSeconds: number): Promise<Task | null> {
  // BZPOPMIN removes and returns in one step, so no two consumers can get the same task.
  const popped = await blocking.bzpopmin(QUEUE, timeoutSeconds);
  return popped ? (JSON.parse(popped[1]) as Task) : null;
}
