/**
 * Bounded snapshots of a run's Redis for the live view (`mode: "run"`): at most 100 keys, each
 * with its type, TTL and the first 50 members, read with the grader's admin connection (the
 * learner's ACL has no SCAN). Large values are cut, so a snapshot stays a few KiB.
 */
import type { Redis } from "ioredis";
import { z } from "zod";
import { lenientArray } from "./lenient.ts";

const SNAPSHOT_TYPES = new Set(["string", "list", "set", "zset", "hash", "stream"]);
const key = { key: z.string(), ttlMs: z.number().catch(-1) };
const stringMap = z.record(z.string(), z.string()).catch({});
/** A collection's length, or when it is missing, how many of its items came. */
const counted =
  <K extends string>(field: K) =>
  <T extends Record<K, unknown[]> & { length?: number }>(k: T) => ({ ...k, length: k.length ?? k[field].length });

/**
 * One key of a snapshot. Read leniently (a snapshot from another version still draws): a key of a
 * type the view does not know is "other", a malformed item is dropped, a missing field is empty.
 */
export const KeySnapshotSchema = z.preprocess(
  (raw) => (typeof raw === "object" && raw !== null && !SNAPSHOT_TYPES.has(String((raw as { type?: unknown }).type)) ? { ...raw, type: "other" } : raw),
  z.discriminatedUnion("type", [
    z.object({ ...key, type: z.literal("string"), value: z.string().catch("") }),
    z.object({ ...key, type: z.literal("list"), length: z.number().optional(), items: lenientArray(z.string()) }).transform(counted("items")),
    z.object({ ...key, type: z.literal("set"), length: z.number().optional(), members: lenientArray(z.string()) }).transform(counted("members")),
    z
      .object({ ...key, type: z.literal("zset"), length: z.number().optional(), members: lenientArray(z.object({ member: z.string(), score: z.number() })) })
      .transform(counted("members")),
    z.object({ ...key, type: z.literal("hash"), length: z.number().catch(0), fields: stringMap }),
    z
      .object({
        ...key,
        type: z.literal("stream"),
        length: z.number().optional(),
        entries: lenientArray(z.object({ id: z.string(), fields: z.record(z.string(), z.string()) })),
      })
      .transform(counted("entries")),
    z.object({ ...key, type: z.literal("other") }),
  ]),
);

export type KeySnapshot = z.output<typeof KeySnapshotSchema>;

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
          return {
            key,
            type,
            ttlMs,
            length: await redis.zcard(key),
            members: Array.from({ length: flat.length / 2 }, (_, i) => ({ member: cut(flat[2 * i]!), score: Number(flat[2 * i + 1]) })),
          };
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
