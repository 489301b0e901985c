/**
 * The chaos dependency (lib/runner/chaos-dependency.ts) through the real run engine and sandbox:
 * tests/fixtures/labs/dependency calls `dependency("svc")` from `@faultline/lab` in an instance of
 * the shared sandbox and in a process of its own, two checks at once on lanes of their own, and
 * breaks it (a hang cut by the caller's timeout and by a kill, a dependency that is down).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { faultKind } from "../../lib/grader/verify.ts";
import type { LoadedLab } from "../../lib/labs/loader.ts";
import { LabSchema } from "../../lib/labs/schema.ts";
import { executeRun, type RunOutcome } from "../../lib/runs/execute.ts";
import { PrivateRedisPool } from "../../lib/runner/private-redis.ts";
import { probeSandbox } from "../../lib/runner/sandbox/probe.ts";
import type { RunEvent } from "../../lib/runs/events.ts";

const dir = path.resolve(import.meta.dirname, "../fixtures/labs/dependency");
const lab: LoadedLab = { lab: LabSchema.parse(JSON.parse(readFileSync(path.join(dir, "lab.json"), "utf8"))), dir };
const files = { "probe.ts": readFileSync(path.join(dir, "probe.ts"), "utf8") };

let pool: PrivateRedisPool;
let result: RunOutcome;
const events: RunEvent[] = [];

beforeAll(async () => {
  const { tier } = await probeSandbox();
  pool = new PrivateRedisPool(2);
  result = await executeRun({ lab, mode: "check", files, seed: 11 }, { pool, tier, emit: (e) => events.push(e) });
}, 120_000);
afterAll(() => pool?.close());

test.each(["instance", "process", "abort-and-kill", "down"])("%s", (id) => {
  const found = result.checks.find((c) => c.id === id);
  expect(found?.status, JSON.stringify(found ?? result)).toBe("pass");
});

test("the dependency's faults are on the command log, counted by kind", () => {
  const faults = events.flatMap((e) => (e.type === "commands" ? e.entries.flatMap((entry) => (entry.fault ? [entry.fault] : [])) : []));
  expect(faults).toEqual(expect.arrayContaining(["dependency svc: hang 2", "dependency svc: down (0 calls cut)", "dependency svc: up"]));
  expect(faults.map(faultKind)).toEqual(expect.arrayContaining(["dependency hang", "dependency down"]));
});
