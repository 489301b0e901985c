/**
 * Disposable namespaces for integration tests: a fresh SQLite file or PostgreSQL database, and
 * a Redis key prefix, each removed when the test's `await using` scope ends.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import pg from "pg";
import { createDb, type Db } from "../../../lib/db/client.ts";
import { migrate } from "../../../lib/db/migrate.ts";
import type { Provider } from "../../../lib/db/providers.ts";
import { redisKeys, type RedisKeys } from "../../../lib/redis/keys.ts";

export const PG_ADMIN_URL = process.env.TEST_POSTGRES_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
export const REDIS_TEST_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
export const providers: Provider[] = ["sqlite", "postgres"];

const suffix = () => randomBytes(5).toString("hex");

export interface TestDatabase extends AsyncDisposable {
  url: string;
  db: Db;
}

/** An empty database of the given provider; `migrated` (the default) applies the migrations. */
export async function testDatabase(provider: Provider, { migrated = true } = {}): Promise<TestDatabase> {
  let url: string;
  let drop: () => Promise<void>;
  if (provider === "sqlite") {
    const dir = mkdtempSync(path.join(tmpdir(), "fl-db-"));
    url = `file:${path.join(dir, "test.db")}`;
    drop = async () => rmSync(dir, { recursive: true, force: true });
  } else {
    const name = `fl_test_${suffix()}`;
    const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    url = PG_ADMIN_URL.replace(/\/[^/]*$/, `/${name}`);
    drop = async () => {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    };
  }
  if (migrated) await migrate(url);
  const db = createDb(url);
  return {
    url,
    db,
    async [Symbol.asyncDispose]() {
      await db.$disconnect();
      await drop();
    },
  };
}

export interface TestRedis extends AsyncDisposable {
  redis: Redis;
  prefix: string;
  keys: RedisKeys;
}

export async function testRedis(): Promise<TestRedis> {
  const prefix = `fl-test:${suffix()}:`;
  const redis = new Redis(REDIS_TEST_URL, { maxRetriesPerRequest: 1 });
  return {
    redis,
    prefix,
    keys: redisKeys(prefix),
    async [Symbol.asyncDispose]() {
      let cursor = "0";
      do {
        const [next, found] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
        cursor = next;
        if (found.length > 0) await redis.del(...found);
      } while (cursor !== "0");
      redis.disconnect();
    },
  };
}
