// Read-only: the queue's two Redis operations, fixed so the grader can read the command log.
// A task waits in the list named by the queue; claiming moves it, atomically, to `<queue>:processing`
// while it runs; acking removes it from there.
import type { Redis } from "ioredis";

export const processingKey = (queue: string): string => `${queue}:processing`;

/**
 * Waits up to `timeoutSeconds` for a task and moves it to the processing list (BLMOVE). Returns the
 * raw task, or null when none arrived in time. Rejects when Redis fails the command.
 * Blocking: give it a connection of its own.
 */
export function claim(redis: Redis, queue: string, timeoutSeconds: number): Promise<string | null> {
  return redis.blmove(queue, processingKey(queue), "RIGHT", "LEFT", timeoutSeconds);
}

/** Removes a finished task (done or failed) from the processing list (LREM). Rejects when Redis fails it. */
export async function ack(redis: Redis, queue: string, raw: string): Promise<void> {
  await redis.lrem(processingKey(queue), 1, raw);
}
