// The producer (enqueue) and the worker (main). The correlation id travels in the envelope's
// meta, next to the payload, so the queue sets and restores it without any handler taking part.
import { randomUUID } from "node:crypto";
import { createRedis, sleep, type Redis } from "@faultline/lab";
import { handle, type Task } from "./handler.ts";
import { createLogger, withContext, type Logger } from "./logger.ts";

const QUEUE = "tasks";
const CONCURRENCY = 4;

/** ioredis emits "error" on every failed connection attempt; unheard, Node prints it raw (not JSON). */
function connect(log: Logger): Redis {
  const redis = createRedis();
  redis.on("error", (error: Error) => log.warn("redis connection error", { error }));
  return redis;
}

const apiLog = createLogger({ service: "api" });
let producer: Redis | undefined;

export async function enqueue(name: string, payload: unknown, correlationId?: string): Promise<string> {
  const id = correlationId ?? randomUUID();
  const task: Task = { id: randomUUID(), name, payload, meta: { correlationId: id, enqueuedAt: Date.now() } };
  producer ??= connect(apiLog);
  await producer.lpush(QUEUE, JSON.stringify(task));
  // The payload is the handler's business and may hold secrets: log its name and size, not its content.
  apiLog.info("task enqueued", { taskId: task.id, correlationId: id, task: name, payloadBytes: JSON.stringify(payload ?? null).length });
  return task.id;
}

async function run(raw: string, log: Logger): Promise<void> {
  let task: Task;
  try {
    task = JSON.parse(raw) as Task;
  } catch (error) {
    log.error("task unreadable", { error, sizeBytes: raw.length });
    return;
  }
  // One place sets the context; every line written while the task runs, the handler's included,
  // reads it from there, however the loops' awaits interleave.
  await withContext({ correlationId: task.meta.correlationId, taskId: task.id }, async () => {
    const started = performance.now();
    log.info("task started", { task: task.name, waitedMs: Date.now() - task.meta.enqueuedAt });
    try {
      await handle(task);
      log.info("task completed", { durationMs: Math.round(performance.now() - started) });
    } catch (error) {
      log.error("task failed", { durationMs: Math.round(performance.now() - started), error });
    }
  });
}

async function loop(log: Logger): Promise<void> {
  const redis = connect(log); // one per loop: BRPOP blocks its connection
  for (;;) {
    let popped: [string, string] | null;
    try {
      popped = await redis.brpop(QUEUE, 1);
    } catch (error) {
      // Degraded but handled: the next round tries again.
      log.warn("dequeue failed", { error });
      await sleep(100);
      continue;
    }
    if (popped) await run(popped[1], log);
  }
}

export async function main(workerName: string): Promise<void> {
  const log = createLogger({ service: "worker" }).child({ worker: workerName });
  log.info("worker started", { concurrency: CONCURRENCY });
  await Promise.all(Array.from({ length: CONCURRENCY }, () => loop(log)));
}
