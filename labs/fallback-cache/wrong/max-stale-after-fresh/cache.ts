import { createRedis, dependency } from "@faultline/lab";
import { NoRateError, type CachePolicy, type Rate, type RateResult } from "./policy.ts";

const rates = dependency("rates");
// One connection for the whole program: every getRate shares it. No retries of its own: a command
// that fails is the cache being unavailable, and getRate goes on without it.
const redis = createRedis({ maxRetriesPerRequest: 0 });
// A failed connect is reported on every command; without a listener it would also end the program.
redis.on("error", () => {});

/** What is kept per pair: the service's answer and when it arrived, on the wall clock every process shares. */
interface Entry {
  value: Rate;
  fetchedAt: number;
}

// The pair as it is: any other spelling (lower-cased, trimmed, cut short) would let two pairs share an entry.
const keyOf = (pair: string) => `fx:rate:${pair}`;

/** `work`, or a rejection once `ms` has passed: a stalled Redis must not hold the caller. */
function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`redis gave no answer within ${ms} ms`)), ms)));
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** The cached entry, or null when there is none or the cache cannot be read right now. */
async function readEntry(pair: string, policy: CachePolicy): Promise<Entry | null> {
  try {
    const text = await within(policy.redisTimeoutMs, redis.get(keyOf(pair)));
    return text === null ? null : (JSON.parse(text) as Entry);
  } catch {
    return null;
  }
}

/** Best effort: a cache that cannot be written costs the next caller a call, never this one its answer. */
async function writeEntry(pair: string, entry: Entry, policy: CachePolicy): Promise<void> {
  try {
    // Nobody may serve it past maxStaleMs, so Redis may forget it then.
    await within(policy.redisTimeoutMs, redis.set(keyOf(pair), JSON.stringify(entry), "PX", policy.freshMs + policy.maxStaleMs));
  } catch {
    // The answer is still good; the cache will catch up on the next refresh.
  }
}

/** The rate from the service, or a throw for anything that is not a complete 200. */
async function fetchRate(pair: string, policy: CachePolicy): Promise<Rate> {
  // The signal aborts the request itself: a hung call is cut, not just no longer awaited.
  const res = await rates.get(`/rate/${encodeURIComponent(pair)}`, { signal: AbortSignal.timeout(policy.timeoutMs) });
  if (!res.ok) throw new Error(`the rates service answered ${res.status}`);
  return res.json<Rate>();
}

/**
 * The rate for `pair`: from the cache while it is fresh, else from the rates service (and cached),
 * else, when the service fails, the cached rate marked stale while it is within maxStaleMs.
 */
export async function getRate(pair: string, policy: CachePolicy): Promise<RateResult> {
  const entry = await readEntry(pair, policy);
  const ageOf = (e: Entry) => Math.max(0, Date.now() - e.fetchedAt);
  if (entry && ageOf(entry) < policy.freshMs) return { value: entry.value, stale: false, ageMs: ageOf(entry) };
  let value: Rate;
  try {
    value = await fetchRate(pair, policy);
  } catch (error) {
    // Only a value the service really gave is ever served, and never past maxStaleMs.
    if (!entry) throw new NoRateError(pair, "no-cache", error);
    const ageMs = ageOf(entry);
    // It has been stale since freshMs: maxStaleMs counts from there.
    if (ageMs - policy.freshMs > policy.maxStaleMs) throw new NoRateError(pair, "too-stale", error);
    return { value: entry.value, stale: true, ageMs };
  }
  await writeEntry(pair, { value, fetchedAt: Date.now() }, policy);
  return { value, stale: false, ageMs: 0 };
}
