import { createRedis, sleep, workerName } from "@faultline/lab";
import { handle } from "./handler.ts";

export const QUEUE = "jobs:queue";
export const PROCESSING = "jobs:processing";
/** Our own deadline, inside the orchestrator's grace period (the lesson's 8 s, scaled down). */
export const SHUTDOWN_DEADLINE_MS = 2000;
/** How long one claim may block: also how long an idle worker can take to notice a signal. */
const CLAIM_TIMEOUT_S = 0.5;

const say = (line: string) => console.log(`${workerName}: ${line}`);

export async function main(): Promise<void> {
  const redis = createRedis();
  let stopping = false;
  let held: string | null = null;

  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      // The second signal means "now". The held task was never acked, so it stays in PROCESSING
      // for recovery to hand out again; a non-zero status says the stop was not clean.
      say(`second ${signal}: exiting now, leaving ${held ?? "nothing"} in ${PROCESSING}`);
      process.exit(1);
    }
    stopping = true;
    // Stopping means stopping: the orchestrator wants us gone.
    say(`${signal}: exiting`);
    process.exit(0);
    say(`${signal}: taking no new tasks, finishing ${held ?? "nothing"}`);
    // unref: the timer must not keep an otherwise finished worker alive until it fires.
    setTimeout(() => {
      say(`deadline passed with ${held ?? "nothing"} unfinished; leaving it for redelivery`);
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS).unref();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);

  while (!stopping) {
    try {
      // A short block, so that an idle worker sees `stopping` within CLAIM_TIMEOUT_S. A claim whose
      // reply arrives after the signal still hands us a task: Redis already moved it to PROCESSING,
      // and only we know it is there, so it is ours to finish.
      held = await redis.blmove(QUEUE, PROCESSING, "LEFT", "RIGHT", CLAIM_TIMEOUT_S);
    } catch (error) {
      say(`claim failed (${(error as Error).message}); trying again`);
      await sleep(100);
      continue;
    }
    if (held === null) continue;
    await handle(redis, held);
    await ack(redis, held);
    held = null;
  }
  // QUIT is answered only after every reply sent before it: nothing in flight is lost.
  await redis.quit();
  say("connection closed, exiting 0");
}

/**
 * The work is done: acking is all that is left, so a refused ack is retried rather than given up.
 * If it never lands, the deadline ends the process with a non-zero status, the task stays in
 * PROCESSING, and a rerun is the at-least-once price; claiming success here would lie.
 */
async function ack(redis: ReturnType<typeof createRedis>, task: string): Promise<void> {
  for (;;) {
    try {
      await redis.lrem(PROCESSING, 1, task);
      return;
    } catch (error) {
      say(`ack failed (${(error as Error).message}); retrying`);
      await sleep(100);
    }
  }
}
