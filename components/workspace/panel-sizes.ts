/**
 * The workspace's panel widths, remembered in the browser. Widths are fractions of the workspace,
 * so a layout carries across window sizes; whatever is stored, the editor keeps its minimum.
 */
export interface PanelSizes {
  left: number;
  right: number;
}

export const PANEL_SIZES_KEY = "faultline:workspace:panels";
export const DEFAULT_PANEL_SIZES: PanelSizes = { left: 0.26, right: 0.32 };
const MIN = { left: 0.15, right: 0.2, centre: 0.3 };

export function clampSizes(s: PanelSizes): PanelSizes {
  const left = Math.min(Math.max(s.left, MIN.left), 1 - MIN.centre - MIN.right);
  const right = Math.min(Math.max(s.right, MIN.right), 1 - MIN.centre - left);
  return { left, right };
}

/** The stored layout, or the default one when there is none or it is unreadable. */
export function parseSizes(raw: string | null): PanelSizes {
  try {
    const saved = JSON.parse(raw ?? "null") as { left?: unknown; right?: unknown } | null;
    if (saved && typeof saved.left === "number" && typeof saved.right === "number") return clampSizes({ left: saved.left, right: saved.right });
  } catch {
    // A corrupt entry just means the default layout.
  }
  return DEFAULT_PANEL_SIZES;
}

export function storeSizes(storage: Pick<Storage, "setItem">, next: PanelSizes): void {
  storage.setItem(PANEL_SIZES_KEY, JSON.stringify(clampSizes(next)));
}

/** How far each splitter may go: each side panel keeps its minimum, and the editor between them its own. */
export function splitterBounds(sizes: PanelSizes): Record<keyof PanelSizes, { min: number; max: number }> {
  return { left: { min: MIN.left, max: 1 - MIN.centre - sizes.right }, right: { min: MIN.right, max: 1 - MIN.centre - sizes.left } };
}
