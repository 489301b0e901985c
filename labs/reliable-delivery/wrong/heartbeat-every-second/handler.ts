// Read-only: the work a task does. It leaves a trace the grader reads, so it can tell a task that
// ran twice from one that ran once, and one that never finished from one that did.
import { createRedis, sleep, workerName } from "@faultline/lab";

export interface Task {
  id: string;
  /** How long the work takes, in milliseconds. */
  ms: number;
  /**
   * Only on some of the grader's tasks: how the task's first attempt goes instead. `ms`: it takes
   * that long. `fail`: "reject" fails after `ms` (default task.ms); "hang" never settles; "throw"
   * throws at once, synchronously, the first time each worker process runs the task.
   */
  first?: { ms?: number; fail?: "throw" | "reject" | "hang" };
}

const redis = createRedis();
/** Tasks this process has already thrown for ("throw" fails once per process). */
const thrown = new Set<string>();

/**
 * Runs one task: records that it started (and where), works for task.ms, records that it
 * finished. Its first attempt may fail instead (task.first), the way real work does.
 */
export function handle(task: Task): Promise<void> {
  if (task.first?.fail === "throw" && !thrown.has(task.id)) {
    thrown.add(task.id);
    throw new Error(`handler for ${task.id} threw`);
  }
  return run(task);
}

async function run(task: Task): Promise<void> {
  const replies = await redis.multi().hincrby("effects:attempts", task.id, 1).rpush("effects:started", task.id).hset("effects:worker", task.id, workerName).exec();
  const attempt = Number(replies?.[0]?.[1] ?? 0);
  const first = attempt === 1 ? task.first : undefined;
  if (first?.fail === "hang") return new Promise<void>(() => {});
  await sleep(first?.ms ?? task.ms);
  if (first?.fail === "reject") {
    await redis.rpush("effects:failed", task.id);
    throw new Error(`handler for ${task.id} failed after ${first.ms ?? task.ms} ms`);
  }
  await redis.rpush("effects:done", task.id);
}
