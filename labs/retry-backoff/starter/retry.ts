import { dependency } from "@faultline/lab";
import { PermanentError, type Quote, type RetryPolicy } from "./policy.ts";

const pricing = dependency("pricing");

/**
 * The quote for `sku` from the pricing service.
 *
 * TODO: retry transient failures (5xx, 408, 429, refused or reset connections, an attempt that
 * timed out) with capped exponential backoff and full jitter, honour Retry-After, stop at
 * policy.maxAttempts and policy.deadlineMs with a GaveUpError, and stop at once, with the
 * signal's reason, when the caller's signal aborts.
 */
export async function getQuote(sku: string, policy: RetryPolicy, options: { signal?: AbortSignal } = {}): Promise<Quote> {
  // TODO: each attempt needs its own timeout (policy.attemptTimeoutMs), combined with options.signal.
  const res = await pricing.get(`/quote/${encodeURIComponent(sku)}`, { signal: options.signal });
  if (res.ok) return res.json<Quote>();
  // TODO: only a permanent status (a 4xx other than 408 and 429) should end the call like this.
  throw new PermanentError(res.status, res.text);
}
