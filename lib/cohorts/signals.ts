/**
 * Who needs an instructor's attention, from facts the platform stored: a learner who keeps failing
 * the same check (graded runs in a row since that check last passed), and a learner who has gone
 * quiet. Pure functions, so the thresholds are tested on their edges without a database.
 */

/** One check's outcome in one graded run. */
export interface CheckOutcome {
  labId: string;
  checkId: string;
  passed: boolean;
  at: Date;
}

export interface StuckOn {
  labId: string;
  checkId: string;
  /** Graded runs in a row that failed this check, since it last passed (or ever). */
  fails: number;
  since: Date;
}

/** Checks failed at least `threshold` graded runs in a row up to now, worst first. */
export function stuckChecks(outcomes: CheckOutcome[], threshold: number): StuckOn[] {
  const streaks = new Map<string, StuckOn>();
  for (const o of [...outcomes].sort((a, b) => a.at.getTime() - b.at.getTime())) {
    const key = `${o.labId}\u0000${o.checkId}`;
    if (o.passed) streaks.delete(key);
    else {
      const s = streaks.get(key);
      streaks.set(key, s ? { ...s, fails: s.fails + 1 } : { labId: o.labId, checkId: o.checkId, fails: 1, since: o.at });
    }
  }
  return [...streaks.values()].filter((s) => s.fails >= threshold).sort((a, b) => b.fails - a.fails || a.since.getTime() - b.since.getTime());
}

/** Whole days since the last activity, or null for a learner who has done nothing yet. */
export function idleDays(lastActivity: Date | null, now: Date): number | null {
  return lastActivity ? Math.floor((now.getTime() - lastActivity.getTime()) / 86_400_000) : null;
}

export type RequirementState = "met" | "late" | "open" | "overdue";

/** met: done by the due date (or there is none); late: done after it; open: not done, not due; overdue: not done, past due. */
export function requirementState(metAt: Date | null, dueAt: Date | null, now: Date): RequirementState {
  if (metAt) return dueAt && metAt > dueAt ? "late" : "met";
  return dueAt && now > dueAt ? "overdue" : "open";
}
