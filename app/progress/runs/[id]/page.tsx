import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";
import { requirePageUser } from "@/lib/auth/session";
import { db } from "@/lib/db";
import { labCatalog } from "@/lib/labs/catalog";
import { findRun } from "@/lib/runs/store";

export const metadata: Metadata = { title: "A run" };
export const dynamic = "force-dynamic";

const badge: Record<string, string> = {
  pass: "bg-emerald-100 text-emerald-900 dark:bg-emerald-900/50 dark:text-emerald-200",
  fail: "bg-red-100 text-red-900 dark:bg-red-900/50 dark:text-red-200",
  error: "bg-amber-100 text-amber-900 dark:bg-amber-900/50 dark:text-amber-200",
};

/** One stored run, as evidence: what the runner recorded, check by check. */
export default async function RunPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  const user = await requirePageUser("learner", `/progress/runs/${id}`);
  const run = await findRun(db(), user, id, { files: true });
  if (!run) notFound();
  const { files } = run;
  const lab = labCatalog().find((l) => l.lab.id === run.lab)?.lab;
  return (
    <div className="mx-auto max-w-3xl px-4 py-10">
      <nav aria-label="Breadcrumb" className="text-sm text-slate-600 dark:text-slate-400">
        {run.userId === user.id ? (
          <Link href="/progress" className="hover:underline">
            Your progress
          </Link>
        ) : (
          <Link href="/cohorts" className="hover:underline">
            Cohorts
          </Link>
        )}
      </nav>
      <h1 className="mt-3 text-2xl font-bold tracking-tight">
        {run.mode === "check" ? "Graded run" : "Run"} of{" "}
        {lab ? (
          <Link href={`/labs/${lab.slug}`} className="underline">
            {lab.title}
          </Link>
        ) : (
          run.lab
        )}
      </h1>
      <p className="mt-2 text-sm text-slate-700 dark:text-slate-300">
        <span className={`rounded-full px-2 py-0.5 font-semibold ${badge[run.status] ?? "bg-slate-100 dark:bg-ink-800"}`}>{run.status}</span> ·{" "}
        {run.createdAt.toISOString().replace("T", " ").slice(0, 16)} UTC{run.durationMs !== null ? ` · ${(run.durationMs / 1000).toFixed(1)} s` : ""}
        {run.seed !== null ? ` · seed ${run.seed}` : ""}
      </p>
      {run.message && <p className="mt-3">{run.message}</p>}
      {run.checks.length > 0 && (
        <ol className="mt-6 space-y-3">
          {run.checks.map((c) => (
            <li key={c.id} className="rounded-lg border border-slate-200 p-4 dark:border-ink-700">
              <p className="font-medium">
                <span className={`mr-2 rounded px-1.5 py-0.5 text-xs font-semibold ${badge[c.status] ?? ""}`}>{c.status}</span>
                {c.title} <span className="font-mono text-xs text-slate-600 dark:text-slate-400">{c.id}</span>
              </p>
              {c.message && <p className="mt-2 text-sm">{c.message}</p>}
              {(c.expected || c.actual) && (
                <dl className="mt-2 grid grid-cols-[6rem_1fr] gap-1 font-mono text-xs">
                  {c.expected && (
                    <>
                      <dt className="text-slate-600 dark:text-slate-400">expected</dt>
                      <dd className="whitespace-pre-wrap break-all">{c.expected}</dd>
                    </>
                  )}
                  {c.actual && (
                    <>
                      <dt className="text-slate-600 dark:text-slate-400">actual</dt>
                      <dd className="whitespace-pre-wrap break-all">{c.actual}</dd>
                    </>
                  )}
                </dl>
              )}
              {c.hint && (
                <p className="mt-2 text-sm text-slate-700 dark:text-slate-300">
                  <span className="font-semibold">Hint: </span>
                  {c.hint}
                </p>
              )}
            </li>
          ))}
        </ol>
      )}
      {Object.keys(files).length > 0 && (
        <section aria-labelledby="code" className="mt-8">
          <h2 id="code" className="text-lg font-semibold">
            Code submitted
          </h2>
          {Object.entries(files).map(([file, text]) => (
            <details key={file} className="mt-3 rounded-lg border border-slate-200 dark:border-ink-700" open={Object.keys(files).length === 1}>
              <summary className="cursor-pointer px-4 py-2 font-mono text-sm">{file}</summary>
              <pre
                tabIndex={0}
                aria-label={`${file} as submitted`}
                className="overflow-x-auto border-t border-slate-200 bg-slate-50 p-4 text-xs leading-relaxed dark:border-ink-700 dark:bg-ink-900"
              >
                <code>{text}</code>
              </pre>
            </details>
          ))}
        </section>
      )}
    </div>
  );
}
