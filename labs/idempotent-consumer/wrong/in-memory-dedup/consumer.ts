import { createRedis, sleep, workerName } from "@faultline/lab";
import { ack, claim, type Message } from "./broker.ts";

export type { Message };

const BALANCES = "balances"; // hash: account → cents
const IDLE_MS = 50;

const redis = createRedis();

// The ids this consumer has applied. A Set answers "seen it?" instantly, with no round trip and no
// marks to expire in Redis.
const processed = new Set<string>();

/** Credits message.amount to message.account, once per message id however often it is delivered. */
export async function handle(message: Message): Promise<void> {
  if (processed.has(message.id)) {
    console.log(`${workerName}: ${message.id} is a duplicate; skipped`);
    return;
  }
  // Marked before the await, so a second call for the same id in this process cannot slip in.
  processed.add(message.id);
  await redis.hincrby(BALANCES, message.account, message.amount);
}

export async function main(name: string): Promise<void> {
  for (;;) {
    const delivery = await claim().catch((error: unknown) => (console.error(`${name}: claim failed: ${String(error)}`), null));
    if (!delivery) {
      await sleep(IDLE_MS);
      continue;
    }
    try {
      await handle(delivery.message);
      // Ack only after the effect is safely stored: a crash before this line means a redelivery,
      // and the mark turns that redelivery into a no-op.
      await ack(delivery);
    } catch (error) {
      // No ack: the lease runs out and the message comes back.
      console.error(`${name}: ${delivery.message.id} failed: ${String(error)}`);
    }
  }
}
