/**
 * Cancelling superseded runs (STYLE.md "Cancel superseded work"). The database row is marked by
 * cancelOtherRuns; this tells everyone else: viewers get a `cancelled` event in the run's stream,
 * and whichever runner holds the run hears its id on a pub/sub channel and stops it. A runner
 * that has not picked the job up yet finds the row cancelled when it tries to claim it.
 */
import type { Redis } from "ioredis";
import type { RedisKeys } from "../redis/keys.ts";
import { appendEvent } from "./events.ts";
import { CANCELLED_SUPERSEDED } from "./messages.ts";

export async function publishCancel(redis: Redis, keys: RedisKeys, runIds: string[], message = CANCELLED_SUPERSEDED): Promise<void> {
  for (const runId of runIds) {
    await appendEvent(redis, keys, runId, { type: "cancelled", message });
    await redis.publish(keys.runCancelChannel(), runId);
  }
}

/**
 * Calls onCancel with each run id cancelled from now on. `subscriber` is put in subscriber mode,
 * so give it a connection of its own. Resolves once subscribed, with a function that stops listening.
 */
export async function subscribeCancels(subscriber: Redis, keys: RedisKeys, onCancel: (runId: string) => void): Promise<() => Promise<void>> {
  const channel = keys.runCancelChannel();
  const listener = (from: string, runId: string) => {
    if (from === channel) onCancel(runId);
  };
  subscriber.on("message", listener);
  await subscriber.subscribe(channel);
  return async () => {
    subscriber.off("message", listener);
    await subscriber.unsubscribe(channel);
  };
}
