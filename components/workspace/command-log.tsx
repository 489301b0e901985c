"use client";

import { useLayoutEffect, useMemo, useRef, useState } from "react";
import type { CommandEntry } from "@/lib/runs/run-state";
import { FAULT_STYLE, faultKind, formatAt, isMarker } from "./run-format";

const ROW = 24;
const OVERSCAN = 12;

function FaultRow({ e, index }: { e: CommandEntry; index: number }) {
  const kind = faultKind(e.fault ?? "");
  const style = FAULT_STYLE[kind];
  return (
    <tr aria-rowindex={index + 2} data-fault={kind} title={e.check ? `check ${e.check}` : undefined} className="h-6 bg-slate-100 dark:bg-ink-800">
      <td className="truncate px-1 text-right text-slate-600 dark:text-slate-400">{e.seq}</td>
      <td className="truncate px-1 text-slate-700 dark:text-slate-300">{formatAt(e.at)}</td>
      <td colSpan={4} className="truncate px-1 font-sans font-semibold" title={e.fault}>
        <span className={`mr-1.5 rounded px-1.5 py-px text-[11px] uppercase tracking-wide ${style.badge}`}>{style.label}</span>
        {e.fault}
      </td>
    </tr>
  );
}

function CommandRow({ e, index }: { e: CommandEntry; index: number }) {
  const [name = "", ...rest] = e.args;
  const error = e.reply?.type === "error";
  const text = e.args.join(" ");
  return (
    <tr aria-rowindex={index + 2} className="h-6 border-t border-slate-100 dark:border-ink-800">
      <td className="truncate px-1 text-right text-slate-600 dark:text-slate-400">{e.seq}</td>
      <td className="truncate px-1 text-slate-700 dark:text-slate-300">{formatAt(e.at)}</td>
      {/* Checks run at once and programs share a lane, so the connection cell says whose it is. */}
      <td
        className="truncate px-1 text-slate-700 dark:text-slate-300"
        title={`connection ${e.conn}${e.owner ? ` of ${e.owner}` : ""}${e.check ? `, check ${e.check}` : ""}`}
      >
        c{e.conn}
      </td>
      <td className="truncate px-1" title={text}>
        <span className="font-semibold text-slate-900 dark:text-white">{name}</span>{" "}
        <span className="text-slate-800 dark:text-slate-200">{rest.join(" ")}</span>
      </td>
      <td
        className={`truncate px-1 ${error ? "text-red-700 dark:text-red-400" : "text-slate-700 dark:text-slate-300"}`}
        title={e.reply ? `${e.reply.type}: ${e.reply.summary}` : "no reply"}
      >
        {e.fault && (
          <span
            className="mr-1 rounded bg-orange-100 px-1 font-sans text-[10px] font-semibold text-orange-900 dark:bg-orange-950 dark:text-orange-200"
            title={`Injected fault: ${e.fault}`}
          >
            {e.fault}
          </span>
        )}
        {e.reply?.summary ?? "—"}
      </td>
      <td className="truncate px-1 text-right text-slate-700 dark:text-slate-300">{e.durationMs !== undefined ? e.durationMs : ""}</td>
    </tr>
  );
}

/**
 * The learner's Redis commands as the chaos proxy saw them, with fault markers as rows of their
 * own. Only the rows in view are rendered (fixed row height), so thousands stay cheap; the table
 * keeps aria-rowcount/aria-rowindex so screen readers know where they are.
 */
export function CommandLog({
  commands,
  total,
  dropped,
  follow,
  upTo,
}: {
  commands: CommandEntry[];
  total: number;
  dropped: number;
  follow: boolean;
  upTo?: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  const [view, setView] = useState({ top: 0, height: 320 });
  const [filter, setFilter] = useState("");
  const [faultsOnly, setFaultsOnly] = useState(false);

  const rows = useMemo(() => {
    const q = filter.trim().toLowerCase();
    if (!q && !faultsOnly) return commands;
    return commands.filter(
      (e) =>
        (!faultsOnly || isMarker(e) || e.fault) &&
        (!q ||
          `${isMarker(e) ? (e.fault ?? "") : `${e.args.join(" ")} ${e.reply?.summary ?? ""} ${e.fault ?? ""}`} ${e.check ?? ""} ${e.owner ?? ""}`
            .toLowerCase()
            .includes(q)),
    );
  }, [commands, filter, faultsOnly]);

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    const measure = () => setView({ top: el.scrollTop, height: el.clientHeight });
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  useLayoutEffect(() => {
    const el = box.current;
    if (el && follow && stick.current) el.scrollTop = el.scrollHeight;
  }, [rows, follow]);

  // Scrubbed to another moment: show the commands just before it.
  useLayoutEffect(() => {
    const el = box.current;
    if (!el || upTo === undefined) return;
    stick.current = true;
    el.scrollTop = el.scrollHeight;
  }, [upTo]);

  const first = Math.max(0, Math.floor(view.top / ROW) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((view.top + view.height) / ROW) + OVERSCAN);
  const markers = commands.filter(isMarker).length;

  return (
    <div className="flex h-full min-h-0 flex-col gap-2">
      <div className="flex flex-wrap items-center gap-x-3 gap-y-1 text-xs">
        <label className="flex min-w-0 flex-1 items-center gap-1.5">
          <span className="shrink-0 font-semibold">Filter</span>
          <input
            type="search"
            value={filter}
            onChange={(e) => setFilter(e.currentTarget.value)}
            placeholder="ZADD, queue:tasks, kill, worker-1, a check's id…"
            className="min-w-0 flex-1 rounded border border-slate-300 bg-white px-1.5 py-0.5 text-slate-900 placeholder:text-slate-500 dark:border-ink-700 dark:bg-ink-900 dark:text-slate-100 dark:placeholder:text-slate-400"
          />
        </label>
        <label className="flex shrink-0 items-center gap-1">
          <input type="checkbox" checked={faultsOnly} onChange={(e) => setFaultsOnly(e.currentTarget.checked)} className="accent-brand-700" />
          Faults only
        </label>
      </div>
      <p className="text-xs text-slate-700 dark:text-slate-300">
        {rows.length.toLocaleString("en")} {rows.length === 1 ? "row" : "rows"}
        {rows.length !== total ? ` of ${total.toLocaleString("en")}` : ""}
        {markers > 0 ? ` · ${markers} fault ${markers === 1 ? "marker" : "markers"}` : ""}
        {upTo ? ` · up to ${upTo}` : ""}
        {dropped > 0 ? ` · the first ${dropped.toLocaleString("en")} commands are not shown` : ""}
      </p>
      <div
        ref={box}
        tabIndex={0}
        role="region"
        aria-label="Command log"
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < ROW;
          setView({ top: el.scrollTop, height: el.clientHeight });
        }}
        className="min-h-40 flex-1 overflow-auto rounded-md border border-slate-200 dark:border-ink-700"
      >
        {rows.length === 0 ? (
          <p className="p-2 text-sm text-slate-700 dark:text-slate-300">
            {commands.length === 0
              ? "No commands yet. Your program's Redis commands show here, with the faults the grader injects."
              : "No command matches the filter."}
          </p>
        ) : (
          <table aria-rowcount={rows.length + 1} className="w-full table-fixed border-collapse font-mono text-xs leading-6">
            <colgroup>
              <col className="w-12" />
              <col className="w-16" />
              <col className="w-9" />
              <col />
              <col className="w-24" />
              <col className="w-10" />
            </colgroup>
            <thead className="sticky top-0 z-10 bg-white text-left font-sans text-[11px] text-slate-700 dark:bg-ink-950 dark:text-slate-300">
              <tr aria-rowindex={1} className="h-6">
                <th scope="col" className="px-1 text-right font-semibold">
                  #
                </th>
                <th scope="col" className="px-1 font-semibold">
                  Time
                </th>
                <th scope="col" className="px-1 font-semibold">
                  <abbr title="Connection" className="no-underline">
                    Conn
                  </abbr>
                </th>
                <th scope="col" className="px-1 font-semibold">
                  Command
                </th>
                <th scope="col" className="px-1 font-semibold">
                  Reply
                </th>
                <th scope="col" className="px-1 text-right font-semibold">
                  <abbr title="Duration in milliseconds" className="no-underline">
                    ms
                  </abbr>
                </th>
              </tr>
            </thead>
            <tbody>
              {first > 0 && <tr aria-hidden style={{ height: first * ROW }} />}
              {rows
                .slice(first, last)
                .map((e, i) => (isMarker(e) ? <FaultRow key={e.seq} e={e} index={first + i} /> : <CommandRow key={e.seq} e={e} index={first + i} />))}
              {last < rows.length && <tr aria-hidden style={{ height: (rows.length - last) * ROW }} />}
            </tbody>
          </table>
        )}
      </div>
    </div>
  );
}
