import { dependency } from "@faultline/lab";
import { UpstreamError, type BulkheadPolicy, type ClientPolicy, type Recommendations, type SearchResult } from "./policy.ts";

/**
 * A bulkhead: at most `maxConcurrent` calls run at once, at most `maxQueue` wait for a slot in
 * arrival order, and any call beyond that is refused at once with BulkheadFullError.
 *
 * TODO: limit the calls running at once, queue the next ones (FIFO), refuse the rest, and end
 * every call within policy.timeoutMs of run() being called (queue wait included) with a
 * TimeoutError, aborting the work's signal so its request is closed. A finished, failed or timed
 * out call gives its slot back.
 */
export class Bulkhead {
  constructor(
    readonly name: string,
    private readonly policy: BulkheadPolicy,
  ) {}

  async run<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    void this.policy;
    return work(new AbortController().signal);
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

/** A client for the two services. TODO: each behind a bulkhead of its own, from `policy`. */
export function createClients(policy: ClientPolicy): Clients {
  void policy;
  return {
    search: (q) => getJson<SearchResult>("search", searchService.get(`/search?q=${encodeURIComponent(q)}`)),
    recommend: (user) => getJson<Recommendations>("recommendations", recommendationsService.get(`/recommendations/${encodeURIComponent(user)}`)),
  };
}
