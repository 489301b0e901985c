// Read-only: the program that uses your worker. It shows how createWorker is meant to be used,
// and it is what the grader runs: main() in each worker process it spawns, start() and
// registerTwice() in processes it calls into.
import { workerName } from "@faultline/lab";
import * as handlers from "./handlers.ts";
import { createWorker, type Worker } from "./worker.ts";

/** One worker, with the application's handlers registered by task name. */
function createAppWorker(name: string, concurrency: number, timeoutMs: number): Worker {
  const worker = createWorker({ name, concurrency, timeoutMs });
  worker.register("email.send", handlers.sendEmail);
  worker.register("image.resize", handlers.resizeImage);
  worker.register("report.slow", handlers.slowReport);
  worker.register("task.explode", handlers.explode);
  worker.register("task.explode-now", handlers.explodeNow);
  return worker;
}

/** A worker process (t.spawn): concurrency 2, and 10 s for each task. */
export function main(name: string): void {
  createAppWorker(name, 2, 10_000).start();
}

/**
 * A worker with another concurrency and timeout, in a process the grader calls into; returns once
 * started. `starts` > 1 calls start() that many times, as a start-up script that runs twice would:
 * the calls after the first must start nothing more (they may throw; their message is returned).
 */
export function start(concurrency: number, timeoutMs = 2000, starts = 1): string | null {
  const worker = createAppWorker(workerName, concurrency, timeoutMs);
  worker.start();
  for (let i = 1; i < starts; i++) {
    try {
      worker.start();
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
  }
  return null;
}

/** Registers two handlers under one name; returns the error's message, or null when none was thrown. */
export function registerTwice(): string | null {
  const worker = createWorker({ name: workerName, concurrency: 1, timeoutMs: 2000 });
  worker.register("email.send", handlers.sendEmail);
  try {
    worker.register("email.send", handlers.resizeImage);
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}
