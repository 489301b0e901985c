import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";
import { AddInstructorForm, CohortSettingsForm, InviteBox, RequirementForm, type TargetOption } from "@/components/cohorts/forms";
import { GridTable } from "@/components/cohorts/grid-table";
import { Button } from "@/components/ui/button";
import { requirePageUser } from "@/lib/auth/session";
import { cohortCatalog } from "@/lib/cohorts/catalog";
import { CohortError, instructorsOf } from "@/lib/cohorts/cohorts";
import { classGrid, metCount } from "@/lib/cohorts/grid";
import { formatInviteCode } from "@/lib/cohorts/invite";
import { applyView, filters, needsAttention, parseView } from "@/lib/cohorts/view";
import { db } from "@/lib/db";
import { env } from "@/lib/env";
import { quizIndex } from "@/lib/progress/quiz-index";
import { removeRequirementAction } from "../actions";

export const metadata: Metadata = { title: "Cohort" };
export const dynamic = "force-dynamic";

const filterLabel: Record<(typeof filters)[number], string> = {
  all: "Everyone",
  attention: "Needs attention",
  stuck: "Stuck",
  idle: "Idle",
  overdue: "Overdue",
};

export default async function CohortPage({
  params,
  searchParams,
}: {
  params: Promise<{ id: string }>;
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const { id } = await params;
  const user = await requirePageUser("instructor", `/cohorts/${id}`);
  const catalog = cohortCatalog();
  const grid = await classGrid(db(), user, id, catalog, quizIndex()).catch((error: unknown) => {
    if (error instanceof CohortError) notFound();
    throw error;
  });
  const view = parseView(
    await searchParams,
    grid.milestones.map((m) => m.id),
  );
  const instructors = await instructorsOf(db(), id);
  const rows = applyView([...grid.rows], view);
  const link = `${env().FAULTLINE_URL}/join/${grid.cohort.inviteCode}`;
  const targets: TargetOption[] = [
    ...catalog.milestones.map((m) => ({ value: `milestone:${m.milestone.id}`, label: `${m.milestone.code} ${m.milestone.title}`, checks: [] })),
    ...catalog.labs.map((l) => ({
      value: `lab:${l.lab.id}`,
      label: `${l.lab.milestone} · ${l.lab.title}`,
      checks: l.lab.checks.map((c) => ({ id: c.id, title: c.title })),
    })),
  ];
  const attention = grid.rows.filter(needsAttention).length;

  return (
    <div className="mx-auto max-w-7xl px-4 py-10">
      <nav aria-label="Breadcrumb" className="text-sm text-slate-600 dark:text-slate-400">
        <Link href="/cohorts" className="hover:underline">
          Cohorts
        </Link>
      </nav>
      <h1 className="mt-2 text-2xl font-bold tracking-tight">{grid.cohort.name}</h1>
      <p className="mt-1 text-slate-700 dark:text-slate-300">
        {grid.rows.length} {grid.rows.length === 1 ? "learner" : "learners"} · {attention} {attention === 1 ? "needs" : "need"} attention · invite code{" "}
        <span className="font-mono">{formatInviteCode(grid.cohort.inviteCode)}</span>
      </p>

      <section aria-labelledby="class" className="mt-8">
        <div className="flex flex-wrap items-end justify-between gap-3">
          <h2 id="class" className="text-lg font-semibold">
            Class
          </h2>
          <p className="flex gap-3 text-sm">
            <a href={`/api/cohorts/${id}/export?kind=grid`} className="underline" download>
              Download grid (CSV)
            </a>
            <a href={`/api/cohorts/${id}/export?kind=checks`} className="underline" download>
              Download per-check results (CSV)
            </a>
          </p>
        </div>
        <form method="get" className="mt-3 flex flex-wrap items-end gap-3" role="search" aria-label="Filter learners">
          <input type="hidden" name="sort" value={view.sort} />
          <input type="hidden" name="dir" value={view.dir} />
          <label className="text-sm font-medium">
            Show
            <select
              name="filter"
              defaultValue={view.filter}
              className="mt-1 block rounded-md border border-slate-300 bg-white px-2 py-1.5 dark:border-ink-700 dark:bg-ink-900"
            >
              {filters.map((f) => (
                <option key={f} value={f}>
                  {filterLabel[f]}
                </option>
              ))}
            </select>
          </label>
          <label className="text-sm font-medium">
            Name or email
            <input
              type="search"
              name="q"
              defaultValue={view.q}
              className="mt-1 block rounded-md border border-slate-300 bg-white px-2 py-1.5 dark:border-ink-700 dark:bg-ink-900"
            />
          </label>
          <Button type="submit" variant="secondary" size="sm">
            Apply
          </Button>
        </form>
        <div className="mt-3">
          {grid.rows.length === 0 ? (
            <p className="rounded-lg border border-dashed border-slate-300 p-6 text-slate-700 dark:border-ink-700 dark:text-slate-300">
              No learners yet. Share the invite link below; they appear here as they join.
            </p>
          ) : rows.length === 0 ? (
            <p className="text-slate-700 dark:text-slate-300">No learner matches this filter.</p>
          ) : (
            <GridTable grid={grid} rows={rows} view={view} />
          )}
        </div>
        <p className="mt-2 text-xs text-slate-600 dark:text-slate-400">
          Stuck: failed one check in {grid.cohort.stuckFails} graded runs in a row. Idle: nothing for {grid.cohort.idleDays} days.
        </p>
      </section>

      <div className="mt-10 grid gap-10 lg:grid-cols-2">
        <section aria-labelledby="invite">
          <h2 id="invite" className="mb-3 text-lg font-semibold">
            Invite
          </h2>
          <InviteBox cohortId={id} link={link} code={formatInviteCode(grid.cohort.inviteCode)} />
        </section>
        <section aria-labelledby="settings">
          <h2 id="settings" className="mb-3 text-lg font-semibold">
            Settings
          </h2>
          <CohortSettingsForm cohortId={id} name={grid.cohort.name} idleDays={grid.cohort.idleDays} stuckFails={grid.cohort.stuckFails} />
          <h3 className="mt-6 text-sm font-semibold">Instructors</h3>
          <ul className="mt-1 text-sm text-slate-700 dark:text-slate-300">
            {instructors.map((i) => (
              <li key={i.id}>
                {i.name ? `${i.name} · ` : ""}
                {i.email}
              </li>
            ))}
          </ul>
          <AddInstructorForm cohortId={id} />
        </section>
      </div>

      <section aria-labelledby="requirements" className="mt-10">
        <h2 id="requirements" className="text-lg font-semibold">
          Requirements
        </h2>
        <p className="mt-1 text-sm text-slate-700 dark:text-slate-300">Learners see these, with their due dates, on the course, milestone and lab pages.</p>
        {grid.requirements.length > 0 && (
          <ul className="mt-3 divide-y divide-slate-200 rounded-lg border border-slate-200 dark:divide-ink-800 dark:border-ink-800">
            {grid.requirements.map((r) => (
              <li key={r.id} className="flex flex-wrap items-center justify-between gap-2 px-4 py-2">
                <span>
                  <Link href={r.href} className="underline">
                    {r.title}
                  </Link>
                  <span className="text-sm text-slate-700 dark:text-slate-300">
                    {" "}
                    · {r.dueAt ? `due ${r.dueAt.toISOString().slice(0, 10)}` : "no due date"} · met by {metCount(grid.rows, r.id)} of {grid.rows.length}
                  </span>
                </span>
                <form action={removeRequirementAction.bind(null, id, r.id)}>
                  <button type="submit" className="text-sm text-red-700 underline dark:text-red-400">
                    Remove<span className="sr-only"> {r.title}</span>
                  </button>
                </form>
              </li>
            ))}
          </ul>
        )}
        <div className="mt-4">
          <RequirementForm cohortId={id} targets={targets} />
        </div>
      </section>
    </div>
  );
}
