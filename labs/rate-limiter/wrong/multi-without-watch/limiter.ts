import { createRedis } from "@faultline/lab";

export interface LimiterConfig {
  capacity: number;
  refillPerSecond: number;
  timeoutMs?: number;
}

export interface Decision {
  allowed: boolean;
  remaining: number;
  retryAfterMs: number;
}

const UNAVAILABLE_RETRY_MS = 1000;

const redis = createRedis();
redis.on("error", () => {});

let config: Required<LimiterConfig> = { capacity: 10, refillPerSecond: 1, timeoutMs: 500 };

export function configure(next: LimiterConfig): void {
  config = { capacity: next.capacity, refillPerSecond: next.refillPerSecond, timeoutMs: next.timeoutMs ?? 500 };
}

// Reads the bucket, decides here, writes it back in one transaction, believing MULTI/EXEC makes it atomic.
async function decide(key: string, cost: number): Promise<Decision> {
  const [[seconds, micros], [tokensText, atText]] = await Promise.all([redis.time(), redis.hmget(key, "tokens", "at")]);
  const now = Number(seconds) * 1000 + Number(micros) / 1000;
  const rate = config.refillPerSecond / 1000;
  let tokens = tokensText === null ? config.capacity : Number(tokensText);
  let at = atText === null ? now : Number(atText);
  if (now > at) {
    tokens = Math.min(config.capacity, tokens + (now - at) * rate);
    at = now;
  }
  let allowed = false;
  let retryAfterMs = 0;
  if (cost > config.capacity) retryAfterMs = -1;
  else if (tokens >= cost) {
    tokens -= cost;
    allowed = true;
  } else retryAfterMs = Math.ceil((cost - tokens) / rate);
  await redis
    .multi()
    .hset(key, "tokens", String(tokens), "at", String(at))
    .pexpire(key, Math.ceil((config.capacity - tokens) / rate) + 1000)
    .exec();
  return { allowed, remaining: Math.floor(tokens), retryAfterMs };
}

function timeout(ms: number): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms`)), ms));
}

export async function take(client: string, cost = 1): Promise<Decision> {
  try {
    return await Promise.race([decide(`ratelimit:${client}`, cost), timeout(config.timeoutMs)]);
  } catch {
    return { allowed: false, remaining: 0, retryAfterMs: UNAVAILABLE_RETRY_MS };
  }
}
