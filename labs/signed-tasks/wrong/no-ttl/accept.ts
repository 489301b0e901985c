import { createRedis } from "@faultline/lab";
import { verify, type Json, type Keyring, type Reason } from "./sign.ts";

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
  const { kid, nonce } = envelope as { kid: string; nonce: string };
  let stored: string | null;
  try {
    // One command both tests and records: two workers handed the same envelope at once cannot
    // both find the nonce absent, as they could between a GET and a SET.
    stored = await redis.set(`nonce:${kid}:${nonce}`, "1", "NX");
  } catch {
    // Redis did not say the nonce is new: refuse, and let the delivery be retried. Accepting
    // here would run every replay delivered while Redis is failing.
    return { ok: false, reason: "unavailable" };
  }
  if (stored !== "OK") return { ok: false, reason: "replayed" };
  return { ok: true, payload: verdict.payload };
}
