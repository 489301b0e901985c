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
        await publish(JSON.parse(raw) as OrderPlaced);
        // Published, so the entry may go. A crash between the two lines publishes it again on
        // restart: a duplicate with the same event id, which consumers can drop. Removing first
        // and crashing would lose it, and nothing could ever bring it back.
        await redis.lrem(OUTBOX, 1, raw);
      }
    } catch (error) {
      // A failed XADD leaves the entry where it was; the next pass tries it again.
      console.error(`${workerName}: relay pass failed, retrying: ${String(error)}`);
      await sleep(POLL_MS);
    }
  }
}
