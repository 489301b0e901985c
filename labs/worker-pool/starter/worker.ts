import { sleep } from "@faultline/lab";
import { dequeue, recordFailure, type Task } from "./queue.ts";

/** Runs one task. It may return a promise, or throw before it returns anything. */
export type Handler = (task: Task) => Promise<void> | void;

export interface WorkerOptions {
  /** This worker's name, for logs. */
  name: string;
  /** The most tasks this worker has in flight at once; a whole number from 1. */
  concurrency: number;
  /** How long a handler may run before its task is recorded as timed out, in milliseconds. */
  timeoutMs: number;
}

export interface Worker {
  /** Runs tasks named `taskName` with `handler`. Throws if that name already has one. */
  register(taskName: string, handler: Handler): void;
  /** Starts the loops and returns at once; they run until the process ends. A second call starts nothing. */
  start(): void;
}

/** How long one dequeue waits for a task before the loop asks again. */
const WAIT_SECONDS = 1;

// Delete this line once your code uses them all.
void [sleep, dequeue, recordFailure, WAIT_SECONDS];

export function createWorker({ name, concurrency, timeoutMs }: WorkerOptions): Worker {
  const handlers = new Map<string, Handler>();

  return {
    register(taskName, handler) {
      // TODO: two handlers for one task name is a mistake in the program; what should happen?
      handlers.set(taskName, handler);
    },
    start() {
      // TODO: return at once, and from now on keep up to `concurrency` tasks in flight, forever:
      // take a task with dequeue(WAIT_SECONDS) (null means none came yet: keep waiting), run the
      // handler registered for task.name, and call recordFailure(task, error) when there is no
      // handler, when the handler throws or rejects, or when it is still running after
      // `timeoutMs` (then its slot is free for the next task). Nothing may stop the worker.
      console.log(`${name}: start() is not implemented yet (concurrency ${concurrency}, timeout ${timeoutMs} ms, ${handlers.size} handlers)`);
    },
  };
}
