"use client";

import { Component, useEffect, useId, useMemo, useRef, useState, type KeyboardEvent, type ReactNode } from "react";
import { CANCELLED } from "@/lib/runs/messages";
import { isLive, type RunState } from "@/lib/runs/run-state";
import { CheckList } from "./check-list";
import { CommandLog } from "./command-log";
import { Console } from "./console";
import { RedisView } from "./redis-view";
import { formatElapsed, formatMs, isMarker, lastAtOrBefore } from "./run-format";
import { Timeline } from "./timeline";

type Tab = "checks" | "console" | "redis" | "commands";
const TABS: { id: Tab; label: string }[] = [
  { id: "checks", label: "Checks" },
  { id: "console", label: "Console" },
  { id: "redis", label: "Redis" },
  { id: "commands", label: "Commands" },
];

/** One part failing to draw (an event shape this page does not expect) must not take the editor down with it. */
class PartBoundary extends Component<{ children: ReactNode; name: string }, { failed: boolean }> {
  override state = { failed: false };
  static getDerivedStateFromError() {
    return { failed: true };
  }
  override render() {
    if (this.state.failed)
      return (
        <p role="alert" className="text-sm text-amber-900 dark:text-amber-200">
          The {this.props.name} could not be shown for this run. The other tabs still work; reload the page to try again.
        </p>
      );
    return this.props.children;
  }
}

/** A clock for "queued for 4 s": ticks once a second while `on`, and not at all otherwise. */
function useNow(on: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!on) return;
    const tick = () => setNow(Date.now());
    const first = setTimeout(tick, 0);
    const timer = setInterval(tick, 1000);
    return () => {
      clearTimeout(first);
      clearInterval(timer);
    };
  }, [on]);
  return now;
}

function Spinner() {
  return (
    <span
      aria-hidden
      className="inline-block h-3.5 w-3.5 shrink-0 rounded-full border-2 border-brand-600 border-t-transparent motion-safe:animate-spin dark:border-brand-400 dark:border-t-transparent"
    />
  );
}

const VERDICT_STYLE = {
  pass: "border-emerald-300 bg-emerald-50 text-emerald-950 dark:border-emerald-800 dark:bg-emerald-950/40 dark:text-emerald-100",
  fail: "border-red-300 bg-red-50 text-red-950 dark:border-red-800 dark:bg-red-950/40 dark:text-red-100",
  error: "border-amber-300 bg-amber-50 text-amber-950 dark:border-amber-800 dark:bg-amber-950/40 dark:text-amber-100",
};

/** The sentence a screen reader hears: phase changes, each check's result, the verdict. Never the ticking clock. */
function announcement(state: RunState, titles: Map<string, string>): string {
  switch (state.phase) {
    case "idle":
      return "";
    case "submitting":
      return state.mode === "run" ? "Starting your program." : "Starting the checks.";
    case "queued":
      return "Queued, waiting for a runner.";
    case "building":
      return state.diagnostics.length > 0 ? `Your code does not build: ${state.diagnostics.length} errors.` : "Building your code.";
    case "running": {
      if (state.cancelling) return "Cancelling.";
      const done = state.checks.filter((c) => c.status === "pass" || c.status === "fail" || c.status === "error");
      const last = done.at(-1);
      if (!last) return state.mode === "run" ? "Your program is running." : "Running the checks.";
      const word = last.status === "pass" ? "passed" : last.status === "fail" ? "failed" : "could not be judged";
      return `${titles.get(last.id) ?? last.title}: ${word}. ${done.length} of ${Math.max(titles.size, state.checks.length)} checks done.`;
    }
    case "done":
      if (!state.verdict) return state.error ?? "The run ended.";
      return `Run ${state.verdict.status === "pass" ? "passed" : state.verdict.status === "fail" ? "failed" : "ended with an error"}. ${state.verdict.message ?? ""}`.trim();
    case "cancelled":
      return state.cancelMessage ?? CANCELLED;
    case "failed-to-start":
      return ""; // the alert says it
  }
}

function Status({ state, now, titles }: { state: RunState; now: number; titles: Map<string, string> }) {
  const elapsed = state.phaseAt !== undefined ? formatElapsed(now - (state.startedAt ?? state.phaseAt)) : "";
  const line = (spin: boolean, text: ReactNode) => (
    <p className="flex items-center gap-2 text-sm text-slate-800 dark:text-slate-200">
      {spin && <Spinner />}
      <span className="min-w-0 flex-1">{text}</span>
      {elapsed && <span className="shrink-0 font-mono text-xs text-slate-600 tabular-nums dark:text-slate-400">{elapsed}</span>}
    </p>
  );
  const reconnecting = state.connection === "reconnecting" ? <span className="text-amber-800 dark:text-amber-300"> · reconnecting…</span> : null;
  const done = state.checks.filter((c) => c.status === "pass" || c.status === "fail" || c.status === "error").length;
  switch (state.phase) {
    case "idle":
      return <p className="text-sm text-slate-700 dark:text-slate-300">Press Run to run your program against a live Redis, or Check to grade it.</p>;
    case "submitting":
      return line(true, "Starting…");
    case "queued":
      return line(true, <>Queued, waiting for a runner{reconnecting}</>);
    case "building":
      return line(true, <>Building your code{reconnecting}</>);
    case "running":
      return line(
        true,
        <>
          {state.cancelling
            ? "Cancelling…"
            : state.mode === "run"
              ? "Your program is running"
              : `Running checks · ${done} of ${Math.max(titles.size, state.checks.length)} done`}
          {reconnecting}
        </>,
      );
    case "cancelled":
      return <p className="text-sm text-slate-800 dark:text-slate-200">{state.cancelMessage ?? CANCELLED}</p>;
    case "failed-to-start":
      return (
        <p
          role="alert"
          className="rounded-md border border-red-300 bg-red-50 px-3 py-2 text-sm text-red-950 dark:border-red-800 dark:bg-red-950/40 dark:text-red-100"
        >
          {state.error ?? "The run could not start."}
        </p>
      );
    case "done": {
      const v = state.verdict;
      if (!v) {
        return (
          <p
            role="alert"
            className="rounded-md border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-950 dark:border-amber-800 dark:bg-amber-950/40 dark:text-amber-100"
          >
            {state.error ?? "The run ended without a result."}
          </p>
        );
      }
      const word = v.status === "pass" ? "Passed" : v.status === "fail" ? "Failed" : "Error";
      return (
        <div className={`rounded-md border px-3 py-2 text-sm ${VERDICT_STYLE[v.status]}`} data-verdict={v.status}>
          <p>
            <strong>{word}</strong>
            {v.message ? ` — ${v.message}` : ""}
          </p>
          <p className="mt-0.5 text-xs opacity-90">
            {state.mode === "run" ? "Run" : "Check"} took {formatMs(v.ms)} ·{" "}
            {state.replay ? (
              // A seed the learner chose: graded for debugging, never credited (docs/authoring-labs.md).
              <>
                replay of seed <span className="font-mono">{v.seed}</span> · does not count toward progress
              </>
            ) : (
              <>
                seed <span className="font-mono">{v.seed}</span>
              </>
            )}
          </p>
        </div>
      );
    }
  }
}

/**
 * Everything about the current run beside the editor: its progress at once, the checks turning
 * pass/fail live, the console, the learner's Redis as it changes, and the command log with the
 * injected faults on one timeline. Tabs follow the WAI-ARIA pattern (arrow keys move between
 * them, one tab stop). Sized by its parent; built to work from 480 px wide.
 */
export function RunPanel({ state, checks }: { state: RunState; checks: { id: string; title: string }[] }) {
  const id = useId();
  // The learner's tab choice holds for runs of the same mode; Run opens on Redis, Check on the checks.
  const [chosen, setChosen] = useState<{
    tab: Tab;
    mode?: RunState["mode"];
  } | null>(null);
  // The scrubber's position belongs to one run: a new run follows live again.
  const [pin, setPin] = useState<{ run?: string; index: number } | null>(null);
  const tabRefs = useRef<Record<Tab, HTMLButtonElement | null>>({
    checks: null,
    console: null,
    redis: null,
    commands: null,
  });
  const live = isLive(state.phase);
  const now = useNow(live);

  const titles = useMemo(
    () =>
      new Map([
        ...checks.map((c) => [c.id, c.title] as const),
        ...state.checks.filter((c) => !checks.some((d) => d.id === c.id)).map((c) => [c.id, c.title] as const),
      ]),
    [checks, state.checks],
  );
  const fallback: Tab = state.mode === "run" && state.diagnostics.length === 0 ? "redis" : "checks";
  const tab = chosen && chosen.mode === state.mode ? chosen.tab : fallback;

  const { snapshots, commands } = state;
  const selected = pin && pin.run === state.runId && pin.index < snapshots.length ? pin.index : null;
  const index = selected ?? snapshots.length - 1;
  const shown = snapshots[index];
  const markers = useMemo(() => commands.filter(isMarker), [commands]);
  const visibleCommands = useMemo(() => (selected === null || !shown ? commands : commands.filter((c) => c.at <= shown.at)), [commands, selected, shown]);
  const duration = Math.max(state.verdict?.ms ?? 0, snapshots.at(-1)?.at ?? 0, commands.at(-1)?.at ?? 0, markers.at(-1)?.at ?? 0);
  const failing = state.checks.filter((c) => c.status === "fail" || c.status === "error").length;
  const finishedChecks = state.checks.filter((c) => c.status === "pass" || c.status === "fail" || c.status === "error").length;
  // Markers at or before the snapshot shown, for the Redis tab's "what just happened" line.
  const lastFault = shown ? markers[lastAtOrBefore(markers, shown.at)] : undefined;

  const select = (next: Tab, focus = false) => {
    setChosen({ tab: next, mode: state.mode });
    if (focus) tabRefs.current[next]?.focus();
  };
  const onKeyDown = (e: KeyboardEvent<HTMLButtonElement>) => {
    const i = TABS.findIndex((t) => t.id === tab);
    const to =
      e.key === "ArrowRight"
        ? (i + 1) % TABS.length
        : e.key === "ArrowLeft"
          ? (i - 1 + TABS.length) % TABS.length
          : e.key === "Home"
            ? 0
            : e.key === "End"
              ? TABS.length - 1
              : -1;
    if (to === -1) return;
    e.preventDefault();
    select(TABS[to]!.id, true);
  };
  const badge = (t: Tab): string | null => {
    if (t === "checks") return state.checks.length ? `${finishedChecks}/${Math.max(titles.size, state.checks.length)}` : state.diagnostics.length ? "!" : null;
    if (t === "console") return state.output.length ? String(state.output.length + state.outputDropped) : null;
    if (t === "redis") return shown ? String(shown.keys.length) : null;
    return commands.length ? String(commands.length + state.commandsDropped) : null;
  };

  const timeline = (
    <Timeline
      duration={duration}
      markers={markers}
      snapshots={snapshots}
      selected={selected}
      onSelect={(i) => setPin(i === null ? null : { run: state.runId, index: i })}
      live={live}
    />
  );

  return (
    <div
      className="@container flex h-full min-h-0 min-w-0 flex-col gap-2 bg-white p-2 text-slate-900 dark:bg-ink-950 dark:text-slate-100"
      data-phase={state.phase}
    >
      <Status state={state} now={now} titles={titles} />
      <p role="status" aria-live="polite" aria-atomic="true" className="sr-only">
        {announcement(state, titles)}
      </p>
      <div role="tablist" aria-label="Run details" className="flex shrink-0 gap-1 overflow-x-auto border-b border-slate-200 dark:border-ink-700">
        {TABS.map((t) => {
          const count = badge(t.id);
          const on = t.id === tab;
          return (
            <button
              key={t.id}
              ref={(el) => {
                tabRefs.current[t.id] = el;
              }}
              type="button"
              role="tab"
              id={`${id}-tab-${t.id}`}
              aria-selected={on}
              aria-controls={`${id}-panel-${t.id}`}
              tabIndex={on ? 0 : -1}
              onClick={() => select(t.id)}
              onKeyDown={onKeyDown}
              className={`-mb-px flex shrink-0 items-center gap-1.5 border-b-2 px-2.5 py-1.5 text-sm font-medium ${on ? "border-brand-600 text-slate-900 dark:border-brand-400 dark:text-white" : "border-transparent text-slate-700 hover:text-slate-900 dark:text-slate-300 dark:hover:text-white"}`}
            >
              {t.label}
              {count && (
                <span
                  className={`rounded-full px-1.5 text-[11px] font-semibold tabular-nums ${t.id === "checks" && failing > 0 ? "bg-red-100 text-red-900 dark:bg-red-950 dark:text-red-200" : "bg-slate-100 text-slate-800 dark:bg-ink-800 dark:text-slate-200"}`}
                >
                  {count}
                </span>
              )}
            </button>
          );
        })}
      </div>
      {TABS.map((t) => (
        <div
          key={t.id}
          role="tabpanel"
          id={`${id}-panel-${t.id}`}
          aria-labelledby={`${id}-tab-${t.id}`}
          hidden={t.id !== tab}
          tabIndex={t.id === "checks" || t.id === "redis" ? 0 : undefined}
          className="min-h-0 flex-1 overflow-auto"
        >
          <PartBoundary key={`${t.id}-${state.runId ?? ""}`} name={t.label.toLowerCase()}>
            {t.id === tab &&
              t.id === "checks" &&
              (state.mode === "run" ? (
                <>
                  <CheckList checks={[]} declared={[]} phase={state.phase} diagnostics={state.diagnostics} />
                  <p className="text-sm text-slate-700 dark:text-slate-300">
                    Run runs your program without grading it. Press Check to run the {checks.length} checks.
                  </p>
                </>
              ) : (
                <CheckList checks={state.checks} declared={checks} phase={state.phase} diagnostics={state.diagnostics} />
              ))}
            {t.id === tab && t.id === "console" && (
              <Console output={state.output} dropped={state.outputDropped} truncated={state.outputTruncated} checkTitles={titles} />
            )}
            {t.id === tab && t.id === "redis" && (
              <div className="space-y-2">
                {timeline}
                {lastFault && (
                  <p className="text-xs text-slate-700 dark:text-slate-300">
                    Last fault before this moment: <span className="font-mono">{lastFault.fault}</span> at {formatMs(lastFault.at)}
                  </p>
                )}
                <RedisView keys={shown?.keys} previous={snapshots[index - 1]?.keys} label={shown ? `Redis at ${formatMs(shown.at)}` : "Redis"} />
              </div>
            )}
            {t.id === tab && t.id === "commands" && (
              <div className="flex h-full min-h-0 flex-col gap-2">
                {timeline}
                <CommandLog
                  commands={visibleCommands}
                  total={commands.length}
                  dropped={state.commandsDropped}
                  follow={selected === null}
                  {...(selected !== null && shown ? { upTo: formatMs(shown.at) } : {})}
                />
              </div>
            )}
          </PartBoundary>
        </div>
      ))}
    </div>
  );
}
