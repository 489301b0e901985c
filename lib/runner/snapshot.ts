/**
 * Bounded snapshots of a run's Redis for the live view (`mode: "run"`): at most 100 keys, each
 * with its type, TTL and the first 50 members, read with the grader's admin connection (the
 * learner's ACL has no SCAN). Large values are cut, so a snapshot stays a few KiB.
 */
import type { Redis } from "ioredis";

export type KeySnapshot =
  | { key: string; type: "string"; ttlMs: number; value: string }
  | { key: string; type: "list"; ttlMs: number; length: number; items: string[] }
  | { key: string; type: "set"; ttlMs: number; length: number; members: string[] }
  | { key: string; type: "zset"; ttlMs: number; length: number; members: { member: string; score: number }[] }
  | { key: string; type: "hash"; ttlMs: number; length: number; fields: Record<string, string> }
  | { key: string; type: "stream"; ttlMs: number; length: number; entries: { id: string; fields: Record<string, string> }[] }
  | { key: string; type: "other"; ttlMs: number };

export const SNAPSHOT_LIMITS = { keys: 100, items: 50, valueChars: 200 };

const cut = (s: string) => (s.length > SNAPSHOT_LIMITS.valueChars ? `${s.slice(0, SNAPSHOT_LIMITS.valueChars)}…` : s);
const pairs = (flat: string[]) => Object.fromEntries(Array.from({ length: flat.length / 2 }, (_, i) => [cut(flat[2 * i]!), cut(flat[2 * i + 1]!)]));

/** Up to `max` key names, by SCAN (never KEYS, which blocks a large Redis). */
export async function scanKeys(redis: Redis, max: number): Promise<string[]> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(cursor, "COUNT", 500);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== "0" && keys.length < max);
  return keys.slice(0, max);
}

export async function snapshotRedis(redis: Redis): Promise<KeySnapshot[]> {
  const chosen = (await scanKeys(redis, SNAPSHOT_LIMITS.keys)).sort();
  const meta = await Promise.all(chosen.map(async (key) => ({ key, type: await redis.type(key), ttlMs: await redis.pttl(key) })));
  const n = SNAPSHOT_LIMITS.items;
  return Promise.all(
    meta.map(async ({ key, type, ttlMs }): Promise<KeySnapshot> => {
      switch (type) {
        case "string":
          return { key, type, ttlMs, value: cut((await redis.getrange(key, 0, SNAPSHOT_LIMITS.valueChars)) ?? "") };
        case "list":
          return { key, type, ttlMs, length: await redis.llen(key), items: (await redis.lrange(key, 0, n - 1)).map(cut) };
        case "set":
          return { key, type, ttlMs, length: await redis.scard(key), members: (await redis.sscan(key, "0", "COUNT", n))[1].slice(0, n).map(cut) };
        case "zset": {
          const flat = await redis.zrange(key, 0, n - 1, "WITHSCORES");
          return { key, type, ttlMs, length: await redis.zcard(key), members: Array.from({ length: flat.length / 2 }, (_, i) => ({ member: cut(flat[2 * i]!), score: Number(flat[2 * i + 1]) })) };
        }
        case "hash":
          return { key, type, ttlMs, length: await redis.hlen(key), fields: pairs((await redis.hscan(key, "0", "COUNT", n))[1].slice(0, 2 * n)) };
        case "stream": {
          const entries = await redis.xrevrange(key, "+", "-", "COUNT", n);
          return { key, type, ttlMs, length: await redis.xlen(key), entries: entries.map(([id, fields]) => ({ id, fields: pairs(fields) })) };
        }
        default:
          return { key, type: "other", ttlMs };
      }
    }),
  );
}
