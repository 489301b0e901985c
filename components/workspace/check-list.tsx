"use client";

import type { CheckState, Diagnostic, RunPhase } from "@/lib/runs/run-state";
import { formatMs } from "./run-format";

const ICON: Record<CheckState["status"], { glyph: string; className: string; label: string }> = {
  pending: { glyph: "", className: "border-slate-400 dark:border-slate-500", label: "not run yet" },
  running: {
    glyph: "",
    className: "border-brand-600 border-t-transparent motion-safe:animate-spin dark:border-brand-400 dark:border-t-transparent",
    label: "running",
  },
  pass: { glyph: "✓", className: "border-emerald-700 bg-emerald-700 text-white dark:border-emerald-500 dark:bg-emerald-600", label: "passed" },
  fail: { glyph: "✗", className: "border-red-700 bg-red-700 text-white dark:border-red-500 dark:bg-red-600", label: "failed" },
  error: {
    glyph: "!",
    className: "border-amber-600 bg-amber-100 text-amber-900 dark:border-amber-400 dark:bg-amber-950 dark:text-amber-200",
    label: "could not be judged",
  },
};

function Value({ label, value, tone }: { label: string; value: string; tone: "expected" | "actual" }) {
  return (
    <div className="min-w-0">
      <dt className="text-xs font-semibold text-slate-700 dark:text-slate-300">{label}</dt>
      <dd>
        <pre
          tabIndex={0}
          className={`mt-0.5 max-h-40 overflow-auto whitespace-pre-wrap break-words rounded border px-2 py-1 font-mono text-xs ${tone === "expected" ? "border-emerald-300 bg-emerald-50 text-emerald-950 dark:border-emerald-800 dark:bg-emerald-950/40 dark:text-emerald-100" : "border-red-300 bg-red-50 text-red-950 dark:border-red-800 dark:bg-red-950/40 dark:text-red-100"}`}
        >
          {value}
        </pre>
      </dd>
    </div>
  );
}

/**
 * The lab's checks in their declared order with each one's live status. A check the run has not
 * reached is "pending"; after the run, "not run". Failures show expected vs actual and the hint.
 */
export function CheckList({
  checks,
  declared,
  phase,
  diagnostics,
}: {
  checks: CheckState[];
  declared: { id: string; title: string }[];
  phase: RunPhase;
  diagnostics: Diagnostic[];
}) {
  const byId = new Map(checks.map((c) => [c.id, c]));
  const rows: CheckState[] = [
    ...declared.map((d) => ({ ...byId.get(d.id), id: d.id, title: d.title, status: byId.get(d.id)?.status ?? "pending" })),
    ...checks.filter((c) => !declared.some((d) => d.id === c.id)),
  ];
  const over = phase === "done" || phase === "cancelled" || phase === "failed-to-start";
  const passed = rows.filter((r) => r.status === "pass").length;

  return (
    <div className="space-y-3">
      {diagnostics.length > 0 && (
        <section aria-labelledby="run-build-errors" className="rounded-md border border-red-300 bg-red-50 p-3 dark:border-red-800 dark:bg-red-950/40">
          <h3 id="run-build-errors" className="text-sm font-semibold text-red-900 dark:text-red-200">
            Your code does not build ({diagnostics.length} {diagnostics.length === 1 ? "error" : "errors"})
          </h3>
          <ul className="mt-2 space-y-1 font-mono text-xs text-red-950 dark:text-red-100">
            {diagnostics.map((d, i) => (
              <li key={i} className="break-words">
                <span className="font-semibold">
                  {d.file}:{d.line}:{d.column}
                </span>{" "}
                {d.message}
              </li>
            ))}
          </ul>
        </section>
      )}
      {rows.length > 0 && (
        <p className="text-sm text-slate-700 dark:text-slate-300">
          {passed} of {rows.length} checks passed
        </p>
      )}
      <ol className="divide-y divide-slate-200 rounded-md border border-slate-200 dark:divide-ink-700 dark:border-ink-700">
        {rows.map((check) => {
          const icon = ICON[check.status];
          const label = check.status === "pending" && over ? "not run" : icon.label;
          const open = check.status === "fail" || check.status === "error";
          return (
            <li key={check.id} className="px-3 py-2.5" data-check={check.id} data-status={check.status}>
              <div className="flex items-start gap-2.5">
                <span
                  aria-hidden
                  className={`mt-0.5 flex h-5 w-5 shrink-0 items-center justify-center rounded-full border-2 text-xs font-bold ${icon.className}`}
                >
                  {icon.glyph}
                </span>
                <p className="min-w-0 flex-1 text-sm font-medium">
                  {check.title}
                  <span className="sr-only"> — {label}</span>
                </p>
                {check.ms !== undefined && <span className="shrink-0 font-mono text-xs text-slate-600 dark:text-slate-400">{formatMs(check.ms)}</span>}
              </div>
              {open && (check.message || check.expected || check.actual || check.hint) && (
                <div className="mt-2 space-y-2 pl-7.5">
                  {check.message && <p className="whitespace-pre-wrap break-words text-sm text-slate-800 dark:text-slate-200">{check.message}</p>}
                  {(check.expected !== undefined || check.actual !== undefined) && (
                    <dl className="grid gap-2 @lg:grid-cols-2">
                      {check.expected !== undefined && <Value label="Expected" value={check.expected} tone="expected" />}
                      {check.actual !== undefined && <Value label="Actual" value={check.actual} tone="actual" />}
                    </dl>
                  )}
                  {check.hint && (
                    <p className="rounded border-l-4 border-brand-500 bg-brand-50 px-2 py-1 text-sm text-slate-900 dark:bg-ink-800 dark:text-slate-100">
                      <span className="font-semibold">Hint: </span>
                      {check.hint}
                    </p>
                  )}
                </div>
              )}
            </li>
          );
        })}
        {rows.length === 0 && <li className="px-3 py-2.5 text-sm text-slate-700 dark:text-slate-300">This lab declares no checks.</li>}
      </ol>
    </div>
  );
}
