/**
 * What the workspace's live view is fed while a run goes on: the learner's commands as the chaos
 * proxy saw them, with the grader's kills on the same timeline, and snapshots of their Redis.
 */
import path from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { loadLab } from "../../lib/labs/loader.ts";
import { executeRun } from "../../lib/runs/execute.ts";
import { PrivateRedisPool } from "../../lib/runner/private-redis.ts";
import { probeSandbox, type SandboxTier } from "../../lib/runner/sandbox/probe.ts";
import type { CommandEntry, RunEvent } from "../../lib/runs/events.ts";
import { readFileSync, readdirSync } from "node:fs";

const labsDir = path.resolve(import.meta.dirname, "../../labs");
let pool: PrivateRedisPool;
let tier: SandboxTier;

beforeAll(async () => {
  tier = (await probeSandbox()).tier;
  pool = new PrivateRedisPool(1);
});
afterAll(() => pool?.close());

function solution(lab: string): Record<string, string> {
  const dir = path.join(labsDir, lab, "solution");
  return Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(path.join(dir, f), "utf8")]));
}

async function run(lab: string, mode: "run" | "check", playgroundMs?: number) {
  const events: RunEvent[] = [];
  const result = await executeRun(
    { lab: loadLab(labsDir, lab), mode, files: solution(lab), seed: 3 },
    { pool, tier, emit: (e) => events.push(e), playgroundMs },
  );
  const commands = events.flatMap((e): CommandEntry[] => (e.type === "commands" ? e.entries : []));
  return { result, events, commands };
}

test("a graded run's command log carries the learner's commands and the grader's kill of a worker", async () => {
  const { result, commands, events } = await run("reliable-delivery", "check");
  // About the command log, not the lab: a check of the solution may fail on a machine this loaded
  // (labs:verify proves the lab, with retries), but the run must complete and show the kill.
  expect(result.status, result.checks.map((c) => `${c.id}: ${c.status} ${c.message ?? ""}`).join("\n")).not.toBe("error");
  expect(result.checks.length).toBeGreaterThan(1);
  const kill = commands.find((c) => c.conn === 0 && /^kill worker-\d+$/.test(c.fault ?? ""));
  expect(kill, "a kill marker on the timeline").toBeDefined();
  expect(commands.some((c) => c.conn > 0 && c.args.length > 0)).toBe(true);
  expect(commands.every((c) => Number.isFinite(c.at) && c.at >= 0)).toBe(true);
  expect(events.at(-1)?.type, "end is the last event; no command arrives after it").toBe("end");
  // Batched: far fewer events than commands.
  expect(events.filter((e) => e.type === "commands").length).toBeLessThan(commands.length);
}, 60_000);

test("a playground run streams snapshots in which the priority queue's sorted set fills", async () => {
  const { events, commands } = await run("priority-queue", "run", 2500);
  const snapshots = events.flatMap((e) => (e.type === "snapshot" ? [e] : []));
  expect(snapshots.length).toBeGreaterThanOrEqual(4);
  expect(snapshots.every((s, i) => i === 0 || s.at >= snapshots[i - 1]!.at)).toBe(true);
  const zsets = snapshots.flatMap((s) => s.keys.filter((k) => k.type === "zset"));
  expect(zsets.some((k) => k.type === "zset" && k.members.length > 0)).toBe(true);
  expect(commands.some((c) => c.args[0] === "ZADD")).toBe(true);
}, 30_000);

test("a lab whose files are only read (a compose file and a Dockerfile) runs: Check grades them with t.source, Run has nothing to start", async () => {
  const checked = await run("compose-file", "check");
  expect(checked.result.status).toBe("pass");
  expect(checked.events.find((e) => e.type === "build")).toMatchObject({ type: "build", ok: true });
  const played = await run("compose-file", "run", 2500);
  expect(played.result).toMatchObject({ status: "pass", message: expect.stringMatching(/read by the checks, not run/) });
}, 60_000);

test.each(["priority-queue", "circuit-breaker"])("a %s playground run cancelled before its pod was ready ends at once instead of playing on", async (lab) => {
  // circuit-breaker's checks define a playground of their own; priority-queue's runs the learner's module.
  const controller = new AbortController();
  const events: RunEvent[] = [];
  const started = performance.now();
  const running = executeRun(
    { lab: loadLab(labsDir, lab), mode: "run", files: solution(lab), seed: 3 },
    // The abort lands while the run is building and taking its pod, before it listens for one.
    { pool, tier, emit: (e) => (events.push(e), e.type === "build" && controller.abort()), signal: controller.signal, playgroundMs: 30_000 },
  );
  const result = await running;
  expect(performance.now() - started).toBeLessThan(10_000);
  expect(result.status).toBe("error");
  expect(events.some((e) => e.type === "snapshot")).toBe(false);
});
