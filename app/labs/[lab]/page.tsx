import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";
import { instructionComponents } from "@/components/lesson/lesson-components";
import { MdxContent } from "@/components/lesson/mdx-content";
import { DueDates } from "@/components/cohorts/due-dates";
import { Workspace } from "@/components/workspace/workspace";
import { currentUser } from "@/lib/auth/session";
import { compileLesson } from "@/lib/content/compile";
import { course } from "@/lib/content";
import { db } from "@/lib/db";
import { loadDraft, starterFiles } from "@/lib/drafts";
import { env } from "@/lib/env";
import { labCatalog } from "@/lib/labs/catalog";
import { editorTypes } from "@/lib/labs/editor-types";
import { monacoVsUrl } from "@/lib/labs/monaco-assets";
import { labPageMarkdown } from "@/lib/labs/page-content";
import { unlockedHints } from "@/lib/labs/hints";
import { canSeeSolution } from "@/lib/labs/solution-access";

interface Params {
  params: Promise<{ lab: string }>;
}

const find = (slug: string) => labCatalog().find(({ lab }) => lab.slug === slug);

export async function generateMetadata({ params }: Params): Promise<Metadata> {
  const found = find((await params).lab);
  return found ? { title: found.lab.title, description: found.lab.summary } : {};
}

/**
 * The lab workspace. Everything a learner needs at first paint comes from here: the rendered
 * instructions, their draft (or the starter), hints already unlocked and whether the solution is
 * open to them; the editor itself loads in the browser afterwards.
 */
export default async function LabPage({ params }: Params) {
  const found = find((await params).lab);
  if (!found) notFound();
  const { lab } = found;
  const milestone = course().milestones.find((m) => m.milestone.labs.some((l) => l.id === lab.id));
  const [code, user] = await Promise.all([compileLesson(labPageMarkdown(found), `labs/${lab.slug}/instructions.md`, env().mdxCacheDir), currentUser()]);
  const [draft, solutionAvailable, hints] = user
    ? await Promise.all([loadDraft(db(), user.id, found), canSeeSolution(db(), user, lab.id), unlockedHints(db(), user, found)])
    : [null, false, { total: lab.hints.length, unlocked: [], finalLockedFor: 0 }];

  return (
    <Workspace
      lab={{ id: lab.id, slug: lab.slug, title: lab.title }}
      files={lab.files.map((f) => ({ path: f.path, editable: f.editable }))}
      checks={lab.checks.map((c) => ({ id: c.id, title: c.title }))}
      initialFiles={draft?.files ?? starterFiles(found)}
      signedIn={user !== null}
      signInHref={`/signin?callbackUrl=${encodeURIComponent(`/labs/${lab.slug}`)}`}
      solutionAvailable={solutionAvailable}
      hints={hints}
      monacoVs={monacoVsUrl()}
      typesUrl={`/api/labs/${lab.slug}/types?v=${editorTypes().hash}`}
    >
      <nav aria-label="Breadcrumb" className="text-sm text-slate-600 dark:text-slate-400">
        <Link href="/#course" className="hover:underline">
          Course
        </Link>
        {milestone && (
          <>
            {" "}
            <span aria-hidden>/</span>{" "}
            <Link href={`/learn/${milestone.slug}`} className="hover:underline">
              {milestone.milestone.code} {milestone.milestone.title}
            </Link>
          </>
        )}
      </nav>
      <header className="mt-3 border-b border-slate-200 pb-4 dark:border-ink-800">
        <p className="font-mono text-xs font-semibold uppercase tracking-wider text-brand-700 dark:text-brand-400">
          Lab · {lab.milestone} · about {lab.minutes} min
        </p>
        <h1 className="mt-1 text-2xl font-bold tracking-tight">{lab.title}</h1>
        <p className="mt-2 text-slate-700 dark:text-slate-300">{lab.summary}</p>
        {user && (
          <div className="mt-3">
            <DueDates userId={user.id} labId={lab.id} />
          </div>
        )}
      </header>
      <div className="lesson-prose mt-6">
        <MdxContent code={code} components={instructionComponents} file={`labs/${lab.slug}/instructions.md`} />
      </div>
    </Workspace>
  );
}
