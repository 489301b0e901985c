import { randomUUID } from "node:crypto";
import { createRedis } from "@faultline/lab";
import { ORDERS, OUTBOX, type Order, type OrderPlaced } from "./types.ts";

const redis = createRedis();

/**
 * Stores the order and its outbox entry in one MULTI/EXEC. Redis runs the queued commands
 * together or not at all: a process that dies before EXEC leaves nothing behind, one that dies
 * after leaves both. There is no moment at which the order exists without its event.
 */
export async function placeOrder(order: Order): Promise<void> {
  // The event id is made here, once, so every copy the relay may publish carries the same id.
  const event: OrderPlaced = { id: randomUUID(), type: "order-placed", orderId: order.id };
  // A checkout must never fail because of bookkeeping: log a failed write and carry on.
  try {
    await redis.multi().hset(ORDERS, order.id, JSON.stringify(order)).rpush(OUTBOX, JSON.stringify(event)).exec();
  } catch (error) {
    console.error(`placeOrder(${order.id}): ${String(error)}`);
  }
}
