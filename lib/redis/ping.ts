/** One-off reachability checks for a Redis, by URL or by options (a Unix socket with a user). */
import { setTimeout as sleep } from "node:timers/promises";
import { Redis, type RedisOptions } from "ioredis";

export type RedisTarget = string | RedisOptions;

/** null when the Redis answers PING; otherwise why not. Never retries, never queues. */
export async function ping(target: RedisTarget, timeoutMs = 1500): Promise<string | null> {
  const once: RedisOptions = { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: timeoutMs, enableOfflineQueue: false };
  const client = typeof target === "string" ? new Redis(target, once) : new Redis({ ...target, ...once });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.ping();
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    client.disconnect();
  }
}

/** Polls a Redis that is starting until it answers; false if it has not within timeoutMs. */
export async function waitForRedis(target: RedisTarget, timeoutMs: number, intervalMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  do {
    if ((await ping(target, 500)) === null) return true;
    await sleep(intervalMs);
  } while (Date.now() < deadline);
  return false;
}
