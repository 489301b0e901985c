/**
 * The class grid: every learner of a cohort × every milestone (grade, last activity), who is
 * stuck or idle, and where each stands on the cohort's requirements; plus per-check results for
 * export. A fixed number of queries whatever the class size: members, evidence (four), check
 * outcomes, and last activity (three).
 */
import { displayName } from "../auth/names.ts";
import type { Db } from "../db/client.ts";
import { loadEvidenceFor } from "../progress/evidence.ts";
import type { QuizIndex } from "../progress/grade.ts";
import { cohortForInstructor, type Viewer } from "./cohorts.ts";
import { describeRequirements, gradesOf, requirementStatus, type Catalog, type Requirement, type RequirementStatus } from "./requirements.ts";
import { idleDays, stuckChecks, type CheckOutcome, type StuckOn } from "./signals.ts";

export interface GridCell {
  milestoneId: string;
  percent: number;
  passed: boolean;
  satisfied: number;
  total: number;
}

export interface GridRow {
  userId: string;
  name: string;
  email: string;
  joinedAt: Date;
  lastActivity: Date | null;
  idleDays: number | null;
  idle: boolean;
  stuck: StuckOn[];
  cells: GridCell[];
  requirements: RequirementStatus[];
}

/** A learner's record on one check: graded runs that ran it, passes, the first pass, the latest outcome. */
export interface CheckRecord {
  userId: string;
  labId: string;
  checkId: string;
  runs: number;
  passes: number;
  firstPassAt: Date | null;
  lastStatus: string;
  lastAt: Date;
}

export interface ClassGrid {
  cohort: { id: string; name: string; inviteCode: string; idleDays: number; stuckFails: number };
  milestones: { id: string; code: string; title: string; slug: string }[];
  requirements: Requirement[];
  rows: GridRow[];
  checks: CheckRecord[];
}

/** How many learners have met a requirement, on time or late. */
export const metCount = (rows: GridRow[], requirementId: string) =>
  rows.filter((row) => row.requirements.some((s) => s.requirement.id === requirementId && s.metAt !== null)).length;

const latest = (...dates: (Date | null | undefined)[]) => dates.reduce<Date | null>((a, d) => (d && (!a || d > a) ? d : a), null);

export async function classGrid(db: Db, viewer: Viewer, cohortId: string, catalog: Catalog, quizzes: QuizIndex, now = new Date()): Promise<ClassGrid> {
  const cohort = await cohortForInstructor(db, viewer, cohortId);
  const members = await db.cohortMember.findMany({
    where: { cohortId, role: "learner" },
    select: { joinedAt: true, user: { select: { id: true, name: true, email: true } } },
  });
  const ids = members.map((m) => m.user.id);
  const userId = { in: ids };
  const [evidence, outcomes, lastRun, lastLesson, lastAnswer] = await Promise.all([
    loadEvidenceFor(db, ids),
    db.checkResult.findMany({
      // Replays (a seed the learner chose) are debugging runs: they neither pass nor make anyone stuck.
      where: { status: { in: ["pass", "fail"] }, submission: { userId, mode: "check", replay: false, status: { in: ["pass", "fail"] } } },
      select: { checkId: true, status: true, submission: { select: { userId: true, labId: true, createdAt: true } } },
    }),
    db.submission.groupBy({ by: ["userId"], where: { userId }, _max: { createdAt: true } }),
    db.lessonProgress.groupBy({ by: ["userId"], where: { userId }, _max: { visitedAt: true } }),
    db.quizAnswer.groupBy({ by: ["userId"], where: { userId }, _max: { answeredAt: true } }),
  ]);
  const requirements = describeRequirements(cohort.requirements, catalog);

  const outcomesOf = new Map<string, CheckOutcome[]>();
  const records = new Map<string, CheckRecord>();
  for (const o of outcomes) {
    const { userId: owner, labId, createdAt: at } = o.submission;
    const passed = o.status === "pass";
    outcomesOf.set(owner, [...(outcomesOf.get(owner) ?? []), { labId, checkId: o.checkId, passed, at }]);
    const key = `${owner}\u0000${labId}\u0000${o.checkId}`;
    const r = records.get(key) ?? { userId: owner, labId, checkId: o.checkId, runs: 0, passes: 0, firstPassAt: null, lastStatus: o.status, lastAt: at };
    r.runs++;
    if (passed) {
      r.passes++;
      if (!r.firstPassAt || at < r.firstPassAt) r.firstPassAt = at;
    }
    if (at >= r.lastAt) Object.assign(r, { lastAt: at, lastStatus: o.status });
    records.set(key, r);
  }
  const byUser = <T extends { userId: string }>(rows: T[]) => new Map(rows.map((r) => [r.userId, r]));
  const [runs, lessons, answers] = [byUser(lastRun), byUser(lastLesson), byUser(lastAnswer)];

  const rows = members.map(({ user, joinedAt }): GridRow => {
    const mine = evidence.get(user.id)!;
    const grades = gradesOf(catalog, quizzes, mine);
    const lastActivity = latest(runs.get(user.id)?._max.createdAt, lessons.get(user.id)?._max.visitedAt, answers.get(user.id)?._max.answeredAt);
    const idle = idleDays(lastActivity ?? joinedAt, now);
    return {
      userId: user.id,
      name: displayName(user),
      email: user.email,
      joinedAt,
      lastActivity,
      idleDays: idle,
      idle: idle !== null && idle >= cohort.idleDays,
      stuck: stuckChecks(outcomesOf.get(user.id) ?? [], cohort.stuckFails),
      cells: catalog.milestones.map((m) => {
        const g = grades.get(m.milestone.id)!;
        return { milestoneId: m.milestone.id, percent: g.percent, passed: g.passed, satisfied: g.satisfied, total: g.total };
      }),
      requirements: requirements.map((r) => requirementStatus(r, mine, grades, now)),
    };
  });

  return {
    cohort: { id: cohort.id, name: cohort.name, inviteCode: cohort.inviteCode, idleDays: cohort.idleDays, stuckFails: cohort.stuckFails },
    milestones: catalog.milestones.map((m) => ({ id: m.milestone.id, code: m.milestone.code, title: m.milestone.title, slug: m.slug })),
    requirements,
    rows,
    checks: [...records.values()].sort((a, b) => a.userId.localeCompare(b.userId) || a.labId.localeCompare(b.labId) || a.checkId.localeCompare(b.checkId)),
  };
}
