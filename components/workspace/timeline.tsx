"use client";

import type { CommandEntry, RunSnapshot } from "@/lib/runs/run-state";
import { FAULT_STYLE, faultKind, formatMs } from "./run-format";

export interface TimelineProps {
  /** The run's length so far (ms); ticks are placed on 0…duration. */
  duration: number;
  /** conn-0 entries of the command log: kills, pauses, partitions, heals… */
  markers: CommandEntry[];
  snapshots: RunSnapshot[];
  /** The snapshot shown, or null to follow the newest. */
  selected: number | null;
  onSelect(index: number | null): void;
  live: boolean;
}

/**
 * The run on one time axis: fault markers as ticks, the snapshot shown as a cursor, and a
 * scrubber (a native range input, so arrows, Page Up/Down, Home and End work) to step back
 * through the snapshots. While the run is live it follows the newest snapshot until moved.
 */
export function Timeline({ duration, markers, snapshots, selected, onSelect, live }: TimelineProps) {
  const span = Math.max(duration, 1);
  const index = selected ?? snapshots.length - 1;
  const current = snapshots[index];
  const pct = (at: number) => `${Math.min(100, Math.max(0, (at / span) * 100))}%`;
  const following = selected === null;

  return (
    <div className="rounded-md border border-slate-200 px-2 pt-1.5 pb-2 dark:border-ink-700">
      <div className="flex flex-wrap items-center justify-between gap-x-2 text-xs text-slate-700 dark:text-slate-300">
        <span className="font-semibold">Timeline</span>
        <span aria-hidden>
          {current ? `snapshot ${index + 1}/${snapshots.length} · ${formatMs(current.at)}` : "no snapshots"}
          {live && following && current ? " · live" : ""}
        </span>
      </div>
      <div className="relative mt-1 h-5" aria-hidden>
        <div className="absolute inset-x-0 top-1/2 h-px bg-slate-300 dark:bg-ink-700" />
        {snapshots.length > 1 &&
          snapshots.map((s, i) => (
            <span
              key={`s${s.at}`}
              className={`absolute top-1/2 h-1 w-px -translate-y-1/2 ${i === index ? "" : "bg-slate-300 dark:bg-slate-600"}`}
              style={{ left: pct(s.at) }}
            />
          ))}
        {markers.map((m) => {
          const kind = faultKind(m.fault ?? "");
          return (
            <span
              key={m.seq}
              data-fault={kind}
              title={`${m.fault} at ${formatMs(m.at)}`}
              className={`absolute top-0 h-5 w-1 -translate-x-1/2 rounded-sm ${FAULT_STYLE[kind].tick}`}
              style={{ left: pct(m.at) }}
            />
          );
        })}
        {current && <span className="absolute top-0 h-5 w-0.5 -translate-x-1/2 bg-brand-600 dark:bg-brand-400" style={{ left: pct(current.at) }} />}
      </div>
      {markers.length > 0 && (
        <ul className="sr-only" aria-label="Faults on the timeline">
          {markers.map((m) => (
            <li key={m.seq}>
              {m.fault} at {formatMs(m.at)}
            </li>
          ))}
        </ul>
      )}
      {snapshots.length > 1 ? (
        <div className="mt-1 flex items-center gap-2">
          <input
            type="range"
            min={0}
            max={snapshots.length - 1}
            step={1}
            value={index}
            aria-label="Snapshot to show"
            aria-valuetext={
              current ? `Snapshot ${index + 1} of ${snapshots.length}, at ${formatMs(current.at)}${following && live ? ", following live" : ""}` : undefined
            }
            onChange={(e) => {
              const next = Number(e.currentTarget.value);
              onSelect(next === snapshots.length - 1 && live ? null : next);
            }}
            className="h-6 min-w-0 flex-1 accent-brand-700 dark:accent-brand-400"
          />
          {!following && (
            <button
              type="button"
              onClick={() => onSelect(null)}
              className="shrink-0 rounded border border-slate-300 px-2 py-0.5 text-xs font-semibold hover:bg-slate-100 dark:border-ink-700 dark:hover:bg-ink-800"
            >
              {live ? "Follow live" : "Latest"}
            </button>
          )}
        </div>
      ) : (
        <p className="mt-1 text-xs text-slate-600 dark:text-slate-400">
          {live
            ? "Snapshots appear here as your program runs."
            : markers.length > 0
              ? "Fault markers from the graded run."
              : "Nothing to scrub through: snapshots are taken when you press Run."}
        </p>
      )}
    </div>
  );
}
