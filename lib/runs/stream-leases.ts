/**
 * Caps on open run-event streams, per user and per run, counted in the platform Redis so every
 * web replica sees the same count. Each open stream holds a lease: a member of a sorted set per
 * user and per run whose score is when it expires. The stream refreshes it with its keepalive and
 * removes it when it closes; a web process that dies without closing its streams frees their
 * slots when the leases run out, not never.
 */
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import type { RedisKeys } from "../redis/keys.ts";
import { RequestError } from "../errors.ts";

export interface StreamCaps {
  /** Open streams one user may hold, over all runs (several tabs, a reconnect overlapping the old stream). */
  perUser: number;
  /** Open streams on one run. */
  perRun: number;
}

/** A lease outlives three missed keepalives (15 s each) before its slot is taken back. @default 45000 */
export const STREAM_LEASE_MS = 45_000;

// Redis's clock, not the web's, so replicas with skewed clocks agree on what has expired.
const NOW = `local t = redis.call('TIME'); local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

const acquireScript = `
${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 1 end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then return 2 end
for i = 1, 2 do
  redis.call('ZADD', KEYS[i], now + tonumber(ARGV[2]), ARGV[1])
  redis.call('PEXPIRE', KEYS[i], ARGV[2])
end
return 0
`;

// A lease lost meanwhile (a Redis restart) is put back: the stream it counts is still open.
const refreshScript = `
${NOW}
for i = 1, 2 do
  redis.call('ZADD', KEYS[i], now + tonumber(ARGV[2]), ARGV[1])
  redis.call('PEXPIRE', KEYS[i], ARGV[2])
end
return 0
`;

export class StreamLimitError extends RequestError {
  override name = "StreamLimitError";
  constructor(
    readonly scope: "user" | "run",
    readonly cap: number,
  ) {
    super(
      429,
      scope === "user"
        ? `You already have ${cap} live run views open, the most one account may have. Close Faultline tabs or windows you are not using, then reload this page.`
        : `This run is already open live in ${cap} tabs, the most one run may be. Close the other tabs showing it, then reload this page.`,
      { limit: scope },
      { "retry-after": "15" },
    );
  }
}

export interface StreamLease {
  /** Extends the lease; call it at least once per STREAM_LEASE_MS while the stream is open. */
  refresh(): Promise<void>;
  /** Frees the slot. Idempotent. */
  release(): Promise<void>;
}

/** Takes a slot for one stream of `userId` on `runId`, or throws StreamLimitError naming the cap reached. */
export async function acquireStreamLease(
  redis: Redis,
  keys: RedisKeys,
  userId: string,
  runId: string,
  caps: StreamCaps,
  leaseMs = STREAM_LEASE_MS,
): Promise<StreamLease> {
  const sets = [keys.streamLeases("user", userId), keys.streamLeases("run", runId)];
  const member = randomUUID();
  const refused = Number(await redis.eval(acquireScript, 2, ...sets, member, String(leaseMs), String(caps.perUser), String(caps.perRun)));
  if (refused === 1) throw new StreamLimitError("user", caps.perUser);
  if (refused === 2) throw new StreamLimitError("run", caps.perRun);
  let released = false;
  return {
    async refresh() {
      if (!released) await redis.eval(refreshScript, 2, ...sets, member, String(leaseMs));
    },
    async release() {
      if (released) return;
      released = true;
      await redis.multi().zrem(sets[0]!, member).zrem(sets[1]!, member).exec();
    },
  };
}
