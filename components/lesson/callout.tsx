import type { ReactNode } from "react";

const styles = {
  note: { label: "Note", box: "border-sky-300 bg-sky-50 dark:border-sky-800 dark:bg-sky-950/40", accent: "text-sky-800 dark:text-sky-300" },
  tip: {
    label: "Tip",
    box: "border-emerald-300 bg-emerald-50 dark:border-emerald-800 dark:bg-emerald-950/40",
    accent: "text-emerald-800 dark:text-emerald-300",
  },
  warning: { label: "Watch out", box: "border-amber-300 bg-amber-50 dark:border-amber-700 dark:bg-amber-950/40", accent: "text-amber-900 dark:text-amber-300" },
} as const;

export function Callout({ kind = "note", title, children }: { kind?: keyof typeof styles; title?: string; children: ReactNode }) {
  const style = styles[kind] ?? styles.note;
  return (
    <aside className={`not-prose my-6 rounded-lg border-l-4 px-4 py-3 ${style.box}`} aria-label={title ?? style.label}>
      <p className={`text-sm font-semibold ${style.accent}`}>{title ?? style.label}</p>
      <div className="callout-body mt-1 text-[0.95rem] leading-relaxed">{children}</div>
    </aside>
  );
}

export function Hint({ title = "Hint", children }: { title?: string; children: ReactNode }) {
  return (
    <details className="my-5 rounded-lg border border-slate-200 px-4 py-2 dark:border-ink-700">
      <summary className="cursor-pointer font-medium text-brand-700 dark:text-brand-400">{title}</summary>
      <div className="callout-body mt-2">{children}</div>
    </details>
  );
}

export function Diagram({ caption, children }: { caption?: string; children: ReactNode }) {
  return (
    <figure className="my-8">
      <div className="diagram overflow-x-auto rounded-lg border border-slate-200 bg-slate-50 p-4 text-slate-800 dark:border-ink-700 dark:bg-ink-900 dark:text-slate-200">
        {children}
      </div>
      {caption && <figcaption className="mt-2 text-center text-sm text-slate-600 dark:text-slate-400">{caption}</figcaption>}
    </figure>
  );
}
