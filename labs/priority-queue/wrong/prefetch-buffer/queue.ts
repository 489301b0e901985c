import { createRedis } from "@faultline/lab";

export interface Task {
  id: string;
  /** 0 is the most urgent. */
  priority: number;
  payload?: unknown;
}

const QUEUE = "queue:tasks";
const SEQUENCE = "queue:seq";

const redis = createRedis();
const poller = createRedis();

/** Priority first, then arrival: priority × 2^32 + sequence stays exact in a double up to priority 2^21. */
function score(priority: number, sequence: number): number {
  return priority * 2 ** 32 + sequence;
}

export async function enqueue(task: Task): Promise<void> {
  const sequence = await redis.incr(SEQUENCE);
  await redis.zadd(QUEUE, score(task.priority, sequence), JSON.stringify(task));
}

// Known wrong: to save a round trip per dequeue, a background loop (started by the first dequeue)
// keeps popping tasks into this process's memory, and dequeue serves them from there. Each pop is
// atomic, so no task is shared, but tasks popped ahead of any dequeue call die with the process.
const buffer: Task[] = [];
let polling = false;

async function poll(): Promise<void> {
  for (;;) {
    if (buffer.length >= 4) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      continue;
    }
    const popped = await poller.zpopmin(QUEUE);
    if (popped.length > 0) buffer.push(JSON.parse(popped[0]!) as Task);
    else await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export async function dequeue(timeoutSeconds: number): Promise<Task | null> {
  if (!polling) {
    polling = true;
    void poll();
  }
  const deadline = Date.now() + timeoutSeconds * 1000;
  for (;;) {
    const task = buffer.shift();
    if (task) return task;
    if (Date.now() > deadline) return null;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
