import Link from "next/link";
import type { Milestone } from "@/lib/content/schema";
import type { MilestoneGrade } from "@/lib/progress/grade";

/** A milestone's checklist with how each item is satisfied and, for a signed-in learner, its state. */
export function Checklist({ milestone, grade }: { milestone: Milestone; grade: MilestoneGrade | null }) {
  const states = new Map(grade?.items.map((i) => [i.id, i]));
  return (
    <section aria-labelledby={`checklist-${milestone.id}`} className="not-prose my-8">
      <div className="flex flex-wrap items-baseline justify-between gap-2">
        <h2 id={`checklist-${milestone.id}`} className="text-xl font-bold">
          {milestone.code} checklist
        </h2>
        {grade && (
          <p className="text-sm text-slate-700 dark:text-slate-300">
            {grade.satisfied} of {grade.total} done · {grade.percent}% · pass mark {milestone.passPercent}%{grade.passed ? " · passed" : ""}
          </p>
        )}
      </div>
      <ul className="mt-3 divide-y divide-slate-200 rounded-lg border border-slate-200 dark:divide-ink-700 dark:border-ink-700">
        {milestone.checklist.map((item) => {
          const state = states.get(item.id);
          const by = item.satisfiedBy;
          return (
            <li key={item.id} className="flex gap-3 px-4 py-3">
              <span
                aria-hidden
                className={`mt-0.5 flex h-5 w-5 shrink-0 items-center justify-center rounded-full border text-xs ${state?.satisfied ? "border-emerald-600 bg-emerald-600 text-white" : "border-slate-400 dark:border-slate-500"}`}
              >
                {state?.satisfied ? "✓" : ""}
              </span>
              <div>
                <p className="font-medium">
                  {item.title}
                  <span className="sr-only">{state ? (state.satisfied ? " (done)" : " (not done yet)") : ""}</span>
                </p>
                <p className="text-sm text-slate-700 dark:text-slate-300">{item.description}</p>
                <p className="mt-1 text-xs text-slate-600 dark:text-slate-400">
                  {by.kind === "checks" && (
                    <>
                      Lab checks:{" "}
                      {milestone.labs.find((l) => l.id === by.lab)?.planned ? (
                        `${by.lab} (in preparation)`
                      ) : (
                        <Link href={`/labs/${by.lab}`} className="underline">
                          {by.lab}
                        </Link>
                      )}{" "}
                      · {by.checks.join(", ")}
                    </>
                  )}
                  {by.kind === "quiz" && <>Quiz: {by.lessons.join(", ")}</>}
                  {by.kind === "reflection" && <>Reflection: {by.prompt}</>}
                  {state && !state.satisfied && state.missing && <> — {state.missing}</>}
                </p>
              </div>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
