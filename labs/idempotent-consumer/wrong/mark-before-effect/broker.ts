// Read-only: an at-least-once message broker on Redis (the reliable-delivery lab, packaged).
// claim() leases a message for 1 s and keeps the lease alive while this process lives; ack()
// ends the lease; nack() gives the message back to be delivered again. A process that dies before
// ack() stops renewing its lease, and once it has run out the message is delivered again, to
// whichever worker claims next. That redelivery is what your consumer must survive.
import { randomUUID } from "node:crypto";
import { createRedis } from "@faultline/lab";

export interface Message {
  id: string;
  /** The account to credit. */
  account: string;
  /** Cents to add to the account's balance. */
  amount: number;
}

export interface Delivery {
  lease: string;
  message: Message;
}

const LEASE_MS = 1000;
const HEARTBEAT_MS = 250;

const INBOX = "broker:inbox"; // list of message JSON; publish LPUSHes, claim takes from the right
const IN_FLIGHT = "broker:inflight"; // sorted set: lease → deadline (ms since epoch)
const LEASES = "broker:leases"; // hash: lease → message JSON

// Its own named connections: the broker's bookkeeping (claims, lease renewals) and its acks and
// nacks. The grader tells them apart from yours by name.
const redis = createRedis({ connectionName: "broker" });
const acks = createRedis({ connectionName: "broker-ack" });

// First puts back every message whose lease ran out (its worker died), at the end claims take
// from, then leases the oldest waiting message. A claim Redis ran but whose reply was lost (a cut
// connection) is sent again by ioredis with the same lease: it returns the message that lease
// already holds instead of taking another one.
const CLAIM = `
local held = redis.call('HGET', KEYS[3], ARGV[1])
if held then return held end
for _, lease in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])) do
  local expired = redis.call('HGET', KEYS[3], lease)
  redis.call('ZREM', KEYS[2], lease)
  redis.call('HDEL', KEYS[3], lease)
  if expired then redis.call('RPUSH', KEYS[1], expired) end
end
local message = redis.call('RPOP', KEYS[1])
if not message then return nil end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], message)
return message`;

const ACK = `
redis.call('ZREM', KEYS[1], ARGV[1])
return redis.call('HDEL', KEYS[2], ARGV[1])`;

const NACK = `
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
local message = redis.call('HGET', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if message then redis.call('RPUSH', KEYS[3], message) end
return 1`;

const heartbeats = new Map<string, NodeJS.Timeout>();

/** Publishes a message for the consumers. */
export async function publish(message: Message): Promise<void> {
  await redis.lpush(INBOX, JSON.stringify(message));
}

/** Leases the oldest waiting message to this process, or returns null when there is none. */
export async function claim(): Promise<Delivery | null> {
  const lease = randomUUID();
  const now = Date.now();
  const json = (await redis.eval(CLAIM, 3, INBOX, IN_FLIGHT, LEASES, lease, now + LEASE_MS, now)) as string | null;
  if (!json) return null;
  heartbeats.set(lease, setInterval(() => void redis.zadd(IN_FLIGHT, "XX", Date.now() + LEASE_MS, lease).catch(() => {}), HEARTBEAT_MS));
  return { lease, message: JSON.parse(json) as Message };
}

/** Tells the broker the message is handled: it will not be delivered again. */
export async function ack(delivery: Delivery): Promise<void> {
  clearInterval(heartbeats.get(delivery.lease));
  heartbeats.delete(delivery.lease);
  await acks.eval(ACK, 2, IN_FLIGHT, LEASES, delivery.lease);
}

/**
 * Gives the message back unhandled: ends the lease and puts the message back in the inbox at once,
 * to be delivered again (to this worker or another). If this call fails, the lease is no longer
 * renewed either, so the message still comes back when it runs out.
 */
export async function nack(delivery: Delivery): Promise<void> {
  clearInterval(heartbeats.get(delivery.lease));
  heartbeats.delete(delivery.lease);
  await acks.eval(NACK, 3, IN_FLIGHT, LEASES, INBOX, delivery.lease);
}
