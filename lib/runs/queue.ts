import "server-only";
import { db } from "../db/index.ts";
import { env } from "../env.ts";
import { labCatalog } from "../labs/catalog.ts";
import { keys, redis } from "../redis/index.ts";
import { LANES, openRunQueue, type RunQueues } from "./dispatch.ts";
import type { SubmitDeps } from "./submit.ts";
import { processSingleton } from "../process-singleton.ts";

/** This web process's producer handles on the two run lanes (checks, playground), created on first use. */
export function webRunQueues(): RunQueues {
  return processSingleton("run-queues", () => {
    const e = env();
    if (!e.REDIS_URL) throw new Error("REDIS_URL is not set. Start Faultline with `npm start`, which finds or starts a Redis and sets it.");
    const url = e.REDIS_URL;
    const [check, run] = LANES.map((lane) => {
      const queue = openRunQueue(url, e.FAULTLINE_REDIS_PREFIX, lane);
      queue.on("error", () => {
        // The connection retries by itself and /api/ready reports the outage; a failed add still rejects.
      });
      return queue;
    });
    return { check: check!, run: run! };
  });
}

/** submitRun's dependencies, wired to this process's database, Redis, queue and labs. */
export function submitDeps(): SubmitDeps {
  return { db: db(), redis: redis(), keys: keys(), queues: webRunQueues(), labs: labCatalog, limits: { perMinute: env().RUN_RATE_LIMIT_PER_MINUTE } };
}
