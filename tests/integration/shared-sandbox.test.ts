/**
 * The run's shared sandbox (lib/runner/shared-host.ts, harness/instance.ts) through the real run
 * engine: tests/fixtures/labs/isolation loads probe.ts as instances and states, check by check,
 * what one instance or one check must not leave to another. This file holds the verdicts to what
 * a learner would see: isolation holds, and a crash fails only the check it happened in.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import type { LoadedLab } from "../../lib/labs/loader.ts";
import { LabSchema } from "../../lib/labs/schema.ts";
import { executeRun, type RunOutcome } from "../../lib/runs/execute.ts";
import { PrivateRedisPool } from "../../lib/runner/private-redis.ts";
import { probeSandbox, type SandboxTier } from "../../lib/runner/sandbox/probe.ts";
import type { RunEvent } from "../../lib/runs/events.ts";

const dir = path.resolve(import.meta.dirname, "../fixtures/labs/isolation");
const lab: LoadedLab = { lab: LabSchema.parse(JSON.parse(readFileSync(path.join(dir, "lab.json"), "utf8"))), dir };
const files = Object.fromEntries(["probe.ts", "counter.ts"].map((f) => [f, readFileSync(path.join(dir, f), "utf8")]));

let pool: PrivateRedisPool;
let tier: SandboxTier;
let result: RunOutcome;
const events: RunEvent[] = [];

beforeAll(async () => {
  tier = (await probeSandbox()).tier;
  pool = new PrivateRedisPool(2);
  result = await executeRun({ lab, mode: "check", files, seed: 7 }, { pool, tier, emit: (e) => events.push(e) });
}, 120_000);
afterAll(() => pool?.close());

const check = (id: string) => {
  const found = result.checks.find((c) => c.id === id);
  if (!found) throw new Error(`no result for ${id}: ${JSON.stringify(result)}`);
  return found;
};
const shown = (id: string) => JSON.stringify(check(id));

test("two instances of one module share no module state, globals, prototypes or timers", () => {
  expect(check("fresh-graph").status, shown("fresh-graph")).toBe("pass");
});

test("the next check starts with a fresh module graph and an empty Redis", () => {
  expect(check("next-check").status, shown("next-check")).toBe("pass");
});

test("process.exit ends only the instance that called it", () => {
  expect(check("exit-alone").status, shown("exit-alone")).toBe("pass");
});

test("an uncaught error in one instance fails its check with the learner's own error", () => {
  const crash = check("crash-alone");
  expect(crash.status, shown("crash-alone")).toBe("fail");
  expect(crash.message).toBe("touch() never returned, because the process running probe.ts exited with code 1.");
  expect(crash.output).toMatch(/Error: boom from a timer/);
});

test("a heap exhausted fails its own check, and the next check runs in a fresh sandbox", () => {
  const heap = check("heap-alone");
  expect(heap.status, shown("heap-alone")).toBe("fail");
  expect(heap.message).toMatch(/ran out of its 384 MiB heap/);
  expect(check("after-crash").status, shown("after-crash")).toBe("pass");
});

test("a check caught beside the crash runs again alone and is judged on its own code", () => {
  expect(check("bystander").status, shown("bystander")).toBe("pass");
  const notes = events.flatMap((e) => (e.type === "log" && e.stream === "grader" && e.check === "bystander" ? [e.text] : []));
  expect(notes).toContain("The run's sandbox crashed while this check ran beside others; it runs again, alone, in a fresh one.");
  expect(events.filter((e) => e.type === "check-start" && e.id === "bystander")).toHaveLength(1);
});

test("a crash point kills an instance or a process between two commands: what came before is applied, nothing after", () => {
  expect(check("crash-point").status, shown("crash-point")).toBe("pass");
});

test("results arrive in check order", () => {
  const ends = events.flatMap((e) => (e.type === "check-end" ? [e.id] : []));
  expect(ends).toEqual(lab.lab.checks.map((c) => c.id));
});
