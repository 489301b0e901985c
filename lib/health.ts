import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { Db } from "./db/client.ts";
import type { RedisKeys } from "./redis/keys.ts";
import { laneDepths, type Lane, type LaneDepths } from "./runs/dispatch.ts";
import { liveRunners, type RunnerInfo } from "./runner/heartbeat.ts";
import { withTimeout } from "./timeout.ts";

export interface Readiness {
  ready: boolean;
  checks: { database: string; redis: string };
  /** Runners with a live heartbeat, and how many run each sandbox tier: what a load balancer or status page needs, naming no host or process. */
  runners: { count: number; tiers: Record<string, number> };
  /** Set when nothing can grade runs right now; the site still serves everything else. */
  warning?: string;
}

/** Readiness as an operator sees it (an admin session, or the metrics token): each live runner too. */
export interface ReadinessDetails extends Readiness {
  fleet: Array<Pick<RunnerInfo, "id" | "host" | "pid" | "sandbox" | "beatAt">>;
}

/** `work`, or an error naming `what` after `ms`: a probe never hangs on a service that does not answer. */
const answerWithin = <T>(work: Promise<T>, ms: number, what: string) => withTimeout(work, ms, `${what} did not answer within ${ms} ms`);

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "unknown error";

const countBy = (values: string[]) => values.reduce<Record<string, number>>((counts, v) => ({ ...counts, [v]: (counts[v] ?? 0) + 1 }), {});

/** The checks behind readiness, with every live runner's full heartbeat (one SCAN for both pages). */
async function probe(db: Db, redis: Redis, keys: RedisKeys): Promise<{ readiness: Readiness; runners: RunnerInfo[] }> {
  const [database, redisCheck] = await Promise.all([
    answerWithin(db.$queryRawUnsafe("SELECT 1"), 2000, "the database").then(
      () => "ok",
      (e: unknown) => `error: ${describe(e)}`,
    ),
    answerWithin(redis.ping(), 2000, "Redis").then(
      () => "ok",
      (e: unknown) => `error: ${describe(e)}`,
    ),
  ]);
  const runners = redisCheck === "ok" ? await liveRunners(redis, keys).catch(() => []) : [];
  return {
    runners,
    readiness: {
      ready: database === "ok" && redisCheck === "ok",
      checks: { database, redis: redisCheck },
      runners: { count: runners.length, tiers: countBy(runners.map((r) => r.sandbox)) },
      ...(runners.length === 0 ? { warning: "No runner is connected, so runs cannot be graded. Start one with `npm run runner`." } : {}),
    },
  };
}

/**
 * Ready means this web process can serve requests: its database and the platform Redis answer.
 * Runners are reported but do not make a web replica unready: lessons and progress still work
 * without them, and a load balancer should not drop every page because grading is down.
 */
export async function readiness(db: Db, redis: Redis, keys: RedisKeys): Promise<Readiness>;
export async function readiness(db: Db, redis: Redis, keys: RedisKeys, options: { details: true }): Promise<ReadinessDetails>;
export async function readiness(db: Db, redis: Redis, keys: RedisKeys, options: { details: boolean }): Promise<Readiness | ReadinessDetails>;
export async function readiness(db: Db, redis: Redis, keys: RedisKeys, { details = false } = {}): Promise<Readiness | ReadinessDetails> {
  const { readiness: ready, runners } = await probe(db, redis, keys);
  if (!details) return ready;
  return { ...ready, fleet: runners.map(({ id, host, pid, sandbox, beatAt }) => ({ id, host, pid, sandbox, beatAt })) };
}

export interface SystemHealth extends Readiness {
  /** Per lane, runs waiting for a runner and being graded now; null when the queues could not be read. */
  queue: LaneDepths | null;
  /** Every live runner with what it announced in its heartbeat. */
  fleet: (RunnerInfo & { ageMs: number })[];
}

/** What the admin page shows: readiness, plus the queue and each runner's heartbeat. */
export async function systemHealth(
  db: Db,
  redis: Redis,
  keys: RedisKeys,
  queues: Record<Lane, Pick<Queue, "getJobCounts">>,
  now = Date.now(),
): Promise<SystemHealth> {
  const [{ readiness: ready, runners }, depth] = await Promise.all([
    probe(db, redis, keys),
    answerWithin(laneDepths(queues), 2000, "the run queue").catch(() => null),
  ]);
  return {
    ...ready,
    queue: depth,
    fleet: runners.map((r) => ({ ...r, ageMs: now - new Date(r.beatAt).getTime() })).sort((a, b) => a.id.localeCompare(b.id)),
  };
}
