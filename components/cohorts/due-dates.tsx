import Link from "next/link";
import { cohortCatalog } from "@/lib/cohorts/catalog";
import { dueDatesOf } from "@/lib/cohorts/requirements";
import { db } from "@/lib/db";
import { quizIndex } from "@/lib/progress/quiz-index";
import { RequirementBadge } from "./requirement-state";

const stateText = { met: "done", late: "done late", open: "to do", overdue: "overdue" } as const;
const when = (d: Date) => d.toLocaleDateString("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });

/** What the learner's cohorts require (of this milestone or lab, or everything), with due dates and where they stand. */
export async function DueDates({
  userId,
  milestoneId,
  labId,
  heading = "Required by your cohort",
}: {
  userId: string;
  milestoneId?: string;
  labId?: string;
  heading?: string;
}) {
  const due = await dueDatesOf(db(), userId, cohortCatalog(), quizIndex(), { milestoneId, labId });
  if (due.length === 0) return null;
  return (
    <aside aria-labelledby="due-dates" className="rounded-lg border border-brand-200 bg-brand-50 p-4 dark:border-ink-700 dark:bg-ink-900">
      <h2 id="due-dates" className="text-sm font-semibold">
        {heading}
      </h2>
      <ul className="mt-2 space-y-1.5 text-sm">
        {due.map(({ requirement: r, state, cohort }) => (
          <li key={r.id} className="flex flex-wrap items-baseline gap-x-2">
            <RequirementBadge state={state} label={stateText[state]} />
            <Link href={r.href} className="underline">
              {r.title}
            </Link>
            <span className="text-slate-700 dark:text-slate-300">
              {r.dueAt ? `due ${when(r.dueAt)}` : "no due date"} · {cohort}
            </span>
          </li>
        ))}
      </ul>
    </aside>
  );
}
