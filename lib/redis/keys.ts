/**
 * The only place that builds platform Redis key strings. Every key starts with the install's
 * prefix (FAULTLINE_REDIS_PREFIX), so several installs or test runs can share one Redis.
 */
export function redisKeys(prefix: string) {
  return {
    rateLimit: (bucket: string, subject: string) => `${prefix}rl:${bucket}:${subject}`,
    runnerHeartbeat: (runnerId: string) => `${prefix}runner:${runnerId}`,
    runnerHeartbeatPattern: () => `${prefix}runner:*`,
    runEvents: (runId: string) => `${prefix}run:${runId}:events`,
    /** Sorted sets of open run-event streams (member: stream id, score: lease expiry), per user and per run. */
    streamLeases: (scope: "user" | "run", id: string) => `${prefix}sse:${scope}:${id}`,
    /** Pub/sub channel: the web publishes a run id here when it cancels that run; runners listen. */
    runCancelChannel: () => `${prefix}run-cancel`,
    /** Hashes of platform-wide counters and histogram buckets (lib/metrics/store.ts). */
    metrics: (name: string) => `${prefix}metrics:${name}`,
  };
}

export type RedisKeys = ReturnType<typeof redisKeys>;
