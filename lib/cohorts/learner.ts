/**
 * One learner as their instructor sees them: grades per milestone and every run per lab with its
 * check outcomes, newest first. Only for a learner of a cohort the viewer teaches.
 */
import { displayName } from "../auth/names.ts";
import type { Db } from "../db/client.ts";
import { loadEvidence } from "../progress/evidence.ts";
import { gradeMilestone, type QuizIndex } from "../progress/grade.ts";
import { CohortError, cohortForInstructor, type Viewer } from "./cohorts.ts";
import type { Catalog } from "./requirements.ts";

export async function learnerOfCohort(db: Db, viewer: Viewer, cohortId: string, userId: string, catalog: Catalog, quizzes: QuizIndex) {
  const cohort = await cohortForInstructor(db, viewer, cohortId);
  const member = await db.cohortMember.findUnique({
    where: { cohortId_userId: { cohortId, userId } },
    select: { joinedAt: true, role: true, user: { select: { id: true, name: true, email: true } } },
  });
  if (!member || member.role !== "learner") throw new CohortError(404, "This person is not a learner of the cohort.");
  const [evidence, runs] = await Promise.all([
    loadEvidence(db, userId),
    db.submission.findMany({
      where: { userId },
      orderBy: { createdAt: "desc" },
      take: 500,
      select: {
        id: true,
        labId: true,
        mode: true,
        status: true,
        durationMs: true,
        createdAt: true,
        checks: { select: { checkId: true, status: true }, orderBy: { position: "asc" } },
      },
    }),
  ]);
  const labs = new Map<string, typeof runs>();
  for (const run of runs) labs.set(run.labId, [...(labs.get(run.labId) ?? []), run]);
  return {
    cohort: { id: cohort.id, name: cohort.name },
    learner: { ...member.user, name: displayName(member.user), joinedAt: member.joinedAt },
    grades: catalog.milestones.map((m) => ({
      id: m.milestone.id,
      code: m.milestone.code,
      title: m.milestone.title,
      grade: gradeMilestone(m.milestone, quizzes, evidence),
    })),
    labs: [...labs].map(([labId, list]) => ({ labId, title: catalog.labs.find((l) => l.lab.id === labId)?.lab.title ?? labId, runs: list })),
  };
}
