import { createRedis, sleep } from "@faultline/lab";
import { handle, type Task } from "./handler.ts";

export type { Task };

const MAX_ATTEMPTS = 4; // the 4th failure dead-letters the task
const BACKOFF_MS = 200; // wait after the 1st failure; it doubles after each one after that
const POLL_MS = 25;

/** What the dead-letter queue keeps about a task that ran out of attempts. */
export interface DeadLetter {
  task: Task;
  attempts: number;
  error: string;
  failedAt: number;
}

/** A task as the queue stores it: the task itself and the attempts it has used up. */
interface Entry {
  task: Task;
  attempts: number;
}

const SCHEDULE = "queue:schedule"; // sorted set: task id → when it is due (ms since epoch)
const TASKS = "queue:tasks"; // hash: task id → Entry JSON
const DEAD = "queue:dead"; // hash: task id → DeadLetter JSON

const redis = createRedis();

// Take the first task that is due, in one step, so two workers never run the same attempt.
// A retry waits in the same sorted set as new work; its score in the future is its delay.
const CLAIM = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1)[1]
if not due then return nil end
redis.call('ZREM', KEYS[1], due)
return redis.call('HGET', KEYS[2], due)`;

// Move a dead letter back to the queue as a fresh task, in one step: a replay clicked twice
// must not run the task twice, and a replay that crashes halfway must not lose it.
const REPLAY = `
local dead = redis.call('HGET', KEYS[3], ARGV[1])
if not dead then return 0 end
local letter = cjson.decode(dead)
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode({ task = letter.task, attempts = 0 }))
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return 1`;

/** Exponential backoff: 200, 400, 800 ms after the 1st, 2nd and 3rd failure. */
export function backoffMs(failures: number): number {
  void failures;
  return BACKOFF_MS;
}

/** Runs a transaction and throws if Redis refused it or any command in it. */
async function commit(tx: ReturnType<typeof redis.multi>): Promise<void> {
  const results = await tx.exec();
  const refused = results === null ? new Error("transaction aborted") : results.find(([error]) => error)?.[0];
  if (refused) throw refused;
}

/** Adds a task, due now. It throws when Redis refused the write: the caller must know. */
export async function enqueue(task: Task): Promise<void> {
  const entry: Entry = { task, attempts: 0 };
  await commit(redis.multi().hset(TASKS, task.id, JSON.stringify(entry)).zadd(SCHEDULE, Date.now(), task.id));
}

async function claim(): Promise<Entry | null> {
  const json = (await redis.eval(CLAIM, 2, SCHEDULE, TASKS, Date.now())) as string | null;
  return json ? (JSON.parse(json) as Entry) : null;
}

/**
 * Records a failed attempt in one transaction: schedules a retry after a growing delay, or
 * dead-letters the task. A worker that dies halfway leaves either all of it or none of it.
 */
async function fail(entry: Entry, error: unknown): Promise<void> {
  const attempts = entry.attempts + 1;
  const id = entry.task.id;
  if (attempts >= MAX_ATTEMPTS) {
    // Keep the error of the attempt that just failed: it is the one that explains the state the
    // task is in now, and the one an operator needs before pressing replay.
    const letter: DeadLetter = { task: entry.task, attempts, error: error instanceof Error ? error.message : String(error), failedAt: Date.now() };
    await commit(redis.multi().hdel(TASKS, id).hset(DEAD, id, JSON.stringify(letter)));
    return;
  }
  const next: Entry = { task: entry.task, attempts };
  // The delay runs from now, when the attempt has failed, not from when it was claimed.
  await commit(redis.multi().hset(TASKS, id, JSON.stringify(next)).zadd(SCHEDULE, Date.now() + backoffMs(attempts), id));
}

/**
 * Retries a write until Redis takes it. Once a task is out of the schedule it lives only in this
 * worker's memory, so a refused write must not be given up on: it would lose the task.
 */
async function persist(workerName: string, what: string, write: () => Promise<unknown>): Promise<void> {
  for (;;) {
    try {
      await write();
      return;
    } catch (error) {
      console.error(`${workerName}: could not ${what}, trying again: ${String(error)}`);
      await sleep(POLL_MS);
    }
  }
}

export async function deadLetters(): Promise<DeadLetter[]> {
  const all = await redis.hvals(DEAD);
  return all.map((json) => JSON.parse(json) as DeadLetter).sort((a, b) => a.failedAt - b.failedAt);
}

/** Puts a dead-lettered task back in the queue with a clean slate of attempts. */
export async function replay(id: string): Promise<boolean> {
  return (await redis.eval(REPLAY, 3, SCHEDULE, TASKS, DEAD, id, Date.now())) === 1;
}

export async function main(workerName: string): Promise<void> {
  for (;;) {
    // A refused or cut command in the loop is one more reason to look again, never to stop.
    const entry = await claim().catch((error: unknown) => (console.error(`${workerName}: claim failed: ${String(error)}`), null));
    if (!entry) {
      await sleep(POLL_MS);
      continue;
    }
    const id = entry.task.id;
    // Only the handler's own throw is a failed attempt: a write of ours that Redis refuses after
    // the handler succeeded must not make the task run again.
    const failure = await handle(entry.task).then(
      () => null,
      (error: unknown) => ({ error }),
    );
    if (failure) {
      console.log(`${workerName}: ${id} attempt ${entry.attempts + 1} failed: ${String(failure.error)}`);
      await persist(workerName, `record the failure of ${id}`, () => fail(entry, failure.error));
    } else {
      await persist(workerName, `forget the finished ${id}`, () => redis.hdel(TASKS, id));
    }
  }
}
