// Read-only: the work a job does. It leaves a trace the grader reads, so it can tell a job that
// ran twice from one that ran once, and one that never finished from one that did.
import { createRedis, sleep, workerName } from "@faultline/lab";

export interface Job {
  id: string;
  /** How long the work takes, in milliseconds. */
  ms: number;
}

const redis = createRedis();

/** Runs one job: records that it started (and where), works for job.ms, records that it finished. */
export async function handle(job: Job): Promise<void> {
  await redis.multi().rpush("effects:started", job.id).hset("effects:worker", job.id, workerName).exec();
  await sleep(job.ms);
  await redis.rpush("effects:done", job.id);
}

/** A stream entry's flat field list ["id", "j1", "ms", "300"] as a Job. */
export function toJob(fields: string[]): Job {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i]!, fields[i + 1]!);
  return { id: map.get("id") ?? "", ms: Number(map.get("ms") ?? 0) };
}
