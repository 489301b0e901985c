/** Drill: a runner SIGKILLed mid-run. Every run must finish exactly once, on another runner. */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { afterAll, expect, test } from "vitest";
import { enqueueRun, openRunQueue } from "../../lib/runs/dispatch.ts";
import { REDIS_TEST_URL, testRedis } from "./support/namespaces.ts";

const root = path.resolve(import.meta.dirname, "../..");
const children: ChildProcess[] = [];
afterAll(() => children.forEach((c) => c.kill("SIGKILL")));

function consumer(name: string, prefix: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "tests/fixtures/run-consumer.ts"], {
    cwd: root,
    env: { ...process.env, REDIS_URL: REDIS_TEST_URL, PREFIX: prefix, NAME: name },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  return new Promise((resolve) => child.stdout!.once("data", () => resolve(child)));
}

test("runs held by a killed runner are finished by another, each exactly once", async () => {
  await using r = await testRedis();
  const queue = openRunQueue(REDIS_TEST_URL, r.prefix);
  const doomed = await consumer("doomed", r.prefix);
  for (let i = 0; i < 6; i++) await enqueueRun(queue, `sub-${i}`);
  await enqueueRun(queue, "sub-0"); // a retried POST: no second job

  // Kill the first runner once it holds runs, then start the survivor.
  for (let i = 0; i < 100 && (await r.redis.llen(`${r.prefix}started`)) < 2; i++) await new Promise((res) => setTimeout(res, 50));
  doomed.kill("SIGKILL");
  await consumer("survivor", r.prefix);

  const deadline = Date.now() + 45_000;
  while ((await queue.getCompletedCount()) < 6 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 200));
  expect(await queue.getCompletedCount()).toBe(6);
  for (let i = 0; i < 6; i++) expect(await r.redis.get(`${r.prefix}completed:sub-${i}`)).toBe("1");
  const started = await r.redis.lrange(`${r.prefix}started`, 0, -1);
  expect(started.filter((s) => s.startsWith("doomed:")).length).toBeGreaterThan(0);
  await queue.obliterate({ force: true });
  await queue.close();
}, 60_000);
