import { dependency } from "@faultline/lab";
import { BreakerOpenError, RequestError, UnavailableError, type BreakerPolicy, type BreakerState, type Stock } from "./policy.ts";

/** Answers that say the service is in trouble; any other 4xx says the request was wrong. */
const FAILURE_STATUS = (status: number) => status >= 500 || status === 408 || status === 429;

/**
 * A circuit breaker around one service: after `failureThreshold` failed calls in a row it stops
 * calling for `openMs`, then lets a single probe through and closes again if the probe succeeds.
 */
export class CircuitBreaker {
  readonly service: string;
  private readonly policy: BreakerPolicy;
  private readonly client;
  private current: "closed" | "open" = "closed";
  private failures = 0;
  private openedAt = 0;
  private probing = false;
  /**
   * Bumped at every transition: a call that started in an earlier period (before the breaker
   * opened, say) and ends late says nothing about the service now, so it moves no state.
   */
  private epoch = 0;

  constructor(service: string, policy: BreakerPolicy) {
    this.service = service;
    this.policy = policy;
    // One client and one breaker per service, per object: nothing at module level, so two
    // breakers (two services) never share a count or a state.
    this.client = dependency(service);
  }

  get state(): BreakerState {
    if (this.current === "closed") return "closed";
    // Open until openMs has passed since it opened; half-open from then until a probe's outcome.
    return this.probing || performance.now() - this.openedAt >= this.policy.openMs ? "half-open" : "open";
  }

  async getStock(sku: string): Promise<Stock> {
    const state = this.state;
    // Refuse at once, before any await: a refusal must cost the caller nothing.
    if (state === "open" || (state === "half-open" && this.probing)) {
      // Keep an eye on the service while open: its answer is not used.
      void this.client.get(`/stock/${encodeURIComponent(sku)}`, { signal: AbortSignal.timeout(this.policy.callTimeoutMs) }).catch(() => undefined);
      throw new BreakerOpenError(this.service);
    }
    if (state === "half-open") this.probing = true;
    const epoch = this.epoch;
    let res;
    try {
      res = await this.client.get(`/stock/${encodeURIComponent(sku)}`, { signal: AbortSignal.timeout(this.policy.callTimeoutMs) });
    } catch (error) {
      // Refused, reset, or cut by the timeout: the service did not answer.
      this.failed(epoch);
      throw new UnavailableError(this.service, (error as Error)?.message ?? String(error));
    }
    if (FAILURE_STATUS(res.status)) {
      this.failed(epoch);
      throw new UnavailableError(this.service, `answered ${res.status}`);
    }
    // The service answered: a 404 is the caller's mistake, not a sign the service is down.
    this.succeeded(epoch);
    if (!res.ok) throw new RequestError(res.status, res.text);
    return res.json<Stock>();
  }

  private succeeded(epoch: number): void {
    if (epoch !== this.epoch) return;
    this.failures = 0;
    if (this.current === "open") this.transition("closed");
  }

  private failed(epoch: number): void {
    if (epoch !== this.epoch) return;
    this.failures += 1;
    // A failed probe re-opens at once, for a fresh openMs; closed, it takes failureThreshold in a row.
    if (this.current === "open" || this.failures >= this.policy.failureThreshold) this.transition("open");
  }

  private transition(to: "closed" | "open"): void {
    this.epoch += 1;
    this.current = to;
    this.probing = false;
    if (to === "open") this.openedAt = performance.now();
    else this.failures = 0;
  }
}
