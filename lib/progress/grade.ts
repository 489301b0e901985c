/**
 * A milestone's grade from its checklist and a learner's evidence: a pure function, so the rules
 * are tested on their edge cases without a database. A check item needs all its named checks
 * passing in one graded run (or, where it declares `partial`, earns the share it passed); a quiz
 * item needs every question of the named lessons answered correctly; a reflection needs a stored
 * answer. Credits recorded when an item was earned (credits.ts) keep it earned whatever later
 * runs do, and an item whose definition changed since is flagged rather than silently regraded.
 */
import type { ChecklistItem, Milestone } from "../content/schema.ts";
import { creditKey, type Credit } from "./credits.ts";
import { checksEarned, openQuizLessons } from "./rules.ts";

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
  /** creditKey(milestone, item) → when its reflection was written. */
  reflections: Map<string, Date>;
  /** creditKey(milestone, item) → the credit recorded when it was earned. */
  credits: Map<string, Credit>;
}

export type ItemProof =
  | { kind: "checks"; labId: string; submissionId: string; at: Date; checks: string[] }
  | { kind: "quiz"; lessons: string[]; at?: Date }
  | { kind: "reflection"; at: Date };

export interface ItemState {
  id: string;
  title: string;
  satisfied: boolean;
  /** Share earned, 0…1 (between only for items with partial credit). */
  fraction: number;
  weight: number;
  proof?: ItemProof;
  /** What is still missing, in words, when not satisfied. */
  missing?: string;
  /** Set when the item was earned under a definition the author has changed since. */
  changed?: string;
}

export interface MilestoneGrade {
  items: ItemState[];
  satisfied: number;
  total: number;
  /** Weighted share of the checklist earned, in whole percent (rounded down). */
  percent: number;
  passed: boolean;
}

/** Question ids of each lesson's quiz, for quiz items. */
export type QuizIndex = Map<string, string[]>;

type Live = { fraction: number; proof?: ItemProof; missing?: string };

function liveChecks(by: Extract<ChecklistItem["satisfiedBy"], { kind: "checks" }>, evidence: Evidence): Live {
  const runs = evidence.runs.filter((r) => r.labId === by.lab).sort((a, b) => a.finishedAt.getTime() - b.finishedAt.getTime());
  let best: { run: RunEvidence; checks: string[]; fraction: number } | undefined;
  for (const run of runs) {
    const earned = checksEarned(by, run.passed);
    if (!best || earned.checks.length > best.checks.length) best = { run, ...earned };
    if (earned.fraction === 1) break; // the first full pass is the proof
  }
  const missing = `Pass ${by.checks.length === 1 ? "the check" : `all ${by.checks.length} checks`} ${by.checks.join(", ")} of the lab ${by.lab} in one graded run.`;
  if (!best || best.checks.length === 0) return { fraction: 0, missing };
  const { fraction } = best;
  const proof: ItemProof = { kind: "checks", labId: by.lab, submissionId: best.run.submissionId, at: best.run.finishedAt, checks: best.checks };
  return fraction === 1 ? { fraction, proof } : { fraction, ...(fraction > 0 ? { proof } : {}), missing };
}

function live(milestone: Milestone, item: ChecklistItem, quizzes: QuizIndex, evidence: Evidence): Live {
  const by = item.satisfiedBy;
  if (by.kind === "checks") return liveChecks(by, evidence);
  if (by.kind === "quiz") {
    const open = openQuizLessons(by.lessons, quizzes, evidence.correctAnswers);
    if (open.length === 0) return { fraction: 1, proof: { kind: "quiz", lessons: by.lessons } };
    return { fraction: 0, missing: `Answer every question correctly in the quiz of ${open.join(", ")}.` };
  }
  const at = evidence.reflections.get(creditKey(milestone.id, item.id));
  if (at) return { fraction: 1, proof: { kind: "reflection", at } };
  return { fraction: 0, missing: `Write a reflection of at least ${by.minWords} words.` };
}

function creditProof(credit: Credit): ItemProof | undefined {
  if (credit.kind === "checks" && credit.labId && credit.submissionId)
    return { kind: "checks", labId: credit.labId, submissionId: credit.submissionId, at: credit.earnedAt, checks: credit.basis };
  if (credit.kind === "quiz") return { kind: "quiz", lessons: credit.basis, at: credit.earnedAt };
  if (credit.kind === "reflection") return { kind: "reflection", at: credit.earnedAt };
  return undefined;
}

/** Why a recorded credit no longer matches the item as the author defines it now, if it does not. */
function changedSince(item: ChecklistItem, credit: Credit): string | undefined {
  const by = item.satisfiedBy;
  if (by.kind !== credit.kind) return "You earned this item when it asked for something else; it stays earned.";
  if (by.kind === "checks") {
    const added = by.checks.filter((c) => !credit.basis.includes(c));
    if (credit.labId !== by.lab) return `You earned this item in the lab ${credit.labId}; it now asks for ${by.lab}. It stays earned.`;
    if (added.length > 0 && credit.fraction === 1)
      return `The lab gained ${added.length === 1 ? "a check" : "checks"} (${added.join(", ")}) since you earned this item; it stays earned.`;
  }
  return undefined;
}

export function gradeMilestone(milestone: Milestone, quizzes: QuizIndex, evidence: Evidence): MilestoneGrade {
  const items = milestone.checklist.map((item): ItemState => {
    const base = { id: item.id, title: item.title, weight: item.weight };
    const now = live(milestone, item, quizzes, evidence);
    const credit = evidence.credits.get(creditKey(milestone.id, item.id));
    if (credit && credit.fraction > now.fraction) {
      const proof = creditProof(credit);
      const changed = changedSince(item, credit);
      const state: ItemState = {
        ...base,
        satisfied: credit.fraction >= 1,
        fraction: credit.fraction,
        ...(proof ? { proof } : {}),
        ...(changed ? { changed } : {}),
      };
      return credit.fraction >= 1 ? state : { ...state, ...(now.missing ? { missing: now.missing } : {}) };
    }
    return {
      ...base,
      satisfied: now.fraction >= 1,
      fraction: now.fraction,
      ...(now.proof ? { proof: now.proof } : {}),
      ...(now.missing ? { missing: now.missing } : {}),
    };
  });
  const satisfied = items.filter((i) => i.satisfied).length;
  const total = items.length;
  const weights = items.reduce((sum, i) => sum + i.weight, 0);
  const earned = items.reduce((sum, i) => sum + i.weight * i.fraction, 0);
  // A tiny epsilon so that, e.g., three thirds make 100, not 99.
  const percent = weights === 0 ? 0 : Math.floor((earned * 100) / weights + 1e-9);
  return { items, satisfied, total, percent, passed: total > 0 && percent >= milestone.passPercent };
}
