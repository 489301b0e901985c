/**
 * A learner's evidence for grading, in four queries whatever their history (no N+1): passing
 * checks of graded runs the runner stored (never anything the browser says), correct quiz
 * answers, reflections, and the credits recorded when items were earned.
 */
import type { Db } from "../db/client.ts";
import { creditKey, loadCredits } from "./credits.ts";
import type { Evidence, RunEvidence } from "./grade.ts";

export async function loadEvidence(db: Db, userId: string): Promise<Evidence> {
  const [passes, answers, reflections, credits] = await Promise.all([
    db.checkResult.findMany({
      where: { status: "pass", submission: { userId, mode: "check", status: { in: ["pass", "fail"] } } },
      select: { checkId: true, submission: { select: { id: true, labId: true, finishedAt: true } } },
    }),
    db.quizAnswer.findMany({ where: { userId, correct: true }, select: { lessonId: true, questionId: true } }),
    db.reflection.findMany({ where: { userId }, select: { milestoneId: true, itemId: true, writtenAt: true } }),
    loadCredits(db, userId),
  ]);
  const runs = new Map<string, RunEvidence>();
  for (const { checkId, submission } of passes) {
    const run = runs.get(submission.id) ?? { labId: submission.labId, submissionId: submission.id, finishedAt: submission.finishedAt ?? new Date(0), passed: new Set<string>() };
    run.passed.add(checkId);
    runs.set(submission.id, run);
  }
  const correctAnswers = new Map<string, Set<string>>();
  for (const a of answers) correctAnswers.set(a.lessonId, (correctAnswers.get(a.lessonId) ?? new Set()).add(a.questionId));
  return {
    runs: [...runs.values()],
    correctAnswers,
    reflections: new Map(reflections.map((r) => [creditKey(r.milestoneId, r.itemId), r.writtenAt])),
    credits,
  };
}
