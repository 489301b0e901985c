import Link from "next/link";
import type { Lab } from "@/lib/labs/schema";

export function LabCard({ lab }: { lab: Lab | undefined }) {
  if (!lab) return null;
  return (
    <Link
      href={`/labs/${lab.slug}`}
      className="not-prose my-8 block rounded-xl border border-brand-500/40 bg-brand-50 p-5 no-underline transition hover:border-brand-600 hover:shadow-md dark:border-brand-500/30 dark:bg-ink-900 dark:hover:border-brand-400"
    >
      <p className="font-mono text-xs font-semibold uppercase tracking-wider text-brand-700 dark:text-brand-400">
        Lab · {lab.milestone} · about {lab.minutes} min
      </p>
      <p className="mt-1 text-lg font-semibold text-slate-900 dark:text-white">{lab.title}</p>
      <p className="mt-1 text-slate-700 dark:text-slate-300">{lab.summary}</p>
      <p className="mt-3 text-sm font-semibold text-brand-700 dark:text-brand-400">
        Open the lab: {lab.checks.length} checks try to break it <span aria-hidden>→</span>
      </p>
    </Link>
  );
}
