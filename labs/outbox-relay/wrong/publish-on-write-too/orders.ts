import { randomUUID } from "node:crypto";
import { createRedis } from "@faultline/lab";
import { EVENTS, ORDERS, OUTBOX, type Order, type OrderPlaced } from "./types.ts";

const redis = createRedis();

export async function placeOrder(order: Order): Promise<void> {
  const event: OrderPlaced = { id: randomUUID(), type: "order-placed", orderId: order.id };
  const results = await redis.multi().hset(ORDERS, order.id, JSON.stringify(order)).rpush(OUTBOX, JSON.stringify(event)).exec();
  const failed = results?.find(([error]) => error);
  if (!results || failed) throw new Error(`placeOrder(${order.id}) was not stored: ${String(failed?.[0] ?? "transaction aborted")}`);
  // "Publish right away for low latency; the relay is only the safety net." The relay publishes
  // the outbox entry too, so every event reaches the stream twice.
  await redis.xadd(EVENTS, "*", "id", event.id, "type", event.type, "orderId", event.orderId);
}
