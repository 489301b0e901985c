import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, expect, test } from "vitest";
import { typecheckLabs } from "./typecheck.ts";

mkdirSync(".data", { recursive: true });
const dir = mkdtempSync(path.resolve(".data/typecheck-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("a type error in checks.ts or a solution is named by file, line and column before any run", () => {
  mkdirSync(path.join(dir, "solution"));
  writeFileSync(path.join(dir, "checks.ts"), `export const ok = 1;\nexport const timeoutMs: number = "soon";\n`);
  writeFileSync(path.join(dir, "solution", "queue.ts"), `export function size(items: string[]): number {\n  return items.lenght;\n}\n`);
  const problems = typecheckLabs([dir]);
  expect(problems).toHaveLength(2);
  expect(problems[0]).toMatch(/checks\.ts:2:14: Type 'string' is not assignable to type 'number'\. \(TS2322\)$/);
  expect(problems[1]).toMatch(/solution\/queue\.ts:2:16: Property 'lenght' does not exist on type 'string\[\]'\. Did you mean 'length'\?/);
}, 60_000);
