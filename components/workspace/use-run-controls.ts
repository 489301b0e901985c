"use client";

import { useCallback, useEffect, useLayoutEffect, useRef, useState } from "react";
import type { RunMode, RunState } from "@/lib/runs/run-state";
import type { DraftAutosave } from "./draft-autosave";

/**
 * Run and Check: the draft is saved on the way, Ctrl/Cmd+Enter and Ctrl/Cmd+Shift+Enter work
 * anywhere on the page, and the seed of the last graded run is kept for "Re-run".
 */
export function useRunControls({
  signedIn,
  drafts,
  run,
  start,
}: {
  signedIn: boolean;
  drafts: DraftAutosave;
  run: RunState;
  start(mode: RunMode, files: Record<string, string>, seed?: number): Promise<void>;
}) {
  const go = useCallback(
    async (mode: RunMode, seed?: number) => {
      if (!signedIn) return;
      void drafts.save();
      // Pressing again while a run is live restarts it: useRun cancels the one in progress first.
      await start(mode, drafts.editableFiles(), seed);
    },
    [drafts, signedIn, start],
  );
  // Listeners registered once (the window's, Monaco's commands) call the latest go through this.
  const goRef = useRef(go);
  useLayoutEffect(() => {
    goRef.current = go;
  }, [go]);

  // Inside Monaco the editor's own commands handle the shortcuts first and mark the event handled.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.defaultPrevented || e.key !== "Enter" || !(e.ctrlKey || e.metaKey) || e.altKey) return;
      e.preventDefault();
      void goRef.current(e.shiftKey ? "check" : "run");
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  // A graded run just ended: its seed stays on offer to replay until the next one ends.
  const [lastSeed, setLastSeed] = useState<number | null>(null);
  const [seenVerdict, setSeenVerdict] = useState(run.verdict);
  if (run.verdict !== seenVerdict) {
    setSeenVerdict(run.verdict);
    if (run.mode === "check" && run.verdict) setLastSeed(run.verdict.seed);
  }

  return { go, goRef, lastSeed };
}
