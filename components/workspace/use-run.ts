"use client";

import { useCallback, useEffect, useMemo, useReducer, useRef } from "react";
import { initialRunState, runReducer, type RunMode, type RunState } from "@/lib/runs/run-state";
import { RunClient } from "./run-client";

export interface UseRun {
  state: RunState;
  /** Starts a run; one already in progress is cancelled first. Errors end up in `state.error`. */
  start(mode: RunMode, files: Record<string, string>, seed?: number): Promise<void>;
  /** Cancels the run in progress (or stops following it, if the server cannot cancel). */
  cancel(): Promise<void>;
}

/** A lab's runs as React state: POST /api/runs, then its SSE stream, resumable after a dropped connection. */
export function useRun(lab: string): UseRun {
  const [state, dispatch] = useReducer(runReducer, initialRunState);
  const client = useRef<RunClient | null>(null);

  // Created on demand as well as on mount: a click can come before the effect has run.
  const get = useCallback(() => (client.current ??= new RunClient({ lab, dispatch })), [lab]);

  useEffect(() => {
    const current = get();
    return () => {
      current.dispose();
      if (client.current === current) client.current = null;
    };
  }, [get]);

  const start = useCallback((mode: RunMode, files: Record<string, string>, seed?: number) => get().start(mode, files, seed), [get]);
  const cancel = useCallback(() => get().cancel(), [get]);
  return useMemo(() => ({ state, start, cancel }), [state, start, cancel]);
}
