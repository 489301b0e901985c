/**
 * The task queue's storage, provided by the lab (read-only): your server calls these after it has
 * decided that the caller may. Nothing here knows about keys, roles or tenants' rights: it stores
 * the tenant a task belongs to, and it is your server's job to compare it with the caller's.
 *
 * Keys it writes: queue:task:<id> (a hash), queue:pending (a list of ids), queue:tenant:<tenant>
 * (a set of ids). A Redis error is thrown to the caller as it is.
 */
import { randomBytes } from "node:crypto";
import { createRedis } from "@faultline/lab";

export interface Task {
  id: string;
  tenant: string;
  /** "queued" or "cancelled". */
  state: string;
  /** How many times the task was retried. */
  attempts: number;
  payload: unknown;
}

const redis = createRedis();
redis.on("error", () => {});

const taskKey = (id: string) => `queue:task:${id}`;

function toTask(fields: Record<string, string>): Task | null {
  if (!fields.id) return null;
  return { id: fields.id, tenant: fields.tenant ?? "", state: fields.state ?? "", attempts: Number(fields.attempts ?? 0), payload: JSON.parse(fields.payload ?? "null") as unknown };
}

/** Stores a new task for `tenant` and queues it. Ids are random: nobody can guess another's. */
export async function enqueue(tenant: string, payload: unknown): Promise<Task> {
  const id = `task_${randomBytes(12).toString("base64url")}`;
  const task: Task = { id, tenant, state: "queued", attempts: 0, payload };
  await redis.multi().hset(taskKey(id), { id, tenant, state: "queued", attempts: "0", payload: JSON.stringify(payload) }).sadd(`queue:tenant:${tenant}`, id).lpush("queue:pending", id).exec();
  return task;
}

/** The task with this id, whoever it belongs to, or null when there is none. */
export async function getTask(id: string): Promise<Task | null> {
  return toTask(await redis.hgetall(taskKey(id)));
}

/** Queues the task again and counts the attempt. Returns it as it is now (null: no such task). */
export async function retryTask(id: string): Promise<Task | null> {
  if (!(await redis.exists(taskKey(id)))) return null;
  await redis.multi().hset(taskKey(id), "state", "queued").hincrby(taskKey(id), "attempts", 1).lrem("queue:pending", 0, id).lpush("queue:pending", id).exec();
  return getTask(id);
}

/** Cancels the task: out of the queue, kept with state "cancelled". Null: no such task. */
export async function cancelTask(id: string): Promise<Task | null> {
  if (!(await redis.exists(taskKey(id)))) return null;
  await redis.multi().hset(taskKey(id), "state", "cancelled").lrem("queue:pending", 0, id).exec();
  return getTask(id);
}

/** How many of one tenant's tasks are in each state. */
export async function stats(tenant: string): Promise<{ tenant: string; total: number; queued: number; cancelled: number }> {
  const ids = await redis.smembers(`queue:tenant:${tenant}`);
  const states = ids.length === 0 ? [] : await Promise.all(ids.map((id) => redis.hget(taskKey(id), "state")));
  return { tenant, total: ids.length, queued: states.filter((s) => s === "queued").length, cancelled: states.filter((s) => s === "cancelled").length };
}
