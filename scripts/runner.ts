/**
 * The runner process: the only place learner code runs. It proves the strongest sandbox tier
 * this host supports, announces itself (with that tier) in a heartbeat, and consumes the "runs"
 * queue: each job is built, run in the sandbox against a private Redis, graded and stored.
 */
import { hostname } from "node:os";
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { configOrExit } from "../lib/launcher/config.ts";
import { log } from "../lib/log.ts";
import { exitWhenOrphaned } from "../lib/launcher/orphan.ts";
import { redisKeys } from "../lib/redis/keys.ts";
import { HEARTBEAT_INTERVAL_MS, beat, stopBeating } from "../lib/runner/heartbeat.ts";
import { probeSandbox } from "../lib/runner/sandbox/probe.ts";
import { describeTier, tierLabel } from "../lib/runner/sandbox/policy.ts";
import { onLimitHit } from "../lib/runner/sandbox/spawn.ts";
import { recordSandboxKill } from "../lib/metrics/store.ts";
import { QueueEvents } from "bullmq";
import { createDb } from "../lib/db/client.ts";
import { loadCourse } from "../lib/content/loader.ts";
import type { Milestone } from "../lib/content/schema.ts";
import { labsDirFor, loadLabs } from "../lib/labs/loader.ts";
import { createRunHandler, recordLostRun } from "../lib/runs/consume.ts";
import { LANE_QUEUES, LANES, startRunConsumer } from "../lib/runs/dispatch.ts";
import { PrivateRedisPool } from "../lib/runner/private-redis.ts";
import { subscribeCancels } from "../lib/runs/cancel.ts";

const config = configOrExit();
if (!config.REDIS_URL) {
  console.error("REDIS_URL is not set. Start everything with `npm start`, or set REDIS_URL to the platform Redis the web uses.");
  process.exit(1);
}

const platformUrl = config.REDIS_URL;
const redis = new Redis(platformUrl, { maxRetriesPerRequest: null });
let lastError = "";
redis.on("error", (error) => {
  if (error.message !== lastError) log.warn("runner lost the platform Redis; reconnecting", { err: error });
  lastError = error.message;
});
redis.on("ready", () => {
  if (lastError) log.info("runner reconnected to the platform Redis");
  lastError = "";
});

const keys = redisKeys(config.FAULTLINE_REDIS_PREFIX);
const sandbox = await probeSandbox();
const tierNote = describeTier(sandbox); // loud when weak: every run is refused, or allowed by an override
log[tierNote.level](tierNote.message, tierNote.fields);
const info = {
  id: `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`,
  host: hostname(),
  pid: process.pid,
  startedAt: new Date().toISOString(),
  concurrency: config.RUNNER_CONCURRENCY,
  playgroundConcurrency: config.RUNNER_PLAYGROUND_CONCURRENCY,
  sandbox: tierLabel(sandbox.tier),
};

async function tick() {
  try {
    await beat(redis, keys, info);
  } catch {
    // reported by the error handler above; the next tick retries
  }
}
await tick();
const timer = setInterval(tick, HEARTBEAT_INTERVAL_MS);

const db = createDb(config.DATABASE_URL);
const labsDir = labsDirFor(config.courseDir);
// Development reloads labs for every run, so an instructor's edit applies to the next run.
let labsCache = loadLabs(labsDir);
const labs = () => (config.NODE_ENV === "production" ? labsCache : (labsCache = loadLabs(labsDir)));
// The checklists a graded run earns credit against. A broken content folder (content:check says
// why) must not stop grading: the runner keeps the last good definitions and says so.
let milestonesCache: Milestone[] = [];
const milestones = () => {
  try {
    if (config.NODE_ENV !== "production" || milestonesCache.length === 0)
      milestonesCache = loadCourse(config.courseDir, labsCache).milestones.map((m) => m.milestone);
  } catch (error) {
    log.warn("content could not be loaded; checklist credit uses the last good definitions", { err: error });
  }
  return milestonesCache;
};
const pool = new PrivateRedisPool(Math.min(4, config.RUNNER_CONCURRENCY + config.RUNNER_PLAYGROUND_CONCURRENCY));
// Sandbox limit kills, counted platform-wide for /api/metrics.
onLimitHit((reason) => void recordSandboxKill(redis, keys, reason).catch(() => {}));
const runs = createRunHandler({ db, redis, keys, labs, milestones, pool, tier: sandbox.tier, log });
const subscriber = redis.duplicate();
const unsubscribe = await subscribeCancels(subscriber, keys, (id) => {
  if (runs.cancel(id)) log.info("cancelling run", { run: id });
});
// One consumer per lane (lib/runs/dispatch.ts): playground runs have slots of their own, so
// learners holding minute-long runs never delay anyone's check.
const slots = { check: config.RUNNER_CONCURRENCY, run: config.RUNNER_PLAYGROUND_CONCURRENCY };
const consumers = LANES.map((lane) => {
  const consumer = startRunConsumer({
    redisUrl: platformUrl,
    prefix: config.FAULTLINE_REDIS_PREFIX,
    lane,
    concurrency: slots[lane],
    handle: runs.handle,
    lockDurationMs: config.RUNNER_LOCK_MS,
    stalledIntervalMs: Math.round(config.RUNNER_LOCK_MS / 2),
  });
  consumer.on("error", (error) => log.warn("run queue error", { lane, err: error }));
  return consumer;
});
// A job BullMQ gave up on (its runners kept dying) must still end for the learner, as `error`.
const queueEvents = LANES.map((lane) => {
  const events = new QueueEvents(LANE_QUEUES[lane], { connection: { url: platformUrl }, prefix: `${config.FAULTLINE_REDIS_PREFIX}bull` });
  events.on("error", () => {});
  events.on("failed", ({ jobId, failedReason }) => {
    void recordLostRun({ db, redis, keys }, jobId, `The runners grading this run stopped before it finished (${failedReason}).`).catch((error: unknown) =>
      log.warn("could not record a lost run", { run: jobId, err: error }),
    );
  });
  return events;
});
log.info("runner waiting for runs", {
  runner: info.id,
  concurrency: info.concurrency,
  playgroundConcurrency: info.playgroundConcurrency,
  labs: labsCache.length,
});

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  clearInterval(timer);
  log.info("runner stopping", { signal, runner: info.id, active: runs.active() });
  // Running jobs are left to BullMQ's stalled-job recovery: another runner takes them over.
  await Promise.all(consumers.map((c) => c.close(true).catch(() => {})));
  await Promise.all([...queueEvents.map((e) => e.close()), unsubscribe(), pool.close(), db.$disconnect()].map((p) => p.catch(() => {})));
  subscriber.disconnect();
  await stopBeating(redis, keys, info.id).catch(() => {});
  redis.disconnect();
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
exitWhenOrphaned(() => void shutdown("orphaned"));
