import Link from "next/link";
import { cohortCatalog } from "@/lib/cohorts/catalog";
import { requirementStatus, requirementsOfLearner } from "@/lib/cohorts/requirements";
import { db } from "@/lib/db";
import { loadEvidence } from "@/lib/progress/evidence";
import { gradeMilestone } from "@/lib/progress/grade";
import { quizIndex } from "@/lib/progress/quiz-index";

const stateText = { met: "done", late: "done late", open: "to do", overdue: "overdue" } as const;
const stateStyle = {
  met: "bg-emerald-100 text-emerald-900 dark:bg-emerald-900/50 dark:text-emerald-200",
  late: "bg-amber-100 text-amber-900 dark:bg-amber-900/50 dark:text-amber-200",
  open: "bg-slate-100 text-slate-800 dark:bg-ink-800 dark:text-slate-200",
  overdue: "bg-red-100 text-red-900 dark:bg-red-900/50 dark:text-red-200",
} as const;
const when = (d: Date) => d.toLocaleDateString("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });

/** What the learner's cohorts require (of this milestone or lab, or everything), with due dates and where they stand. */
export async function DueDates({ userId, milestoneId, labId, heading = "Required by your cohort" }: { userId: string; milestoneId?: string; labId?: string; heading?: string }) {
  const catalog = cohortCatalog();
  const labIdsOf = (mid: string) => catalog.milestones.find((m) => m.milestone.id === mid)?.milestone.labs.map((l) => l.id) ?? [];
  const all = await requirementsOfLearner(db(), userId, catalog);
  const wanted = all.filter((r) => {
    if (labId) return r.kind === "lab" && r.target === labId;
    if (milestoneId) return (r.kind === "milestone" && r.target === milestoneId) || (r.kind === "lab" && labIdsOf(milestoneId).includes(r.target));
    return true;
  });
  if (wanted.length === 0) return null;
  const evidence = await loadEvidence(db(), userId);
  const quizzes = quizIndex();
  const grades = new Map(catalog.milestones.map((m) => [m.milestone.id, gradeMilestone(m.milestone, quizzes, evidence)]));
  const now = new Date();
  return (
    <aside aria-labelledby="due-dates" className="rounded-lg border border-brand-200 bg-brand-50 p-4 dark:border-ink-700 dark:bg-ink-900">
      <h2 id="due-dates" className="text-sm font-semibold">{heading}</h2>
      <ul className="mt-2 space-y-1.5 text-sm">
        {wanted.map((r) => {
          const { state } = requirementStatus(r, evidence, grades, now);
          return (
            <li key={r.id} className="flex flex-wrap items-baseline gap-x-2">
              <span className={`rounded px-1.5 py-0.5 text-xs font-medium ${stateStyle[state]}`}>{stateText[state]}</span>
              <Link href={r.href} className="underline">{r.title}</Link>
              <span className="text-slate-700 dark:text-slate-300">{r.dueAt ? `due ${when(r.dueAt)}` : "no due date"} · {r.cohort}</span>
            </li>
          );
        })}
      </ul>
    </aside>
  );
}
