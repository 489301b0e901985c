import { randomUUID } from "node:crypto";
import { createRedis } from "@faultline/lab";
import { ORDERS, OUTBOX, type Order, type OrderPlaced } from "./types.ts";

const redis = createRedis();

export async function placeOrder(order: Order): Promise<void> {
  const event: OrderPlaced = { id: randomUUID(), type: "order-placed", orderId: order.id };
  // Two writes, one after the other: a crash between them stores an order with no event.
  await redis.hset(ORDERS, order.id, JSON.stringify(order));
  await redis.rpush(OUTBOX, JSON.stringify(event));
}
