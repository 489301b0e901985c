/**
 * Everything the progress dashboard shows, from one module and a fixed number of queries whatever
 * the learner's history: grades per milestone with the next step, runs per lab, time spent and
 * the streak. The milestone and lesson pages grade through the same loadEvidence + gradeMilestone.
 */
import type { CourseMilestone } from "../content/loader.ts";
import type { Db } from "../db/client.ts";
import type { LoadedLab } from "../labs/loader.ts";
import { loadEvidence } from "./evidence.ts";
import { gradeMilestone, type ItemState, type MilestoneGrade, type QuizIndex } from "./grade.ts";

export interface NextStep {
  text: string;
  href?: string;
}

export interface MilestoneProgress {
  milestone: CourseMilestone;
  grade: MilestoneGrade;
  next?: NextStep;
  certificateId?: string;
}

export interface LabHistory {
  labId: string;
  title: string;
  slug?: string;
  runs: number;
  checks: number;
  passes: number;
  lastStatus: string;
  lastAt: Date;
  medianMs: number | null;
}

export interface ProgressOverview {
  milestones: MilestoneProgress[];
  labs: LabHistory[];
  recent: { id: string; labId: string; mode: string; status: string; durationMs: number | null; createdAt: Date }[];
  totals: { runs: number; graded: number; lessonsCompleted: number; lessonMinutes: number; runMinutes: number; activeDays: number; streakDays: number };
}

const day = (d: Date) => d.toISOString().slice(0, 10);

/** Consecutive days with activity, ending today or (if nothing yet today) yesterday. */
export function streak(days: Set<string>, now: Date): number {
  const cursor = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  if (!days.has(day(cursor))) cursor.setUTCDate(cursor.getUTCDate() - 1);
  let n = 0;
  while (days.has(day(cursor))) {
    n++;
    cursor.setUTCDate(cursor.getUTCDate() - 1);
  }
  return n;
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function nextStep(m: CourseMilestone, item: ItemState | undefined, labs: Map<string, LoadedLab>): NextStep | undefined {
  if (!item) return undefined;
  const def = m.milestone.checklist.find((i) => i.id === item.id)!;
  const by = def.satisfiedBy;
  if (by.kind === "checks") {
    const lab = labs.get(by.lab);
    return lab
      ? { text: `${item.title}: pass ${by.checks.join(", ")} in the lab “${lab.lab.title}”.`, href: `/labs/${lab.lab.slug}` }
      : { text: `${item.title}: its lab, ${by.lab}, is in preparation.` };
  }
  if (by.kind === "quiz") {
    const lesson = m.lessons.find((l) => by.lessons.includes(l.frontmatter.id));
    return {
      text: `${item.title}: answer the quiz${by.lessons.length > 1 ? "zes" : ""} correctly.`,
      ...(lesson ? { href: `/learn/${m.slug}/${lesson.slug}#quiz` } : {}),
    };
  }
  return { text: `${item.title}: write your reflection.`, href: `/progress#reflect-${m.milestone.id}-${item.id}` };
}

export async function progressOverview(
  db: Db,
  userId: string,
  course: { milestones: CourseMilestone[] },
  quizzes: QuizIndex,
  labs: LoadedLab[],
  now = new Date(),
): Promise<ProgressOverview> {
  const [evidence, runs, lessons, answers, certificates] = await Promise.all([
    loadEvidence(db, userId),
    db.submission.findMany({
      where: { userId },
      select: { id: true, labId: true, mode: true, status: true, durationMs: true, createdAt: true },
      orderBy: { createdAt: "desc" },
    }),
    db.lessonProgress.findMany({ where: { userId }, select: { lessonId: true, visitedAt: true, completedAt: true } }),
    db.quizAnswer.findMany({ where: { userId }, select: { answeredAt: true } }),
    db.certificate.findMany({ where: { userId }, select: { id: true, milestoneId: true } }),
  ]);
  const labById = new Map(labs.map((l) => [l.lab.id, l]));
  const certificateOf = new Map(certificates.map((c) => [c.milestoneId, c.id]));

  const milestones = course.milestones.map((m): MilestoneProgress => {
    const grade = gradeMilestone(m.milestone, quizzes, evidence);
    const next =
      grade.passed && grade.satisfied === grade.total
        ? undefined
        : nextStep(
            m,
            grade.items.find((i) => !i.satisfied),
            labById,
          );
    const certificateId = certificateOf.get(m.milestone.id);
    return { milestone: m, grade, ...(next ? { next } : {}), ...(certificateId ? { certificateId } : {}) };
  });

  const perLab = new Map<string, typeof runs>();
  for (const run of runs) perLab.set(run.labId, [...(perLab.get(run.labId) ?? []), run]);
  const labHistory = [...perLab].map(([labId, list]): LabHistory => {
    const graded = list.filter((r) => r.mode === "check");
    const lab = labById.get(labId);
    return {
      labId,
      title: lab?.lab.title ?? labId,
      ...(lab ? { slug: lab.lab.slug } : {}),
      runs: list.length,
      checks: graded.length,
      passes: graded.filter((r) => r.status === "pass").length,
      lastStatus: list[0]!.status,
      lastAt: list[0]!.createdAt,
      medianMs: median(list.flatMap((r) => (r.durationMs === null || r.status === "cancelled" ? [] : [r.durationMs]))),
    };
  });

  const minutesOf = new Map(course.milestones.flatMap((m) => m.lessons.map((l) => [l.frontmatter.id, l.frontmatter.minutes] as const)));
  const completed = lessons.filter((l) => l.completedAt);
  const days = new Set([
    ...runs.map((r) => day(r.createdAt)),
    ...lessons.map((l) => day(l.visitedAt)),
    ...completed.map((l) => day(l.completedAt!)),
    ...answers.map((a) => day(a.answeredAt)),
  ]);
  return {
    milestones,
    labs: labHistory.sort((a, b) => b.lastAt.getTime() - a.lastAt.getTime()),
    recent: runs.slice(0, 15),
    totals: {
      runs: runs.length,
      graded: runs.filter((r) => r.mode === "check").length,
      lessonsCompleted: completed.length,
      lessonMinutes: completed.reduce((sum, l) => sum + (minutesOf.get(l.lessonId) ?? 0), 0),
      runMinutes: Math.round(runs.reduce((sum, r) => sum + (r.durationMs ?? 0), 0) / 60_000),
      activeDays: days.size,
      streakDays: streak(days, now),
    },
  };
}
