/** The lab's checks, numbered, under its instructions: what the grader will try before the learner presses Check. */
export function GraderChecks({ checks }: { checks: { id: string; title: string }[] }) {
  return (
    <section aria-labelledby="grader-checks" className="mt-8 rounded-lg border border-slate-200 p-4 dark:border-ink-700">
      <h2 id="grader-checks" className="font-semibold">
        What the grader checks
      </h2>
      <ol className="mt-2 space-y-1.5 text-sm">
        {checks.map((c, i) => (
          <li key={c.id} className="flex gap-2">
            <span className="font-mono text-slate-600 dark:text-slate-400">{i + 1}.</span>
            <span>{c.title}</span>
          </li>
        ))}
      </ol>
    </section>
  );
}
