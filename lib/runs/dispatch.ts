/**
 * Run dispatch through BullMQ on the platform Redis (docs/architecture.md "How it scales out": no
 * home-made queue). The job id is the submission id, so a retried POST never queues a run twice.
 * A runner that dies mid-run stops renewing its lock; BullMQ finds the stalled job and hands it
 * to another runner, and after `maxStalledCount` such losses the job fails as infrastructure,
 * never as the learner's.
 *
 * Fairness: runs go through two lanes, each its own queue with its own slots on every runner.
 * Checks (`mode: "check"`, seconds each) never wait behind playground runs (`mode: "run"`, up to
 * a minute each), so learners holding long runs cannot starve anyone's check; and since a
 * learner's new run cancels their previous one, each learner holds at most one place in a lane,
 * which makes each lane's FIFO order a round robin over learners.
 */
import { Queue, Worker, type Job } from "bullmq";
import type { QueueDepth } from "../metrics/store.ts";

export type Lane = "check" | "run";
export const LANES: readonly Lane[] = ["check", "run"];
/** The queue name of each lane; "runs" is the historical name, kept so queued checks survive an upgrade. */
export const LANE_QUEUES: Record<Lane, string> = { check: "runs", run: "playground" };
export const laneOf = (mode: "run" | "check"): Lane => (mode === "run" ? "run" : "check");

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

/** A producer handle on one lane's queue. */
export function openRunQueue(redisUrl: string, prefix: string, lane: Lane = "check"): Queue<RunJobData> {
  return new Queue<RunJobData>(LANE_QUEUES[lane], {
    connection: connection(redisUrl),
    prefix: bullPrefix(prefix),
    defaultJobOptions: { attempts: 1, removeOnComplete: { age: 3600, count: 5000 }, removeOnFail: { age: 24 * 3600 } },
  });
}

/** waiting: queued and not started yet (BullMQ's waiting, prioritized and delayed); active: being run now. */
export type { QueueDepth };

export type RunQueues = Record<Lane, Queue<RunJobData>>;
export type LaneDepths = Record<Lane, QueueDepth>;

export async function queueDepth(queue: Pick<Queue, "getJobCounts">): Promise<QueueDepth> {
  const counts = await queue.getJobCounts("waiting", "prioritized", "delayed", "active");
  return { waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0), active: counts.active ?? 0 };
}

/** Each lane's depth, read at once. */
export async function laneDepths(queues: Record<Lane, Pick<Queue, "getJobCounts">>): Promise<LaneDepths> {
  const [check, run] = await Promise.all([queueDepth(queues.check), queueDepth(queues.run)]);
  return { check, run };
}

export const totalDepth = (d: LaneDepths): QueueDepth => ({ waiting: d.check.waiting + d.run.waiting, active: d.check.active + d.run.active });

/** Queues a run; queuing the same submission again is a no-op. */
export async function enqueueRun(queue: Queue<RunJobData>, submissionId: string): Promise<void> {
  await queue.add("run", { submissionId }, { jobId: submissionId });
}

export interface ConsumerOptions extends DispatchTimings {
  redisUrl: string;
  prefix: string;
  /** @default "check" */
  lane?: Lane;
  concurrency: number;
  handle: (job: Job<RunJobData>) => Promise<void>;
}

export function startRunConsumer(consumer: ConsumerOptions): Worker<RunJobData> {
  return new Worker<RunJobData>(LANE_QUEUES[consumer.lane ?? "check"], consumer.handle, {
    connection: connection(consumer.redisUrl),
    prefix: bullPrefix(consumer.prefix),
    concurrency: consumer.concurrency,
    lockDuration: consumer.lockDurationMs ?? 30_000,
    stalledInterval: consumer.stalledIntervalMs ?? 15_000,
    maxStalledCount: consumer.maxStalledCount ?? 2,
  });
}
