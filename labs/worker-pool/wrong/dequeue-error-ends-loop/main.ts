// Read-only: the program that uses your worker. It shows how createWorker is meant to be used,
// and it is what the grader runs: main() in each worker process it spawns, start() and
// registerTwice() in processes it calls into.
import { workerName } from "@faultline/lab";
import * as handlers from "./handlers.ts";
import { createWorker } from "./worker.ts";

/** One worker, with the application's handlers registered by task name. */
function startWorker(name: string, concurrency: number): void {
  const worker = createWorker({ name, concurrency });
  worker.register("email.send", handlers.sendEmail);
  worker.register("image.resize", handlers.resizeImage);
  worker.register("report.slow", handlers.slowReport);
  worker.register("task.explode", handlers.explode);
  worker.register("task.explode-now", handlers.explodeNow);
  worker.start();
}

/** A worker process (t.spawn): concurrency 2. */
export function main(name: string): void {
  startWorker(name, 2);
}

/** A worker with another concurrency, in a process the grader calls into; returns once started. */
export function start(concurrency: number): void {
  startWorker(workerName, concurrency);
}

/** Registers two handlers under one name; returns the error's message, or null when none was thrown. */
export function registerTwice(): string | null {
  const worker = createWorker({ name: workerName, concurrency: 1 });
  worker.register("email.send", handlers.sendEmail);
  try {
    worker.register("email.send", handlers.resizeImage);
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}
