import { randomUUID } from "node:crypto";
import { createRedis, sleep } from "@faultline/lab";
import { EVENTS, LEASE, LEASE_MS, OUTBOX, type OrderPlaced } from "./types.ts";

const POLL_MS = 100; // how long a relay waits before it looks again (outbox empty, or not its turn)
const BATCH = 20; // entries read per look

const redis = createRedis();

/**
 * Takes the lease if nobody holds it, or renews it if we do: one script, so checking the holder
 * and writing the new expiry cannot be split by another relay taking the lease in between.
 */
const HOLD_LEASE = `
local holder = redis.call("GET", KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
return 1`;

/** True when this relay holds the lease for the next LEASE_MS; false when another relay does. */
async function holdLease(token: string): Promise<boolean> {
  return (await redis.eval(HOLD_LEASE, 1, LEASE, token, LEASE_MS)) === 1;
}

/** Publishes one outbox entry. The stream stands in for a broker on another machine. */
async function publish(event: OrderPlaced): Promise<void> {
  await redis.xadd(EVENTS, "*", "id", event.id, "type", event.type, "orderId", event.orderId);
}

/**
 * The relay: runs for as long as the process lives. Several may run; the one holding the lease
 * publishes the outbox oldest first, the others wait to take over when its lease runs out.
 */
export async function main(workerName: string): Promise<void> {
  // Unique to this process: a relay restarted under the same name is a different holder.
  const token = `${workerName}:${randomUUID()}`;
  for (;;) {
    try {
      // Read without removing: until the stream has an entry, the outbox is its only copy.
      const batch = (await holdLease(token)) ? await redis.lrange(OUTBOX, 0, BATCH - 1) : [];
      if (batch.length === 0) {
        await sleep(POLL_MS);
        continue;
      }
      for (const raw of batch) {
        if (!(await holdLease(token))) break;
        const event = JSON.parse(raw) as OrderPlaced;
        // Remember every event published, so that one left in the outbox by a crash is removed
        // rather than published a second time.
        if (!(await redis.exists(`sent:${event.id}`))) {
          await publish(event);
          await redis.set(`sent:${event.id}`, "1");
        }
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
