import { dequeue, recordFailure, type Task } from "./queue.ts";

/** Runs one task. It may return a promise, or throw before it returns anything. */
export type Handler = (task: Task) => Promise<void> | void;

export interface WorkerOptions {
  /** This worker's name, for logs. */
  name: string;
  /** The most tasks this worker runs at once; a whole number from 1. */
  concurrency: number;
}

export interface Worker {
  /** Runs tasks named `taskName` with `handler`. Throws if that name already has one. */
  register(taskName: string, handler: Handler): void;
  /** Starts the loops and returns at once; they run until the process ends. */
  start(): void;
}

/** How long one dequeue waits for a task before the loop asks again. */
const WAIT_SECONDS = 1;

export function createWorker({ name, concurrency }: WorkerOptions): Worker {
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a whole number from 1, not ${concurrency}`);
  // A Map, not an object: a task named "constructor" or "__proto__" must find no handler, not Object's.
  const handlers = new Map<string, Handler>();
  let started = false;

  async function run(task: Task): Promise<void> {
    const handler = handlers.get(task.name);
    try {
      if (!handler) throw new Error(`no handler registered for task name "${task.name}"`);
      // Called inside the try and awaited: a handler that throws at once and one whose promise
      // rejects later both land in the catch, and neither escapes to kill the loop.
      await handler(task);
    } catch (error) {
      await recordFailure(task, error).catch((recordError: unknown) => console.error(`${name}: could not record the failure of ${task.id}: ${String(recordError)}`));
    }
  }

  // One loop per slot: a loop takes a task only when it is free to run it, so the worker never
  // runs more than `concurrency` at once and never holds a task it cannot start yet.
  async function loop(): Promise<never> {
    for (;;) {
      // null only means nothing came within WAIT_SECONDS: an idle worker keeps waiting.
      const task = await dequeue(WAIT_SECONDS);
      if (task) await run(task);
    }
  }

  return {
    register(taskName, handler) {
      // Two handlers for one name is a wiring mistake; failing loudly at start-up beats one
      // silently replacing the other.
      if (handlers.has(taskName)) throw new Error(`a handler is already registered for task name "${taskName}"`);
      handlers.set(taskName, handler);
    },
    start() {
      if (started) return;
      started = true;
      for (let slot = 0; slot < concurrency; slot++) {
        loop().catch((error: unknown) => console.error(`${name}: a worker loop stopped: ${String(error)}`));
      }
    },
  };
}
