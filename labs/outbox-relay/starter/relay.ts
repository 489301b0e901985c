import { createRedis, sleep } from "@faultline/lab";
import { EVENTS, OUTBOX, type OrderPlaced } from "./types.ts";

const POLL_MS = 100; // how long an idle relay waits before it looks at the outbox again

const redis = createRedis();

// Delete this line once your code uses them all.
void [redis, EVENTS, OUTBOX];

/**
 * TODO: XADD one event to the `events` stream with the fields id, type and orderId, as a command
 * of its own (the stream stands in for a broker on another machine, so no transaction spans it).
 */
async function publish(event: OrderPlaced): Promise<void> {
  throw new Error(`publish is not implemented yet (event ${event.id})`);
}

/** The relay: the grader starts it as its own process and kills it when it likes. */
export async function main(workerName: string): Promise<void> {
  for (;;) {
    // TODO: take the oldest entries from the outbox, publish each, and remove it from the outbox.
    // In which order must "publish" and "remove" happen so that a SIGKILL between them never
    // loses an event? And what must happen to an entry whose XADD failed?
    void publish;
    console.log(`${workerName}: nothing to do yet`);
    await sleep(POLL_MS * 10);
  }
}
