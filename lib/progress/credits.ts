/**
 * Credit for checklist items, recorded when it is earned and never lowered. The grade is computed
 * from credits and live evidence together (grade.ts), so a later failing run cannot take an item
 * back, and an item whose definition an author changed afterwards stays earned but is flagged.
 * The `from…` functions are pure; `storeCredits` takes a transaction client so a run's credits
 * land in the same transaction as its result.
 */
import type { Db } from "../db/client.ts";
import type { Milestone } from "../content/schema.ts";
import type { QuizIndex } from "./grade.ts";
import { checksEarned, openQuizLessons } from "./rules.ts";

export interface Credit {
  milestoneId: string;
  itemId: string;
  kind: "checks" | "quiz" | "reflection";
  labId?: string;
  submissionId?: string;
  /** The check ids (checks) or lesson ids (quiz) this credit was given for. */
  basis: string[];
  /** Share of the item earned, 0 < fraction ≤ 1. */
  fraction: number;
  earnedAt: Date;
}

export const creditKey = (milestoneId: string, itemId: string) => `${milestoneId}/${itemId}`;

/** What one stored graded run earns: every checks item of that lab whose checks it passed. */
export function creditsFromRun(milestones: Milestone[], run: { labId: string; submissionId: string; passed: Set<string>; at: Date }): Credit[] {
  const credits: Credit[] = [];
  for (const m of milestones) {
    for (const item of m.checklist) {
      const by = item.satisfiedBy;
      if (by.kind !== "checks" || by.lab !== run.labId) continue;
      const { checks, fraction } = checksEarned(by, run.passed);
      if (fraction > 0)
        credits.push({
          milestoneId: m.id,
          itemId: item.id,
          kind: "checks",
          labId: run.labId,
          submissionId: run.submissionId,
          basis: checks,
          fraction,
          earnedAt: run.at,
        });
    }
  }
  return credits;
}

/** Quiz items all of whose lessons' questions are now answered correctly. */
export function creditsFromQuizzes(milestones: Milestone[], quizzes: QuizIndex, correct: Map<string, Set<string>>, at: Date): Credit[] {
  const credits: Credit[] = [];
  for (const m of milestones) {
    for (const item of m.checklist) {
      const by = item.satisfiedBy;
      if (by.kind !== "quiz") continue;
      if (openQuizLessons(by.lessons, quizzes, correct).length === 0)
        credits.push({ milestoneId: m.id, itemId: item.id, kind: "quiz", basis: by.lessons, fraction: 1, earnedAt: at });
    }
  }
  return credits;
}

type Tx = Pick<Db, "checklistCredit">;

/** Upserts credits, keeping whichever is larger: an item is never lowered, and the first full credit stays. */
export async function storeCredits(tx: Tx, userId: string, credits: Credit[]): Promise<number> {
  let changed = 0;
  for (const c of credits) {
    const where = { userId_milestoneId_itemId: { userId, milestoneId: c.milestoneId, itemId: c.itemId } };
    const existing = await tx.checklistCredit.findUnique({ where, select: { fraction: true } });
    if (existing && existing.fraction >= c.fraction) continue;
    const data = {
      kind: c.kind,
      labId: c.labId ?? null,
      submissionId: c.submissionId ?? null,
      basis: JSON.stringify(c.basis),
      fraction: c.fraction,
      earnedAt: c.earnedAt,
    };
    await tx.checklistCredit.upsert({ where, create: { userId, milestoneId: c.milestoneId, itemId: c.itemId, ...data }, update: data });
    changed++;
  }
  return changed;
}

/** Each learner's credits, keyed by creditKey, in one query. */
export async function loadCreditsFor(db: Db, userIds: string[]): Promise<Map<string, Map<string, Credit>>> {
  const rows = await db.checklistCredit.findMany({ where: { userId: { in: userIds } } });
  const out = new Map<string, Map<string, Credit>>();
  for (const r of rows) {
    const credit: Credit = {
      milestoneId: r.milestoneId,
      itemId: r.itemId,
      kind: r.kind as Credit["kind"],
      ...(r.labId ? { labId: r.labId } : {}),
      ...(r.submissionId ? { submissionId: r.submissionId } : {}),
      basis: JSON.parse(r.basis) as string[],
      fraction: r.fraction,
      earnedAt: r.earnedAt,
    };
    const mine = out.get(r.userId) ?? new Map<string, Credit>();
    mine.set(creditKey(r.milestoneId, r.itemId), credit);
    out.set(r.userId, mine);
  }
  return out;
}
