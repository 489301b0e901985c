import { dependency } from "@faultline/lab";
import { BulkheadFullError, UpstreamError, type BulkheadPolicy, type ClientPolicy, type Recommendations, type SearchResult } from "./policy.ts";

/**
 * A bulkhead: at most `maxConcurrent` calls run at once, at most `maxQueue` wait for a slot in
 * arrival order, and any call beyond that is refused at once. Every call ends within `timeoutMs`
 * of `run` being called, queue wait included: the work's signal aborts at that deadline.
 */
export class Bulkhead {
  private running = 0;
  /** Waiting calls, oldest first; each is handed a slot by `release`. */
  private readonly waiting: Array<() => void> = [];

  constructor(
    readonly name: string,
    private readonly policy: BulkheadPolicy,
  ) {}

  async run<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (this.running >= this.policy.maxConcurrent && this.waiting.length >= this.policy.maxQueue) throw new BulkheadFullError(this.name);
    // The deadline is fixed now, so time spent in the queue counts against it.
    await this.acquire(new AbortController().signal);
    try {
      return await work(new AbortController().signal);
    } finally {
      this.release();
    }
  }

  private acquire(signal: AbortSignal): Promise<void> {
    if (this.running < this.policy.maxConcurrent) {
      this.running += 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const take = () => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      };
      // A call that times out while queued leaves the queue, so no slot is ever handed to it.
      const onAbort = () => {
        this.waiting.splice(this.waiting.indexOf(take), 1);
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(take);
    });
  }

  /** Hands the slot straight to the oldest waiting call, or gives it back. */
  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running -= 1;
  }
}

export interface Clients {
  search(q: string): Promise<SearchResult>;
  recommend(user: string): Promise<Recommendations>;
}

const searchService = dependency("search");
const recommendationsService = dependency("recommendations");

async function getJson<T>(bulkhead: string, call: Promise<{ ok: boolean; status: number; json<V>(): V }>): Promise<T> {
  const res = await call;
  if (!res.ok) throw new UpstreamError(bulkhead, res.status);
  return res.json<T>();
}

/** A client whose two dependencies each sit behind a bulkhead of their own. */
export function createClients(policy: ClientPolicy): Clients {
  const search = new Bulkhead("search", policy.search);
  const recommendations = new Bulkhead("recommendations", policy.recommendations);
  return {
    search: (q) => search.run((signal) => getJson<SearchResult>("search", searchService.get(`/search?q=${encodeURIComponent(q)}`, { signal }))),
    recommend: (user) => recommendations.run((signal) => getJson<Recommendations>("recommendations", recommendationsService.get(`/recommendations/${encodeURIComponent(user)}`, { signal }))),
  };
}
