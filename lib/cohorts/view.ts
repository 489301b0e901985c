/**
 * Sorting and filtering the class grid, from the page's query string, so a view can be linked,
 * bookmarked and used without JavaScript. Pure; unknown values fall back to the defaults.
 */
import type { GridRow } from "./grid.ts";

export const filters = ["all", "attention", "stuck", "idle", "overdue"] as const;
export type Filter = (typeof filters)[number];

export interface GridView {
  /** "name" | "activity" | "stuck" | a milestone id */
  sort: string;
  dir: "asc" | "desc";
  filter: Filter;
  q: string;
}

export function parseView(params: Record<string, string | string[] | undefined>, milestoneIds: string[]): GridView {
  const one = (k: string) => (Array.isArray(params[k]) ? params[k][0] : params[k]) ?? "";
  const sort = ["name", "activity", "stuck", ...milestoneIds].includes(one("sort")) ? one("sort") : "name";
  const dir = one("dir") === "desc" ? "desc" : one("dir") === "asc" ? "asc" : sort === "name" ? "asc" : "desc";
  const filter = (filters as readonly string[]).includes(one("filter")) ? (one("filter") as Filter) : "all";
  return { sort, dir, filter, q: one("q").trim().slice(0, 100) };
}

const overdue = (r: GridRow) => r.requirements.some((s) => s.state === "overdue");

/** Stuck, idle or overdue: who the "Needs attention" filter and count show. */
export const needsAttention = (r: GridRow) => r.stuck.length > 0 || r.idle || overdue(r);

export function applyView(rows: GridRow[], view: GridView): GridRow[] {
  const q = view.q.toLowerCase();
  const kept = rows.filter((r) => {
    if (q && !r.name.toLowerCase().includes(q) && !r.email.toLowerCase().includes(q)) return false;
    if (view.filter === "stuck") return r.stuck.length > 0;
    if (view.filter === "idle") return r.idle;
    if (view.filter === "overdue") return overdue(r);
    if (view.filter === "attention") return needsAttention(r);
    return true;
  });
  const key = (r: GridRow): number | string => {
    if (view.sort === "name") return r.name.toLowerCase();
    if (view.sort === "activity") return r.lastActivity?.getTime() ?? 0;
    if (view.sort === "stuck") return r.stuck.reduce((n, s) => n + s.fails, 0);
    return r.cells.find((c) => c.milestoneId === view.sort)?.percent ?? 0;
  };
  const sign = view.dir === "asc" ? 1 : -1;
  return kept.sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    const order = x < y ? -1 : x > y ? 1 : 0;
    return order * sign || a.name.localeCompare(b.name);
  });
}
