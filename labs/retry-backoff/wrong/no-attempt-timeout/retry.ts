import { dependency } from "@faultline/lab";
import { GaveUpError, PermanentError, type Quote, type RetryPolicy } from "./policy.ts";

const pricing = dependency("pricing");

/** Failures worth another attempt: the service is overloaded, restarting or briefly unreachable. */
const TRANSIENT_STATUS = (status: number) => status >= 500 || status === 408 || status === 429;

/** A failed attempt: what happened, and how long the service asked us to wait, if it did. */
class TransientFailure extends Error {
  constructor(
    message: string,
    readonly retryAfterMs = 0,
  ) {
    super(message);
  }
}

/** Retry-After in seconds (the only form the pricing service sends); anything else is ignored. */
function retryAfterMs(header: string | undefined): number {
  if (header === undefined || !/^\d+$/.test(header.trim())) return 0;
  return Number(header.trim()) * 1000;
}

/** Sleeps `ms`, but wakes at once, rejecting with the reason, when the caller gives up. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * One attempt, bounded by its own timeout and by the caller's signal. Returns the quote, throws
 * PermanentError for an answer retrying cannot change, TransientFailure for one it may.
 */
async function attempt(sku: string, timeoutMs: number, caller: AbortSignal | undefined): Promise<Quote> {
  void timeoutMs;
  const signal = caller;
  let res;
  try {
    res = await pricing.get(`/quote/${encodeURIComponent(sku)}`, { signal });
  } catch (error) {
    // The caller's own abort is not a failure of the service: it ends the call, never a retry.
    if (caller?.aborted) throw caller.reason;
    throw new TransientFailure(`attempt failed: ${(error as Error).message ?? String(error)}`);
  }
  if (res.ok) return res.json<Quote>();
  if (TRANSIENT_STATUS(res.status)) throw new TransientFailure(`the service answered ${res.status}`, retryAfterMs(res.headers["retry-after"]));
  throw new PermanentError(res.status, res.text);
}

/**
 * The quote for `sku` from the pricing service, retrying transient failures with capped
 * exponential backoff and full jitter, within `policy.maxAttempts` and `policy.deadlineMs`.
 */
export async function getQuote(sku: string, policy: RetryPolicy, options: { signal?: AbortSignal } = {}): Promise<Quote> {
  const { signal } = options;
  const deadline = performance.now() + policy.deadlineMs;
  let lastError: unknown = new Error("no attempt was made");
  for (let attempts = 0; ; ) {
    if (signal?.aborted) throw signal.reason;
    const left = deadline - performance.now();
    if (left <= 0) throw new GaveUpError("deadline", attempts, lastError);
    attempts += 1;
    let wait: number;
    try {
      return await attempt(sku, Math.min(policy.attemptTimeoutMs, left), signal);
    } catch (error) {
      if (!(error instanceof TransientFailure)) throw error;
      lastError = error;
      if (attempts >= policy.maxAttempts) throw new GaveUpError("attempts", attempts, lastError);
      // Full jitter: anywhere in [0, ceiling], drawn afresh for every retry of every call, so
      // callers that failed together do not come back together.
      const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** (attempts - 1));
      // The service's own Retry-After is a floor: retrying sooner only adds to its load.
      wait = Math.max(Math.random() * ceiling, error.retryAfterMs);
    }
    // A wait that ends at or past the deadline leaves no time to try again: say so now rather
    // than sleeping through the caller's budget.
    if (performance.now() + wait >= deadline) throw new GaveUpError("deadline", attempts, lastError);
    await sleep(wait, signal);
  }
}
