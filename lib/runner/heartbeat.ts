/**
 * Runner heartbeats in the platform Redis: each runner process refreshes a key with a short TTL,
 * so a runner that dies disappears from /api/ready and the admin page within HEARTBEAT_TTL_MS.
 */
import type { Redis } from "ioredis";
import type { RedisKeys } from "../redis/keys.ts";

export const HEARTBEAT_INTERVAL_MS = 5_000;
export const HEARTBEAT_TTL_MS = 15_000;

export interface RunnerInfo {
  id: string;
  host: string;
  pid: number;
  startedAt: string;
  /** Check slots. */
  concurrency: number;
  /** Playground slots, in a lane of their own (absent from runners before lanes existed). */
  playgroundConcurrency?: number;
  /** The sandbox tier this runner proved at start (lib/runner/sandbox/probe.ts). */
  sandbox: string;
  beatAt: string;
}

export async function beat(redis: Redis, keys: RedisKeys, info: Omit<RunnerInfo, "beatAt">): Promise<void> {
  const value: RunnerInfo = { ...info, beatAt: new Date().toISOString() };
  await redis.set(keys.runnerHeartbeat(info.id), JSON.stringify(value), "PX", HEARTBEAT_TTL_MS);
}

export async function stopBeating(redis: Redis, keys: RedisKeys, id: string): Promise<void> {
  await redis.del(keys.runnerHeartbeat(id));
}

/** Live runners. SCAN, not KEYS, so a busy platform Redis is not blocked. */
export async function liveRunners(redis: Redis, keys: RedisKeys): Promise<RunnerInfo[]> {
  const found: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", keys.runnerHeartbeatPattern(), "COUNT", 200);
    cursor = next;
    found.push(...batch);
  } while (cursor !== "0");
  if (found.length === 0) return [];
  const values = await redis.mget(found);
  return values.flatMap((v) => {
    if (!v) return [];
    try {
      return [JSON.parse(v) as RunnerInfo];
    } catch {
      return [];
    }
  });
}
