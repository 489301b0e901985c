/**
 * A milestone's grade from its checklist and a learner's evidence: a pure function, so the rules
 * are tested on their edge cases without a database. A check item needs all its named checks
 * passing in one graded run; later failures never undo it. A quiz item needs every question of
 * the named lessons answered correctly. A reflection needs a stored answer.
 */
import type { Milestone } from "../content/schema.ts";

export interface RunEvidence {
  labId: string;
  submissionId: string;
  finishedAt: Date;
  /** Ids of the checks that passed in this run. */
  passed: Set<string>;
}

export interface Evidence {
  runs: RunEvidence[];
  /** Lesson id → ids of questions whose latest answer is correct. */
  correctAnswers: Map<string, Set<string>>;
  /** Checklist item id → when its reflection was written. */
  reflections: Map<string, Date>;
}

export type ItemProof =
  | { kind: "checks"; labId: string; submissionId: string; at: Date }
  | { kind: "quiz"; lessons: string[] }
  | { kind: "reflection"; at: Date };

export interface ItemState {
  id: string;
  title: string;
  satisfied: boolean;
  proof?: ItemProof;
  /** What is still missing, in words, when not satisfied. */
  missing?: string;
}

export interface MilestoneGrade {
  items: ItemState[];
  satisfied: number;
  total: number;
  percent: number;
  passed: boolean;
}

/** Question ids of each lesson's quiz, for quiz items. */
export type QuizIndex = Map<string, string[]>;

export function gradeMilestone(milestone: Milestone, quizzes: QuizIndex, evidence: Evidence): MilestoneGrade {
  const items = milestone.checklist.map((item): ItemState => {
    const base = { id: item.id, title: item.title };
    const by = item.satisfiedBy;
    if (by.kind === "checks") {
      const run = evidence.runs
        .filter((r) => r.labId === by.lab && by.checks.every((c) => r.passed.has(c)))
        .sort((a, b) => a.finishedAt.getTime() - b.finishedAt.getTime())[0];
      if (run) return { ...base, satisfied: true, proof: { kind: "checks", labId: by.lab, submissionId: run.submissionId, at: run.finishedAt } };
      return { ...base, satisfied: false, missing: `Pass ${by.checks.length === 1 ? "the check" : `all ${by.checks.length} checks`} ${by.checks.join(", ")} of the lab ${by.lab} in one graded run.` };
    }
    if (by.kind === "quiz") {
      const open = by.lessons.filter((lesson) => {
        const correct = evidence.correctAnswers.get(lesson) ?? new Set<string>();
        const questions = quizzes.get(lesson) ?? [];
        return questions.length === 0 || questions.some((q) => !correct.has(q));
      });
      if (open.length === 0) return { ...base, satisfied: true, proof: { kind: "quiz", lessons: by.lessons } };
      return { ...base, satisfied: false, missing: `Answer every question correctly in the quiz of ${open.join(", ")}.` };
    }
    const at = evidence.reflections.get(item.id);
    if (at) return { ...base, satisfied: true, proof: { kind: "reflection", at } };
    return { ...base, satisfied: false, missing: `Write a reflection of at least ${by.minWords} words.` };
  });
  const satisfied = items.filter((i) => i.satisfied).length;
  const total = items.length;
  const percent = total === 0 ? 0 : Math.floor((satisfied * 100) / total);
  return { items, satisfied, total, percent, passed: total > 0 && percent >= milestone.passPercent };
}
