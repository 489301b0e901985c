import { describe, expect, test } from "vitest";
import type { GridRow } from "./grid.ts";
import { applyView, parseView } from "./view.ts";

const row = (name: string, over: Partial<GridRow> = {}): GridRow => ({
  userId: name,
  name,
  email: `${name.toLowerCase()}@example.org`,
  joinedAt: new Date(0),
  lastActivity: null,
  idleDays: null,
  idle: false,
  stuck: [],
  cells: [],
  requirements: [],
  ...over,
});
const cell = (percent: number) => [{ milestoneId: "m5", percent, passed: percent >= 80, satisfied: 0, total: 10 }];

describe("class grid view", () => {
  const rows = [
    row("Zoe", { cells: cell(90), lastActivity: new Date(3000) }),
    row("adam", { cells: cell(10), idle: true, idleDays: 9 }),
    row("Mia", { cells: cell(50), stuck: [{ labId: "l", checkId: "c", fails: 6, since: new Date(1) }], lastActivity: new Date(2000) }),
  ];

  test("defaults: everyone, by name A→Z, case-insensitively", () => {
    const view = parseView({}, ["m5"]);
    expect(view).toEqual({ sort: "name", dir: "asc", filter: "all", q: "" });
    expect(applyView([...rows], view).map((r) => r.name)).toEqual(["adam", "Mia", "Zoe"]);
  });

  test("sorting by a milestone puts the highest grade first; unknown sorts fall back to name", () => {
    expect(applyView([...rows], parseView({ sort: "m5" }, ["m5"])).map((r) => r.name)).toEqual(["Zoe", "Mia", "adam"]);
    expect(applyView([...rows], parseView({ sort: "m5", dir: "asc" }, ["m5"])).map((r) => r.name)).toEqual(["adam", "Mia", "Zoe"]);
    expect(parseView({ sort: "passwordHash" }, ["m5"]).sort).toBe("name");
    expect(applyView([...rows], parseView({ sort: "activity" }, ["m5"])).map((r) => r.name)).toEqual(["Zoe", "Mia", "adam"]);
  });

  test("filters: stuck, idle, needs attention, and a search over name and email", () => {
    expect(applyView([...rows], parseView({ filter: "stuck" }, [])).map((r) => r.name)).toEqual(["Mia"]);
    expect(applyView([...rows], parseView({ filter: "idle" }, [])).map((r) => r.name)).toEqual(["adam"]);
    expect(applyView([...rows], parseView({ filter: "attention" }, [])).map((r) => r.name)).toEqual(["adam", "Mia"]);
    expect(applyView([...rows], parseView({ q: "ZOE@" }, [])).map((r) => r.name)).toEqual(["Zoe"]);
    expect(parseView({ filter: "everyone" }, []).filter).toBe("all");
  });
});
