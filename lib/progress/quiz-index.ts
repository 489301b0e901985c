import "server-only";
import { course } from "../content/index.ts";
import type { QuizIndex } from "./grade.ts";

/** Question ids of every lesson's quiz, for grading quiz checklist items. */
export function quizIndex(): QuizIndex {
  return new Map(course().milestones.flatMap((m) => m.lessons.map((l) => [l.frontmatter.id, l.frontmatter.quiz.map((q) => q.id)] as const)));
}
