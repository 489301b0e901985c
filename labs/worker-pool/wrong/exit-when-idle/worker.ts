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

export function createWorker({ name, concurrency, timeoutMs }: WorkerOptions): Worker {
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a whole number from 1, not ${concurrency}`);
  if (!(timeoutMs > 0 && Number.isFinite(timeoutMs))) throw new RangeError(`timeoutMs must be a positive number of milliseconds, not ${timeoutMs}`);
  // A Map, not an object: a task named "constructor" or "toString" must find no handler, not Object's.
  const handlers = new Map<string, Handler>();
  let started = false;

  /**
   * Settles when the handler does or when timeoutMs has passed, whichever comes first, and rejects
   * with the handler's error or a timeout. The handler may go on running in the background after
   * a timeout; nothing it does then is recorded again.
   */
  async function runWithTimeout(handler: Handler, task: Task): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`task ${task.id} timed out after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      // The async wrapper turns a handler that throws before it returns into a rejection, so both
      // kinds of failure meet the same catch.
      await Promise.race([(async () => handler(task))(), timedOut]);
    } finally {
      // Every task that ends clears its timer: a stale one must not time out a finished task.
      clearTimeout(timer);
    }
  }

  async function run(task: Task): Promise<void> {
    try {
      const handler = handlers.get(task.name);
      if (!handler) throw new Error(`no handler registered for task name "${task.name}"`);
      await runWithTimeout(handler, task);
    } catch (error) {
      // Recording is a Redis write that can fail too; that must not end the loop either.
      await recordFailure(task, error).catch((recordError: unknown) => console.error(`${name}: could not record the failure of ${task.id}: ${String(recordError)}`));
    }
  }

  // One loop per slot: a loop takes a task only when it is free to run it, so the worker never
  // has more than `concurrency` in flight and never holds a task it cannot start yet.
  async function loop(): Promise<void> {
    // Work until the queue is empty.
    for (let task = await dequeue(WAIT_SECONDS); task; task = await dequeue(WAIT_SECONDS)) {
      await run(task);
    }
    console.log(`${name}: the queue is empty, this loop is done`);
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
