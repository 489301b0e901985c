import { expect, test } from "vitest";
import { sizeForKey } from "@/components/ui/splitter";
import { DEFAULT_PANEL_SIZES, PANEL_SIZES_KEY, parseSizes, splitterBounds, storeSizes } from "./panel-sizes";

function storage() {
  const items = new Map<string, string>();
  return { setItem: (k: string, v: string) => void items.set(k, v), getItem: (k: string) => items.get(k) ?? null };
}

test("a layout the learner set comes back on the next visit; none, or an unreadable one, gives the default", () => {
  const s = storage();
  expect(parseSizes(s.getItem(PANEL_SIZES_KEY))).toEqual(DEFAULT_PANEL_SIZES);
  storeSizes(s, { left: 0.3, right: 0.25 });
  expect(parseSizes(s.getItem(PANEL_SIZES_KEY))).toEqual({ left: 0.3, right: 0.25 });
  expect(parseSizes("{not json")).toEqual(DEFAULT_PANEL_SIZES);
  expect(parseSizes(JSON.stringify({ left: "wide" }))).toEqual(DEFAULT_PANEL_SIZES);
});

test("whatever is stored, the editor keeps 30% of the width and each side panel its minimum", () => {
  const s = storage();
  storeSizes(s, { left: 0.9, right: 0.9 });
  const sizes = parseSizes(s.getItem(PANEL_SIZES_KEY));
  expect(1 - sizes.left - sizes.right).toBeCloseTo(0.3);
  expect(sizes.right).toBeCloseTo(0.2);
  expect(parseSizes(JSON.stringify({ left: 0, right: 0 }))).toEqual({ left: 0.15, right: 0.2 });
  const bounds = splitterBounds({ left: 0.26, right: 0.32 });
  expect(bounds.left).toEqual({ min: 0.15, max: 1 - 0.3 - 0.32 });
  expect(bounds.right).toEqual({ min: 0.2, max: 1 - 0.3 - 0.26 });
});

test("arrow keys move a splitter two points at a time, Home and End to its limits, never past them", () => {
  const left = { value: 0.26, min: 0.15, max: 0.38, edge: "left" as const };
  expect(sizeForKey("ArrowRight", left)).toBeCloseTo(0.28);
  expect(sizeForKey("ArrowLeft", left)).toBeCloseTo(0.24);
  expect(sizeForKey("Home", left)).toBe(0.15);
  expect(sizeForKey("End", left)).toBe(0.38);
  expect(sizeForKey("ArrowRight", { ...left, value: 0.37 })).toBe(0.38);
  expect(sizeForKey("Enter", left)).toBeNull();
  // The run panel is on the right: moving its splitter right makes it narrower.
  expect(sizeForKey("ArrowRight", { ...left, value: 0.32, edge: "right" })).toBeCloseTo(0.3);
});
