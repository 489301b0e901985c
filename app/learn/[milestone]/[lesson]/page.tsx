import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";
import { lessonComponents } from "@/components/lesson/lesson-components";
import { MdxContent } from "@/components/lesson/mdx-content";
import { buttonClass } from "@/components/ui/button";
import { TableOfContents } from "@/components/lesson/toc";
import { currentUser } from "@/lib/auth/session";
import { headings } from "@/lib/content/compile";
import { findLesson, lessonCode } from "@/lib/content";
import { db } from "@/lib/db";
import { labCatalog } from "@/lib/labs/catalog";
import { loadEvidence } from "@/lib/progress/evidence";
import { gradeMilestone } from "@/lib/progress/grade";
import { lessonStates, quizAnswers, recordVisit } from "@/lib/progress/lessons";
import { quizIndex } from "@/lib/progress/quiz-index";
import { setCompleteAction, submitQuizAction } from "../../actions";

interface Params {
  params: Promise<{ milestone: string; lesson: string }>;
  searchParams: Promise<{ quizError?: string }>;
}

export async function generateMetadata({ params }: Params): Promise<Metadata> {
  const { milestone, lesson } = await params;
  const place = findLesson(milestone, lesson);
  return place ? { title: place.lesson.frontmatter.title, description: place.lesson.frontmatter.summary } : {};
}

export default async function LessonPage({ params, searchParams }: Params) {
  const { milestone: milestoneSlug, lesson: lessonSlug } = await params;
  const { quizError } = await searchParams;
  const place = findLesson(milestoneSlug, lessonSlug);
  if (!place) notFound();
  const { milestone, lesson, previous, next } = place;
  const fm = lesson.frontmatter;
  const url = `/learn/${milestone.slug}/${lesson.slug}`;
  const user = await currentUser();
  if (user) await recordVisit(db(), user.id, fm.id);
  const [code, answers, states, evidence] = await Promise.all([
    lessonCode(lesson),
    user ? quizAnswers(db(), user.id, [fm.id]) : Promise.resolve(new Map()),
    user ? lessonStates(db(), user.id) : Promise.resolve(new Map()),
    user ? loadEvidence(db(), user.id) : Promise.resolve(null),
  ]);
  const completed = Boolean(states.get(fm.id)?.completedAt);
  const labs = new Map(labCatalog().map(({ lab }) => [lab.id, lab]));
  const grade = evidence ? gradeMilestone(milestone.milestone, quizIndex(), evidence) : null;
  const components = lessonComponents({
    labs,
    milestone: milestone.milestone,
    grade,
    quiz: {
      questions: fm.quiz,
      answers: answers.get(fm.id) ?? new Map(),
      signedIn: Boolean(user),
      action: submitQuizAction.bind(null, fm.id),
      error: quizError,
      returnTo: url,
    },
  });

  return (
    <div className="mx-auto grid max-w-6xl gap-10 px-4 py-10 lg:grid-cols-[minmax(0,1fr)_15rem]">
      <article className="min-w-0">
        <nav aria-label="Breadcrumb" className="text-sm text-slate-600 dark:text-slate-400">
          <Link href="/#course" className="hover:underline">
            Course
          </Link>{" "}
          <span aria-hidden>/</span>{" "}
          <Link href={`/learn/${milestone.slug}`} className="hover:underline">
            {milestone.milestone.code} {milestone.milestone.title}
          </Link>
        </nav>
        <header className="mt-3 border-b border-slate-200 pb-6 dark:border-ink-800">
          <h1 className="text-3xl font-bold tracking-tight md:text-4xl">{fm.title}</h1>
          <p className="mt-2 text-lg text-slate-700 dark:text-slate-300">{fm.summary}</p>
          <p className="mt-3 text-sm text-slate-600 dark:text-slate-400">
            About {fm.minutes} minutes{fm.quiz.length > 0 ? ` · ${fm.quiz.length}-question quiz` : ""}
            {completed && (
              <span className="ml-2 rounded-full bg-emerald-100 px-2 py-0.5 font-medium text-emerald-900 dark:bg-emerald-900/50 dark:text-emerald-200">
                Completed
              </span>
            )}
          </p>
          <div className="mt-5 rounded-lg bg-slate-50 p-4 dark:bg-ink-900">
            <h2 className="text-sm font-semibold uppercase tracking-wider text-slate-600 dark:text-slate-400">You will be able to</h2>
            <ul className="mt-2 list-disc space-y-1 pl-5">
              {fm.objectives.map((o) => (
                <li key={o}>{o}</li>
              ))}
            </ul>
          </div>
        </header>
        <div className="lesson-prose mt-8">
          <MdxContent code={code} components={components} file={lesson.file} />
        </div>
        <section
          id="complete"
          aria-label="Lesson progress"
          className="mt-10 flex flex-wrap items-center gap-4 rounded-xl border border-slate-200 p-5 dark:border-ink-700"
        >
          {user ? (
            <form action={setCompleteAction.bind(null, fm.id, !completed)}>
              <button
                type="submit"
                className={
                  completed
                    ? "rounded-md border border-slate-300 px-4 py-2 font-semibold hover:bg-slate-100 dark:border-ink-600 dark:hover:bg-ink-800"
                    : buttonClass({ variant: "primary" })
                }
              >
                {completed ? "Mark as not complete" : "Mark lesson complete"}
              </button>
            </form>
          ) : (
            <p>
              <Link href={`/signin?callbackUrl=${encodeURIComponent(url)}`} className="font-semibold text-brand-700 underline dark:text-brand-400">
                Sign in
              </Link>{" "}
              to keep track of your progress.
            </p>
          )}
          <p role="status" className="text-sm text-slate-700 dark:text-slate-300">
            {completed ? "You completed this lesson." : "Not completed yet."}
          </p>
        </section>
        <nav aria-label="Lessons" className="mt-8 grid gap-4 sm:grid-cols-2">
          {previous ? (
            <Link
              href={`/learn/${previous.milestone.slug}/${previous.lesson.slug}`}
              className="rounded-lg border border-slate-200 p-4 hover:border-brand-500 dark:border-ink-700"
            >
              <span className="text-sm text-slate-600 dark:text-slate-400">← Previous</span>
              <span className="block font-semibold">{previous.lesson.frontmatter.title}</span>
            </Link>
          ) : (
            <span />
          )}
          {next && (
            <Link
              href={`/learn/${next.milestone.slug}/${next.lesson.slug}`}
              className="rounded-lg border border-slate-200 p-4 text-right hover:border-brand-500 dark:border-ink-700"
            >
              <span className="text-sm text-slate-600 dark:text-slate-400">Next →</span>
              <span className="block font-semibold">{next.lesson.frontmatter.title}</span>
            </Link>
          )}
        </nav>
      </article>
      <aside className="hidden lg:block">
        <div className="sticky top-6">
          <TableOfContents headings={headings(lesson.body)} />
        </div>
      </aside>
    </div>
  );
}
