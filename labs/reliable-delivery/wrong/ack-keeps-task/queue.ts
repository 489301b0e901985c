import { createRedis, sleep } from "@faultline/lab";
import { handle, type Task } from "./handler.ts";

export type { Task };

const LEASE_MS = 1000;
const HEARTBEAT_MS = 250;
const REAPER_MS = 250;
const IDLE_MS = 50;
const HANDLER_TIMEOUT_MS = 3000;

const TASKS = "queue:tasks"; // hash: task id → task JSON, kept as the record of every task
const PENDING = "queue:pending"; // list of task ids, oldest first
const IN_FLIGHT = "queue:inflight"; // sorted set: task id → lease deadline (ms since epoch)
const DONE = "queue:done"; // set of the ids of finished tasks

const redis = createRedis();

// Take the oldest task id and lease it in one step.
const CLAIM = `
local id = redis.call('LPOP', KEYS[1])
if not id then return nil end
redis.call('ZADD', KEYS[2], ARGV[1], id)
return redis.call('HGET', KEYS[3], id)`;

// Requeue the tasks whose lease ran out, in one step.
const REAP = `
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
for _, id in ipairs(expired) do
  redis.call('ZREM', KEYS[2], id)
  redis.call('LPUSH', KEYS[1], id)
end
return #expired`;

export async function enqueue(task: Task): Promise<void> {
  await redis.multi().hset(TASKS, task.id, JSON.stringify(task)).rpush(PENDING, task.id).exec();
}

/** Moves every task whose lease ran out back to the queue; returns how many. */
export async function reap(): Promise<number> {
  return (await redis.eval(REAP, 2, PENDING, IN_FLIGHT, Date.now())) as number;
}

async function claim(): Promise<Task | null> {
  const json = (await redis.eval(CLAIM, 3, PENDING, IN_FLIGHT, TASKS, Date.now() + LEASE_MS)) as string | null;
  return json ? (JSON.parse(json) as Task) : null;
}

/** Pushes the task's lease deadline out again, while the lease exists. */
async function extend(id: string): Promise<void> {
  await redis.zadd(IN_FLIGHT, "XX", Date.now() + LEASE_MS, id);
}

/** The task is done: end its lease and mark it finished (its record stays, for the history). */
async function ack(id: string): Promise<void> {
  await redis.multi().zrem(IN_FLIGHT, id).sadd(DONE, id).exec();
}

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
  setInterval(() => {
    reap().catch((error: unknown) => console.error(`${workerName}: reaper failed: ${String(error)}`));
  }, REAPER_MS);

  for (;;) {
    const task = await claim().catch((error: unknown) => (console.error(`${workerName}: claim failed: ${String(error)}`), null));
    if (!task) {
      await sleep(IDLE_MS);
      continue;
    }
    const heartbeat = setInterval(() => void extend(task.id).catch((error: unknown) => console.error(`${workerName}: heartbeat failed: ${String(error)}`)), HEARTBEAT_MS);
    try {
      await run(task);
      clearInterval(heartbeat);
      await ack(task.id);
    } catch (error) {
      console.error(`${workerName}: task ${task.id} failed: ${String(error)}`);
    } finally {
      clearInterval(heartbeat);
    }
  }
}
