import { createRedis, sleep, workerName } from "@faultline/lab";
import { ack, claim, nack, type Delivery, type Message } from "./broker.ts";

export type { Message };

const BALANCES = "balances"; // hash: account → cents
const MARK_TTL_SECONDS = 24 * 60 * 60; // longer than any redelivery can come late
const IDLE_MS = 50;

const redis = createRedis();

/**
 * Credits message.amount to message.account, once per message id however often it is delivered.
 * Throws when Redis did not answer that the credit is stored (or was already): the caller must
 * then not ack the message.
 */
export async function handle(message: Message): Promise<void> {
  // SET NX is atomic: of two consumers racing on one message, exactly one wins the mark.
  const won = await redis.set(`processed:${message.id}`, Date.now(), "EX", MARK_TTL_SECONDS, "NX");
  if (won === null) {
    console.log(`${workerName}: ${message.id} is a duplicate; skipped`);
    return;
  }
  await redis.hincrby(BALANCES, message.account, message.amount);
}

export async function main(name: string): Promise<void> {
  for (;;) {
    let delivery: Delivery | null;
    try {
      delivery = await claim();
    } catch (error) {
      // A failed claim took nothing (or its lease runs out): try again in a moment.
      console.error(`${name}: claim failed: ${String(error)}`);
      await sleep(IDLE_MS);
      continue;
    }
    if (!delivery) {
      await sleep(IDLE_MS);
      continue;
    }
    const { message } = delivery;
    try {
      await handle(message);
    } catch (error) {
      // Not acked: give it back, so it is delivered again. If even the nack fails, the lease is
      // no longer renewed and the message comes back when it runs out.
      console.error(`${name}: ${message.id} failed, giving it back: ${String(error)}`);
      await nack(delivery).catch(() => {});
      await sleep(IDLE_MS);
      continue;
    }
    // Ack only after the effect is safely stored: a crash before this line means a redelivery,
    // and the mark turns that redelivery into a no-op. A failed ack does the same.
    await ack(delivery).catch((error: unknown) => console.error(`${name}: ack of ${message.id} failed: ${String(error)}`));
  }
}
