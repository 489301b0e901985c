/**
 * Fixed-window rate limiting in the platform Redis: one counter per (bucket, subject) that
 * expires with its window. Atomic in one script, so concurrent requests from several web
 * replicas count exactly once each.
 */
import type { Redis } from "ioredis";
import type { RedisKeys } from "./keys.ts";
import { RequestError } from "../errors.ts";

const script = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return { count, ttl }
`;

export interface Limit {
  bucket: string;
  /** Requests allowed per window. */
  max: number;
  windowMs: number;
}

export interface LimitResult {
  allowed: boolean;
  remaining: number;
  /** Milliseconds until the window resets. */
  retryAfterMs: number;
}

export class RateLimitedError extends RequestError {
  override name = "RateLimitedError";
  constructor(readonly retryAfterMs: number) {
    const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
    const wait = seconds >= 120 ? `${Math.ceil(seconds / 60)} minutes` : `${seconds} seconds`;
    super(429, `Too many attempts. Try again in ${wait}.`, {}, { "retry-after": String(Math.ceil(retryAfterMs / 1000)) });
  }
}

export async function hit(redis: Redis, keys: RedisKeys, limit: Limit, subject: string): Promise<LimitResult> {
  const [count, ttl] = (await redis.eval(script, 1, keys.rateLimit(limit.bucket, subject), String(limit.windowMs))) as [number, number];
  return { allowed: count <= limit.max, remaining: Math.max(0, limit.max - count), retryAfterMs: ttl };
}

/** Counts one attempt against every limit given, and throws RateLimitedError if any is exceeded. */
export async function enforce(redis: Redis, keys: RedisKeys, checks: Array<[Limit, string]>): Promise<void> {
  const results = await Promise.all(checks.map(([limit, subject]) => hit(redis, keys, limit, subject)));
  const blocked = results.filter((r) => !r.allowed);
  if (blocked.length > 0) throw new RateLimitedError(Math.max(...blocked.map((r) => r.retryAfterMs)));
}
