// Read-only: the shapes and keys the grader reads. Your code and the grader share them.

/** An order as the shop stores it: `orders` hash, field = id, value = JSON.stringify(order). */
export interface Order {
  id: string;
  item: string;
  qty: number;
}

/** What happened, as the outbox keeps it (JSON in the `outbox` list) and the stream carries it. */
export interface OrderPlaced {
  /** Unique per event (randomUUID()): consumers drop an event whose id they have already seen. */
  id: string;
  type: "order-placed";
  orderId: string;
}

/** Hash: order id → JSON of the Order. The "database". */
export const ORDERS = "orders";
/** List: JSON of each OrderPlaced not yet published, oldest first (RPUSH to add). */
export const OUTBOX = "outbox";
/** Stream: one entry per published event, with the fields id, type and orderId. */
export const EVENTS = "events";
/** String: a token of the one relay that may publish right now, set to expire LEASE_MS after it was taken or last renewed. */
export const LEASE = "relay:lease";
/** How long a lease lasts after it was taken or last renewed, in milliseconds (SET … PX). */
export const LEASE_MS = 1000;
