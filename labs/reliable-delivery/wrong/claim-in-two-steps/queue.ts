import { randomUUID } from "node:crypto";
import { createRedis, sleep } from "@faultline/lab";
import { handle, type Task } from "./handler.ts";

export type { Task };

const LEASE_MS = 1000;
const HEARTBEAT_MS = 250;
const REAPER_MS = 250;
const IDLE_MS = 50;

const PENDING = "queue:pending"; // list of task JSON, oldest first
const IN_FLIGHT = "queue:inflight"; // sorted set: lease id → deadline (ms since epoch)
const LEASES = "queue:leases"; // hash: lease id → task JSON

const redis = createRedis();

// Requeue the tasks whose lease ran out, in one step, so two reapers never requeue the same one.
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

// Wrong: take the task, then record its lease, in two commands. A worker that dies between them
// has taken a task that is now in neither the queue nor the in-flight set.
async function claim(): Promise<{ lease: string; task: Task } | null> {
  const lease = randomUUID();
  const json = await redis.lpop(PENDING);
  if (!json) return null;
  await redis.multi().zadd(IN_FLIGHT, Date.now() + LEASE_MS, lease).hset(LEASES, lease, json).exec();
  return { lease, task: JSON.parse(json) as Task };
}

/** Pushes the deadline out again; XX so a lease the reaper already took back stays gone. */
async function extend(lease: string): Promise<void> {
  await redis.zadd(IN_FLIGHT, "XX", Date.now() + LEASE_MS, lease);
}

async function ack(lease: string): Promise<void> {
  await redis.multi().zrem(IN_FLIGHT, lease).hdel(LEASES, lease).exec();
}

async function reap(): Promise<number> {
  return (await redis.eval(REAP, 3, PENDING, IN_FLIGHT, LEASES, Date.now())) as number;
}

export async function main(workerName: string): Promise<void> {
  // Every worker reaps, so the tasks of a dead worker come back while any worker lives.
  setInterval(() => {
    reap().then(
      (n) => {
        if (n > 0) console.log(`${workerName}: requeued ${n} expired lease(s)`);
      },
      (error: unknown) => console.error(`${workerName}: reaper failed: ${String(error)}`),
    );
  }, REAPER_MS);

  for (;;) {
    const claimed = await claim().catch((error: unknown) => (console.error(`${workerName}: claim failed: ${String(error)}`), null));
    if (!claimed) {
      await sleep(IDLE_MS);
      continue;
    }
    const { lease, task } = claimed;
    // The heartbeat runs beside the work: a task longer than the lease keeps it while we live.
    const heartbeat = setInterval(() => void extend(lease).catch(() => {}), HEARTBEAT_MS);
    try {
      await handle(task);
      await ack(lease);
    } catch (error) {
      // No ack: the lease runs out and the reaper hands the task to someone else.
      console.error(`${workerName}: task ${task.id} failed: ${String(error)}`);
    } finally {
      clearInterval(heartbeat);
    }
  }
}
