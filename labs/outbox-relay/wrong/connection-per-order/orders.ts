import { randomUUID } from "node:crypto";
import { createRedis } from "@faultline/lab";
import { ORDERS, OUTBOX, type Order, type OrderPlaced } from "./types.ts";

/**
 * Stores the order and its outbox entry in one MULTI/EXEC. Redis runs the queued commands
 * together or not at all: a process that dies before EXEC leaves nothing behind, one that dies
 * after leaves both. There is no moment at which the order exists without its event.
 */
export async function placeOrder(order: Order): Promise<void> {
  // The event id is made here, once, so every copy the relay may publish carries the same id.
  const event: OrderPlaced = { id: randomUUID(), type: "order-placed", orderId: order.id };
  // A client of its own per call, so concurrent orders never wait on each other's connection.
  const redis = createRedis();
  const results = await redis.multi().hset(ORDERS, order.id, JSON.stringify(order)).rpush(OUTBOX, JSON.stringify(event)).exec();
  // exec() resolves with one [error, result] pair per command; a command can fail inside EXEC
  // (a wrong type, say) without rejecting the whole call.
  const failed = results?.find(([error]) => error);
  if (!results || failed) throw new Error(`placeOrder(${order.id}) was not stored: ${String(failed?.[0] ?? "transaction aborted")}`);
}
