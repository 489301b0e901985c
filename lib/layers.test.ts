/**
 * lib/'s folders depend on each other one way (docs/architecture.md, "Where the code lives"): a
 * folder that imports another is never imported back by it, so each can be read, tested and
 * moved with only what is below it. Type-only imports count too: they couple the folders as much.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { expect, test } from "vitest";

const lib = path.resolve(import.meta.dirname);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "generated" ? [] : sources(full);
    return /\.tsx?$/.test(entry.name) && !/\.test\.tsx?$/.test(entry.name) ? [full] : [];
  });
}

/** The folder of lib/ a file is in, or null for a file directly in lib/. */
const folderOf = (file: string): string | null => {
  const parts = path.relative(lib, file).split(path.sep);
  return parts.length > 1 ? parts[0]! : null;
};

function folderImports(): Map<string, Map<string, string>> {
  const edges = new Map<string, Map<string, string>>();
  for (const file of sources(lib)) {
    const from = folderOf(file);
    if (!from) continue;
    for (const [, spec] of readFileSync(file, "utf8").matchAll(/(?:from|import)\s*\(?\s*"(\.[^"]+)"/g)) {
      const to = folderOf(path.resolve(path.dirname(file), spec!));
      if (!to || to === from) continue;
      const out = edges.get(from) ?? new Map<string, string>();
      out.set(to, path.relative(lib, file));
      edges.set(from, out);
    }
  }
  return edges;
}

test("no folder of lib/ imports a folder that imports it back", () => {
  const edges = folderImports();
  const both: string[] = [];
  for (const [from, out] of edges) {
    for (const [to, file] of out) {
      const back = edges.get(to)?.get(from);
      if (back && from < to) both.push(`${from} ⇄ ${to} (${file} imports ${to}/, ${back} imports ${from}/)`);
    }
  }
  expect(both).toEqual([]);
});

test("the check sees imports between folders (it would catch a cycle)", () => {
  const edges = folderImports();
  expect(edges.get("runs")?.has("runner")).toBe(true);
  expect(edges.get("runner")?.has("runs")).toBeFalsy();
});
