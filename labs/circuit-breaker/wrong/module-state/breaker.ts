import { dependency } from "@faultline/lab";
import { BreakerOpenError, RequestError, UnavailableError, type BreakerPolicy, type BreakerState, type Stock } from "./policy.ts";

/** Answers that say the service is in trouble; any other 4xx says the request was wrong. */
const FAILURE_STATUS = (status: number) => status >= 500 || status === 408 || status === 429;

// The breaker's memory, kept simple at the top of the module.
let current: "closed" | "open" = "closed";
let failures = 0;
let openedAt = 0;
let probing = false;
let epoch = 0;

/**
 * A circuit breaker around one service: after `failureThreshold` failed calls in a row it stops
 * calling for `openMs`, then lets a single probe through and closes again if the probe succeeds.
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

  get state(): BreakerState {
    if (current === "closed") return "closed";
    return probing || performance.now() - openedAt >= this.policy.openMs ? "half-open" : "open";
  }

  async getStock(sku: string): Promise<Stock> {
    const state = this.state;
    if (state === "open" || (state === "half-open" && probing)) throw new BreakerOpenError(this.service);
    if (state === "half-open") probing = true;
    const started = epoch;
    let res;
    try {
      res = await this.client.get(`/stock/${encodeURIComponent(sku)}`, { signal: AbortSignal.timeout(this.policy.callTimeoutMs) });
    } catch (error) {
      this.failed(started);
      throw new UnavailableError(this.service, (error as Error)?.message ?? String(error));
    }
    if (FAILURE_STATUS(res.status)) {
      this.failed(started);
      throw new UnavailableError(this.service, `answered ${res.status}`);
    }
    this.succeeded(started);
    if (!res.ok) throw new RequestError(res.status, res.text);
    return res.json<Stock>();
  }

  private succeeded(at: number): void {
    if (at !== epoch) return;
    failures = 0;
    if (current === "open") this.transition("closed");
  }

  private failed(at: number): void {
    if (at !== epoch) return;
    failures += 1;
    if (current === "open" || failures >= this.policy.failureThreshold) this.transition("open");
  }

  private transition(to: "closed" | "open"): void {
    epoch += 1;
    current = to;
    probing = false;
    if (to === "open") openedAt = performance.now();
    else failures = 0;
  }
}
