"use client";

import type { RefObject } from "react";
import { Button } from "@/components/ui/button";
import type { HintsState } from "@/lib/labs/hints";
import { hintControl } from "./hint-list";

/** The hints unlocked so far, and the way to the next one (or how many failed checks the last one waits for). */
export function HintsSection({
  hints,
  busy,
  onNext,
  sectionRef,
  listRef,
}: {
  hints: HintsState;
  busy: boolean;
  onNext(): void;
  /** The toolbar's Hints button scrolls here. */
  sectionRef: RefObject<HTMLElement | null>;
  /** A newly shown hint takes focus. */
  listRef: RefObject<HTMLOListElement | null>;
}) {
  const control = hintControl(hints);
  return (
    <section ref={sectionRef} tabIndex={-1} aria-labelledby="hints-title" className="mt-6 rounded-lg border border-slate-200 p-4 dark:border-ink-700">
      <h2 id="hints-title" className="font-semibold">
        Hints{" "}
        <span className="text-sm font-normal text-slate-600 dark:text-slate-400">
          ({hints.unlocked.length} of {hints.total} shown)
        </span>
      </h2>
      {hints.unlocked.length > 0 && (
        <ol ref={listRef} className="mt-2 list-decimal space-y-2 pl-5 text-sm">
          {hints.unlocked.map((h, i) => (
            <li key={i} tabIndex={-1}>
              {h}
            </li>
          ))}
        </ol>
      )}
      {control?.kind === "locked" && (
        <p className="mt-3 text-sm text-slate-600 dark:text-slate-400">
          The last hint is close to the answer, so it opens after you have tried: {control.failedChecksToGo} more failed check
          {control.failedChecksToGo === 1 ? "" : "s"} to go (or pass the lab).
        </p>
      )}
      {control?.kind === "button" && (
        <Button type="button" variant="tool-secondary" onClick={onNext} disabled={busy} className="mt-3">
          {control.label}
        </Button>
      )}
    </section>
  );
}
