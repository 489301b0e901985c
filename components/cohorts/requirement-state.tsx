import type { RequirementState } from "@/lib/cohorts/signals";

const style: Record<RequirementState, string> = {
  met: "bg-emerald-100 text-emerald-900 dark:bg-emerald-900/50 dark:text-emerald-200",
  late: "bg-amber-100 text-amber-900 dark:bg-amber-900/50 dark:text-amber-200",
  open: "bg-slate-100 text-slate-800 dark:bg-ink-800 dark:text-slate-200",
  overdue: "bg-red-100 text-red-900 dark:bg-red-900/50 dark:text-red-200",
};

/** A requirement's state as a small badge; `label` words it for the reader (a learner or an instructor). */
export function RequirementBadge({ state, label = state }: { state: RequirementState; label?: string }) {
  return <span className={`rounded px-1.5 py-0.5 text-xs font-medium ${style[state]}`}>{label}</span>;
}
