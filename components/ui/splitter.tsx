"use client";

import type { KeyboardEvent as ReactKeyboardEvent, PointerEvent as ReactPointerEvent, RefObject } from "react";

/** How far one arrow key press moves a splitter, as a fraction of its container. */
export const SPLITTER_STEP = 0.02;

/**
 * The size a key asks for, or null for a key the splitter ignores. The arrows move the splitter
 * itself, so on a right-hand panel's splitter ArrowRight makes that panel smaller.
 */
export function sizeForKey(key: string, { value, min, max, edge }: { value: number; min: number; max: number; edge: "left" | "right" }): number | null {
  const grow = edge === "left" ? 1 : -1;
  const next =
    key === "ArrowRight"
      ? value + SPLITTER_STEP * grow
      : key === "ArrowLeft"
        ? value - SPLITTER_STEP * grow
        : key === "Home"
          ? min
          : key === "End"
            ? max
            : null;
  return next === null ? null : Math.min(max, Math.max(min, next));
}

/**
 * A keyboard-operable vertical splitter (WAI-ARIA window splitter pattern) between two panels of
 * `container`. `value` is the size of the panel on its `edge` side, a fraction of the container.
 */
export function Splitter({
  label,
  controls,
  value,
  min,
  max,
  onChange,
  container,
  edge,
}: {
  label: string;
  /** The id of the panel it resizes. */
  controls: string;
  value: number;
  min: number;
  max: number;
  onChange(v: number): void;
  container: RefObject<HTMLDivElement | null>;
  edge: "left" | "right";
}) {
  const onKeyDown = (e: ReactKeyboardEvent) => {
    const next = sizeForKey(e.key, { value, min, max, edge });
    if (next === null) return;
    e.preventDefault();
    onChange(next);
  };
  const onPointerDown = (e: ReactPointerEvent<HTMLDivElement>) => {
    const box = container.current?.getBoundingClientRect();
    if (!box) return;
    e.preventDefault();
    const target = e.currentTarget;
    target.setPointerCapture(e.pointerId);
    const move = (ev: PointerEvent) => {
      const fraction = edge === "left" ? (ev.clientX - box.left) / box.width : (box.right - ev.clientX) / box.width;
      onChange(Math.min(max, Math.max(min, fraction)));
    };
    const up = () => {
      target.removeEventListener("pointermove", move);
      target.removeEventListener("pointerup", up);
      target.removeEventListener("pointercancel", up);
    };
    target.addEventListener("pointermove", move);
    target.addEventListener("pointerup", up);
    target.addEventListener("pointercancel", up);
  };
  return (
    <div
      role="separator"
      aria-orientation="vertical"
      aria-label={label}
      aria-controls={controls}
      aria-valuenow={Math.round(value * 100)}
      aria-valuemin={Math.round(min * 100)}
      aria-valuemax={Math.round(max * 100)}
      tabIndex={0}
      onKeyDown={onKeyDown}
      onPointerDown={onPointerDown}
      className="group relative w-1.5 shrink-0 cursor-col-resize touch-none bg-slate-200 hover:bg-brand-500 focus-visible:bg-brand-500 dark:bg-ink-800 dark:hover:bg-brand-500"
    >
      <span
        aria-hidden="true"
        className="absolute left-1/2 top-1/2 h-8 w-0.5 -translate-x-1/2 -translate-y-1/2 rounded bg-slate-400 group-hover:bg-white dark:bg-ink-700"
      />
    </div>
  );
}
