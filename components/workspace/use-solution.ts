"use client";

import { useState, useSyncExternalStore } from "react";
import type { RunState } from "@/lib/runs/run-state";
import { SolutionCompare, opensSolution } from "./solution-compare";

/** The reference-solution comparison as React state: offered once the learner passed, opened on request. */
export function useSolution({
  api,
  available,
  run,
  mine,
  onNotice,
}: {
  api: string;
  /** The learner passed before (or teaches): offered from the start. */
  available: boolean;
  run: RunState;
  /** The learner's files as they are now. */
  mine(): Record<string, string>;
  onNotice(message: string): void;
}) {
  const [compare] = useState(() => new SolutionCompare({ api }));
  const state = useSyncExternalStore(compare.subscribe, compare.getState, compare.getState);

  // Decided while rendering the run that just ended, so the button appears with its verdict.
  const [passed, setPassed] = useState(available);
  const [seenVerdict, setSeenVerdict] = useState(run.verdict);
  if (run.verdict !== seenVerdict) {
    setSeenVerdict(run.verdict);
    if (opensSolution(run)) setPassed(true);
  }

  async function open() {
    const refused = await compare.open(mine);
    if (refused) onNotice(refused);
  }

  return {
    offered: passed,
    isOpen: state.open,
    solution: state.solution,
    mine: state.mine,
    open,
    close: () => compare.close(),
    reference: (editable: readonly string[]) => compare.reference(editable),
  };
}
