import { createRedis } from "@faultline/lab";
import { SKEW_MS, verify, type Json, type Keyring, type Reason } from "./sign.ts";

export type AcceptVerdict = { ok: true; payload: Json } | { ok: false; reason: Reason | "replayed" | "unavailable" };

const redis = createRedis();

/**
 * The worker's gate: a task runs only if its envelope verifies and its nonce was never seen.
 * Nothing is written for an envelope that does not verify, so forgeries cannot fill Redis or
 * burn the nonce of a genuine task.
 */
export async function accept(envelope: unknown, keys: Keyring, now: number = Date.now()): Promise<AcceptVerdict> {
  const verdict = verify(envelope, keys, now);
  if (!verdict.ok) return verdict;
  const { kid, nonce, exp } = envelope as { kid: string; nonce: string; exp: number };
  // Remember the nonce for as long as verify() could still accept this envelope (until exp plus
  // the skew), and not a moment longer: after that, expiry refuses it by itself. PX, rounded up
  // to at least 1 ms, since a key must never be written without an expiry.
  const ttlMs = Math.max(1, exp + SKEW_MS - now + 1);
  const stored = await redis.set(`nonce:${kid}:${nonce}`, "1", "PX", ttlMs, "NX");
  if (stored !== "OK") return { ok: false, reason: "replayed" };
  return { ok: true, payload: verdict.payload };
}
