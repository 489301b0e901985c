import type { Metadata } from "next";
import Link from "next/link";
import { ReflectionForm } from "@/components/progress/reflection-form";
import { Button } from "@/components/ui/button";
import { requirePageUser } from "@/lib/auth/session";
import { course } from "@/lib/content";
import { db } from "@/lib/db";
import { labCatalog } from "@/lib/labs/catalog";
import { creditKey } from "@/lib/progress/credits";
import { progressOverview, type MilestoneProgress } from "@/lib/progress/dashboard";
import type { ItemState } from "@/lib/progress/grade";
import { quizIndex } from "@/lib/progress/quiz-index";
import { reflections } from "@/lib/progress/reflections";
import { issueCertificateAction, saveReflectionAction } from "./actions";

export const metadata: Metadata = { title: "Your progress" };
export const dynamic = "force-dynamic";

const when = (d: Date) => d.toLocaleDateString("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
const verdictStyle: Record<string, string> = {
  pass: "text-emerald-800 dark:text-emerald-300",
  fail: "text-red-800 dark:text-red-300",
  error: "text-amber-900 dark:text-amber-300",
};

function Proof({ item }: { item: ItemState }) {
  const p = item.proof;
  if (!p) return null;
  if (p.kind === "checks") {
    return (
      <>
        Passed {p.checks.join(", ")} in{" "}
        <Link href={`/progress/runs/${p.submissionId}`} className="underline">
          a run of {p.labId}
        </Link>{" "}
        on {when(p.at)}
      </>
    );
  }
  if (p.kind === "quiz")
    return (
      <>
        Answered the quiz of {p.lessons.join(", ")} correctly{p.at ? ` on ${when(p.at)}` : ""}
      </>
    );
  return <>Reflection written on {when(p.at)}</>;
}

function MilestoneCard({ entry, texts, error }: { entry: MilestoneProgress; texts: Map<string, { text: string }>; error?: string }) {
  const { milestone: m, grade, next, certificateId } = entry;
  const def = m.milestone;
  return (
    <section id={def.id} aria-labelledby={`${def.id}-title`} className="rounded-xl border border-slate-200 p-5 dark:border-ink-700">
      <div className="flex flex-wrap items-baseline justify-between gap-3">
        <h2 id={`${def.id}-title`} className="text-lg font-bold">
          <span className="font-mono text-sm text-brand-700 dark:text-brand-400">{def.code}</span>{" "}
          <Link href={`/learn/${m.slug}`} className="hover:underline">
            {def.title}
          </Link>
        </h2>
        <p className="text-sm text-slate-700 dark:text-slate-300">
          {grade.percent}% · {grade.satisfied} of {grade.total} items · pass mark {def.passPercent}%
          {grade.passed && (
            <span className="ml-2 rounded-full bg-emerald-100 px-2 py-0.5 font-medium text-emerald-900 dark:bg-emerald-900/50 dark:text-emerald-200">
              Passed
            </span>
          )}
        </p>
      </div>
      <div
        className="mt-3 h-2 rounded-full bg-slate-200 dark:bg-ink-800"
        role="progressbar"
        aria-label={`${def.code} grade`}
        aria-valuenow={grade.percent}
        aria-valuemin={0}
        aria-valuemax={100}
      >
        <div className="h-2 rounded-full bg-brand-600" style={{ width: `${grade.percent}%` }} />
      </div>
      {next && (
        <p className="mt-3 text-sm">
          <span className="font-semibold">Next: </span>
          {next.href ? (
            <Link href={next.href} className="text-brand-700 underline dark:text-brand-400">
              {next.text}
            </Link>
          ) : (
            next.text
          )}
        </p>
      )}
      {grade.passed && (
        <div className="mt-3">
          {certificateId ? (
            <Link href={`/certificates/${certificateId}`} className="text-sm font-semibold text-brand-700 underline dark:text-brand-400">
              View your {def.code} certificate
            </Link>
          ) : (
            <form action={issueCertificateAction.bind(null, def.id)}>
              <Button type="submit" variant="primary" size="sm">
                Get your {def.code} certificate
              </Button>
            </form>
          )}
        </div>
      )}
      {error && (
        <p role="alert" className="mt-3 rounded bg-red-50 px-3 py-2 text-sm text-red-800 dark:bg-red-950/50 dark:text-red-200">
          {error}
        </p>
      )}
      <ul className="mt-4 divide-y divide-slate-200 dark:divide-ink-700">
        {grade.items.map((item) => {
          const itemDef = def.checklist.find((i) => i.id === item.id)!;
          const by = itemDef.satisfiedBy;
          return (
            <li key={item.id} className="flex gap-3 py-3">
              <span
                aria-hidden
                className={`mt-0.5 flex h-5 w-5 shrink-0 items-center justify-center rounded-full border text-xs ${item.satisfied ? "border-emerald-600 bg-emerald-600 text-white" : item.fraction > 0 ? "border-brand-600 text-brand-700 dark:text-brand-400" : "border-slate-400 dark:border-slate-500"}`}
              >
                {item.satisfied ? "✓" : item.fraction > 0 ? "½" : ""}
              </span>
              <div className="min-w-0 flex-1">
                <p className="font-medium">
                  {item.title}
                  <span className="sr-only">
                    {item.satisfied ? " (done)" : item.fraction > 0 ? ` (${Math.round(item.fraction * 100)}% done)` : " (not done yet)"}
                  </span>
                </p>
                <p className="text-sm text-slate-700 dark:text-slate-300">{item.satisfied || item.fraction > 0 ? <Proof item={item} /> : item.missing}</p>
                {!item.satisfied && item.fraction > 0 && <p className="text-sm text-slate-700 dark:text-slate-300">{item.missing}</p>}
                {item.changed && <p className="mt-1 text-sm text-amber-900 dark:text-amber-300">{item.changed}</p>}
                {by.kind === "reflection" && (
                  <ReflectionForm
                    id={`reflect-${def.id}-${item.id}`}
                    prompt={by.prompt}
                    minWords={by.minWords}
                    initial={texts.get(creditKey(def.id, item.id))?.text ?? ""}
                    action={saveReflectionAction.bind(null, def.id, item.id)}
                  />
                )}
              </div>
            </li>
          );
        })}
      </ul>
    </section>
  );
}

export default async function ProgressPage({ searchParams }: { searchParams: Promise<{ error?: string }> }) {
  const user = await requirePageUser("learner", "/progress");
  const { error } = await searchParams;
  const [overview, texts] = await Promise.all([progressOverview(db(), user.id, course(), quizIndex(), labCatalog()), reflections(db(), user.id)]);
  const t = overview.totals;
  const passed = overview.milestones.filter((m) => m.grade.passed).length;
  return (
    <div className="mx-auto max-w-5xl px-4 py-10">
      <h1 className="text-3xl font-bold tracking-tight">Your progress</h1>
      <p className="mt-2 text-slate-700 dark:text-slate-300">
        {passed} of {overview.milestones.length} milestones passed. Items are ticked by graded runs the runner stored, by quizzes and by reflections, and stay
        ticked.
      </p>
      <dl className="mt-6 grid grid-cols-2 gap-3 sm:grid-cols-4">
        {[
          ["Streak", `${t.streakDays} day${t.streakDays === 1 ? "" : "s"}`],
          ["Active days", String(t.activeDays)],
          ["Lessons completed", `${t.lessonsCompleted} (≈ ${t.lessonMinutes} min)`],
          ["Runs", `${t.runs} (${t.graded} graded, ${t.runMinutes} min)`],
        ].map(([label, value]) => (
          <div key={label} className="rounded-lg border border-slate-200 p-3 dark:border-ink-700">
            <dt className="text-xs font-semibold uppercase tracking-wider text-slate-600 dark:text-slate-400">{label}</dt>
            <dd className="mt-1 text-lg font-semibold">{value}</dd>
          </div>
        ))}
      </dl>

      <div className="mt-8 space-y-6">
        {overview.milestones.map((entry) => (
          <MilestoneCard
            key={entry.milestone.milestone.id}
            entry={entry}
            texts={texts}
            {...(error && entry.grade.passed && !entry.certificateId ? { error } : {})}
          />
        ))}
      </div>

      <section aria-labelledby="history" className="mt-10">
        <h2 id="history" className="text-xl font-bold">
          Your runs by lab
        </h2>
        {overview.labs.length === 0 ? (
          <p className="mt-2 text-slate-700 dark:text-slate-300">No runs yet. Open a lab from a milestone page and press Check.</p>
        ) : (
          <div className="mt-3 overflow-x-auto">
            <table className="w-full text-left text-sm">
              <thead className="border-b border-slate-200 text-slate-600 dark:border-ink-700 dark:text-slate-400">
                <tr>
                  <th scope="col" className="py-2 pr-4 font-semibold">
                    Lab
                  </th>
                  <th scope="col" className="py-2 pr-4 font-semibold">
                    Runs
                  </th>
                  <th scope="col" className="py-2 pr-4 font-semibold">
                    Graded · passed
                  </th>
                  <th scope="col" className="py-2 pr-4 font-semibold">
                    Last
                  </th>
                  <th scope="col" className="py-2 font-semibold">
                    Median duration
                  </th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-200 dark:divide-ink-800">
                {overview.labs.map((lab) => (
                  <tr key={lab.labId}>
                    <td className="py-2 pr-4">
                      {lab.slug ? (
                        <Link href={`/labs/${lab.slug}`} className="underline">
                          {lab.title}
                        </Link>
                      ) : (
                        lab.title
                      )}
                    </td>
                    <td className="py-2 pr-4">{lab.runs}</td>
                    <td className="py-2 pr-4">
                      {lab.checks} · {lab.passes}
                    </td>
                    <td className={`py-2 pr-4 ${verdictStyle[lab.lastStatus] ?? ""}`}>
                      {lab.lastStatus} · {when(lab.lastAt)}
                    </td>
                    <td className="py-2">{lab.medianMs === null ? "—" : `${(lab.medianMs / 1000).toFixed(1)} s`}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </div>
  );
}
