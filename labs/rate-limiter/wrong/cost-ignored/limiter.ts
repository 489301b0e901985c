import { createHash } from "node:crypto";
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

/** What a caller is told to wait when Redis could not decide. */
const UNAVAILABLE_RETRY_MS = 1000;

const redis = createRedis();
// A rejected command whose take() already gave up must not become an unhandled rejection.
redis.on("error", () => {});

let config: Required<LimiterConfig> = { capacity: 10, refillPerSecond: 1, timeoutMs: 500 };

export function configure(next: LimiterConfig): void {
  if (!Number.isInteger(next.capacity) || next.capacity < 1) throw new RangeError("capacity must be a whole number >= 1");
  if (!Number.isFinite(next.refillPerSecond) || next.refillPerSecond <= 0) throw new RangeError("refillPerSecond must be a number > 0");
  const timeoutMs = next.timeoutMs ?? 500;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RangeError("timeoutMs must be a number > 0");
  config = { capacity: next.capacity, refillPerSecond: next.refillPerSecond, timeoutMs };
}

// Read, refill, decide and write in one script: Redis runs it without interleaving any other
// command, so a thousand callers at once cannot all read the same "5 tokens left". The time comes
// from Redis's own clock (TIME), the one clock every worker shares; a worker's Date.now() may be
// seconds off another's, and whoever runs fast would refill everyone's bucket early.
// Tokens are kept as a fraction: rounding them down on every call would throw away the partial
// token a frequent caller earns and, at low rates, the bucket would never refill.
const TAKE = `
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2]) / 1000
local cost = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens, at = capacity, now
end
if now > at then
  tokens = math.min(capacity, tokens + (now - at) * rate)
  at = now
end
local allowed, retry = 0, 0
if cost > capacity then
  retry = -1
elseif tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  -- A denied take costs nothing: charging it would keep a client that retries in a loop locked out.
  retry = math.ceil((cost - tokens) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'at', string.format('%.17g', at))
-- Once the bucket would be full again the key says nothing a fresh bucket would not: let it go,
-- so a million clients seen once cost nothing tomorrow. Never sooner, or it comes back full early.
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate) + 1000)
return { allowed, math.floor(tokens), retry }`;

const TAKE_SHA = createHash("sha1").update(TAKE).digest("hex");

type Reply = [number, number, number];

// EVALSHA sends 40 bytes instead of the whole script. Redis forgets scripts on SCRIPT FLUSH, a
// restart or a failover; then it answers NOSCRIPT without running anything, so sending EVAL once
// charges nothing twice, and it caches the script again for the next call.
async function runTake(key: string, cost: number): Promise<Reply> {
  const args = [config.capacity, config.refillPerSecond, cost];
  try {
    return (await redis.evalsha(TAKE_SHA, 1, key, ...args)) as Reply;
  } catch (error) {
    if (!(error instanceof Error && error.message.startsWith("NOSCRIPT"))) throw error;
    return (await redis.eval(TAKE, 1, key, ...args)) as Reply;
  }
}

async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

export async function take(client: string, cost = 1): Promise<Decision> {
  if (!Number.isInteger(cost) || cost < 1) throw new RangeError("cost must be a whole number >= 1");
  try {
    const [allowed, remaining, retryAfterMs] = await withTimeout(runTake(`ratelimit:${client}`, cost), config.timeoutMs);
    return { allowed: allowed === 1, remaining, retryAfterMs };
  } catch (error) {
    // Fail closed: a limiter that lets everything through whenever Redis is slow or down
    // protects nothing exactly when the system is under the most pressure.
    console.error(`rate limiter: denying ${client}: ${error instanceof Error ? error.message : String(error)}`);
    return { allowed: false, remaining: 0, retryAfterMs: UNAVAILABLE_RETRY_MS };
  }
}
