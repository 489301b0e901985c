/**
 * The runner process: the only place learner code will run. It proves the strongest sandbox
 * tier this host supports, connects to the platform Redis, announces itself (with that tier)
 * in a heartbeat and waits; the run engine consumes the "runs" queue.
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

const config = configOrExit();
if (!config.REDIS_URL) {
  console.error("REDIS_URL is not set. Start everything with `npm start`, or set REDIS_URL to the platform Redis the web uses.");
  process.exit(1);
}

const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
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
if (sandbox.tier === "bubblewrap") log.info("sandbox tier: bubblewrap (all namespaces)");
else log.warn(`sandbox tier: ${sandbox.tier}, weaker than bubblewrap`, { reasons: sandbox.reasons });
const info = { id: `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`, host: hostname(), pid: process.pid, startedAt: new Date().toISOString(), concurrency: config.RUNNER_CONCURRENCY, sandbox: sandbox.tier };

async function tick() {
  try {
    await beat(redis, keys, info);
  } catch {
    // reported by the error handler above; the next tick retries
  }
}
await tick();
const timer = setInterval(tick, HEARTBEAT_INTERVAL_MS);
log.info("runner waiting for runs", { runner: info.id, concurrency: info.concurrency });

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  clearInterval(timer);
  log.info("runner stopping", { signal, runner: info.id });
  await stopBeating(redis, keys, info.id).catch(() => {});
  redis.disconnect();
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
exitWhenOrphaned(() => void shutdown("orphaned"));
