import Link from "next/link";
import { buttonClass } from "@/components/ui/button";
import { DueDates } from "@/components/cohorts/due-dates";
import { currentUser } from "@/lib/auth/session";
import { memberOf } from "@/lib/cohorts/cohorts";
import { course, findLessonById } from "@/lib/content";
import { db } from "@/lib/db";
import { loadEvidence } from "@/lib/progress/evidence";
import { gradeMilestone } from "@/lib/progress/grade";
import { lastVisited, lessonStates } from "@/lib/progress/lessons";
import { quizIndex } from "@/lib/progress/quiz-index";

const drills = [
  ["SIGKILL", "a worker mid-task"],
  ["partition", "Redis, then heal it"],
  ["+250 ms", "latency with jitter"],
  ["duplicate", "every delivery"],
];

export default async function HomePage({ searchParams }: { searchParams: Promise<{ joined?: string }> }) {
  const user = await currentUser();
  const { joined } = await searchParams;
  const joinedCohort = user && joined ? await memberOf(db(), user.id, joined) : null;
  const { milestones, home } = course();
  const first = milestones.find((m) => m.lessons.length > 0);
  const firstUrl = first ? `/learn/${first.slug}/${first.lessons[0]!.slug}` : "#course";
  const [states, evidence, lastId] = user
    ? await Promise.all([lessonStates(db(), user.id), loadEvidence(db(), user.id), lastVisited(db(), user.id)])
    : [new Map(), null, null];
  const last = lastId ? findLessonById(lastId) : undefined;
  const quizzes = quizIndex();
  return (
    <>
      <section className="border-b border-slate-200 bg-gradient-to-b from-brand-50 to-white dark:border-ink-800 dark:from-ink-900 dark:to-ink-950">
        <div className="mx-auto grid max-w-6xl gap-10 px-4 py-16 md:grid-cols-[1.3fr_1fr] md:items-center">
          <div>
            <p className="text-sm font-semibold uppercase tracking-wider text-brand-700 dark:text-brand-400">{home.tagline}</p>
            <h1 className="mt-3 text-4xl font-bold tracking-tight md:text-5xl">{home.headline}</h1>
            <p className="mt-5 max-w-xl text-lg text-slate-700 dark:text-slate-300">{home.intro}</p>
            <div className="mt-8 flex flex-wrap gap-3">
              <Link
                href={user ? (last ? `/learn/${last.milestone.slug}/${last.lesson.slug}` : firstUrl) : "/signup"}
                className={buttonClass({ variant: "primary", size: "lg" }, "shadow-sm")}
              >
                {user ? (last ? "Continue where you left off" : "Start with Milestone 1") : "Create a free account"}
              </Link>
              <Link href="#how" className={buttonClass({ variant: "secondary", size: "lg" }, "font-semibold")}>
                How it works
              </Link>
            </div>
          </div>
          <div
            aria-label="What the grader does to your code"
            role="img"
            className="rounded-xl border border-slate-200 bg-ink-950 p-5 font-mono text-sm text-slate-200 shadow-xl dark:border-ink-700"
          >
            <p className="text-slate-400">▶ Check · reliable-delivery · seed 4127</p>
            {drills.map(([what, detail]) => (
              <p key={what} className="mt-2">
                <span className="text-brand-400">✗ inject</span> {what} <span className="text-slate-400">{detail}</span>
              </p>
            ))}
            <p className="mt-3 text-emerald-400">✓ every task completed exactly once</p>
            <p className="text-emerald-400">✓ no lease held past its deadline</p>
          </div>
        </div>
      </section>

      <section id="how" className="mx-auto max-w-6xl px-4 py-14">
        <h2 className="text-2xl font-bold tracking-tight">How it works</h2>
        <ol className="mt-6 grid gap-6 md:grid-cols-3">
          {[
            ["Read", "Short lessons with diagrams and runnable snippets explain one idea at a time, from sockets to sagas."],
            ["Build", "Each lab gives you starter code in a real editor. Your code runs in a sandbox against its own Redis, which you can watch live."],
            [
              "Get broken",
              "Checks inject faults on a seeded schedule. Failures say what happened, what was expected and what to change; the seed reproduces them.",
            ],
          ].map(([title, text], i) => (
            <li key={title} className="rounded-lg border border-slate-200 p-5 dark:border-ink-800">
              <p className="font-mono text-sm text-brand-700 dark:text-brand-400">0{i + 1}</p>
              <h3 className="mt-1 text-lg font-semibold">{title}</h3>
              <p className="mt-2 text-slate-700 dark:text-slate-300">{text}</p>
            </li>
          ))}
        </ol>
      </section>

      {user && (
        <div id="cohort" className="mx-auto max-w-6xl space-y-3 px-4 pb-6">
          {joinedCohort && (
            <p
              role="status"
              className="rounded-md border border-emerald-300 bg-emerald-50 px-4 py-2 text-emerald-900 dark:border-emerald-800 dark:bg-emerald-950 dark:text-emerald-200"
            >
              You joined {joinedCohort}. Your instructor can now follow your progress.
            </p>
          )}
          <DueDates userId={user.id} heading="Due for your cohort" />
        </div>
      )}
      <section id="course" className="mx-auto max-w-6xl px-4 pb-16">
        {last && (
          <Link
            href={`/learn/${last.milestone.slug}/${last.lesson.slug}`}
            className="mb-10 flex flex-wrap items-center justify-between gap-3 rounded-xl border border-brand-500/40 bg-brand-50 p-5 hover:border-brand-600 dark:border-brand-500/30 dark:bg-ink-900"
          >
            <span>
              <span className="block text-sm font-semibold uppercase tracking-wider text-brand-700 dark:text-brand-400">Continue where you left off</span>
              <span className="mt-1 block text-lg font-semibold">
                {last.milestone.milestone.code} · {last.lesson.frontmatter.title}
              </span>
            </span>
            <span aria-hidden className="text-2xl text-brand-700 dark:text-brand-400">
              →
            </span>
          </Link>
        )}
        <h2 className="text-2xl font-bold tracking-tight">The course</h2>
        <p className="mt-2 text-slate-700 dark:text-slate-300">{home.summary}</p>
        <ol className="mt-6 grid gap-4 sm:grid-cols-2 lg:grid-cols-4">
          {milestones.map(({ milestone: m, slug, lessons }) => {
            const grade = evidence ? gradeMilestone(m, quizzes, evidence) : null;
            const read = lessons.filter((l) => states.get(l.frontmatter.id)?.completedAt).length;
            return (
              <li key={m.id}>
                <Link
                  href={`/learn/${slug}`}
                  className="flex h-full flex-col rounded-lg border border-slate-200 p-4 hover:border-brand-500 dark:border-ink-800 dark:hover:border-brand-400"
                >
                  <span className="font-mono text-xs font-semibold text-brand-700 dark:text-brand-400">{m.code}</span>
                  <span className="mt-1 font-semibold">{m.title}</span>
                  <span className="mt-2 flex-1 text-sm text-slate-700 dark:text-slate-300">{m.summary}</span>
                  <span className="mt-3 text-xs text-slate-600 dark:text-slate-400">
                    {lessons.length === 0 ? "Lessons in preparation" : `${lessons.length} lesson${lessons.length === 1 ? "" : "s"}`} ·{" "}
                    {m.labs.filter((l) => !l.planned).length} of {m.labs.length} labs ready
                  </span>
                  {grade && (
                    <span className="mt-2 block">
                      <span className="sr-only">Your progress: </span>
                      <span className="text-xs font-medium text-slate-700 dark:text-slate-300">
                        {lessons.length > 0 && `${read}/${lessons.length} read · `}checklist {grade.satisfied}/{grade.total}
                        {grade.passed ? " · passed" : ""}
                      </span>
                      <span className="mt-1 block h-1.5 rounded-full bg-slate-200 dark:bg-ink-800" aria-hidden>
                        <span className="block h-1.5 rounded-full bg-brand-600" style={{ width: `${grade.percent}%` }} />
                      </span>
                    </span>
                  )}
                </Link>
              </li>
            );
          })}
        </ol>
      </section>
    </>
  );
}
