import "server-only";
import type { Queue } from "bullmq";
import { db } from "../db/index.ts";
import { env } from "../env.ts";
import { labCatalog } from "../labs/catalog.ts";
import { keys, redis } from "../redis/index.ts";
import { runsQueue, type RunJobData } from "../runner/dispatch.ts";
import type { SubmitDeps } from "./submit.ts";

// One BullMQ queue per process; Next's dev server reloads modules, so keep it on globalThis.
const holder = globalThis as unknown as { __faultlineRunsQueue?: Queue<RunJobData> };

/** The runs queue of this web process, created on first use. */
export function runQueue(): Queue<RunJobData> {
  if (!holder.__faultlineRunsQueue) {
    const e = env();
    if (!e.REDIS_URL) throw new Error("REDIS_URL is not set. Start Faultline with `npm start`, which finds or starts a Redis and sets it.");
    holder.__faultlineRunsQueue = runsQueue(e.REDIS_URL, e.FAULTLINE_REDIS_PREFIX);
    holder.__faultlineRunsQueue.on("error", () => {
      // The connection retries by itself and /api/ready reports the outage; a failed add still rejects.
    });
  }
  return holder.__faultlineRunsQueue;
}

/** submitRun's dependencies, wired to this process's database, Redis, queue and labs. */
export function submitDeps(): SubmitDeps {
  return { db: db(), redis: redis(), keys: keys(), queue: runQueue(), labs: labCatalog, limits: { perMinute: env().RUN_RATE_LIMIT_PER_MINUTE } };
}
