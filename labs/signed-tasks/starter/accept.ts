import { createRedis } from "@faultline/lab";
import { SKEW_MS, verify, type Json, type Keyring, type Reason } from "./sign.ts";

export type AcceptVerdict = { ok: true; payload: Json } | { ok: false; reason: Reason | "replayed" | "unavailable" };

const redis = createRedis();

/** The worker's gate: a task runs only if its envelope verifies and its nonce was never seen. */
export async function accept(envelope: unknown, keys: Keyring, now: number = Date.now()): Promise<AcceptVerdict> {
  const verdict = verify(envelope, keys, now);
  if (!verdict.ok) return verdict;
  // TODO: record the envelope's nonce in Redis, atomically and with an expiry, and refuse it
  // when it was already there. What if Redis fails?
  void redis;
  void SKEW_MS;
  return verdict;
}
