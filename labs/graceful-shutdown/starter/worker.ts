import { createRedis } from "@faultline/lab";
import { handle } from "./handler.ts";

export const QUEUE = "jobs:queue";
export const PROCESSING = "jobs:processing";
/** The worker's own deadline for a graceful stop, from the first signal. */
export const SHUTDOWN_DEADLINE_MS = 2000;

export async function main(): Promise<void> {
  const redis = createRedis();

  // TODO: handle SIGTERM and SIGINT. The first one: stop taking tasks, finish and ack the one in
  // hand, close the connection, exit 0, all before SHUTDOWN_DEADLINE_MS; past the deadline, exit
  // non-zero. A second signal: exit non-zero at once.

  for (;;) {
    // TODO: a worker that is stopping must notice it here, even while the queue is empty.
    const task = await redis.blmove(QUEUE, PROCESSING, "LEFT", "RIGHT", 0.5);
    if (task === null) continue;
    await handle(redis, task);
    await redis.lrem(PROCESSING, 1, task); // the ack. TODO: what if Redis refuses it?
  }
}
