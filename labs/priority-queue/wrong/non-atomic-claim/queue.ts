import { createRedis } from "@faultline/lab";

export interface Task {
  id: string;
  priority: number;
  payload?: unknown;
}

const QUEUE = "queue:tasks";
const SEQUENCE = "queue:seq";
const redis = createRedis();

export async function enqueue(task: Task): Promise<void> {
  const sequence = await redis.incr(SEQUENCE);
  await redis.zadd(QUEUE, task.priority * 2 ** 32 + sequence, JSON.stringify(task));
}

// Looks at the head, then removes it: between the two, another consumer can read the same head.
export async function dequeue(timeoutSeconds: number): Promise<Task | null> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  for (;;) {
    const [head] = await redis.zrange(QUEUE, 0, 0);
    if (head) {
      await redis.zrem(QUEUE, head);
      return JSON.parse(head) as Task;
    }
    if (Date.now() > deadline) return null;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
