import type { Redis } from "ioredis";
import type { Db } from "./db/client.ts";
import type { RedisKeys } from "./redis/keys.ts";
import { liveRunners, type RunnerInfo } from "./runner/heartbeat.ts";

export interface Readiness {
  ready: boolean;
  checks: { database: string; redis: string };
  runners: Array<Pick<RunnerInfo, "id" | "host" | "sandbox" | "beatAt">>;
  /** Set when nothing can grade runs right now; the site still serves everything else. */
  warning?: string;
}

const withTimeout = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms).unref())]);

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "unknown error";

/**
 * Ready means this web process can serve requests: its database and the platform Redis answer.
 * Runners are reported but do not make a web replica unready: lessons and progress still work
 * without them, and a load balancer should not drop every page because grading is down.
 */
export async function readiness(db: Db, redis: Redis, keys: RedisKeys): Promise<Readiness> {
  const [database, redisCheck] = await Promise.all([
    withTimeout(db.$queryRawUnsafe("SELECT 1"), 2000, "the database").then(() => "ok", (e: unknown) => `error: ${describe(e)}`),
    withTimeout(redis.ping(), 2000, "Redis").then(() => "ok", (e: unknown) => `error: ${describe(e)}`),
  ]);
  const runners = redisCheck === "ok" ? await liveRunners(redis, keys).catch(() => []) : [];
  return {
    ready: database === "ok" && redisCheck === "ok",
    checks: { database, redis: redisCheck },
    runners: runners.map(({ id, host, sandbox, beatAt }) => ({ id, host, sandbox, beatAt })),
    ...(runners.length === 0 ? { warning: "No runner is connected, so runs cannot be graded. Start one with `npm run runner`." } : {}),
  };
}
