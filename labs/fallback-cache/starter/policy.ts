/**
 * The cache policy, what a rate is, what getRate returns and the error it throws when it has no
 * rate it may give. Read-only: the grader and probe.ts rely on these names.
 */

export interface CachePolicy {
  /** A cached rate younger than this is returned as it is, without asking the rates service. */
  freshMs: number;
  /** A cached rate older than this is never returned, not even when the service is down. */
  maxStaleMs: number;
  /** One call to the rates service is abandoned (its request aborted) after this long. */
  timeoutMs: number;
  /** One Redis command is given up after this long: the cache then counts as unavailable. */
  redisTimeoutMs: number;
}

/** What the rates service answers for GET /rate/<pair>. */
export interface Rate {
  pair: string;
  rate: number;
  /** When the market quoted it (the service's time, not when you fetched it). */
  asOf: string;
}

export interface RateResult {
  /** The rate exactly as the service answered it. */
  value: Rate;
  /** true when the service failed and this is the cached value served in its place. */
  stale: boolean;
  /** Milliseconds since this value was received from the service (by any process). */
  ageMs: number;
}

/** No rate may be given: the service failed and nothing usable is cached. */
export class NoRateError extends Error {
  override name = "NoRateError";
  constructor(
    readonly pair: string,
    /** "no-cache": nothing cached for the pair; "too-stale": the cached rate is older than maxStaleMs. */
    readonly reason: "no-cache" | "too-stale",
    readonly lastError: unknown,
  ) {
    super(`no rate for ${pair} (${reason}): ${lastError instanceof Error ? lastError.message : String(lastError)}`);
  }
}
