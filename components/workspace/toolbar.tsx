"use client";

import Link from "next/link";
import { Button, buttonClass } from "@/components/ui/button";
import type { RunMode } from "@/lib/runs/run-state";
import { SAVE_TEXT, type SaveState } from "./draft-autosave";

// Shortcut hints only where the toolbar has room; the buttons' titles and aria-keyshortcuts carry them anyway.
const kbd = "hidden rounded border border-current/30 px-1 font-mono text-[0.65rem] opacity-80 2xl:inline";

/** The row above the editor: Run, Check, Cancel and Re-run on the left; hints, solution, reset and save status on the right. */
export function Toolbar({
  signedIn,
  signInHref,
  live,
  cancelling,
  lastSeed,
  hints,
  solutionOffered,
  save,
  onGo,
  onCancel,
  onShowHints,
  onCompare,
  onReset,
}: {
  signedIn: boolean;
  signInHref: string;
  live: boolean;
  cancelling: boolean;
  lastSeed: number | null;
  hints: { shown: number; total: number };
  solutionOffered: boolean;
  save: SaveState;
  onGo(mode: RunMode, seed?: number): void;
  onCancel(): void;
  onShowHints(): void;
  onCompare(): void;
  onReset(): void;
}) {
  return (
    <div role="toolbar" aria-label="Lab actions" className="flex shrink-0 flex-wrap items-center gap-2 border-b border-slate-200 px-3 py-2 dark:border-ink-700">
      {signedIn ? (
        <>
          <Button
            type="button"
            variant="tool-primary"
            onClick={() => onGo("run")}
            aria-keyshortcuts="Control+Enter Meta+Enter"
            title="Run your program (Ctrl/Cmd+Enter)"
          >
            <span aria-hidden="true">▶</span> {live ? "Restart run" : "Run"}{" "}
            <kbd className={kbd} aria-hidden="true">
              ⌃↵
            </kbd>
          </Button>
          <Button
            type="button"
            variant="tool-primary"
            onClick={() => onGo("check")}
            aria-keyshortcuts="Control+Shift+Enter Meta+Shift+Enter"
            title="Grade your code against every check (Ctrl/Cmd+Shift+Enter)"
          >
            <span aria-hidden="true">✓</span> {live ? "Restart check" : "Check"}{" "}
            <kbd className={kbd} aria-hidden="true">
              ⌃⇧↵
            </kbd>
          </Button>
          <Button type="button" variant="tool-small" onClick={onCancel} disabled={!live || cancelling}>
            Cancel
          </Button>
          {lastSeed !== null && (
            <span className="flex items-center gap-1 text-xs text-slate-700 dark:text-slate-300">
              <span>
                Seed <code className="font-mono">{lastSeed}</code>
              </span>
              <button
                type="button"
                onClick={() => onGo("check", lastSeed)}
                aria-label={`Re-run with seed ${lastSeed}`}
                title="Check again with the same faults and timings, to reproduce this result. A replay of a seed you chose is for debugging: it does not count toward progress or open the solution."
                className="rounded px-1 py-0.5 font-medium text-brand-700 underline underline-offset-2 hover:bg-slate-100 dark:text-brand-400 dark:hover:bg-ink-800"
              >
                Re-run
              </button>
            </span>
          )}
          <span className="ml-auto flex flex-wrap items-center justify-end gap-1.5">
            {hints.total > 0 && (
              <Button type="button" variant="tool-small" onClick={onShowHints} aria-label={`Hints, ${hints.shown} of ${hints.total} shown`}>
                Hints {hints.shown}/{hints.total}
              </Button>
            )}
            {solutionOffered && (
              <Button type="button" variant="tool-small" onClick={onCompare}>
                Compare with solution
              </Button>
            )}
            <Button type="button" variant="tool-small" onClick={onReset}>
              Reset
            </Button>
            <span
              role="status"
              aria-live="polite"
              className="min-w-[5.5rem] text-right text-xs text-slate-600 dark:text-slate-400"
              title={save.error ?? undefined}
            >
              {SAVE_TEXT[save.status]}
            </span>
          </span>
        </>
      ) : (
        <>
          <Link href={signInHref} className={buttonClass({ variant: "tool-primary" })}>
            Sign in to run
          </Link>
          <p className="text-sm text-slate-700 dark:text-slate-300">You can read the starter; sign in to edit it, run it and have it graded.</p>
        </>
      )}
    </div>
  );
}
