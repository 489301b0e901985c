/**
 * Drills through the real runner process (scripts/runner.ts): a runner SIGKILLed mid-run, whose
 * runs finish on another runner exactly once; and the platform Redis restarted mid-run, which
 * ends the run as `error` (the platform's fault), never as `fail`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, expect, test } from "vitest";
import { freePort } from "../../lib/launcher/free-port.ts";
import { redisKeys } from "../../lib/redis/keys.ts";
import { enqueueRun, openRunQueue } from "../../lib/runs/dispatch.ts";
import { readEvents } from "../../lib/runs/events.ts";
import { createSubmission } from "../../lib/runs/store.ts";
import { REDIS_TEST_URL, testDatabase, testRedis } from "./support/namespaces.ts";

const root = path.resolve(import.meta.dirname, "../..");
const solution = { "queue.ts": readFileSync(path.join(root, "labs/priority-queue/solution/queue.ts"), "utf8") };
/** A run of several seconds that talks to its Redis throughout (health probes): long enough to restart Redis under it. */
const longSolution = { "server.ts": readFileSync(path.join(root, "labs/health-readiness/solution/server.ts"), "utf8") };
const children: ChildProcess[] = [];
afterAll(() => children.forEach((c) => c.kill("SIGKILL")));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function runner(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "scripts/runner.ts"], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: "production", RUNNER_CONCURRENCY: "1", RUNNER_LOCK_MS: "2000", LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  child.stderr!.on("data", (d: Buffer) => (out += d));
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      out += d;
      if (out.includes("runner waiting for runs")) resolve(child);
    });
    child.once("exit", (code) => reject(new Error(`runner exited ${code}: ${out}`)));
  });
}

async function until<T>(what: string, probe: () => Promise<T>, timeoutMs = 45_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

test("runs held by a SIGKILLed runner finish on another runner, each stored exactly once", async () => {
  await using database = await testDatabase("postgres");
  await using r = await testRedis();
  const env = { REDIS_URL: REDIS_TEST_URL, FAULTLINE_REDIS_PREFIX: r.prefix, DATABASE_URL: database.url };
  const queue = openRunQueue(REDIS_TEST_URL, r.prefix);
  const user = await database.db.user.create({ data: { email: "drill@example.com", role: "learner" } });
  const doomed = await runner(env);
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const { id } = await createSubmission(database.db, { userId: user.id, labId: "priority-queue", mode: "check", files: solution });
    ids.push(id);
    await enqueueRun(queue, id);
  }
  await until("a run to start", () => database.db.submission.findFirst({ where: { status: "running" } }));
  await sleep(300); // mid-run: its sandboxed processes are up
  doomed.kill("SIGKILL");
  await runner(env);

  await until("every run to end", async () => (await database.db.submission.count({ where: { status: { in: ["queued", "running"] } } })) === 0, 60_000);
  const runs = await database.db.submission.findMany({ where: { id: { in: ids } }, include: { checks: true } });
  for (const run of runs) {
    expect(run.status, `${run.id}: ${run.message}`).toBe("pass");
    expect(run.checks).toHaveLength(4);
    const ends = (await readEvents(r.redis, redisKeys(r.prefix), run.id)).filter((e) => e.event.type === "end");
    expect(ends).toHaveLength(1);
  }
  await queue.obliterate({ force: true });
  await queue.close();
}, 120_000);

test("a platform Redis restart mid-run ends the run as error, not fail", async () => {
  await using database = await testDatabase("sqlite");
  const port = await freePort();
  const startRedis = () => {
    const server = spawn("redis-server", ["--port", String(port), "--save", "", "--appendonly", "no"], { stdio: "ignore" });
    children.push(server);
    return server;
  };
  let server = startRedis();
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, { maxRetriesPerRequest: null });
  probe.on("error", () => {});
  await until("the platform Redis", () => probe.ping().catch(() => null));
  const queue = openRunQueue(url, "fl:");
  queue.on("error", () => {}); // the restart below is the point
  await runner({ REDIS_URL: url, FAULTLINE_REDIS_PREFIX: "fl:", DATABASE_URL: database.url });
  const user = await database.db.user.create({ data: { email: "restart@example.com", role: "learner" } });
  const { id } = await createSubmission(database.db, { userId: user.id, labId: "health-readiness", mode: "check", files: longSolution });
  await enqueueRun(queue, id);
  await until("the run to start", () => database.db.submission.findFirst({ where: { id, status: "running" } }));

  server.kill("SIGKILL");
  await new Promise((resolve) => server.once("exit", resolve));
  // Down long enough that the run's live events cannot all wait it out in a retry.
  await sleep(1000);
  server = startRedis();
  const run = await until("the run to end", () => database.db.submission.findFirst({ where: { id, status: { notIn: ["queued", "running"] } } }), 60_000);
  expect(run.status).toBe("error");
  expect(run.message).toMatch(/not a problem with your code/);
  probe.disconnect();
  await queue.close().catch(() => {});
  server.kill("SIGKILL");
}, 120_000);
