import { createRedis, sleep } from "@faultline/lab";
import { EVENTS, OUTBOX, type OrderPlaced } from "./types.ts";

const POLL_MS = 100; // how long an idle relay waits before it looks at the outbox again
const BATCH = 20; // entries read per look

const redis = createRedis();

/** Publishes one outbox entry. The stream stands in for a broker on another machine. */
async function publish(event: OrderPlaced): Promise<void> {
  await redis.xadd(EVENTS, "*", "id", event.id, "type", event.type, "orderId", event.orderId);
}

/** The relay: runs for as long as the process lives, publishing the outbox oldest first. */
export async function main(workerName: string): Promise<void> {
  for (;;) {
    try {
      // Read without removing: until the stream has an entry, the outbox is its only copy.
      const batch = await redis.lrange(OUTBOX, 0, BATCH - 1);
      if (batch.length === 0) {
        await sleep(POLL_MS);
        continue;
      }
      for (const raw of batch) {
        // "One bad event must not block the outbox": a failed publish is logged and the entry
        // removed anyway, so the event is gone for good.
        await publish(JSON.parse(raw) as OrderPlaced).catch((error: unknown) => console.error(`${workerName}: publish failed: ${String(error)}`));
        await redis.lrem(OUTBOX, 1, raw);
      }
    } catch (error) {
      console.error(`${workerName}: relay pass failed, retrying: ${String(error)}`);
      await sleep(POLL_MS);
    }
  }
}
