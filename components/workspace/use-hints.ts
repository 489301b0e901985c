"use client";

import { useEffect, useRef, useState } from "react";
import type { HintsState } from "@/lib/labs/hints";
import type { RunVerdict } from "@/lib/runs/run-state";
import { HintRequests, refreshAfterRun } from "./hint-list";

/** The lab's hints as React state, with the section to scroll to and the list whose newest hint takes focus. */
export function useHints({
  api,
  signedIn,
  initial,
  verdict,
  onNotice,
}: {
  api: string;
  signedIn: boolean;
  initial: HintsState;
  /** The latest run's verdict: a new one may have opened the last hint. */
  verdict: RunVerdict | undefined;
  onNotice(message: string): void;
}) {
  const [requests] = useState(() => new HintRequests({ api }));
  const [hints, setHints] = useState(initial);
  const [busy, setBusy] = useState(false);
  const section = useRef<HTMLElement>(null);
  const list = useRef<HTMLOListElement>(null);
  // Set when the learner asked for a hint: once it is drawn, it takes focus (a screen reader reads it).
  const focusNewest = useRef(false);
  useEffect(() => {
    if (!focusNewest.current) return;
    focusNewest.current = false;
    (list.current?.lastElementChild as HTMLElement | null)?.focus();
  }, [hints]);

  const refresh = refreshAfterRun(signedIn, hints);
  useEffect(() => {
    if (!refresh || !verdict) return;
    const controller = new AbortController();
    void requests.unlocked(controller.signal).then((unlocked) => unlocked && setHints(unlocked));
    return () => controller.abort();
    // finalLockedFor is a dependency on purpose: a refresh that lowers it asks once more.
  }, [verdict, hints.finalLockedFor, refresh, requests]);

  async function next() {
    setBusy(true);
    const answer = await requests.next();
    if ("hints" in answer) {
      focusNewest.current = true;
      setHints(answer.hints);
    } else onNotice(answer.notice);
    setBusy(false);
  }

  function show() {
    section.current?.scrollIntoView({ behavior: "smooth", block: "start" });
    section.current?.focus({ preventScroll: true });
  }

  return { hints, busy, next, show, sectionRef: section, listRef: list };
}
