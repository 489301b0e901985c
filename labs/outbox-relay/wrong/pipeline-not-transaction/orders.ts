import { randomUUID } from "node:crypto";
import { createRedis } from "@faultline/lab";
import { ORDERS, OUTBOX, type Order, type OrderPlaced } from "./types.ts";

const redis = createRedis();

/**
 * Stores the order and its outbox entry together: a pipeline sends both commands in one write,
 * so they reach Redis back to back with nothing in between.
 */
export async function placeOrder(order: Order): Promise<void> {
  const event: OrderPlaced = { id: randomUUID(), type: "order-placed", orderId: order.id };
  const results = await redis.pipeline().hset(ORDERS, order.id, JSON.stringify(order)).rpush(OUTBOX, JSON.stringify(event)).exec();
  const failed = results?.find(([error]) => error);
  if (!results || failed) throw new Error(`placeOrder(${order.id}) was not stored: ${String(failed?.[0] ?? "pipeline failed")}`);
}
