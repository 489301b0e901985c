/**
 * The class grid and per-check results as CSV (RFC 4180) for a spreadsheet. A cell that a
 * spreadsheet would run as a formula (=, +, -, @, tab, CR at its start) is prefixed with a quote,
 * so a learner's name cannot become a formula on the instructor's machine.
 */
import type { ClassGrid } from "./grid.ts";

export function csvCell(value: string | number | null | undefined): string {
  let s = value === null || value === undefined ? "" : String(value);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export const toCsv = (rows: (string | number | null | undefined)[][]) => rows.map((r) => r.map(csvCell).join(",")).join("\r\n") + "\r\n";

const iso = (d: Date | null) => (d ? d.toISOString() : "");

export function gridCsv(grid: ClassGrid): string {
  const header = [
    "name",
    "email",
    "joined",
    "last_activity",
    "idle_days",
    ...grid.milestones.map((m) => `${m.code}_percent`),
    "stuck_on",
    ...grid.requirements.map((r) => `required: ${r.title}`),
  ];
  return toCsv([
    header,
    ...grid.rows.map((r) => [
      r.name,
      r.email,
      iso(r.joinedAt),
      iso(r.lastActivity),
      r.idleDays,
      ...r.cells.map((c) => c.percent),
      r.stuck.map((s) => `${s.labId}/${s.checkId} (${s.fails} fails)`).join("; "),
      ...r.requirements.map((s) => (s.metAt ? `${s.state} ${iso(s.metAt)}` : s.state)),
    ]),
  ]);
}

export function checksCsv(grid: ClassGrid): string {
  const who = new Map(grid.rows.map((r) => [r.userId, r]));
  return toCsv([
    ["name", "email", "lab", "check", "graded_runs", "passes", "first_passed", "last_result", "last_run"],
    ...grid.checks.flatMap((c) => {
      const r = who.get(c.userId);
      return r ? [[r.name, r.email, c.labId, c.checkId, c.runs, c.passes, iso(c.firstPassAt), c.lastStatus, iso(c.lastAt)]] : [];
    }),
  ]);
}
