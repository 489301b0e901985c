/**
 * What satisfies a checklist item, stated once: grading (grade.ts) and recording credit
 * (credits.ts) both apply these, so the grade shown and the credit stored cannot disagree.
 */
import type { ChecklistItem } from "../content/schema.ts";

type ChecksRule = Extract<ChecklistItem["satisfiedBy"], { kind: "checks" }>;

/** What one run that passed `passed` earns of a checks item: all its checks, or a share if it declares partial credit. */
export function checksEarned(by: ChecksRule, passed: Set<string>): { checks: string[]; fraction: number } {
  const checks = by.checks.filter((c) => passed.has(c));
  const fraction = checks.length === by.checks.length ? 1 : by.partial ? checks.length / by.checks.length : 0;
  return { checks, fraction };
}

/** The named lessons whose quiz is not yet all answered correctly; a lesson without a quiz never counts as done. */
export function openQuizLessons(lessons: string[], quizzes: Map<string, string[]>, correct: Map<string, Set<string>>): string[] {
  return lessons.filter((lesson) => {
    const questions = quizzes.get(lesson) ?? [];
    return questions.length === 0 || questions.some((q) => !correct.get(lesson)?.has(q));
  });
}

/** Words of a reflection, as its minimum counts them: runs of text holding a letter or a digit. */
export const wordCount = (text: string) => text.split(/\s+/).filter((w) => /[\p{L}\p{N}]/u.test(w)).length;
