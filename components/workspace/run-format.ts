/** Small formatting helpers shared by the run panel's parts. */
import type { CommandEntry } from "@/lib/runs/run-state";

/** "850 ms", "3.62 s", "1 min 04 s". */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return "";
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
}

/** Whole seconds for a ticking clock: "4 s", "1:05". */
export function formatElapsed(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** A timestamp on the run's clock for the command log: "12.345 s". */
export const formatAt = (ms: number) => `${(ms / 1000).toFixed(3)} s`;

export function formatTtl(ttlMs: number): string | null {
  if (ttlMs < 0) return null;
  return ttlMs < 1000 ? `${ttlMs} ms` : ttlMs < 120_000 ? `${(ttlMs / 1000).toFixed(1)} s` : `${Math.round(ttlMs / 60_000)} min`;
}

export type FaultKind = "kill" | "pause" | "resume" | "partition" | "heal" | "latency" | "fail" | "drop" | "reset" | "replace" | "signal" | "other";

/** What a conn-0 marker ("kill worker-2", "partition (3 connections cut)", "latency 50±10ms") is. */
export function faultKind(fault: string): FaultKind {
  const word = fault.trim().split(/[\s(]/)[0]!.toLowerCase();
  if (word === "kill") return "kill";
  if (word === "pause") return "pause";
  if (word === "resume") return "resume";
  if (word === "partition" || word === "cutall") return "partition";
  if (word === "heal") return "heal";
  if (word === "latency" || word === "fragment") return "latency";
  if (word === "failnext" || word === "duplicatenext") return "fail";
  if (word === "dropreplies") return "drop";
  if (word === "reset") return "reset";
  if (word === "redis") return "replace";
  if (/^sig[a-z]+$/.test(word)) return "signal";
  return "other";
}

/** Badge colours per fault kind, readable in both themes. */
export const FAULT_STYLE: Record<FaultKind, { badge: string; tick: string; label: string }> = {
  kill: { badge: "bg-red-100 text-red-900 dark:bg-red-950 dark:text-red-200", tick: "bg-red-600 dark:bg-red-400", label: "Kill" },
  signal: { badge: "bg-red-100 text-red-900 dark:bg-red-950 dark:text-red-200", tick: "bg-red-600 dark:bg-red-400", label: "Signal" },
  pause: { badge: "bg-amber-100 text-amber-900 dark:bg-amber-950 dark:text-amber-200", tick: "bg-amber-500 dark:bg-amber-300", label: "Pause" },
  resume: { badge: "bg-emerald-100 text-emerald-900 dark:bg-emerald-950 dark:text-emerald-200", tick: "bg-emerald-600 dark:bg-emerald-400", label: "Resume" },
  partition: { badge: "bg-purple-100 text-purple-900 dark:bg-purple-950 dark:text-purple-200", tick: "bg-purple-600 dark:bg-purple-400", label: "Partition" },
  heal: { badge: "bg-emerald-100 text-emerald-900 dark:bg-emerald-950 dark:text-emerald-200", tick: "bg-emerald-600 dark:bg-emerald-400", label: "Heal" },
  latency: { badge: "bg-sky-100 text-sky-900 dark:bg-sky-950 dark:text-sky-200", tick: "bg-sky-600 dark:bg-sky-400", label: "Latency" },
  fail: { badge: "bg-orange-100 text-orange-900 dark:bg-orange-950 dark:text-orange-200", tick: "bg-orange-600 dark:bg-orange-400", label: "Fault" },
  drop: { badge: "bg-orange-100 text-orange-900 dark:bg-orange-950 dark:text-orange-200", tick: "bg-orange-600 dark:bg-orange-400", label: "Drop" },
  reset: { badge: "bg-slate-200 text-slate-900 dark:bg-ink-700 dark:text-slate-100", tick: "bg-slate-500 dark:bg-slate-300", label: "Reset" },
  replace: { badge: "bg-red-100 text-red-900 dark:bg-red-950 dark:text-red-200", tick: "bg-red-600 dark:bg-red-400", label: "Replaced" },
  other: { badge: "bg-slate-200 text-slate-900 dark:bg-ink-700 dark:text-slate-100", tick: "bg-slate-500 dark:bg-slate-300", label: "Marker" },
};

export const isMarker = (e: CommandEntry) => e.conn === 0;

/** The last index in `sorted` (by `at`) whose `at` is at or before `at`; -1 when none. */
export function lastAtOrBefore<T extends { at: number }>(sorted: readonly T[], at: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]!.at <= at) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}
