/**
 * Run dispatch through BullMQ on the platform Redis (ARCHITECTURE.md: no home-made queue). The
 * job id is the submission id, so a retried POST never queues a run twice. A runner that dies
 * mid-run stops renewing its lock; BullMQ finds the stalled job and hands it to another runner,
 * and after `maxStalledCount` such losses the job fails as infrastructure, never as the learner's.
 */
import { Queue, Worker, type Job } from "bullmq";

export const RUNS_QUEUE = "runs";

export interface RunJobData {
  submissionId: string;
}

export interface DispatchTimings {
  /** How long a runner's claim on a job lasts without renewal. @default 30000 */
  lockDurationMs?: number;
  /** How often runners look for jobs whose claim lapsed. @default 15000 */
  stalledIntervalMs?: number;
  /** Runner losses a job survives before it fails. @default 2 */
  maxStalledCount?: number;
}

const connection = (redisUrl: string) => ({ url: redisUrl, maxRetriesPerRequest: null });
const bullPrefix = (prefix: string) => `${prefix}bull`;

export function runsQueue(redisUrl: string, prefix: string): Queue<RunJobData> {
  return new Queue<RunJobData>(RUNS_QUEUE, {
    connection: connection(redisUrl),
    prefix: bullPrefix(prefix),
    defaultJobOptions: { attempts: 1, removeOnComplete: { age: 3600, count: 5000 }, removeOnFail: { age: 24 * 3600 } },
  });
}

export interface QueueDepth {
  /** Queued and not started yet (BullMQ's waiting, prioritized and delayed). */
  waiting: number;
  /** Being graded now. */
  active: number;
}

export async function queueDepth(queue: Pick<Queue, "getJobCounts">): Promise<QueueDepth> {
  const counts = await queue.getJobCounts("waiting", "prioritized", "delayed", "active");
  return { waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0), active: counts.active ?? 0 };
}

/** Queues a run; queuing the same submission again is a no-op. */
export async function enqueueRun(queue: Queue<RunJobData>, submissionId: string): Promise<void> {
  await queue.add("run", { submissionId }, { jobId: submissionId });
}

export interface ConsumerOptions extends DispatchTimings {
  redisUrl: string;
  prefix: string;
  concurrency: number;
  handle: (job: Job<RunJobData>) => Promise<void>;
}

export function startRunConsumer(o: ConsumerOptions): Worker<RunJobData> {
  return new Worker<RunJobData>(RUNS_QUEUE, o.handle, {
    connection: connection(o.redisUrl),
    prefix: bullPrefix(o.prefix),
    concurrency: o.concurrency,
    lockDuration: o.lockDurationMs ?? 30_000,
    stalledInterval: o.stalledIntervalMs ?? 15_000,
    maxStalledCount: o.maxStalledCount ?? 2,
  });
}
