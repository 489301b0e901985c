// Read-only: the work a job does. It leaves a trace the grader reads, so it can tell a job that
// ran twice from one that ran once, and one that never finished from one that did. What the job
// produces, handle's return value, is yours to publish.
import { createRedis, sleep, workerName } from "@faultline/lab";

export interface Job {
  id: string;
  /** How long the work takes, in milliseconds. */
  ms: number;
  /** What the job works on; its output is derived from it. */
  input: string;
  /** Set by the grader on some jobs: the first attempt at the job throws. */
  fail?: "throw";
  /** Set by the grader on some jobs: the first attempt takes this long instead of `ms` (it stalls). */
  stallMs?: number;
}

const redis = createRedis();

/**
 * Runs one job: records that it started (where, and which attempt this is), works for job.ms,
 * records that it finished, and returns its output. A job the grader marked fails or stalls on
 * its first attempt only, so a later attempt succeeds.
 */
export async function handle(job: Job): Promise<string> {
  const replies = await redis.multi().hincrby("effects:attempts", job.id, 1).rpush("effects:started", job.id).hset("effects:worker", job.id, workerName).exec();
  const attempt = Number(replies?.[0]?.[1] ?? 1);
  if (attempt === 1 && job.fail === "throw") throw new Error(`handler failed on ${job.id} (attempt 1)`);
  await sleep(attempt === 1 && job.stallMs !== undefined ? job.stallMs : job.ms);
  await redis.rpush("effects:done", job.id);
  return [...job.input].reverse().join("");
}

/** A stream entry's flat field list ["id", "j1", "ms", "300", "input", "…"] as a Job. */
export function toJob(fields: string[]): Job {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i]!, fields[i + 1]!);
  const job: Job = { id: map.get("id") ?? "", ms: Number(map.get("ms") ?? 0), input: map.get("input") ?? "" };
  if (map.get("fail") === "throw") job.fail = "throw";
  if (map.has("stall")) job.stallMs = Number(map.get("stall"));
  return job;
}
