import { createRedis, sleep, workerName } from "@faultline/lab";
import { ack, claim, type Delivery, type Message } from "./broker.ts";

export type { Message };

const BALANCES = "balances"; // hash: account → cents
const MARK_TTL_SECONDS = 24 * 60 * 60; // longer than any redelivery can come late
const IDLE_MS = 50;

const redis = createRedis();

// The mark and the effect in one step. Redis runs a script without interleaving anything else,
// so two consumers handed the same message cannot both see "not processed yet", and a crash
// cannot land between the mark and the credit: either both happened or neither did. Run twice
// (a retried command whose reply was lost), the second run finds the mark and does nothing.
const APPLY_ONCE = `
if not redis.call('SET', KEYS[1], ARGV[3], 'NX', 'EX', ARGV[4]) then return 0 end
redis.call('HINCRBY', KEYS[2], ARGV[1], ARGV[2])
return 1`;

/**
 * Credits message.amount to message.account, once per message id however often it is delivered.
 * Throws when Redis did not answer that the credit is stored (or was already): the caller must
 * then not ack the message.
 */
export async function handle(message: Message): Promise<void> {
  const applied = await redis.eval(APPLY_ONCE, 2, `processed:${message.id}`, BALANCES, message.account, message.amount, Date.now(), MARK_TTL_SECONDS);
  if (applied === 0) console.log(`${workerName}: ${message.id} is a duplicate; skipped`);
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
      // Ack only after the effect is safely stored: a crash before this line means a redelivery,
      // and the mark turns that redelivery into a no-op.
      await ack(delivery);
    } catch (error) {
      // No ack: the lease runs out and the message comes back.
      console.error(`${name}: ${message.id} failed: ${String(error)}`);
    }
  }
}
