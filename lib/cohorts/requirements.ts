/**
 * What a cohort requires (a milestone passed, or a lab's checks passed in one graded run) and by
 * when; and, for one learner's evidence, whether and when each requirement was met.
 */
import { z } from "zod";
import type { CourseMilestone } from "../content/loader.ts";
import type { Db } from "../db/client.ts";
import type { LoadedLab } from "../labs/loader.ts";
import { loadEvidence } from "../progress/evidence.ts";
import { gradeMilestone, type Evidence, type MilestoneGrade, type QuizIndex } from "../progress/grade.ts";
import { CohortError, cohortForInstructor, type Viewer } from "./cohorts.ts";
import { requirementState, type RequirementState } from "./signals.ts";

export interface Requirement {
  id: string;
  kind: "milestone" | "lab";
  target: string;
  /** For a lab: the required check ids (every check of the lab when the author listed none). */
  checks: string[];
  dueAt: Date | null;
  /** What it asks, in words: "Pass M5 Queues, data and consistency" / "Pass 3 checks of Retries…". */
  title: string;
  href: string;
}

export interface Catalog {
  milestones: CourseMilestone[];
  labs: LoadedLab[];
}

const RequirementInput = z.object({
  target: z.string().regex(/^(milestone|lab):[a-z0-9-]+$/, "Choose a milestone or a lab."),
  checks: z.array(z.string()).default([]),
  // A date input gives "2026-12-24"; the requirement is due at the end of that day, UTC.
  dueDate: z.union([z.literal(""), z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "Give the due date as YYYY-MM-DD.")]).default(""),
});
export type RequirementInput = z.input<typeof RequirementInput>;

function dueAtOf(date: string): Date | null {
  if (!date) return null;
  const at = new Date(`${date}T23:59:59.999Z`);
  if (Number.isNaN(at.getTime()) || at.toISOString().slice(0, 10) !== date) throw new CohortError(422, `${date} is not a date on the calendar.`);
  return at;
}

/** Adds a requirement, or changes the checks and date of the one already set for that target. */
export async function setRequirement(db: Db, viewer: Viewer, cohortId: string, input: RequirementInput, catalog: Catalog): Promise<void> {
  await cohortForInstructor(db, viewer, cohortId);
  const data = RequirementInput.parse(input);
  const [kind, target] = data.target.split(":") as ["milestone" | "lab", string];
  let checks: string[] = [];
  if (kind === "milestone") {
    if (!catalog.milestones.some((m) => m.milestone.id === target)) throw new CohortError(422, `There is no milestone "${target}" in this course.`);
  } else {
    const lab = catalog.labs.find((l) => l.lab.id === target);
    if (!lab) throw new CohortError(422, `There is no lab "${target}" in this course.`);
    const known = lab.lab.checks.map((c) => c.id);
    const unknown = data.checks.filter((c) => !known.includes(c));
    if (unknown.length > 0) throw new CohortError(422, `The lab ${target} has no check ${unknown.join(", ")}; its checks are ${known.join(", ")}.`);
    // Every check chosen is the same as none chosen: store [] so checks added to the lab later are required too.
    checks = data.checks.length === known.length ? [] : [...new Set(data.checks)];
  }
  const dueAt = dueAtOf(data.dueDate);
  await db.cohortRequirement.upsert({
    where: { cohortId_kind_target: { cohortId, kind, target } },
    create: { cohortId, kind, target, checks: JSON.stringify(checks), dueAt },
    update: { checks: JSON.stringify(checks), dueAt },
  });
}

export async function removeRequirement(db: Db, viewer: Viewer, cohortId: string, requirementId: string): Promise<void> {
  await cohortForInstructor(db, viewer, cohortId);
  await db.cohortRequirement.deleteMany({ where: { id: requirementId, cohortId } });
}

type Row = { id: string; kind: string; target: string; checks: string; dueAt: Date | null };

/** Stored rows as requirements of this course; rows naming a milestone or lab that is gone are dropped. */
export function describeRequirements(rows: Row[], catalog: Catalog): Requirement[] {
  return rows.flatMap((r): Requirement[] => {
    if (r.kind === "milestone") {
      const m = catalog.milestones.find((x) => x.milestone.id === r.target);
      return m
        ? [
            {
              id: r.id,
              kind: "milestone",
              target: r.target,
              checks: [],
              dueAt: r.dueAt,
              title: `Pass ${m.milestone.code} ${m.milestone.title}`,
              href: `/learn/${m.slug}`,
            },
          ]
        : [];
    }
    const lab = catalog.labs.find((l) => l.lab.id === r.target);
    if (!lab) return [];
    const listed = JSON.parse(r.checks) as string[];
    const checks = listed.length > 0 ? listed : lab.lab.checks.map((c) => c.id);
    const title =
      listed.length > 0
        ? `Pass ${checks.length === 1 ? "the check" : `${checks.length} checks`} ${checks.join(", ")} of the lab “${lab.lab.title}”`
        : `Pass every check of the lab “${lab.lab.title}”`;
    return [{ id: r.id, kind: "lab", target: r.target, checks, dueAt: r.dueAt, title, href: `/labs/${lab.lab.slug}` }];
  });
}

export interface RequirementStatus {
  requirement: Requirement;
  state: RequirementState;
  metAt: Date | null;
}

/** When the requirement was first met by this evidence, or null. */
export function metAt(requirement: Requirement, evidence: Evidence, grades: Map<string, MilestoneGrade>): Date | null {
  if (requirement.kind === "lab") {
    const runs = evidence.runs.filter((r) => r.labId === requirement.target && requirement.checks.every((c) => r.passed.has(c)));
    return runs.length === 0 ? null : new Date(Math.min(...runs.map((r) => r.finishedAt.getTime())));
  }
  const grade = grades.get(requirement.target);
  if (!grade?.passed) return null;
  // Passed: the latest proof among its earned items is when it became so (close enough for a due date).
  const dates = grade.items.flatMap((i) => (i.satisfied && i.proof && "at" in i.proof && i.proof.at ? [i.proof.at.getTime()] : []));
  return dates.length > 0 ? new Date(Math.max(...dates)) : new Date(0);
}

/** Every milestone's grade for one learner's evidence, by milestone id. */
export function gradesOf(catalog: Catalog, quizzes: QuizIndex, evidence: Evidence): Map<string, MilestoneGrade> {
  return new Map(catalog.milestones.map((m) => [m.milestone.id, gradeMilestone(m.milestone, quizzes, evidence)]));
}

export function requirementStatus(requirement: Requirement, evidence: Evidence, grades: Map<string, MilestoneGrade>, now: Date): RequirementStatus {
  const met = metAt(requirement, evidence, grades);
  return { requirement, state: requirementState(met, requirement.dueAt, now), metAt: met };
}

/** The requirements of every cohort a learner belongs to, soonest due first, with the cohort's name. */
export async function requirementsOfLearner(db: Db, userId: string, catalog: Catalog): Promise<(Requirement & { cohort: string })[]> {
  const memberships = await db.cohortMember.findMany({
    where: { userId, role: "learner" },
    select: { cohort: { select: { name: true, requirements: true } } },
  });
  return memberships
    .flatMap(({ cohort }) => describeRequirements(cohort.requirements, catalog).map((r) => ({ ...r, cohort: cohort.name })))
    .sort((a, b) => (a.dueAt?.getTime() ?? Infinity) - (b.dueAt?.getTime() ?? Infinity));
}

/**
 * What a learner's cohorts require of them, and where they stand: everything, or only what
 * concerns one lab, or one milestone (itself or its labs). Soonest due first.
 */
export async function dueDatesOf(
  db: Db,
  userId: string,
  catalog: Catalog,
  quizzes: QuizIndex,
  scope: { milestoneId?: string; labId?: string } = {},
  now = new Date(),
): Promise<(RequirementStatus & { cohort: string })[]> {
  const labsOf = (milestoneId: string) => catalog.milestones.find((m) => m.milestone.id === milestoneId)?.milestone.labs.map((l) => l.id) ?? [];
  const wanted = (await requirementsOfLearner(db, userId, catalog)).filter((r) => {
    if (scope.labId) return r.kind === "lab" && r.target === scope.labId;
    if (scope.milestoneId)
      return (r.kind === "milestone" && r.target === scope.milestoneId) || (r.kind === "lab" && labsOf(scope.milestoneId).includes(r.target));
    return true;
  });
  if (wanted.length === 0) return [];
  const evidence = await loadEvidence(db, userId);
  const grades = gradesOf(catalog, quizzes, evidence);
  return wanted.map(({ cohort, ...requirement }) => ({ ...requirementStatus(requirement, evidence, grades, now), cohort }));
}
