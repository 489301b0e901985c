/**
 * What a runner does with each job from the runs queue: claim the submission, run it, stream its
 * events, and store its result once. A run the learner cancelled stops at once and stores
 * nothing; a run whose events may have been lost, or that the platform failed, ends `error` with
 * a message saying it is not the learner's code.
 */
import type { Job } from "bullmq";
import type { Redis } from "ioredis";
import type { Db } from "../db/client.ts";
import type { Milestone } from "../content/schema.ts";
import type { LoadedLab } from "../labs/loader.ts";
import type { RedisKeys } from "../redis/keys.ts";
import { recordRun } from "../metrics/store.ts";
import { EventSink } from "./event-sink.ts";
import { announceEnded, appendEvent, type RunEvent } from "./events.ts";
import { markRunning, recordResult, type RunResult, type RunView } from "./store.ts";
import type { RunJobData } from "./dispatch.ts";
import { executeRun, type RunOutcome } from "./execute.ts";
import type { PrivateRedisPool } from "../runner/private-redis.ts";
import type { SandboxTier } from "../runner/sandbox/probe.ts";

export interface ConsumerDeps {
  db: Db;
  /** The platform Redis, for run events. */
  redis: Redis;
  keys: RedisKeys;
  labs: () => LoadedLab[];
  /** The course's milestone definitions, for the checklist credit a graded run earns. */
  milestones?: () => Milestone[];
  pool: PrivateRedisPool;
  tier: SandboxTier;
  log: { info(message: string, fields?: object): void; warn(message: string, fields?: object): void; error(message: string, fields?: object): void };
  /** @default 60000 */
  playgroundMs?: number;
}

const NOT_YOUR_CODE = "This is not a problem with your code; run it again.";

/** Stores `error` for a run the platform lost (a runner died too often, the lab vanished). */
export async function recordLostRun(deps: Pick<ConsumerDeps, "db" | "redis" | "keys">, id: string, reason: string): Promise<boolean> {
  const message = `${reason} ${NOT_YOUR_CODE}`;
  const stored = await recordResult(deps.db, id, { status: "error", seed: 0, message, durationMs: 0, checks: [] });
  if (stored) await appendEvent(deps.redis, deps.keys, id, { type: "end", status: "error", seed: 0, message, ms: 0 }).catch(() => {});
  return stored;
}

export function createRunHandler(deps: ConsumerDeps) {
  const active = new Map<string, AbortController>();

  async function handle(job: Job<RunJobData>): Promise<void> {
    const id = job.data.submissionId;
    const submission = await deps.db.submission.findUnique({ where: { id }, select: { labId: true, mode: true, files: true, seed: true, createdAt: true } });
    if (!submission) return deps.log.warn("run not found; skipped", { run: id });
    if (!(await markRunning(deps.db, id))) {
      // A runner that died between storing this run and announcing it left viewers waiting: end the stream from the row.
      const row = await deps.db.submission.findUnique({ where: { id }, select: { status: true, seed: true, message: true, durationMs: true } });
      const announced = await announceEnded(deps.redis, deps.keys, id, row ? { ...row, status: row.status as RunView["status"] } : null).catch(() => false);
      return deps.log.info("run already ended or cancelled; skipped", { run: id, announced });
    }
    const lab = deps.labs().find((l) => l.lab.id === submission.labId);
    if (!lab) {
      await recordLostRun(deps, id, `The lab '${submission.labId}' is no longer installed on this runner.`);
      return;
    }
    // The sink exists from the claim on: a platform Redis that restarts any time after it (even
    // before the first event is written) has lost this run's stream, and the run ends as error.
    const sink = new EventSink(deps.redis, deps.keys, id);
    sink.emit({ type: "started" });
    if (job.attemptsStarted > 1 || job.stalledCounter > 0) {
      sink.emit({ type: "log", stream: "grader", text: "The runner grading this run was lost; another runner is starting it again." });
    }
    await sink.flush();

    const controller = new AbortController();
    active.set(id, controller);
    // executeRun's own end event is dropped: the run ends with the verdict as stored, below.
    const emit = (event: RunEvent) => {
      if (event.type !== "end") sink.emit(event);
    };
    const queueMs = Date.now() - submission.createdAt.getTime();
    let outcome: RunOutcome | null = null;
    let failure: string | null = null;
    try {
      const files = JSON.parse(submission.files) as Record<string, string>;
      outcome = await executeRun(
        { lab, mode: submission.mode, files, seed: submission.seed },
        { pool: deps.pool, tier: deps.tier, emit, signal: controller.signal, playgroundMs: deps.playgroundMs },
      );
    } catch (error) {
      deps.log.error("run failed in the runner", { run: id, err: error });
      failure = `The runner failed while running this (${(error as Error).message}).`;
    } finally {
      active.delete(id);
    }
    if (controller.signal.aborted) {
      await sink.close();
      return deps.log.info("run cancelled", { run: id });
    }
    await sink.flush();
    if (sink.lost) failure ??= `Faultline lost part of this run's live results: ${sink.lost}.`;
    const result: RunResult = failure
      ? {
          status: "error",
          seed: outcome?.seed ?? submission.seed ?? 0,
          message: `${failure} ${NOT_YOUR_CODE}`,
          durationMs: outcome?.durationMs ?? 0,
          checks: outcome?.checks ?? [],
        }
      : outcome!;
    const stored = await recordResult(deps.db, id, result, deps.milestones?.() ?? []);
    if (stored) {
      const timings = outcome ? { queueMs, ...outcome.timings } : { queueMs };
      sink.emit({
        type: "end",
        status: result.status,
        seed: result.seed,
        message: result.message,
        ms: Math.round(result.durationMs),
        timings: Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)])),
      });
    }
    await sink.close();
    if (stored)
      await recordRun(deps.redis, deps.keys, { lab: lab.lab.id, mode: submission.mode, verdict: result.status, durationMs: result.durationMs, queueMs }).catch(
        () => {},
      );
    deps.log.info("run finished", { run: id, lab: lab.lab.id, status: result.status, ms: Math.round(result.durationMs), stored });
  }

  return {
    handle,
    /** Stops a live run on this runner (the learner pressed Run again). */
    cancel(id: string): boolean {
      const controller = active.get(id);
      controller?.abort();
      return controller !== undefined;
    },
    active: () => active.size,
  };
}
