/**
 * The bulkhead policy, what the two services answer, and the errors a call ends with when it does
 * not return an answer. Read-only: the grader and probe.ts rely on these names.
 */

export interface BulkheadPolicy {
  /** Calls running at once (requests open at the service); the next ones wait in the queue. */
  maxConcurrent: number;
  /** Calls waiting for a slot; one more is rejected at once with BulkheadFullError. */
  maxQueue: number;
  /** A call ends within this long of being made, time spent queued included. */
  timeoutMs: number;
}

/** One bulkhead per dependency, each with its own limits and timeout. */
export interface ClientPolicy {
  search: BulkheadPolicy;
  recommendations: BulkheadPolicy;
}

export interface SearchResult {
  q: string;
  hits: string[];
}

export interface Recommendations {
  user: string;
  items: string[];
}

/** The bulkhead has every slot taken and its queue full: the call was refused without waiting. */
export class BulkheadFullError extends Error {
  override name = "BulkheadFullError";
  constructor(readonly bulkhead: string) {
    super(`bulkhead '${bulkhead}' is full: every slot is busy and the queue is full`);
  }
}

/** The call did not finish within `timeoutMs` of being made (queue wait included). */
export class TimeoutError extends Error {
  override name = "TimeoutError";
  constructor(
    readonly bulkhead: string,
    readonly timeoutMs: number,
  ) {
    super(`call to '${bulkhead}' timed out after ${timeoutMs} ms`);
  }
}

/** The service answered with a status that is not 2xx. */
export class UpstreamError extends Error {
  override name = "UpstreamError";
  constructor(
    readonly bulkhead: string,
    readonly status: number,
  ) {
    super(`'${bulkhead}' answered ${status}`);
  }
}
