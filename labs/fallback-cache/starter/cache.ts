import { createRedis, dependency } from "@faultline/lab";
import type { CachePolicy, Rate, RateResult } from "./policy.ts";

const rates = dependency("rates");
const redis = createRedis();

/**
 * The rate for `pair`.
 *
 * TODO: keep the last good rate of each pair in Redis with the time it arrived, so every process
 * shares it and it outlives a restart. While it is younger than policy.freshMs, return it without
 * asking the service. Otherwise ask the service (abandoned after policy.timeoutMs); when that fails,
 * return the cached rate with stale: true and its real age, up to policy.maxStaleMs; with nothing
 * usable cached, throw NoRateError. Never cache a failure, and never let Redis trouble (errors,
 * no answer within policy.redisTimeoutMs) fail a call the service can answer.
 */
export async function getRate(pair: string, policy: CachePolicy): Promise<RateResult> {
  void redis;
  void policy;
  const res = await rates.get(`/rate/${encodeURIComponent(pair)}`);
  return { value: res.json<Rate>(), stale: false, ageMs: 0 };
}
