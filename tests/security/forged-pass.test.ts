/**
 * Grading cannot be forged (issue 13, point 1), through the real run engine: `executeRun` builds
 * the program, takes a pod (sandbox, private Redis, chaos proxy) and runs the lab's real checks.
 *
 * The forged pass: the learner chooses a run's seed, and a check's randomness restarted from it,
 * so the task ids of priority-queue could be computed in advance. attack-queue.ts never touches
 * Redis: its "consumers" derive the ids from the seed it was written for, reproducing the old id
 * scheme, and hand out their share from memory. It passed all four checks (and so unlocked the
 * solution); an in-memory queue (the lab's wrong/in-memory) passed three. Now both fail all four,
 * each because the grader's own view of Redis or the command log shows nothing there.
 *
 * And what a seed is still for: a replay with the same seed reproduces the fault schedule (which
 * worker dies after which write, the proxy's latency and each reply's delay) and the shape of a
 * check (the order priorities are enqueued in), with different ids.
 */
import { randomInt } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import type { CheckResult } from "../../lib/grader/result.ts";
import { loadLab, type LoadedLab } from "../../lib/labs/loader.ts";
import type { Lab } from "../../lib/labs/schema.ts";
import { executeRun, type RunOutcome } from "../../lib/runs/execute.ts";
import { PrivateRedisPool } from "../../lib/runner/private-redis.ts";
import { probeSandbox, type SandboxTier } from "../../lib/runner/sandbox/probe.ts";
import type { RunEvent } from "../../lib/runs/events.ts";

const root = path.resolve(import.meta.dirname, "../..");
const priorityQueue = loadLab(path.join(root, "labs"), "priority-queue");
const CHECKS = ["priority-order", "fifo-among-equals", "blocking-dequeue", "concurrent-consumers"];

/** A check with faults drawn from the seed and ids that are not (tests/fixtures/labs/replay). */
const replayLab: LoadedLab = {
  dir: path.join(root, "tests/fixtures/labs/replay"),
  lab: {
    id: "replay-fixture",
    slug: "replay",
    title: "Replayed faults (security test fixture)",
    milestone: "M1",
    summary: "A fixture: a seeded fault schedule around writes of fresh ids.",
    minutes: 5,
    files: [{ path: "app.ts", editable: true }],
    redis: { allow: "all", budgets: {} },
    checks: [{ id: "replayed-faults", title: "Faults land where the seed says" }],
    wrong: [],
    hints: [],
    finalHintAfter: 3,
  } satisfies Lab,
};

let tier: SandboxTier;
let pool: PrivateRedisPool;

beforeAll(async () => {
  tier = (await probeSandbox()).tier;
  pool = new PrivateRedisPool(1);
});
afterAll(() => pool?.close());

async function run(lab: LoadedLab, files: Record<string, string>, seed: number): Promise<{ result: RunOutcome; events: RunEvent[] }> {
  const events: RunEvent[] = [];
  const result = await executeRun({ lab, mode: "check", files, seed }, { pool, tier, emit: (e) => events.push(e) });
  return { result, events };
}

const statuses = (checks: CheckResult[]) => Object.fromEntries(checks.map((c) => [c.id, c.status]));
const allFail = Object.fromEntries(CHECKS.map((id) => [id, "fail"]));

/** Grader notes that start with `label `, parsed. */
function noted<T>(events: RunEvent[], label: string): T {
  const text = events.flatMap((e) => (e.type === "log" && e.stream === "grader" && e.text.startsWith(`${label} `) ? [e.text.slice(label.length + 1)] : []))[0];
  expect(text, `the check noted its ${label}`).toBeDefined();
  return JSON.parse(text!) as T;
}

/** The first `n` ZADDs the learner's code sent, in send order, from the live command log. */
function firstZadds(events: RunEvent[], n: number, check: string): { score: string; member: string }[] {
  return events
    .flatMap((e) => (e.type === "commands" ? e.entries : []))
    .filter((c) => c.args[0] === "ZADD" && c.check === check)
    .sort((x, y) => x.seq - y.seq)
    .slice(0, n)
    .map((c) => ({ score: c.args[2]!, member: c.args[3]! }));
}

test("the forged pass of issue 13 fails every check it used to pass, on the seed it was written for", async () => {
  const seed = randomInt(1, 2 ** 31 - 1);
  const attack = readFileSync(path.join(root, "tests/fixtures/forged-pass/attack-queue.ts"), "utf8");
  const source = attack.replace("export const CHOSEN_SEED = 0;", `export const CHOSEN_SEED = ${seed};`);
  expect(source).not.toBe(attack);
  const { result } = await run(priorityQueue, { "queue.ts": source }, seed);
  expect(statuses(result.checks)).toEqual(allFail);
  expect(result.status).toBe("fail");
  // Each failure is the grader's own observation of Redis or of the command log.
  for (const check of result.checks) expect(`${check.message} ${check.actual}`).toMatch(/Redis/);
}, 60_000);

test("an in-memory queue, right in one process, fails all four checks", async () => {
  const inMemory = readFileSync(path.join(priorityQueue.dir, "wrong/in-memory/queue.ts"), "utf8");
  const { result } = await run(priorityQueue, { "queue.ts": inMemory }, randomInt(1, 2 ** 31 - 1));
  expect(statuses(result.checks)).toEqual(allFail);
  // Which of its enqueues meets a fault first depends on the seed: either way, Redis lacks the tasks.
  expect(result.checks.find((c) => c.id === "priority-order")?.message).toMatch(/(were|the task is) not in your Redis/);
  expect(result.checks.find((c) => c.id === "blocking-dequeue")?.message).toMatch(/no command your code sent to Redis carried that task/);
}, 60_000);

test("a replay with the same seed reproduces the fault schedule and the check's shape, with different ids", async () => {
  const seed = randomInt(1, 2 ** 31 - 1);
  const files = { "app.ts": readFileSync(path.join(replayLab.dir, "app.ts"), "utf8") };
  const first = await run(replayLab, files, seed);
  const again = await run(replayLab, files, seed);
  expect(first.result.status).toBe("pass");
  expect(again.result.status).toBe("pass");
  interface Schedule {
    victim: number;
    killAfter: number;
    latency: { ms: number; jitterMs: number };
    faults: string[];
    delays: number[];
  }
  const schedule = noted<Schedule>(first.events, "schedule");
  expect(schedule.faults).toEqual([`latency ${schedule.latency.ms}±${schedule.latency.jitterMs}ms`, `kill worker-${schedule.victim + 1}`, "latency 0±0ms"]);
  expect(schedule.delays).toHaveLength(6);
  expect(noted<Schedule>(again.events, "schedule")).toEqual(schedule);
  const ids = noted<string[]>(first.events, "ids");
  const idsAgain = noted<string[]>(again.events, "ids");
  expect(ids).toHaveLength(6);
  expect(idsAgain.filter((id) => ids.includes(id))).toEqual([]);

  // On a real lab: priority-order (its first 10 ZADDs; the checks run at once, so the log tags
  // each command with its check) enqueues the same priorities in the same order, under new ids.
  // The score is priority × 2^32 + arrival.
  const solution = { "queue.ts": readFileSync(path.join(priorityQueue.dir, "solution/queue.ts"), "utf8") };
  const [a, b] = [await run(priorityQueue, solution, seed), await run(priorityQueue, solution, seed)];
  expect(a.result.status).toBe("pass");
  expect(b.result.status).toBe("pass");
  const [sentA, sentB] = [firstZadds(a.events, 10, "priority-order"), firstZadds(b.events, 10, "priority-order")];
  expect(sentA).toHaveLength(10);
  expect(sentB.map((z) => z.score)).toEqual(sentA.map((z) => z.score));
  const idOf = (member: string) => (JSON.parse(member) as { id: string }).id;
  expect(sentB.map((z) => idOf(z.member)).filter((id) => sentA.some((z) => idOf(z.member) === id))).toEqual([]);
}, 90_000);
