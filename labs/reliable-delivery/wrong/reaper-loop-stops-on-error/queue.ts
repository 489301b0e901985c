import { randomUUID } from "node:crypto";
import { createRedis, sleep } from "@faultline/lab";
import { handle, type Task } from "./handler.ts";

export type { Task };

const LEASE_MS = 1000;
const HEARTBEAT_MS = 250;
const REAPER_MS = 250;
const IDLE_MS = 50;
const HANDLER_TIMEOUT_MS = 3000;

const PENDING = "queue:pending"; // list of task JSON, oldest first
const IN_FLIGHT = "queue:inflight"; // sorted set: lease id → deadline (ms since epoch)
const LEASES = "queue:leases"; // hash: lease id → task JSON

const redis = createRedis();

// Take the oldest task and lease it in one step: a crash can never leave a task in neither place,
// and no two workers can take the same one. Every claim has a lease id of its own, so whatever
// the worker later does with that id (heartbeat, ack) touches its own claim and nobody else's.
// A claim that reaches Redis twice finds its lease already there and takes nothing more.
const CLAIM = `
local held = redis.call('HGET', KEYS[3], ARGV[1])
if held then return held end
local task = redis.call('LPOP', KEYS[1])
if not task then return nil end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], task)
return task`;

// Requeue the tasks whose lease ran out, in one step, so two reapers never requeue the same one,
// and a reap that reaches Redis twice finds nothing left to requeue the second time.
const REAP = `
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
for _, lease in ipairs(expired) do
  local task = redis.call('HGET', KEYS[3], lease)
  redis.call('ZREM', KEYS[2], lease)
  redis.call('HDEL', KEYS[3], lease)
  if task then redis.call('LPUSH', KEYS[1], task) end
end
return #expired`;

export async function enqueue(task: Task): Promise<void> {
  await redis.rpush(PENDING, JSON.stringify(task));
}

/** Moves every task whose lease ran out back to the queue; returns how many. */
export async function reap(): Promise<number> {
  return (await redis.eval(REAP, 3, PENDING, IN_FLIGHT, LEASES, Date.now())) as number;
}

async function claim(): Promise<{ lease: string; task: Task } | null> {
  const lease = randomUUID();
  const json = (await redis.eval(CLAIM, 3, PENDING, IN_FLIGHT, LEASES, lease, Date.now() + LEASE_MS)) as string | null;
  return json ? { lease, task: JSON.parse(json) as Task } : null;
}

/**
 * Pushes the deadline out again, if the lease is still ours: XX updates only a member that
 * exists, and the member is this claim's own lease id, so a lease the reaper took back stays gone.
 */
async function extend(lease: string): Promise<void> {
  await redis.zadd(IN_FLIGHT, "XX", Date.now() + LEASE_MS, lease);
}

/** Removes our lease. If the reaper took it back meanwhile, there is nothing of ours to remove. */
async function ack(lease: string): Promise<void> {
  await redis.multi().zrem(IN_FLIGHT, lease).hdel(LEASES, lease).exec();
}

/** Runs the handler, failing if it has not settled within HANDLER_TIMEOUT_MS. */
async function run(task: Task): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`handler gave no answer within ${HANDLER_TIMEOUT_MS} ms`)), HANDLER_TIMEOUT_MS);
  });
  try {
    await Promise.race([handle(task), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function main(workerName: string): Promise<void> {
  // Every worker reaps, so the tasks of a dead worker come back while any worker lives. A failed
  // round is only logged: the next one, 250 ms later, tries again.
  void (async () => {
    try {
      for (;;) {
        const n = await reap();
        if (n > 0) console.log(`${workerName}: requeued ${n} expired lease(s)`);
        await sleep(REAPER_MS);
      }
    } catch (error) {
      console.error(`${workerName}: reaper failed: ${String(error)}`);
    }
  })();

  for (;;) {
    const claimed = await claim().catch((error: unknown) => (console.error(`${workerName}: claim failed: ${String(error)}`), null));
    if (!claimed) {
      await sleep(IDLE_MS);
      continue;
    }
    const { lease, task } = claimed;
    // The heartbeat runs beside the work: a task longer than the lease keeps it while we live. A
    // heartbeat that fails is only logged; the next one, 250 ms later, extends the lease again.
    const heartbeat = setInterval(() => void extend(lease).catch((error: unknown) => console.error(`${workerName}: heartbeat failed: ${String(error)}`)), HEARTBEAT_MS);
    try {
      await run(task);
      clearInterval(heartbeat);
      await ack(lease);
    } catch (error) {
      // No ack: with no heartbeat the lease runs out, and the reaper hands the task to someone.
      console.error(`${workerName}: task ${task.id} failed: ${String(error)}`);
    } finally {
      clearInterval(heartbeat);
    }
  }
}
