/**
 * The retry policy, what a quote is, and the two errors `getQuote` ends with when it does not
 * return a quote. Read-only: the grader and probe.ts rely on these names.
 */

export interface RetryPolicy {
  /** Backoff before retry k (k = 0 for the first retry) is drawn from [0, min(capMs, baseMs * 2^k)]. */
  baseMs: number;
  capMs: number;
  /** Attempts in all, the first one included. */
  maxAttempts: number;
  /** One attempt is abandoned after this long (or sooner, when less time is left before the deadline). */
  attemptTimeoutMs: number;
  /** The whole call, every attempt and every wait, ends within this long of getQuote being called. */
  deadlineMs: number;
}

export interface Quote {
  sku: string;
  price: number;
  currency: string;
}

/** The dependency answered with a permanent error (a 4xx other than 408 and 429): retrying cannot help. */
export class PermanentError extends Error {
  override name = "PermanentError";
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`the pricing service refused the request: ${status} ${body}`);
  }
}

/** Retrying stopped: `attempts` were made, the last failing with `lastError`. */
export class GaveUpError extends Error {
  override name = "GaveUpError";
  constructor(
    /** "attempts": maxAttempts were used; "deadline": no further attempt could finish before it. */
    readonly reason: "attempts" | "deadline",
    readonly attempts: number,
    readonly lastError: unknown,
  ) {
    super(`gave up after ${attempts} attempt(s) (${reason}): ${lastError instanceof Error ? lastError.message : String(lastError)}`);
  }
}
