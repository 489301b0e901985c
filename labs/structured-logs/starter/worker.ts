// The producer (enqueue) and the worker (main).
import { randomUUID } from "node:crypto";
import { createRedis, type Redis } from "@faultline/lab";
import { handle, type Task } from "./handler.ts";
import { createLogger, type Logger } from "./logger.ts";

const QUEUE = "tasks";
const CONCURRENCY = 4;

const apiLog = createLogger({ service: "api" });
let producer: Redis | undefined;

export async function enqueue(name: string, payload: unknown, correlationId?: string): Promise<string> {
  // TODO: use the correlation id given (if it is well-formed) or mint one, and carry it in the envelope.
  void correlationId;
  const task: Task = { id: randomUUID(), name, payload, meta: { correlationId: "", enqueuedAt: Date.now() } };
  producer ??= createRedis();
  await producer.lpush(QUEUE, JSON.stringify(task));
  apiLog.info("task enqueued", { taskId: task.id });
  return task.id;
}

async function loop(log: Logger): Promise<void> {
  const redis = createRedis(); // one per loop: BRPOP blocks its connection
  for (;;) {
    const popped = await redis.brpop(QUEUE, 1);
    if (!popped) continue;
    const task = JSON.parse(popped[1]) as Task;
    // TODO: every line about this task, the handler's included, carries its taskId and correlationId.
    log.info("task started", { taskId: task.id });
    try {
      await handle(task);
      log.info("task completed", { taskId: task.id });
    } catch (error) {
      log.error("task failed", { taskId: task.id, error });
    }
  }
}

export async function main(workerName: string): Promise<void> {
  const log = createLogger({ service: "worker" }).child({ worker: workerName });
  log.info("worker started", { concurrency: CONCURRENCY });
  await Promise.all(Array.from({ length: CONCURRENCY }, () => loop(log)));
}
