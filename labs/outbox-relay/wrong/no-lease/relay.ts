import { createRedis, sleep } from "@faultline/lab";
import { EVENTS, OUTBOX, type OrderPlaced } from "./types.ts";

const POLL_MS = 100; // how long a relay waits before it looks again (outbox empty, or not its turn)
const BATCH = 20; // entries read per look

const redis = createRedis();

/** Publishes one outbox entry. The stream stands in for a broker on another machine. */
async function publish(event: OrderPlaced): Promise<void> {
  await redis.xadd(EVENTS, "*", "id", event.id, "type", event.type, "orderId", event.orderId);
}

/**
 * The relay, written as if only one ever ran: every relay publishes whatever it finds at the head
 * of the outbox. Duplicates are allowed after a crash, so a second relay "only" adds more.
 */
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
        // Published, so the entry may go. A crash between the two lines publishes it again
        // later: a duplicate with the same event id, which consumers can drop. Removing first
        // and crashing would lose it, and nothing could ever bring it back.
        await redis.lrem(OUTBOX, 1, raw);
      }
    } catch (error) {
      // Whatever failed (the lease, the read, the XADD, the removal), the entry is still in the
      // outbox unless its LREM succeeded; the next pass picks it up.
      console.error(`${workerName}: relay pass failed, retrying: ${String(error)}`);
      await sleep(POLL_MS);
    }
  }
}
