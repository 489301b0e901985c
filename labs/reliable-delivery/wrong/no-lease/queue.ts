import { createRedis, sleep } from "@faultline/lab";
import { handle, type Task } from "./handler.ts";

export type { Task };

const IDLE_MS = 50;

const PENDING = "queue:pending"; // list of task JSON, oldest first

const redis = createRedis();

export async function enqueue(task: Task): Promise<void> {
  await redis.rpush(PENDING, JSON.stringify(task));
}

/** Nothing to reap: a task leaves the queue when a worker takes it. */
export async function reap(): Promise<number> {
  return 0;
}

// LPOP is atomic, so no two workers get the same task; once popped, the task is ours.
async function claim(): Promise<Task | null> {
  const json = await redis.lpop(PENDING);
  return json ? (JSON.parse(json) as Task) : null;
}

export async function main(workerName: string): Promise<void> {
  for (;;) {
    const task = await claim().catch((error: unknown) => (console.error(`${workerName}: claim failed: ${String(error)}`), null));
    if (!task) {
      await sleep(IDLE_MS);
      continue;
    }
    try {
      await handle(task);
    } catch (error) {
      console.error(`${workerName}: task ${task.id} failed: ${String(error)}`);
    }
  }
}
