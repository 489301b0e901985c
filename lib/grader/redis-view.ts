/**
 * The grader's own view of what a learner's system keeps in Redis, read with the admin
 * connection (never through the proxy, never from learner code). A check of a system — a queue,
 * a store, a log — uses it to confirm the system really lives in Redis: a program that answers
 * correctly from its own memory passes return-value checks, but its tasks are not in Redis.
 *
 * It is deliberately independent of the learner's key names and encodings: a value counts as
 * stored when it occurs, as a substring, in any key name, string, list item, set or sorted-set
 * member, hash field or value, or stream entry field or value.
 */
import type { Redis } from "ioredis";

/** Never read more than this many keys or items per key: a learner's Redis can be large. */
const LIMITS = { keys: 5_000, items: 10_000 };

async function allKeys(redis: Redis): Promise<string[]> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(cursor, "COUNT", 500);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== "0" && keys.length < LIMITS.keys);
  return keys.slice(0, LIMITS.keys);
}

/** Every string a key holds (its name included), bounded. */
async function textsOf(redis: Redis, key: string): Promise<string[]> {
  const n = LIMITS.items;
  const type = await redis.type(key);
  switch (type) {
    case "string":
      return [key, (await redis.getrange(key, 0, 64 * 1024)) ?? ""];
    case "list":
      return [key, ...(await redis.lrange(key, 0, n - 1))];
    case "set":
      return [key, ...(await redis.srandmember(key, n))];
    case "zset":
      return [key, ...(await redis.zrange(key, 0, n - 1))];
    case "hash":
      return [key, ...(await redis.hscan(key, "0", "COUNT", n))[1]];
    case "stream":
      return [key, ...(await redis.xrange(key, "-", "+", "COUNT", n)).flatMap(([id, fields]) => [id, ...fields])];
    default:
      return [key];
  }
}

export interface RedisView {
  /** How many members all sorted sets hold together (or lists, sets, streams, hashes: by `type`). */
  sizes: Record<"list" | "set" | "zset" | "hash" | "stream" | "string", number>;
  /** The values of `wanted` found nowhere in Redis. */
  missing: string[];
}

/** Reads the whole (bounded) keyspace once and reports which of `wanted` it holds, and its sizes. */
export async function viewRedis(redis: Redis, wanted: string[] = []): Promise<RedisView> {
  const sizes: RedisView["sizes"] = { list: 0, set: 0, zset: 0, hash: 0, stream: 0, string: 0 };
  const texts: string[] = [];
  for (const key of await allKeys(redis)) {
    const type = await redis.type(key);
    if (type in sizes) {
      const size = type === "list" ? await redis.llen(key) : type === "set" ? await redis.scard(key) : type === "zset" ? await redis.zcard(key) : type === "hash" ? await redis.hlen(key) : type === "stream" ? await redis.xlen(key) : 1;
      sizes[type as keyof RedisView["sizes"]] += size;
    }
    if (wanted.length > 0) texts.push(...(await textsOf(redis, key)));
  }
  const haystack = texts.join("\u0000");
  return { sizes, missing: wanted.filter((value) => !haystack.includes(value)) };
}
