/**
 * Scale-out drill with real runner processes: two `npm run runner` processes (scripts/runner.ts)
 * grade 40 runs from one queue against PostgreSQL; one is SIGKILLed mid-way. Every run must end
 * exactly once: one stored verdict, one `end` event, one "run finished" line in one runner's log,
 * and none lost.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, expect, test } from "vitest";
import { enqueueRun, openRunQueue } from "../../lib/runs/dispatch.ts";
import { readEvents } from "../../lib/runs/events.ts";
import { createSubmission } from "../../lib/runs/store.ts";
import { REDIS_TEST_URL, testDatabase, testRedis } from "../integration/support/namespaces.ts";

const root = path.resolve(import.meta.dirname, "../..");
const LAB = "resp-client";
const RUNS = 40;
const dataDir = mkdtempSync(path.join(tmpdir(), "fl-fleet-"));
const children: ChildProcess[] = [];
afterAll(() => {
  children.forEach((c) => c.kill("SIGKILL"));
  rmSync(dataDir, { recursive: true, force: true });
});

function solution(): Record<string, string> {
  const dir = path.join(root, "labs", LAB, "solution");
  return Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(path.join(dir, f), "utf8")]));
}

interface Runner {
  child: ChildProcess;
  /** Run ids this runner logged as finished and stored. */
  finished: Set<string>;
  ready: Promise<void>;
}

function startRunner(databaseUrl: string, prefix: string): Runner {
  const child = spawn(process.execPath, ["--import", "tsx", "scripts/runner.ts"], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: "production",
      DATABASE_URL: databaseUrl,
      REDIS_URL: REDIS_TEST_URL,
      FAULTLINE_REDIS_PREFIX: prefix,
      FAULTLINE_DATA_DIR: dataDir,
      AUTH_SECRET: "fleet-test-secret-of-at-least-32-characters",
      RUNNER_CONCURRENCY: "2",
      // A dead runner's runs are taken over within ~1.5 × this.
      RUNNER_LOCK_MS: "3000",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  const finished = new Set<string>();
  let buffered = "";
  let markReady = () => {};
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  child.stdout!.on("data", (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split("\n");
    buffered = lines.pop()!;
    for (const line of lines) {
      const entry = JSON.parse(line) as { msg: string; run?: string; stored?: boolean };
      if (entry.msg === "runner waiting for runs") markReady();
      if (entry.msg === "run finished" && entry.stored) finished.add(entry.run!);
    }
  });
  child.stderr!.resume();
  return { child, finished, ready };
}

const until = async (what: string, ok: () => Promise<boolean>, ms: number) => {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
};

test(`two runner processes grade ${RUNS} runs on PostgreSQL; one is killed mid-way; every run ends exactly once`, async () => {
  await using t = await testDatabase("postgres");
  await using r = await testRedis();
  const queue = openRunQueue(REDIS_TEST_URL, r.prefix);
  try {
    const learner = await t.db.user.create({ data: { email: "fleet@example.org" } });
    const files = solution();
    const ids: string[] = [];
    for (let i = 0; i < RUNS; i++) ids.push((await createSubmission(t.db, { userId: learner.id, labId: LAB, mode: "check", files, seed: i + 1 })).id);

    const doomed = startRunner(t.url, r.prefix);
    const survivor = startRunner(t.url, r.prefix);
    await Promise.all([doomed.ready, survivor.ready]);
    for (const id of ids) await enqueueRun(queue, id);

    const ended = () => t.db.submission.count({ where: { id: { in: ids }, status: { notIn: ["queued", "running"] } } });
    // Kill one runner while it holds runs: after a few have finished, with more in flight.
    await until("the first runs to finish on the doomed runner", async () => doomed.finished.size >= 3, 120_000);
    process.kill(doomed.child.pid!, "SIGKILL");
    const finishedBeforeKill = doomed.finished.size;

    await until(`all ${RUNS} runs to end`, async () => (await ended()) === RUNS, 240_000);

    const rows = await t.db.submission.findMany({
      where: { id: { in: ids } },
      select: { id: true, status: true, message: true, _count: { select: { checks: true } } },
    });
    expect(rows.filter((s) => s.status !== "pass").map((s) => `${s.id}: ${s.status} ${s.message ?? ""}`)).toEqual([]);
    const checks = (JSON.parse(readFileSync(path.join(root, "labs", LAB, "lab.json"), "utf8")) as { checks: unknown[] }).checks.length;
    expect(new Set(rows.map((s) => s._count.checks))).toEqual(new Set([checks]));
    let takenOver = 0;
    const restarted = new Set<string>();
    for (const id of ids) {
      const events = (await readEvents(r.redis, r.keys, id, "0", 0, 10_000)).map((e) => e.event);
      expect(
        events.filter((e) => e.type === "end"),
        `end events of ${id}`,
      ).toHaveLength(1);
      if (events.some((e) => e.type === "log" && e.text.includes("another runner is starting it again"))) {
        takenOver++;
        restarted.add(id);
      }
    }
    // Each run was finished (stored) by exactly one runner, and the survivor took over the rest.
    const both = [...doomed.finished].filter((id) => survivor.finished.has(id));
    expect(both).toEqual([]);
    // A run the doomed runner stored in the instant before the SIGKILL ends with no "run finished"
    // line (the kill beat the log): at most one per slot it had, and none of them started twice.
    const unlogged = ids.filter((id) => !doomed.finished.has(id) && !survivor.finished.has(id));
    expect(unlogged.length).toBeLessThanOrEqual(2);
    expect(unlogged.filter((id) => restarted.has(id))).toEqual([]);
    expect(doomed.finished.size + survivor.finished.size + unlogged.length).toBe(RUNS);
    expect(doomed.finished.size).toBe(finishedBeforeKill);
    expect(takenOver, "runs the killed runner held, restarted by the survivor").toBeGreaterThan(0);
  } finally {
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
  }
}, 300_000);
