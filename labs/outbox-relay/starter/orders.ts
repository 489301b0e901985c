import { randomUUID } from "node:crypto";
import { createRedis } from "@faultline/lab";
import { ORDERS, OUTBOX, type Order, type OrderPlaced } from "./types.ts";

const redis = createRedis();

/**
 * Stores the order in the `orders` hash and its OrderPlaced event in the `outbox` list.
 *
 * TODO: write both in ONE atomic step (MULTI/EXEC, or a Lua script). A process that dies between
 * two separate writes leaves an order nobody will ever hear about, or an event about an order
 * that does not exist.
 */
export async function placeOrder(order: Order): Promise<void> {
  const event: OrderPlaced = { id: randomUUID(), type: "order-placed", orderId: order.id };
  await redis.hset(ORDERS, order.id, JSON.stringify(order));
  // TODO: the outbox entry, in the same transaction as the order.
  void [OUTBOX, event];
}
