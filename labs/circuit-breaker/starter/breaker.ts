import { dependency } from "@faultline/lab";
import { RequestError, UnavailableError, type BreakerPolicy, type BreakerState, type Stock } from "./policy.ts";

/**
 * A circuit breaker around one service (`service` is the name you pass to `dependency`).
 *
 * TODO: count consecutive failures (5xx, 408, 429, refused, reset, timed out after
 * policy.callTimeoutMs); at policy.failureThreshold open: refuse every call at once with
 * BreakerOpenError for policy.openMs; then let one probe through (half-open): success closes,
 * failure opens again for a fresh openMs.
 */
export class CircuitBreaker {
  readonly service: string;
  private readonly policy: BreakerPolicy;
  private readonly client;

  constructor(service: string, policy: BreakerPolicy) {
    this.service = service;
    this.policy = policy;
    this.client = dependency(service);
  }

  /** TODO: "closed", "open" or "half-open", as the breaker is now. */
  get state(): BreakerState {
    return "closed";
  }

  async getStock(sku: string): Promise<Stock> {
    // TODO: refuse while open; give the call a timeout (this.policy.callTimeoutMs).
    let res;
    try {
      res = await this.client.get(`/stock/${encodeURIComponent(sku)}`);
    } catch (error) {
      throw new UnavailableError(this.service, (error as Error)?.message ?? String(error));
    }
    if (res.ok) return res.json<Stock>();
    if (res.status >= 500 || res.status === 408 || res.status === 429) throw new UnavailableError(this.service, `answered ${res.status}`);
    throw new RequestError(res.status, res.text);
  }
}
