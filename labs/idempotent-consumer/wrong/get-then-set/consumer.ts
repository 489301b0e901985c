import { createRedis, sleep, workerName } from "@faultline/lab";
import { ack, claim, type Message } from "./broker.ts";

export type { Message };

const BALANCES = "balances"; // hash: account → cents
const MARK_TTL_SECONDS = 24 * 60 * 60; // longer than any redelivery can come late
const IDLE_MS = 50;

const redis = createRedis();

/** Credits message.amount to message.account, once per message id however often it is delivered. */
export async function handle(message: Message): Promise<void> {
  const mark = `processed:${message.id}`;
  if (await redis.get(mark)) {
    console.log(`${workerName}: ${message.id} is a duplicate; skipped`);
    return;
  }
  await redis.hincrby(BALANCES, message.account, message.amount);
  await redis.set(mark, Date.now(), "EX", MARK_TTL_SECONDS);
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
