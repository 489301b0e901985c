import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";
import { DueDates } from "@/components/cohorts/due-dates";
import { Checklist } from "@/components/lesson/checklist";
import { currentUser } from "@/lib/auth/session";
import { findMilestone } from "@/lib/content";
import { db } from "@/lib/db";
import { labCatalog } from "@/lib/labs/catalog";
import { loadEvidence } from "@/lib/progress/evidence";
import { gradeMilestone } from "@/lib/progress/grade";
import { lessonStates } from "@/lib/progress/lessons";
import { quizIndex } from "@/lib/progress/quiz-index";

interface Params {
  params: Promise<{ milestone: string }>;
}

export async function generateMetadata({ params }: Params): Promise<Metadata> {
  const found = findMilestone((await params).milestone);
  return found ? { title: `${found.milestone.code} ${found.milestone.title}`, description: found.milestone.summary } : {};
}

export default async function MilestonePage({ params }: Params) {
  const found = findMilestone((await params).milestone);
  if (!found) notFound();
  const { milestone, lessons, slug } = found;
  const user = await currentUser();
  const [states, evidence] = await Promise.all([
    user ? lessonStates(db(), user.id) : Promise.resolve(new Map()),
    user ? loadEvidence(db(), user.id) : Promise.resolve(null),
  ]);
  const grade = evidence ? gradeMilestone(milestone, quizIndex(), evidence) : null;
  const labs = new Map(labCatalog().map(({ lab }) => [lab.id, lab]));
  const done = lessons.filter((l) => states.get(l.frontmatter.id)?.completedAt).length;

  return (
    <div className="mx-auto max-w-4xl px-4 py-10">
      <nav aria-label="Breadcrumb" className="text-sm text-slate-600 dark:text-slate-400">
        <Link href="/#course" className="hover:underline">
          Course
        </Link>
      </nav>
      <header className="mt-3">
        <p className="font-mono text-sm font-semibold text-brand-700 dark:text-brand-400">{milestone.code}</p>
        <h1 className="mt-1 text-3xl font-bold tracking-tight md:text-4xl">{milestone.title}</h1>
        <p className="mt-3 text-lg text-slate-700 dark:text-slate-300">{milestone.summary}</p>
        {grade && (
          <div className="mt-5">
            <p className="text-sm text-slate-700 dark:text-slate-300">
              {done} of {lessons.length} lessons read · checklist {grade.satisfied} of {grade.total}
            </p>
            <div
              className="mt-2 h-2 w-full rounded-full bg-slate-200 dark:bg-ink-800"
              role="progressbar"
              aria-label="Checklist progress"
              aria-valuenow={grade.percent}
              aria-valuemin={0}
              aria-valuemax={100}
            >
              <div className="h-2 rounded-full bg-brand-600" style={{ width: `${grade.percent}%` }} />
            </div>
          </div>
        )}
        {user && (
          <div className="mt-5">
            <DueDates userId={user.id} milestoneId={milestone.id} />
          </div>
        )}
      </header>

      <section aria-labelledby="lessons" className="mt-10">
        <h2 id="lessons" className="text-xl font-bold">
          Lessons
        </h2>
        {lessons.length === 0 ? (
          <p className="mt-3 rounded-lg border border-dashed border-slate-300 p-5 text-slate-700 dark:border-ink-700 dark:text-slate-300">
            The lessons of this milestone are in preparation. Its checklist below already shows what it will ask of you.
          </p>
        ) : (
          <ol className="mt-3 divide-y divide-slate-200 rounded-lg border border-slate-200 dark:divide-ink-700 dark:border-ink-700">
            {lessons.map((l) => {
              const state = states.get(l.frontmatter.id);
              return (
                <li key={l.slug}>
                  <Link href={`/learn/${slug}/${l.slug}`} className="flex items-start gap-4 px-4 py-4 hover:bg-slate-50 dark:hover:bg-ink-900">
                    <span className="font-mono text-sm text-slate-500 dark:text-slate-400">{String(l.order).padStart(2, "0")}</span>
                    <span className="flex-1">
                      <span className="block font-semibold">{l.frontmatter.title}</span>
                      <span className="block text-sm text-slate-700 dark:text-slate-300">{l.frontmatter.summary}</span>
                    </span>
                    <span className="shrink-0 text-sm text-slate-600 dark:text-slate-400">
                      {state?.completedAt ? (
                        <span className="font-medium text-emerald-800 dark:text-emerald-300">✓ Completed</span>
                      ) : state ? (
                        "Started"
                      ) : (
                        `${l.frontmatter.minutes} min`
                      )}
                    </span>
                  </Link>
                </li>
              );
            })}
          </ol>
        )}
      </section>

      <section aria-labelledby="labs" className="mt-10">
        <h2 id="labs" className="text-xl font-bold">
          Labs
        </h2>
        <ul className="mt-3 grid gap-3 sm:grid-cols-2">
          {milestone.labs.map((entry) => {
            const lab = labs.get(entry.id);
            const body = (
              <>
                <span className="block font-semibold">{entry.title}</span>
                <span className="mt-1 block text-sm text-slate-700 dark:text-slate-300">{entry.summary ?? lab?.summary}</span>
                <span className="mt-2 block text-xs font-medium uppercase tracking-wider text-slate-600 dark:text-slate-400">
                  {lab ? `${lab.checks.length} checks · about ${lab.minutes} min` : "In preparation"}
                </span>
              </>
            );
            return (
              <li key={entry.id}>
                {lab ? (
                  <Link href={`/labs/${lab.slug}`} className="block h-full rounded-lg border border-slate-200 p-4 hover:border-brand-500 dark:border-ink-700">
                    {body}
                  </Link>
                ) : (
                  <div className="h-full rounded-lg border border-dashed border-slate-300 p-4 opacity-80 dark:border-ink-700">{body}</div>
                )}
              </li>
            );
          })}
        </ul>
      </section>

      <Checklist milestone={milestone} grade={grade} />
    </div>
  );
}
