import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";
import { Button } from "@/components/ui/button";
import { requirePageUser } from "@/lib/auth/session";
import { cohortCatalog } from "@/lib/cohorts/catalog";
import { CohortError } from "@/lib/cohorts/cohorts";
import { learnerOfCohort } from "@/lib/cohorts/learner";
import { db } from "@/lib/db";
import { quizIndex } from "@/lib/progress/quiz-index";
import { removeLearnerAction } from "../../../actions";

export const metadata: Metadata = { title: "Learner" };
export const dynamic = "force-dynamic";

const mark: Record<string, string> = { pass: "✓", fail: "✗", error: "!" };
const tone: Record<string, string> = {
  pass: "text-emerald-800 dark:text-emerald-300",
  fail: "text-red-800 dark:text-red-300",
  error: "text-amber-900 dark:text-amber-300",
};

export default async function LearnerPage({
  params,
  searchParams,
}: {
  params: Promise<{ id: string; userId: string }>;
  searchParams: Promise<{ lab?: string }>;
}) {
  const { id, userId } = await params;
  const { lab: focus } = await searchParams;
  const user = await requirePageUser("instructor", `/cohorts/${id}/learners/${userId}`);
  const data = await learnerOfCohort(db(), user, id, userId, cohortCatalog(), quizIndex()).catch((error: unknown) => {
    if (error instanceof CohortError) notFound();
    throw error;
  });
  const labs = focus ? [...data.labs.filter((l) => l.labId === focus), ...data.labs.filter((l) => l.labId !== focus)] : data.labs;
  return (
    <div className="mx-auto max-w-5xl px-4 py-10">
      <nav aria-label="Breadcrumb" className="text-sm text-slate-600 dark:text-slate-400">
        <Link href="/cohorts" className="hover:underline">
          Cohorts
        </Link>{" "}
        /{" "}
        <Link href={`/cohorts/${id}`} className="hover:underline">
          {data.cohort.name}
        </Link>
      </nav>
      <h1 className="mt-2 text-2xl font-bold tracking-tight">{data.learner.name}</h1>
      <div className="mt-1 flex flex-wrap items-center gap-x-4 gap-y-2">
        <p className="text-slate-700 dark:text-slate-300">
          {data.learner.email} · joined {data.learner.joinedAt.toISOString().slice(0, 10)}
        </p>
        <details className="text-sm">
          <summary className="cursor-pointer text-red-700 underline dark:text-red-400">Remove from this cohort…</summary>
          <form action={removeLearnerAction.bind(null, id, userId)} className="mt-2 flex flex-wrap items-center gap-2">
            <span>
              Remove {data.learner.name} from {data.cohort.name}? Their progress, drafts and runs stay theirs; they can rejoin with the invite code.
            </span>
            <Button type="submit" variant="danger">
              Remove
            </Button>
          </form>
        </details>
      </div>

      <section aria-labelledby="grades" className="mt-8">
        <h2 id="grades" className="text-lg font-semibold">
          Milestones
        </h2>
        <ul className="mt-3 grid gap-2 sm:grid-cols-2 lg:grid-cols-4">
          {data.grades.map((g) => (
            <li key={g.id} className="rounded-lg border border-slate-200 p-3 dark:border-ink-700">
              <span className="font-mono text-sm text-brand-700 dark:text-brand-400">{g.code}</span> {g.title}
              <span className="block text-sm text-slate-700 dark:text-slate-300">
                {g.grade.percent}% · {g.grade.satisfied}/{g.grade.total}
                {g.grade.passed ? " · passed" : ""}
              </span>
            </li>
          ))}
        </ul>
      </section>

      <section aria-labelledby="runs" className="mt-10">
        <h2 id="runs" className="text-lg font-semibold">
          Runs by lab
        </h2>
        {labs.length === 0 && <p className="mt-2 text-slate-700 dark:text-slate-300">No runs yet.</p>}
        {labs.map((lab) => (
          <details key={lab.labId} open={lab.labId === focus || labs.length === 1} className="mt-3 rounded-lg border border-slate-200 dark:border-ink-700">
            <summary className="cursor-pointer px-4 py-2 font-medium">
              {lab.title}{" "}
              <span className="text-sm font-normal text-slate-700 dark:text-slate-300">
                · {lab.runs.length} runs · {lab.runs.filter((r) => r.mode === "check" && r.status === "pass").length} passing checks
              </span>
            </summary>
            <table className="w-full text-sm">
              <caption className="sr-only">Runs of {lab.title}, newest first</caption>
              <thead>
                <tr className="text-left">
                  <th scope="col" className="px-4 py-1 font-semibold">
                    When (UTC)
                  </th>
                  <th scope="col" className="px-4 py-1 font-semibold">
                    Kind
                  </th>
                  <th scope="col" className="px-4 py-1 font-semibold">
                    Result
                  </th>
                  <th scope="col" className="px-4 py-1 font-semibold">
                    Checks
                  </th>
                </tr>
              </thead>
              <tbody>
                {lab.runs.map((r) => (
                  <tr key={r.id} className="border-t border-slate-200 dark:border-ink-800">
                    <td className="px-4 py-1 whitespace-nowrap">
                      <Link href={`/progress/runs/${r.id}`} className="underline">
                        {r.createdAt.toISOString().replace("T", " ").slice(0, 16)}
                      </Link>
                    </td>
                    <td className="px-4 py-1">{r.mode}</td>
                    <td className={`px-4 py-1 font-medium ${tone[r.status] ?? ""}`}>{r.status}</td>
                    <td className="px-4 py-1 font-mono text-xs">
                      {r.checks.map((c) => (
                        <span key={c.checkId} className={`mr-2 ${tone[c.status] ?? ""}`}>
                          {mark[c.status] ?? "?"} {c.checkId}
                        </span>
                      ))}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </details>
        ))}
      </section>
    </div>
  );
}
