/** A message about the learner's last action (a reset, a hint, the solution), above the editor until dismissed. */
export function Notice({ message, onDismiss }: { message: string; onDismiss(): void }) {
  return (
    <div
      role="status"
      className="flex shrink-0 items-start gap-2 border-b border-slate-200 bg-amber-50 px-3 py-2 text-sm text-amber-950 dark:border-ink-700 dark:bg-amber-950/40 dark:text-amber-100"
    >
      <p className="flex-1">{message}</p>
      <button type="button" onClick={onDismiss} aria-label="Dismiss message" className="rounded px-1 hover:bg-amber-100 dark:hover:bg-amber-900">
        <span aria-hidden="true">×</span>
      </button>
    </div>
  );
}
