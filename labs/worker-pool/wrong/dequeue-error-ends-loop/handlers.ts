// Read-only: the application's handlers, which main.ts registers with your worker. Each leaves a
// trace the grader reads: which handler ran which task, in which process, and how many ran at once.
import { createRedis, sleep, workerName } from "@faultline/lab";
import type { Task } from "./queue.ts";

const redis = createRedis();

/** effects:done, a list of {"id","handler","worker"} JSON: one entry per task a handler finished. */
async function done(task: Task, handler: string): Promise<void> {
  await redis.rpush("effects:done", JSON.stringify({ id: task.id, handler, worker: workerName }));
}

// Counts the slow handlers running in this process now (effects:running:{worker}) and keeps the
// most there have ever been at once (effects:peak:{worker}).
const ENTER = `
local n = redis.call('INCR', KEYS[1])
if n > tonumber(redis.call('GET', KEYS[2]) or '0') then redis.call('SET', KEYS[2], n) end
return n`;

/** Never settles: what a handler stuck on a lost reply or a dead service looks like. */
const forever = () => new Promise<never>(() => {});

/** task.name "email.send" */
export async function sendEmail(task: Task): Promise<void> {
  await sleep(10);
  await done(task, "sendEmail");
}

/** task.name "image.resize" */
export async function resizeImage(task: Task): Promise<void> {
  await sleep(10);
  await done(task, "resizeImage");
}

/**
 * task.name "report.slow", payload {"ms", "fail"?, "markMs"?}: appends {"id","worker"} to
 * effects:started, works for ms milliseconds, then finishes (effects:done) or, when fail is true,
 * rejects. With ms null it never finishes: it hangs. With markMs, it is also the grader's
 * stopwatch in this process: if it is still running markMs after it started, it appends
 * {"id","worker"} to effects:overran, on a timer that a busy machine delays as much as yours.
 */
export async function slowReport(task: Task): Promise<void> {
  const { ms, fail, markMs } = task.payload as { ms: number | null; fail?: boolean; markMs?: number };
  let running = true;
  const stopwatch =
    markMs === undefined
      ? undefined
      : setTimeout(() => {
          if (running) redis.rpush("effects:overran", JSON.stringify({ id: task.id, worker: workerName })).catch(() => {});
        }, markMs);
  try {
    await redis.rpush("effects:started", JSON.stringify({ id: task.id, worker: workerName }));
    await redis.eval(ENTER, 2, `effects:running:${workerName}`, `effects:peak:${workerName}`);
    try {
      await (ms === null ? forever() : sleep(ms));
    } finally {
      await redis.decr(`effects:running:${workerName}`);
    }
    if (fail) throw new Error(`report failed: ${task.id}`);
    await done(task, "slowReport");
  } finally {
    running = false;
    clearTimeout(stopwatch);
  }
}

/** task.name "task.explode": an async handler that fails (its promise rejects). */
export async function explode(task: Task): Promise<void> {
  await sleep(5);
  throw new Error(`boom: ${task.id} failed after it started`);
}

/** task.name "task.explode-now": a plain function that throws before it returns anything. */
export function explodeNow(task: Task): void {
  throw new Error(`boom now: ${task.id} failed at once`);
}
