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

/** Publishes whatever the outbox holds, until it is empty. */
async function drain(token: string): Promise<number> {
  let published = 0;
  for (;;) {
    const batch = await redis.lrange(OUTBOX, 0, BATCH - 1);
    if (batch.length === 0) return published;
    for (const raw of batch) {
      if (!(await holdLease(token))) return published;
      await publish(JSON.parse(raw) as OrderPlaced);
      await redis.lrem(OUTBOX, 1, raw);
      published++;
    }
  }
}

/**
 * "Recovery on startup": waits for the lease, drains what a crashed run left behind, once, and
 * stops. Orders placed after the relay started wait for a restart that may never come.
 */
export async function main(workerName: string): Promise<void> {
  const token = `${workerName}:${randomUUID()}`;
  while (!(await holdLease(token))) await sleep(POLL_MS);
  const published = await drain(token);
  console.log(`${workerName}: published ${published} event(s) left from before; outbox empty`);
}
