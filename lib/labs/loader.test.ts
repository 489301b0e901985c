import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, expect, test } from "vitest";
import { loadLabs } from "./loader.ts";
import { labJsonSchema } from "./schema.ts";

const roots: string[] = [];
afterEach(() => roots.splice(0).forEach((r) => rmSync(r, { recursive: true, force: true })));

const valid = {
  id: "priority-queue",
  slug: "priority-queue",
  title: "A priority queue on a sorted set",
  milestone: "M5",
  summary: "Enqueue and dequeue tasks by priority with ZADD and BZPOPMIN.",
  minutes: 45,
  files: [{ path: "queue.ts" }],
  checks: [
    { id: "fifo-equal-priority", title: "equal priorities come out first in, first out" },
    { id: "no-shared-task", title: "concurrent consumers never share a task" },
  ],
  wrong: [
    { dir: "non-atomic", catches: "no-shared-task", why: "claims with ZRANGE then ZREM, not atomically" },
    { dir: "no-fifo", catches: "fifo-equal-priority", why: "scores by priority alone, so ties come out in any order" },
    { dir: "lifo", catches: "fifo-equal-priority", why: "uses a negative timestamp, so ties come out last in, first out" },
  ],
};

function labsDir(labs: Record<string, unknown>, { omit = [] as string[] } = {}): string {
  const root = mkdtempSync(path.join(tmpdir(), "fl-labs-"));
  roots.push(root);
  const dir = path.join(root, "labs");
  for (const [folder, json] of Object.entries(labs)) {
    const d = path.join(dir, folder);
    for (const sub of ["starter", "solution", "wrong/non-atomic", "wrong/no-fifo", "wrong/lifo"]) mkdirSync(path.join(d, sub), { recursive: true });
    writeFileSync(path.join(d, "lab.json"), typeof json === "string" ? json : JSON.stringify(json));
    for (const f of ["starter/queue.ts", "solution/queue.ts", "checks.ts"]) if (!omit.includes(f)) writeFileSync(path.join(d, f), "");
  }
  return dir;
}

test("a complete lab loads with defaults filled in", () => {
  const [loaded] = loadLabs(labsDir({ "priority-queue": valid }));
  expect(loaded?.lab).toMatchObject({ id: "priority-queue", files: [{ path: "queue.ts", editable: true }], redis: { allow: "all", budgets: {} }, hints: [] });
});

test("a slug that differs from its folder names both and the fix", () => {
  expect(() => loadLabs(labsDir({ pq: valid }))).toThrow("labs/pq/lab.json: slug 'priority-queue' differs from folder 'pq'; make them the same.");
});

test("a wrong variant naming an unknown check lists the checks there are", () => {
  const lab = { ...valid, wrong: [...valid.wrong.slice(0, 2), { dir: "lifo", catches: "fifo", why: "uses a negative timestamp" }] };
  expect(() => loadLabs(labsDir({ "priority-queue": lab }))).toThrow(
    /wrong\.2\.catches: names check 'fifo', which is not in checks; use one of fifo-equal-priority, no-shared-task/,
  );
});

test("missing files, a missing checks.ts and too few wrong variants are all reported at once", () => {
  const lab = { ...valid, wrong: valid.wrong.slice(0, 2) };
  expect(() => loadLabs(labsDir({ "priority-queue": lab }))).toThrow(/at least three known-wrong variants/);
  const error = (() => {
    try {
      loadLabs(labsDir({ "priority-queue": valid }, { omit: ["solution/queue.ts", "checks.ts"] }));
    } catch (e) {
      return (e as Error).message;
    }
  })();
  expect(error).toContain("'queue.ts' is missing from solution/");
  expect(error).toContain("checks.ts is missing beside lab.json");
});

test("a misspelt field gets a suggestion, and bad JSON says so", () => {
  expect(() => loadLabs(labsDir({ "priority-queue": { ...valid, hint: ["x"] } }))).toThrow(/did you mean hints\?/);
  expect(() => loadLabs(labsDir({ "priority-queue": "{ nope" }))).toThrow(/labs\/priority-queue\/lab.json: not valid JSON/);
});

test("two labs with one id are refused", () => {
  expect(() => loadLabs(labsDir({ "priority-queue": valid, "pq-copy": { ...valid, slug: "pq-copy" } }))).toThrow(/id 'priority-queue' is also used by/);
});

test("the generated JSON Schema describes the fields for editor help", () => {
  const schema = labJsonSchema() as { properties: Record<string, { description?: string }> };
  expect(schema.properties.slug?.description).toMatch(/folder name/);
  expect(Object.keys(schema.properties)).toContain("wrong");
});

test("labs/lab.schema.json is the JSON Schema of LabSchema, so editors help with the current fields", () => {
  const file = path.join(import.meta.dirname, "../../labs/lab.schema.json");
  const regenerate =
    'regenerate it: node --import tsx -e \'import("./lib/labs/schema.ts").then(m => process.stdout.write(JSON.stringify(m.labJsonSchema(), null, 2) + "\\n"))\' > labs/lab.schema.json';
  expect(JSON.parse(readFileSync(file, "utf8")), regenerate).toEqual(labJsonSchema());
});
