/**
 * `npm start` as a user meets it: the launcher brings web and runner up, reports a crashed
 * child and restarts it, and Ctrl-C stops everything. Uses the production build (npm test builds
 * it first; without one the launcher builds it, which takes about a minute).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, expect, test } from "vitest";
import { freePort } from "../../lib/launcher/free-port.ts";
import { REDIS_TEST_URL } from "./support/namespaces.ts";

const root = path.resolve(import.meta.dirname, "../..");
const started: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(() => {
  started.splice(0).forEach((c) => c.exitCode === null && c.kill("SIGKILL"));
  dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
});

function launch(env: Record<string, string>) {
  const dataDir = mkdtempSync(path.join(tmpdir(), "fl-launch-"));
  dirs.push(dataDir);
  const child = spawn(process.execPath, ["--import", "tsx", "scripts/start.ts"], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      FAULTLINE_DATA_DIR: dataDir,
      // Each launch has a fresh data directory, but compiled lessons are keyed by content, so the
      // launches (and the e2e server) share them instead of compiling the course once each.
      FAULTLINE_CACHE_DIR: path.join(root, ".data", "cache"),
      FAULTLINE_REDIS_PREFIX: `fl-launch-${process.pid}-${Date.now()}:`,
      ...env,
    } as Record<string, string> as NodeJS.ProcessEnv, // Next types NODE_ENV as required; the launcher chooses it
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.push(child);
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d));
  child.stderr.on("data", (d: Buffer) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, exited, output: () => output };
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await fn().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

const OPERATOR_TOKEN = "launcher-test-metrics-token-0123456789";

/** The live runners' ids, as an operator sees them (the public answer gives only counts and tiers). */
async function readyRunners(port: number): Promise<string[] | undefined> {
  const res = await fetch(`http://127.0.0.1:${port}/api/ready`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
  const body = (await res.json()) as { ready: boolean; runners: { count: number; tiers: Record<string, number> }; fleet?: { id: string; sandbox: string }[] };
  // The runner proves its sandbox tier before it announces itself; this machine has bubblewrap.
  if (Object.keys(body.runners.tiers).some((tier) => tier !== "bubblewrap")) throw new Error(`weak sandbox tier: ${JSON.stringify(body.runners)}`);
  const fleet = body.fleet ?? [];
  return res.status === 200 && fleet.length > 0 ? fleet.map((r) => r.id) : undefined;
}

test("npm start serves the site with a runner, restarts a crashed runner, and Ctrl-C stops both", async () => {
  const port = await freePort();
  const app = launch({ PORT: String(port), REDIS_URL: REDIS_TEST_URL, METRICS_TOKEN: OPERATOR_TOKEN });
  const [firstRunner] = await until("the site to be ready with a runner", () => readyRunners(port), 150_000);
  expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(200);

  const runnerPid = Number(firstRunner?.split("-").at(-2));
  // The runner will run learner code; it must never hold the session-signing secret.
  expect(
    readFileSync(`/proc/${runnerPid}/environ`, "utf8")
      .split("\0")
      .some((v) => v.startsWith("AUTH_SECRET=")),
  ).toBe(false);
  process.kill(runnerPid, "SIGKILL");
  await until("the crash to be reported", async () => (app.output().includes("runner was killed by SIGKILL unexpectedly") ? true : undefined), 10_000);
  await until("a new runner", async () => ((await readyRunners(port))?.some((id) => id !== firstRunner) ? true : undefined), 30_000);

  app.child.kill("SIGINT");
  expect(await app.exited).toBe(0);
  expect(app.output()).toContain("Faultline stopped.");
  await expect(fetch(`http://127.0.0.1:${port}/api/health`)).rejects.toThrow();
}, 240_000);

test("a REDIS_URL that does not answer stops start-up with a message, before anything listens", async () => {
  const app = launch({ PORT: String(await freePort()), REDIS_URL: "redis://127.0.0.1:1" });
  expect(await app.exited).toBe(1);
  expect(app.output()).toMatch(/REDIS_URL is set to redis:\/\/127\.0\.0\.1:1, but that Redis does not answer/);
}, 60_000);

test("a course that cannot be taught stops start-up with the file and the fix, before anything listens", async () => {
  const course = mkdtempSync(path.join(tmpdir(), "fl-course-"));
  dirs.push(course);
  cpSync(path.join(root, "content/01-foundations"), path.join(course, "01-foundations"), { recursive: true });
  const lesson = path.join(course, "01-foundations/02-event-loop.mdx");
  writeFileSync(lesson, readFileSync(lesson, "utf8").replace(/^minutes: \d+$/m, "minutes: soon"));
  const port = await freePort();
  const app = launch({ PORT: String(port), REDIS_URL: REDIS_TEST_URL, FAULTLINE_COURSE_DIR: course });
  expect(await app.exited).toBe(1);
  expect(app.output()).toMatch(
    /The course in .*fl-course-.* cannot be taught:\n.*02-event-loop\.mdx frontmatter: minutes: .*number[\s\S]*npm run content:check lists every problem/,
  );
  await expect(fetch(`http://127.0.0.1:${port}/api/health`)).rejects.toThrow();
}, 60_000);

test("a lesson that would answer 500 (a component that does not exist) stops start-up, naming it", async () => {
  const course = mkdtempSync(path.join(tmpdir(), "fl-course-"));
  dirs.push(course);
  cpSync(path.join(root, "content/01-foundations"), path.join(course, "01-foundations"), { recursive: true });
  const lesson = path.join(course, "01-foundations/03-async-concurrency.mdx");
  writeFileSync(lesson, `${readFileSync(lesson, "utf8")}\n<Warning>Mind the gap.</Warning>\n`);
  const app = launch({ PORT: String(await freePort()), REDIS_URL: REDIS_TEST_URL, FAULTLINE_COURSE_DIR: course });
  expect(await app.exited).toBe(1);
  expect(app.output()).toMatch(/03-async-concurrency\.mdx: <Warning> is not a component this file can use/);
}, 60_000);

test("a bad configuration value stops start-up naming the variable", async () => {
  const app = launch({ PORT: "not-a-port" });
  expect(await app.exited).toBe(1);
  expect(app.output()).toMatch(/PORT: expected a port number/);
}, 60_000);

test("FAULTLINE_AUTH=local npm start signs the local learner in with no account", async () => {
  const port = await freePort();
  const app = launch({ PORT: String(port), REDIS_URL: REDIS_TEST_URL, FAULTLINE_AUTH: "local", METRICS_TOKEN: OPERATOR_TOKEN });
  await until("the site to be ready", () => readyRunners(port), 150_000);
  const home = await (await fetch(`http://127.0.0.1:${port}/`)).text();
  expect(home).toContain("Account menu for Local learner");
  const signin = await fetch(`http://127.0.0.1:${port}/signin`, { redirect: "manual" });
  expect(signin.status).toBe(307);
  app.child.kill("SIGINT");
  expect(await app.exited).toBe(0);
}, 240_000);

test("FAULTLINE_AUTH=local with an explicit NODE_ENV=production refuses to start", async () => {
  const app = launch({ PORT: String(await freePort()), NODE_ENV: "production", FAULTLINE_AUTH: "local" });
  expect(await app.exited).toBe(1);
  expect(app.output()).toMatch(/FAULTLINE_AUTH: 'local' signs every visitor in.*FAULTLINE_ALLOW_LOCAL_AUTH_IN_PRODUCTION=1/s);
}, 60_000);
