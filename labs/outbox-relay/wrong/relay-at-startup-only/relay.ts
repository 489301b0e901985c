import { createRedis } from "@faultline/lab";
import { EVENTS, OUTBOX, type OrderPlaced } from "./types.ts";

const BATCH = 20; // entries read per look

const redis = createRedis();

/** Publishes one outbox entry. The stream stands in for a broker on another machine. */
async function publish(event: OrderPlaced): Promise<void> {
  await redis.xadd(EVENTS, "*", "id", event.id, "type", event.type, "orderId", event.orderId);
}

/** Publishes whatever the outbox holds, until it is empty. */
async function drain(): Promise<number> {
  let published = 0;
  for (;;) {
    const batch = await redis.lrange(OUTBOX, 0, BATCH - 1);
    if (batch.length === 0) return published;
    for (const raw of batch) {
      await publish(JSON.parse(raw) as OrderPlaced);
      await redis.lrem(OUTBOX, 1, raw);
      published++;
    }
  }
}

/**
 * "Recovery on startup": drains what a crashed run left behind, once, and stops. Orders placed
 * after the relay started wait for a restart that may never come.
 */
export async function main(workerName: string): Promise<void> {
  const published = await drain();
  console.log(`${workerName}: published ${published} event(s) left from before; outbox empty`);
}
