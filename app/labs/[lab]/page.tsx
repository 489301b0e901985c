import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";
import { Callout, Diagram, Hint } from "@/components/lesson/callout";
import { MdxContent } from "@/components/lesson/mdx-content";
import { compileLesson } from "@/lib/content/compile";
import { course } from "@/lib/content";
import { env } from "@/lib/env";
import { labCatalog } from "@/lib/labs/catalog";
import { labPageMarkdown } from "@/lib/labs/page-content";
import path from "node:path";

interface Params {
  params: Promise<{ lab: string }>;
}

const find = (slug: string) => labCatalog().find(({ lab }) => lab.slug === slug);

export async function generateMetadata({ params }: Params): Promise<Metadata> {
  const found = find((await params).lab);
  return found ? { title: found.lab.title, description: found.lab.summary } : {};
}

export default async function LabPage({ params }: Params) {
  const found = find((await params).lab);
  if (!found) notFound();
  const { lab } = found;
  const milestone = course().milestones.find((m) => m.milestone.labs.some((l) => l.id === lab.id));
  const code = await compileLesson(labPageMarkdown(found), `labs/${lab.slug}/instructions.md`, path.join(env().dataDir, "cache", "mdx"));
  return (
    <div className="mx-auto grid max-w-6xl gap-10 px-4 py-10 lg:grid-cols-[minmax(0,1fr)_18rem]">
      <article className="min-w-0">
        <nav aria-label="Breadcrumb" className="text-sm text-slate-600 dark:text-slate-400">
          <Link href="/#course" className="hover:underline">Course</Link>
          {milestone && (
            <>
              {" "}<span aria-hidden>/</span> <Link href={`/learn/${milestone.slug}`} className="hover:underline">{milestone.milestone.code} {milestone.milestone.title}</Link>
            </>
          )}
        </nav>
        <header className="mt-3 border-b border-slate-200 pb-6 dark:border-ink-800">
          <p className="font-mono text-xs font-semibold uppercase tracking-wider text-brand-700 dark:text-brand-400">Lab · {lab.milestone} · about {lab.minutes} min</p>
          <h1 className="mt-1 text-3xl font-bold tracking-tight md:text-4xl">{lab.title}</h1>
          <p className="mt-2 text-lg text-slate-700 dark:text-slate-300">{lab.summary}</p>
        </header>
        <div className="lesson-prose mt-8">
          <MdxContent code={code} components={{ Callout, Hint, Diagram }} />
        </div>
      </article>
      <aside>
        <div className="rounded-xl border border-slate-200 p-5 dark:border-ink-700 lg:sticky lg:top-6">
          <h2 className="font-semibold">What the grader checks</h2>
          <ol className="mt-3 space-y-2 text-sm">
            {lab.checks.map((c, i) => (
              <li key={c.id} className="flex gap-2">
                <span className="font-mono text-slate-500 dark:text-slate-400">{i + 1}.</span>
                <span>{c.title}</span>
              </li>
            ))}
          </ol>
        </div>
      </aside>
    </div>
  );
}
