import { createRedis, sleep } from "@faultline/lab";
import { EVENTS, OUTBOX, type OrderPlaced } from "./types.ts";

const POLL_MS = 100; // how long an idle relay waits before it looks at the outbox again
const BATCH = 20; // entries read per look

const redis = createRedis();

/**
 * The relay: placeOrder publishes each event as soon as the order is stored, so all that is left
 * here is to clear the outbox of entries whose events are in the stream.
 */
export async function main(workerName: string): Promise<void> {
  for (;;) {
    try {
      const batch = await redis.lrange(OUTBOX, 0, BATCH - 1);
      if (batch.length === 0) {
        await sleep(POLL_MS);
        continue;
      }
      const published = new Set((await redis.xrevrange(EVENTS, "+", "-", "COUNT", 1000)).map(([, fields]) => fields[fields.indexOf("id") + 1]));
      for (const raw of batch) {
        if (published.has((JSON.parse(raw) as OrderPlaced).id)) await redis.lrem(OUTBOX, 1, raw);
      }
      await sleep(POLL_MS);
    } catch (error) {
      console.error(`${workerName}: relay pass failed, retrying: ${String(error)}`);
      await sleep(POLL_MS);
    }
  }
}
