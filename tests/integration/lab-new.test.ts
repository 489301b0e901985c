/**
 * `npm run lab:new` gives an instructor a lab that labs:verify already proves: scaffolded into a
 * fresh folder, its solution passes, its starter fails, and each wrong/ variant fails its check,
 * through the real runner.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { loadLab } from "../../lib/labs/loader.ts";
import { ScaffoldError, scaffoldLab } from "../../lib/labs/scaffold.ts";
import { judgeVariant, labVariants } from "../../lib/grader/verify.ts";
import { executeRun } from "../../lib/runs/execute.ts";
import { PrivateRedisPool } from "../../lib/runner/private-redis.ts";
import { probeSandbox } from "../../lib/runner/sandbox/probe.ts";

const labsDir = mkdtempSync(path.join(tmpdir(), "fl-lab-new-"));
let pool: PrivateRedisPool;
beforeAll(() => {
  pool = new PrivateRedisPool(1);
});
afterAll(async () => {
  await pool?.close();
  rmSync(labsDir, { recursive: true, force: true });
});

test("a scaffolded lab is proven by labs:verify before its author changes a line", async () => {
  const dir = scaffoldLab(labsDir, { id: "visit-counter", title: "A visit counter", milestone: "M1" });
  const lab = loadLab(labsDir, "visit-counter");
  expect(lab.lab).toMatchObject({ id: "visit-counter", title: "A visit counter", milestone: "M1" });
  const tier = (await probeSandbox()).tier;
  const variants = labVariants(lab);
  expect(variants.map((v) => v.name)).toEqual(["solution", "starter", "wrong/read-modify-write", "wrong/local-counter", "wrong/wrong-key"]);
  for (const variant of variants) {
    const result = await executeRun({ lab, mode: "check", files: variant.files, seed: 2 }, { pool, tier, emit: () => {} });
    expect(judgeVariant(variant, result), `${dir} ${variant.name}`).toBeNull();
  }
}, 60_000);

test("lab:new refuses a malformed id and one that is taken, saying why", () => {
  expect(() => scaffoldLab(labsDir, { id: "Bad_Id" })).toThrow(ScaffoldError);
  expect(() => scaffoldLab(labsDir, { id: "Bad_Id" })).toThrow(/lower-case words joined by '-'/);
  scaffoldLab(labsDir, { id: "taken" });
  expect(() => scaffoldLab(labsDir, { id: "taken" })).toThrow(/exists already/);
});

test("lab:new says when a too-short title came from the id, and how to give one", () => {
  expect(() => scaffoldLab(labsDir, { id: "x2" })).toThrow(/^title: .* \(the title "X2" comes from the id; give one with --title "A longer title"\)$/);
  expect(() => scaffoldLab(labsDir, { id: "ok-id", milestone: "M10" as never })).toThrow(/^milestone: use M1 … M9 or Capstone \(from --milestone\)$/);
});
