/**
 * Learners' evidence for grading, in four queries whatever their number or history (no N+1):
 * passing checks of graded runs the runner stored (never anything the browser says, and never a
 * replay of a seed the learner chose), correct quiz answers, reflections, and the credits
 * recorded when items were earned. One learner's pages and an instructor's class grid load it
 * the same way. Evidence stored under ids an author has since renamed is read under the new ids,
 * and evidence for ids removed on purpose is left out (lib/content/lock.ts).
 */
import { currentTranslation, type IdTranslation } from "../content/lock.ts";
import type { Db } from "../db/client.ts";
import { env } from "../env.ts";
import { creditKey, loadCreditsFor, type Credit } from "./credits.ts";
import type { Evidence, RunEvidence } from "./grade.ts";

const empty = (): Evidence => ({ runs: [], correctAnswers: new Map(), reflections: new Map(), credits: new Map() });

export async function loadEvidenceFor(db: Db, userIds: string[], ids: IdTranslation = currentTranslation(env().courseDir)): Promise<Map<string, Evidence>> {
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
    const labId = ids.lab(submission.labId);
    const check = ids.check(submission.labId, checkId);
    if (labId === null || check === null) continue;
    const run = runs.get(submission.id) ?? {
      userId: submission.userId,
      labId,
      submissionId: submission.id,
      finishedAt: submission.finishedAt ?? new Date(0),
      passed: new Set<string>(),
    };
    run.passed.add(check);
    runs.set(submission.id, run);
  }
  for (const { userId: owner, ...run } of runs.values()) out.get(owner)?.runs.push(run);
  for (const a of answers) {
    const lessonId = ids.lesson(a.lessonId);
    const correct = out.get(a.userId)?.correctAnswers;
    if (lessonId !== null) correct?.set(lessonId, (correct.get(lessonId) ?? new Set()).add(a.questionId));
  }
  for (const r of reflections) {
    const item = ids.item(r.milestoneId, r.itemId);
    if (item) out.get(r.userId)?.reflections.set(creditKey(item.milestoneId, item.itemId), r.writtenAt);
  }
  for (const [owner, map] of credits) {
    const evidence = out.get(owner);
    if (evidence) evidence.credits = translateCredits(map, ids);
  }
  return out;
}

/** Credits under today's ids: a renamed item keeps its credit, with its lab and checks renamed too. */
function translateCredits(credits: Map<string, Credit>, ids: IdTranslation): Map<string, Credit> {
  const out = new Map<string, Credit>();
  for (const credit of credits.values()) {
    const item = ids.item(credit.milestoneId, credit.itemId);
    if (!item) continue;
    const labId = credit.labId === undefined ? null : ids.lab(credit.labId);
    const basis =
      credit.kind === "checks" && credit.labId !== undefined
        ? credit.basis.map((c) => ids.check(credit.labId!, c) ?? c)
        : credit.kind === "quiz"
          ? credit.basis.map((l) => ids.lesson(l) ?? l)
          : credit.basis;
    out.set(creditKey(item.milestoneId, item.itemId), { ...credit, ...item, ...(labId !== null ? { labId } : {}), basis });
  }
  return out;
}

export async function loadEvidence(db: Db, userId: string): Promise<Evidence> {
  return (await loadEvidenceFor(db, [userId])).get(userId)!;
}
