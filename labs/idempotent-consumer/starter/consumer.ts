import { createRedis, sleep } from "@faultline/lab";
import { ack, claim, type Message } from "./broker.ts";

export type { Message };

const BALANCES = "balances"; // hash: account → cents (the grader reads it)
const MARK_TTL_SECONDS = 24 * 60 * 60; // how long a "processed" mark must be kept
const IDLE_MS = 50;

const redis = createRedis();

// Delete this line once your code uses it.
void MARK_TTL_SECONDS;

/**
 * Credits message.amount to message.account, once per message id however often it is delivered.
 *
 * TODO: this credits every delivery. Remember which message ids were applied (processed:<id>,
 * expiring after MARK_TTL_SECONDS) and skip the ones already applied. Think about two consumers
 * handed the same message at the same moment, and about a crash between any two of your commands.
 */
export async function handle(message: Message): Promise<void> {
  await redis.hincrby(BALANCES, message.account, message.amount);
}

/** The worker: the grader starts one process per worker and calls main with its name. */
export async function main(name: string): Promise<void> {
  for (;;) {
    const delivery = await claim();
    if (!delivery) {
      await sleep(IDLE_MS);
      continue;
    }
    // TODO: when is it safe to ack? A crash can happen between any two lines. And when Redis
    // refuses a command (handle throws, or claim does), the worker must go on: a message whose
    // credit failed is not acked but given back with nack(delivery) from ./broker.ts.
    console.log(`${name} handles ${delivery.message.id}`);
    await handle(delivery.message);
    await ack(delivery);
  }
}
