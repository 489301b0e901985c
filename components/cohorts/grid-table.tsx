import Link from "next/link";
import type { ClassGrid, GridRow } from "@/lib/cohorts/grid";
import type { GridView } from "@/lib/cohorts/view";
import { RequirementBadge } from "./requirement-state";

const day = (d: Date | null) => (d ? d.toISOString().slice(0, 10) : "—");

/** A column header that sorts by its column; pressing it again reverses the order. */
function SortHeader({ label, sortKey, view, base }: { label: string; sortKey: string; view: GridView; base: URLSearchParams }) {
  const active = view.sort === sortKey;
  const params = new URLSearchParams(base);
  params.set("sort", sortKey);
  params.set("dir", active && view.dir === "desc" ? "asc" : active ? "desc" : sortKey === "name" ? "asc" : "desc");
  return (
    <th
      scope="col"
      aria-sort={active ? (view.dir === "asc" ? "ascending" : "descending") : "none"}
      className="px-3 py-2 text-left font-semibold whitespace-nowrap"
    >
      <Link href={`?${params}`} className="hover:underline">
        {label}
        {active && <span aria-hidden="true"> {view.dir === "asc" ? "▲" : "▼"}</span>}
      </Link>
    </th>
  );
}

function Flags({ row, cohortId }: { row: GridRow; cohortId: string }) {
  return (
    <ul className="space-y-1">
      {row.stuck.map((s) => (
        <li key={`${s.labId}/${s.checkId}`}>
          <Link
            href={`/cohorts/${cohortId}/learners/${row.userId}?lab=${s.labId}`}
            className="rounded bg-red-100 px-1.5 py-0.5 text-xs font-medium text-red-900 hover:underline dark:bg-red-900/50 dark:text-red-200"
          >
            Stuck: {s.labId} / {s.checkId} ({s.fails} fails)
          </Link>
        </li>
      ))}
      {row.idle && (
        <li>
          <span className="rounded bg-amber-100 px-1.5 py-0.5 text-xs font-medium text-amber-900 dark:bg-amber-900/50 dark:text-amber-200">
            Idle {row.idleDays} days
          </span>
        </li>
      )}
    </ul>
  );
}

export function GridTable({ grid, rows, view }: { grid: ClassGrid; rows: GridRow[]; view: GridView }) {
  const base = new URLSearchParams({ filter: view.filter, ...(view.q ? { q: view.q } : {}) });
  return (
    <div className="overflow-x-auto rounded-lg border border-slate-200 dark:border-ink-800">
      <table className="w-full text-sm" data-testid="class-grid">
        <caption className="sr-only">Learners by milestone grade; column headers sort the table.</caption>
        <thead className="bg-slate-50 dark:bg-ink-900">
          <tr>
            <SortHeader label="Learner" sortKey="name" view={view} base={base} />
            <SortHeader label="Last active" sortKey="activity" view={view} base={base} />
            {grid.milestones.map((m) => (
              <SortHeader key={m.id} label={m.code} sortKey={m.id} view={view} base={base} />
            ))}
            {grid.requirements.map((r) => (
              <th key={r.id} scope="col" className="px-3 py-2 text-left font-semibold" title={r.title}>
                Due {r.dueAt ? r.dueAt.toISOString().slice(5, 10) : "—"}
                <span className="sr-only">: {r.title}</span>
              </th>
            ))}
            <SortHeader label="Needs attention" sortKey="stuck" view={view} base={base} />
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.userId} className="border-t border-slate-200 align-top dark:border-ink-800">
              <th scope="row" className="px-3 py-2 text-left font-normal">
                <Link href={`/cohorts/${grid.cohort.id}/learners/${row.userId}`} className="font-medium text-brand-700 underline dark:text-brand-400">
                  {row.name}
                </Link>
                <span className="block text-xs text-slate-600 dark:text-slate-400">{row.email}</span>
              </th>
              <td className="px-3 py-2 whitespace-nowrap">{day(row.lastActivity)}</td>
              {row.cells.map((c) => (
                <td key={c.milestoneId} className="px-3 py-2 tabular-nums whitespace-nowrap">
                  <span className={c.passed ? "font-semibold text-emerald-800 dark:text-emerald-300" : ""}>{c.percent}%</span>
                  {c.passed && <span className="sr-only"> passed</span>}
                </td>
              ))}
              {row.requirements.map((s) => (
                <td key={s.requirement.id} className="px-3 py-2">
                  <RequirementBadge state={s.state} />
                </td>
              ))}
              <td className="px-3 py-2">
                <Flags row={row} cohortId={grid.cohort.id} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
