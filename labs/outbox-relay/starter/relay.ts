import { createRedis, sleep } from "@faultline/lab";
import { EVENTS, LEASE, LEASE_MS, OUTBOX, type OrderPlaced } from "./types.ts";

const POLL_MS = 100; // how long a relay waits before it looks again (outbox empty, or not its turn)

const redis = createRedis();

// Delete this line once your code uses them all.
void [redis, EVENTS, OUTBOX, LEASE, LEASE_MS];

/**
 * TODO: take the lease if nobody holds it, or renew it if this relay does (LEASE, for LEASE_MS),
 * and say whether this relay may publish now. Checking the holder and renewing must be one step.
 */
async function holdLease(token: string): Promise<boolean> {
  throw new Error(`holdLease is not implemented yet (token ${token})`);
}

/**
 * TODO: XADD one event to the `events` stream with the fields id, type and orderId, as a command
 * of its own (the stream stands in for a broker on another machine, so no transaction spans it).
 */
async function publish(event: OrderPlaced): Promise<void> {
  throw new Error(`publish is not implemented yet (event ${event.id})`);
}

/** The relay: the grader starts several, kills them, pauses them. */
export async function main(workerName: string): Promise<void> {
  for (;;) {
    // TODO: while this relay holds the lease, take the oldest entries from the outbox, publish
    // each, and remove it from the outbox. In which order must "publish" and "remove" happen so
    // that a SIGKILL between them never loses an event? What must happen to an entry whose XADD
    // failed? And how does a relay that was paused find out, before its next XADD, that another
    // relay has taken over?
    void [holdLease, publish];
    console.log(`${workerName}: nothing to do yet`);
    await sleep(POLL_MS * 10);
  }
}
