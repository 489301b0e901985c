/**
 * The grader's own view of what a learner's system keeps in Redis, read with the admin
 * connection (never through the proxy, never from learner code). A check of a system — a queue,
 * a store, a log — uses it to confirm the system really lives in Redis: a program that answers
 * correctly from its own memory passes return-value checks, but its tasks are not in Redis.
 *
 * It is deliberately independent of the learner's key names and encodings: a value counts as
 * stored when it occurs verbatim, as a substring, in any key name, string, list item, set or
 * sorted-set member, hash field or value, or stream entry field or value.
 */
import type { Redis } from "ioredis";
import { scanKeys } from "../runner/snapshot.ts";

/** Never read more than this many keys or items per key: a learner's Redis can be large. */
const LIMITS = { keys: 5_000, items: 10_000, stringBytes: 64 * 1024 };

export type RedisType = "list" | "set" | "zset" | "hash" | "stream" | "string";

export interface ViewOptions {
  /**
   * Keys the view skips, as exact names or prefixes ending in `*` ("effects:*"): the keys a lab's
   * read-only files write. A task id found only in the handler's trace proves nothing about where
   * the learner's queue keeps it.
   */
  ignore?: string[];
}

export interface RedisView {
  /** How many members the keys of each type hold together (1 per string key). */
  sizes: Record<RedisType, number>;
  /** The values of `wanted` found nowhere in Redis. */
  missing: string[];
}

const isType = (type: string): type is RedisType => ["list", "set", "zset", "hash", "stream", "string"].includes(type);

function ignored(patterns: string[]): (key: string) => boolean {
  return (key) => patterns.some((p) => (p.endsWith("*") ? key.startsWith(p.slice(0, -1)) : key === p));
}

async function sizeOf(redis: Redis, key: string, type: RedisType): Promise<number> {
  switch (type) {
    case "list":
      return redis.llen(key);
    case "set":
      return redis.scard(key);
    case "zset":
      return redis.zcard(key);
    case "hash":
      return redis.hlen(key);
    case "stream":
      return redis.xlen(key);
    case "string":
      return 1;
  }
}

/** Every field and value of a hash, bounded; HSCAN's COUNT is only a hint, so follow the cursor. */
async function hashTexts(redis: Redis, key: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await redis.hscan(key, cursor, "COUNT", 1000);
    cursor = next;
    out.push(...batch);
  } while (cursor !== "0" && out.length < 2 * LIMITS.items);
  return out;
}

/** Every string a key holds (its name included), bounded. */
async function textsOf(redis: Redis, key: string, type: RedisType): Promise<string[]> {
  const n = LIMITS.items;
  switch (type) {
    case "string":
      return [key, (await redis.getrange(key, 0, LIMITS.stringBytes)) ?? ""];
    case "list":
      return [key, ...(await redis.lrange(key, 0, n - 1))];
    case "set":
      return [key, ...(await redis.srandmember(key, n))];
    case "zset":
      return [key, ...(await redis.zrange(key, 0, n - 1))];
    case "hash":
      return [key, ...(await hashTexts(redis, key))];
    case "stream":
      return [key, ...(await redis.xrange(key, "-", "+", "COUNT", n)).flatMap(([id, fields]) => [id, ...fields])];
  }
}

/** Reads the whole (bounded) keyspace once and reports which of `wanted` it holds, and its sizes. */
export async function viewRedis(redis: Redis, wanted: string[] = [], options: ViewOptions = {}): Promise<RedisView> {
  const sizes: RedisView["sizes"] = { list: 0, set: 0, zset: 0, hash: 0, stream: 0, string: 0 };
  const skip = ignored(options.ignore ?? []);
  const texts: string[] = [];
  for (const key of await scanKeys(redis, LIMITS.keys)) {
    if (skip(key)) continue;
    const type = await redis.type(key);
    if (!isType(type)) continue; // "none": the key went away between SCAN and TYPE
    sizes[type] += await sizeOf(redis, key, type);
    if (wanted.length > 0) texts.push(...(await textsOf(redis, key, type)));
  }
  const haystack = texts.join("\u0000");
  return { sizes, missing: wanted.filter((value) => !haystack.includes(value)) };
}
