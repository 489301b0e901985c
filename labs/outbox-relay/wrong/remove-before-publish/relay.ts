import { createRedis, sleep } from "@faultline/lab";
import { EVENTS, OUTBOX, type OrderPlaced } from "./types.ts";

const POLL_MS = 100; // how long an idle relay waits before it looks at the outbox again

const redis = createRedis();

/** Publishes one outbox entry. The stream stands in for a broker on another machine. */
async function publish(event: OrderPlaced): Promise<void> {
  await redis.xadd(EVENTS, "*", "id", event.id, "type", event.type, "orderId", event.orderId);
}

/** The relay: runs for as long as the process lives, publishing the outbox oldest first. */
export async function main(workerName: string): Promise<void> {
  for (;;) {
    try {
      // LPOP takes the oldest entry and removes it in one step, then we publish it. A SIGKILL
      // between the two loses the entry: it is in neither the outbox nor the stream.
      const raw = await redis.lpop(OUTBOX);
      if (!raw) {
        await sleep(POLL_MS);
        continue;
      }
      await publish(JSON.parse(raw) as OrderPlaced);
    } catch (error) {
      console.error(`${workerName}: relay pass failed, retrying: ${String(error)}`);
      await sleep(POLL_MS);
    }
  }
}
