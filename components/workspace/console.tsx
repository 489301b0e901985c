"use client";

import { useLayoutEffect, useMemo, useRef, type CSSProperties } from "react";
import type { OutputLine } from "@/lib/runs/run-state";
import { hasEscapes, parseAnsi, plainStyle, type AnsiSpan, type AnsiStyle } from "./run-ansi";

// The 16 terminal colours as theme classes, each readable on the console's light and dark backgrounds.
const FG = [
  "text-slate-900 dark:text-slate-400", // black: kept visible on dark
  "text-red-700 dark:text-red-400",
  "text-green-700 dark:text-green-400",
  "text-amber-800 dark:text-amber-300",
  "text-blue-700 dark:text-blue-400",
  "text-fuchsia-700 dark:text-fuchsia-400",
  "text-cyan-800 dark:text-cyan-400",
  "text-slate-700 dark:text-slate-200",
  "text-slate-600 dark:text-slate-400",
  "text-red-600 dark:text-red-300",
  "text-green-600 dark:text-green-300",
  "text-amber-700 dark:text-yellow-200",
  "text-blue-600 dark:text-blue-300",
  "text-fuchsia-600 dark:text-fuchsia-300",
  "text-cyan-700 dark:text-cyan-300",
  "text-slate-900 dark:text-white",
];
const BG = [
  "bg-slate-800 text-white dark:bg-black",
  "bg-red-100 dark:bg-red-950",
  "bg-green-100 dark:bg-green-950",
  "bg-amber-100 dark:bg-amber-950",
  "bg-blue-100 dark:bg-blue-950",
  "bg-fuchsia-100 dark:bg-fuchsia-950",
  "bg-cyan-100 dark:bg-cyan-950",
  "bg-slate-200 dark:bg-slate-700",
  "bg-slate-300 dark:bg-slate-800",
  "bg-red-200 dark:bg-red-900",
  "bg-green-200 dark:bg-green-900",
  "bg-amber-200 dark:bg-amber-900",
  "bg-blue-200 dark:bg-blue-900",
  "bg-fuchsia-200 dark:bg-fuchsia-900",
  "bg-cyan-200 dark:bg-cyan-900",
  "bg-white text-slate-900 dark:bg-slate-200",
];

function spanProps(style: AnsiStyle): { className?: string; style?: CSSProperties } {
  const fg = style.inverse ? style.bg : style.fg;
  const bg = style.inverse ? (style.fg ?? 7) : style.bg;
  const classes: string[] = [];
  const css: CSSProperties = {};
  if (typeof fg === "number") classes.push(FG[fg]!);
  else if (fg) css.color = fg;
  if (typeof bg === "number") classes.push(BG[bg]!);
  else if (bg) css.backgroundColor = bg;
  if (style.bold) classes.push("font-bold");
  if (style.dim) classes.push("opacity-75");
  if (style.italic) classes.push("italic");
  if (style.underline) classes.push("underline");
  if (style.strike) classes.push("line-through");
  return { ...(classes.length ? { className: classes.join(" ") } : {}), ...(Object.keys(css).length ? { style: css } : {}) };
}

const STREAM: Record<OutputLine["stream"], string> = {
  stdout: "text-slate-900 dark:text-slate-100",
  stderr: "text-red-800 dark:text-red-300",
  grader: "text-brand-800 italic dark:text-brand-400",
};

interface Row {
  line: OutputLine;
  spans: AnsiSpan[];
  /** The check this line belongs to starts here. */
  checkTitle?: string;
}

/** Lines as styled spans; colour carries across lines, and each check's first line gets its title. */
function buildRows(output: OutputLine[], checkTitles: Map<string, string>): Row[] {
  const rows: Row[] = [];
  let style = plainStyle;
  let check: string | undefined;
  for (const [i, line] of output.entries()) {
    let spans: AnsiSpan[];
    if (hasEscapes(line.text) || style !== plainStyle) {
      const parsed = parseAnsi(line.text, style);
      spans = parsed.spans;
      style = Object.keys(parsed.end).length ? parsed.end : plainStyle;
    } else spans = line.text ? [{ text: line.text, style: plainStyle }] : [];
    const row: Row = { line, spans };
    if (line.check !== check && (line.check !== undefined || i > 0)) {
      check = line.check;
      if (line.check) row.checkTitle = checkTitles.get(line.check) ?? line.check;
    }
    rows.push(row);
  }
  return rows;
}

/**
 * The program's output with ANSI colours. Not a live region: output can be fast, and screen
 * readers get check results from the panel's own announcements instead. Follows the newest line
 * while scrolled to the bottom, and stays put while the learner reads further up.
 */
export function Console({
  output,
  dropped,
  truncated,
  checkTitles,
}: {
  output: OutputLine[];
  dropped: number;
  truncated: boolean;
  checkTitles: Map<string, string>;
}) {
  const box = useRef<HTMLDivElement>(null);
  const stick = useRef(true);

  const rows = useMemo(() => buildRows(output, checkTitles), [output, checkTitles]);

  useLayoutEffect(() => {
    const el = box.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [rows]);

  return (
    <div className="flex h-full min-h-0 flex-col">
      {truncated && (
        <p className="mb-2 rounded bg-amber-50 px-2 py-1 text-xs text-amber-950 dark:bg-amber-950/50 dark:text-amber-100">
          Output is capped:{" "}
          {dropped > 0 ? `the first ${dropped.toLocaleString("en")} ${dropped === 1 ? "line is" : "lines are"} not shown` : "very long lines are cut"}. Print
          less to see everything.
        </p>
      )}
      <div
        ref={box}
        tabIndex={0}
        role="region"
        aria-label="Program output"
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        }}
        className="min-h-32 flex-1 overflow-auto rounded-md border border-slate-200 bg-slate-50 p-2 font-mono text-xs leading-5 dark:border-ink-700 dark:bg-ink-900"
      >
        {rows.length === 0 ? (
          <p className="text-slate-600 dark:text-slate-400">No output yet. What your program prints (console.log) shows here.</p>
        ) : (
          rows.map((row, i) => (
            <div key={i + dropped}>
              {row.checkTitle && (
                <div className="mt-1 border-t border-slate-200 pt-1 font-sans text-[11px] font-semibold text-slate-600 first:mt-0 first:border-0 first:pt-0 dark:border-ink-700 dark:text-slate-400">
                  {row.checkTitle}
                </div>
              )}
              <div className={`whitespace-pre-wrap break-words ${STREAM[row.line.stream]}`} data-stream={row.line.stream}>
                {row.line.stream === "stderr" && <span className="sr-only">stderr: </span>}
                {row.line.stream === "grader" && <span className="sr-only">grader: </span>}
                {row.spans.length === 0
                  ? "\u00a0"
                  : row.spans.map((span, j) =>
                      span.style === plainStyle ? (
                        span.text
                      ) : (
                        <span key={j} {...spanProps(span.style)}>
                          {span.text}
                        </span>
                      ),
                    )}
              </div>
            </div>
          ))
        )}
      </div>
    </div>
  );
}
