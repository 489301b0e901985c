/**
 * Learners' evidence for grading, in four queries whatever their number or history (no N+1):
 * passing checks of graded runs the runner stored (never anything the browser says, and never a
 * replay of a seed the learner chose), correct quiz answers, reflections, and the credits
 * recorded when items were earned. One learner's pages and an instructor's class grid load it
 * the same way.
 */
import type { Db } from "../db/client.ts";
import { creditKey, loadCreditsFor } from "./credits.ts";
import type { Evidence, RunEvidence } from "./grade.ts";

const empty = (): Evidence => ({ runs: [], correctAnswers: new Map(), reflections: new Map(), credits: new Map() });

export async function loadEvidenceFor(db: Db, userIds: string[]): Promise<Map<string, Evidence>> {
  const userId = { in: userIds };
  const [passes, answers, reflections, credits] = await Promise.all([
    db.checkResult.findMany({
      // A replay (a seed the learner chose) is evidence of nothing: it could be the kindest seed of many.
      where: { status: "pass", submission: { userId, mode: "check", replay: false, status: { in: ["pass", "fail"] } } },
      select: { checkId: true, submission: { select: { id: true, userId: true, labId: true, finishedAt: true } } },
    }),
    db.quizAnswer.findMany({ where: { userId, correct: true }, select: { userId: true, lessonId: true, questionId: true } }),
    db.reflection.findMany({ where: { userId }, select: { userId: true, milestoneId: true, itemId: true, writtenAt: true } }),
    loadCreditsFor(db, userIds),
  ]);
  const out = new Map(userIds.map((id) => [id, empty()]));
  const runs = new Map<string, RunEvidence & { userId: string }>();
  for (const { checkId, submission } of passes) {
    const run = runs.get(submission.id) ?? { userId: submission.userId, labId: submission.labId, submissionId: submission.id, finishedAt: submission.finishedAt ?? new Date(0), passed: new Set<string>() };
    run.passed.add(checkId);
    runs.set(submission.id, run);
  }
  for (const { userId: owner, ...run } of runs.values()) out.get(owner)?.runs.push(run);
  for (const a of answers) {
    const correct = out.get(a.userId)?.correctAnswers;
    correct?.set(a.lessonId, (correct.get(a.lessonId) ?? new Set()).add(a.questionId));
  }
  for (const r of reflections) out.get(r.userId)?.reflections.set(creditKey(r.milestoneId, r.itemId), r.writtenAt);
  for (const [owner, map] of credits) {
    const evidence = out.get(owner);
    if (evidence) evidence.credits = map;
  }
  return out;
}

export async function loadEvidence(db: Db, userId: string): Promise<Evidence> {
  return (await loadEvidenceFor(db, [userId])).get(userId)!;
}
