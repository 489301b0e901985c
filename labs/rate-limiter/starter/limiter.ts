import { createRedis } from "@faultline/lab";

export interface LimiterConfig {
  /** Most tokens a bucket holds; a new or idle client starts with a full bucket. */
  capacity: number;
  /** Tokens added per second, continuously (fractions count). */
  refillPerSecond: number;
  /** How long take() waits for Redis before it denies; 500 ms when not given. */
  timeoutMs?: number;
}

export interface Decision {
  allowed: boolean;
  /** Whole tokens left in the bucket after this take. */
  remaining: number;
  /** 0 when allowed; otherwise ms until this cost would be allowed; -1 when it never can be. */
  retryAfterMs: number;
}

const redis = createRedis();

let config: Required<LimiterConfig> = { capacity: 10, refillPerSecond: 1, timeoutMs: 500 };

export function configure(next: LimiterConfig): void {
  config = { capacity: next.capacity, refillPerSecond: next.refillPerSecond, timeoutMs: next.timeoutMs ?? 500 };
}

// TODO: one Lua script that reads the bucket, refills it from Redis's TIME, decides, writes it
// back with an expiry, and returns { allowed, remaining, retryAfter }.
const TAKE = `
return { 1, 0, 0 }`;

export async function take(client: string, cost = 1): Promise<Decision> {
  // TODO: run TAKE with EVALSHA (falling back to EVAL on NOSCRIPT) on the key ratelimit:<client>,
  // give up after config.timeoutMs, and deny (fail closed) when Redis errors or is too slow.
  const [allowed, remaining, retryAfterMs] = (await redis.eval(TAKE, 1, `ratelimit:${client}`, config.capacity, config.refillPerSecond, cost)) as [number, number, number];
  return { allowed: allowed === 1, remaining, retryAfterMs };
}
