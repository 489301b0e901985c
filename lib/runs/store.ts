/**
 * Submissions and their results in the database. The web creates a submission; only the runner
 * records its outcome, once: a result for a run that already ended (finished, cancelled, or
 * recorded by another runner after a stall) is ignored, so a run is never stored twice.
 */
import type { Db } from "../db/client.ts";
import type { Milestone } from "../content/schema.ts";
import { creditsFromRun, storeCredits } from "../progress/credits.ts";
import type { RoleName } from "../auth/roles.ts";
import { teachesLearner } from "../cohorts/cohorts.ts";
import type { CheckResult, Verdict } from "../grader/result.ts";

export type { Verdict };

/** A check as the runner stores it: the grader's result without the captured output. */
export type CheckOutcome = Omit<CheckResult, "output">;

export interface RunResult {
  status: Verdict;
  seed: number;
  message?: string;
  durationMs: number;
  checks: CheckOutcome[];
}

/**
 * `seed` is the learner's requested seed, kept so a run can be replayed; the runner records the one
 * it used. A run whose seed the learner chose is a replay: graded and shown, never credited (see
 * recordResult). The seed fixes the fault schedule, so a learner free to choose it could search
 * offline for the kindest one; unpredictable ids do not stop that.
 */
export async function createSubmission(db: Db, input: { userId: string; labId: string; mode: "run" | "check"; files: Record<string, string>; seed?: number }) {
  return db.submission.create({
    data: {
      userId: input.userId,
      labId: input.labId,
      mode: input.mode,
      files: JSON.stringify(input.files),
      seed: input.seed ?? null,
      replay: input.seed !== undefined,
    },
    select: { id: true },
  });
}

/** Marks the learner's other live runs cancelled (pressing Run again supersedes them). Returns their ids. */
export async function cancelOtherRuns(db: Db, userId: string, keepId: string): Promise<string[]> {
  const live = await db.submission.findMany({ where: { userId, id: { not: keepId }, status: { in: ["queued", "running"] } }, select: { id: true } });
  if (live.length === 0) return [];
  await db.submission.updateMany({
    where: { id: { in: live.map((s) => s.id) }, status: { in: ["queued", "running"] } },
    data: { status: "cancelled", finishedAt: new Date() },
  });
  return live.map((s) => s.id);
}

/** Cancels one of the learner's own live runs; false when it is not theirs or has already ended. */
export async function cancelRun(db: Db, userId: string, id: string): Promise<boolean> {
  const { count } = await db.submission.updateMany({
    where: { id, userId, status: { in: ["queued", "running"] } },
    data: { status: "cancelled", finishedAt: new Date() },
  });
  return count === 1;
}

/** Claims a submission for running; false when it was cancelled or has already ended. */
export async function markRunning(db: Db, id: string): Promise<boolean> {
  const { count } = await db.submission.updateMany({
    where: { id, status: { in: ["queued", "running"] } },
    data: { status: "running", startedAt: new Date() },
  });
  return count === 1;
}

/**
 * Stores a run's outcome, its checks and the checklist credit it earns in one transaction, so a
 * crash in between can neither lose the credit nor give it twice; false when the run had already
 * ended. `milestones` are the course's definitions (empty: no credit, e.g. for a lost run).
 */
export async function recordResult(db: Db, id: string, result: RunResult, milestones: Milestone[] = []): Promise<boolean> {
  return db.$transaction(async (tx) => {
    const finishedAt = new Date();
    const { count } = await tx.submission.updateMany({
      where: { id, status: { in: ["queued", "running"] } },
      data: { status: result.status, seed: result.seed, message: result.message ?? null, durationMs: Math.round(result.durationMs), finishedAt },
    });
    if (count === 0) return false;
    const passed = new Set(result.checks.filter((c) => c.status === "pass").map((c) => c.id));
    // Only a graded run the platform completed earns credit; an `error` run proves nothing, and a
    // replay (a seed the learner chose) is for debugging, not for credit.
    if (milestones.length > 0 && passed.size > 0 && result.status !== "error") {
      const run = await tx.submission.findUniqueOrThrow({ where: { id }, select: { userId: true, labId: true, mode: true, replay: true } });
      if (run.mode === "check" && !run.replay)
        await storeCredits(tx, run.userId, creditsFromRun(milestones, { labId: run.labId, submissionId: id, passed, at: finishedAt }));
    }
    await tx.checkResult.createMany({
      data: result.checks.map((c, position) => ({
        submissionId: id,
        checkId: c.id,
        title: c.title,
        status: c.status,
        message: c.message ?? null,
        expected: c.expected ?? null,
        actual: c.actual ?? null,
        hint: c.hint ?? null,
        durationMs: Math.round(c.durationMs),
        position,
      })),
    });
    return true;
  });
}

export interface RunView {
  id: string;
  /** Whose run it is: the viewer, or a learner they teach. */
  userId: string;
  lab: string;
  mode: "run" | "check";
  status: "queued" | "running" | Verdict | "cancelled";
  seed: number | null;
  message: string | null;
  durationMs: number | null;
  createdAt: Date;
  finishedAt: Date | null;
  checks: {
    id: string;
    title: string;
    status: string;
    message: string | null;
    expected: string | null;
    actual: string | null;
    hint: string | null;
    durationMs: number;
  }[];
}

/**
 * A run as its owner, an instructor of a cohort they are in, or an admin sees it. Null for an
 * unknown id and for anyone else's run alike, so nobody can probe which run ids exist.
 */
export async function findRun(db: Db, viewer: { id: string; role: RoleName }, id: string): Promise<RunView | null>;
/** With `files`: also the code the run was made with, { path: content }. */
export async function findRun(
  db: Db,
  viewer: { id: string; role: RoleName },
  id: string,
  options: { files: true },
): Promise<(RunView & { files: Record<string, string> }) | null>;
export async function findRun(
  db: Db,
  viewer: { id: string; role: RoleName },
  id: string,
  options: { files?: boolean } = {},
): Promise<(RunView & { files?: Record<string, string> }) | null> {
  const s = await db.submission.findUnique({ where: { id }, include: { checks: { orderBy: { position: "asc" } } } });
  if (!s || !(await teachesLearner(db, viewer, s.userId))) return null;
  return {
    ...(options.files ? { files: JSON.parse(s.files) as Record<string, string> } : {}),
    id: s.id,
    userId: s.userId,
    lab: s.labId,
    mode: s.mode,
    status: s.status,
    seed: s.seed,
    message: s.message,
    durationMs: s.durationMs,
    createdAt: s.createdAt,
    finishedAt: s.finishedAt,
    checks: s.checks.map((c) => ({
      id: c.checkId,
      title: c.title,
      status: c.status,
      message: c.message,
      expected: c.expected,
      actual: c.actual,
      hint: c.hint,
      durationMs: c.durationMs,
    })),
  };
}
