/**
 * The breaker's policy, what a stock answer is, and the three errors `getStock` rejects with.
 * Read-only: the grader and probe.ts rely on these names.
 */

export interface BreakerPolicy {
  /** Consecutive failed calls that open the breaker (the one that reaches it included). */
  failureThreshold: number;
  /** How long the breaker stays open, from the moment it opened, before it lets one probe through. */
  openMs: number;
  /** A call still unanswered after this long is abandoned (its request aborted) and counts as a failure. */
  callTimeoutMs: number;
}

/** "closed": calls go through. "open": calls are refused. "half-open": one probe is allowed, or in flight. */
export type BreakerState = "closed" | "open" | "half-open";

export interface Stock {
  sku: string;
  available: number;
}

/** Refused by the breaker: the call never reached the service. */
export class BreakerOpenError extends Error {
  override name = "BreakerOpenError";
  constructor(readonly service: string) {
    super(`the circuit breaker for ${service} is open: the call was not made`);
  }
}

/** The call reached the service and failed (5xx, 408, 429, reset, refused, timed out): it counts toward opening. */
export class UnavailableError extends Error {
  override name = "UnavailableError";
  constructor(
    readonly service: string,
    readonly detail: string,
  ) {
    super(`${service} failed: ${detail}`);
  }
}

/** The service answered that the request itself is wrong (a 4xx other than 408 and 429): it does not count. */
export class RequestError extends Error {
  override name = "RequestError";
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`the request was refused: ${status} ${body}`);
  }
}
