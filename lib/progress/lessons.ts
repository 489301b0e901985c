/**
 * A learner's reading: visits (for "continue where you left off"), completions, and quiz answers
 * graded on the server against the lesson's frontmatter, so the browser never decides what is
 * correct.
 */
import { z } from "zod";
import { currentTranslation } from "../content/lock.ts";
import type { Db } from "../db/client.ts";
import { env } from "../env.ts";
import type { Milestone, QuizQuestion } from "../content/schema.ts";
import { creditsFromQuizzes, storeCredits } from "./credits.ts";
import type { QuizIndex } from "./grade.ts";
import { RequestError } from "../errors.ts";

export async function recordVisit(db: Db, userId: string, lessonId: string): Promise<void> {
  const now = new Date();
  await db.lessonProgress.upsert({
    where: { userId_lessonId: { userId, lessonId } },
    create: { userId, lessonId, visitedAt: now },
    update: { visitedAt: now },
  });
}

export async function setComplete(db: Db, userId: string, lessonId: string, complete: boolean): Promise<void> {
  const completedAt = complete ? new Date() : null;
  await db.lessonProgress.upsert({ where: { userId_lessonId: { userId, lessonId } }, create: { userId, lessonId, completedAt }, update: { completedAt } });
}

export interface LessonState {
  visitedAt: Date;
  completedAt: Date | null;
}

export async function lessonStates(db: Db, userId: string): Promise<Map<string, LessonState>> {
  const rows = await db.lessonProgress.findMany({ where: { userId }, select: { lessonId: true, visitedAt: true, completedAt: true } });
  // A lesson renamed since is read under its new id (lib/content/lock.ts).
  const ids = currentTranslation(env().courseDir);
  return new Map(
    rows.flatMap((r) => {
      const lessonId = ids.lesson(r.lessonId);
      return lessonId === null ? [] : [[lessonId, { visitedAt: r.visitedAt, completedAt: r.completedAt }] as const];
    }),
  );
}

/** The lesson the learner read most recently, if any. */
export async function lastVisited(db: Db, userId: string): Promise<string | null> {
  const row = await db.lessonProgress.findFirst({ where: { userId }, orderBy: { visitedAt: "desc" }, select: { lessonId: true } });
  return row?.lessonId ?? null;
}

export interface QuizResult {
  questionId: string;
  choice: number;
  correct: boolean;
}

export class QuizInputError extends RequestError {
  override name = "QuizInputError";
  constructor(message: string) {
    super(422, message);
  }
}

const Answers = z.record(z.string(), z.coerce.number().int().min(0));

/**
 * Grades and stores answers (question id → chosen index). Unanswered questions are skipped; an
 * answer to a question the lesson does not have, or a choice out of range, is refused.
 */
export async function answerQuiz(
  db: Db,
  userId: string,
  lessonId: string,
  questions: QuizQuestion[],
  input: unknown,
  credit?: { milestones: Milestone[]; quizzes: QuizIndex },
): Promise<QuizResult[]> {
  const parsed = Answers.safeParse(input);
  if (!parsed.success) throw new QuizInputError("Choose one answer per question.");
  const byId = new Map(questions.map((q) => [q.id, q]));
  const results: QuizResult[] = [];
  for (const [questionId, choice] of Object.entries(parsed.data)) {
    const question = byId.get(questionId);
    if (!question) throw new QuizInputError(`This lesson has no question '${questionId}'. Reload the page and answer again.`);
    if (choice >= question.choices.length) throw new QuizInputError(`Question '${questionId}' has no choice ${choice + 1}.`);
    results.push({ questionId, choice, correct: choice === question.answer });
  }
  if (results.length === 0) throw new QuizInputError("Choose an answer to at least one question.");
  await db.$transaction(async (tx) => {
    for (const r of results) {
      await tx.quizAnswer.upsert({
        where: { userId_lessonId_questionId: { userId, lessonId, questionId: r.questionId } },
        create: { userId, lessonId, questionId: r.questionId, choice: r.choice, correct: r.correct },
        update: { choice: r.choice, correct: r.correct, answeredAt: new Date() },
      });
    }
    if (!credit) return;
    // Quiz items this answer completes earn their credit in the same transaction.
    const rows = await tx.quizAnswer.findMany({ where: { userId, correct: true }, select: { lessonId: true, questionId: true } });
    const correct = new Map<string, Set<string>>();
    for (const row of rows) correct.set(row.lessonId, (correct.get(row.lessonId) ?? new Set()).add(row.questionId));
    await storeCredits(tx, userId, creditsFromQuizzes(credit.milestones, credit.quizzes, correct, new Date()));
  });
  return results;
}

export async function quizAnswers(db: Db, userId: string, lessonIds?: string[]): Promise<Map<string, Map<string, { choice: number; correct: boolean }>>> {
  const rows = await db.quizAnswer.findMany({ where: { userId, ...(lessonIds ? { lessonId: { in: lessonIds } } : {}) } });
  const out = new Map<string, Map<string, { choice: number; correct: boolean }>>();
  for (const r of rows) {
    const lesson = out.get(r.lessonId) ?? new Map();
    lesson.set(r.questionId, { choice: r.choice, correct: r.correct });
    out.set(r.lessonId, lesson);
  }
  return out;
}
