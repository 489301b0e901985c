/**
 * `node --import tsx bench/load.ts [--learners 5,10,20,40] [--seconds 90] [--interval 15] [--lab priority-queue] [--all]`
 *
 * Load: N simulated learners against a production build on this machine (started as `npm start`
 * does: web + runner, fresh data under .data/load). Each learner is signed in and, every
 * `interval` seconds, submits a check of the lab's solution and follows it on its SSE stream to
 * the verdict, as the workspace does; a learner whose check is still running waits for it, as a
 * person would. Each step runs for `seconds`; steps stop once p95 passes 2 s or a run is lost,
 * unless `--all` asks for every step (to see how it degrades past that point).
 *
 * Per step it prints: runs, POST → verdict p50/p95, errors (refused POSTs, broken streams,
 * `error` verdicts), lost runs (accepted but with no verdict 120 s after the step), and the peak
 * resident memory of the web process and of the runner with everything it started, and CPU per
 * run for the whole process tree (bench/cpu.ts).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { spawn } from "node:child_process";
import { readFileSync, readdirSync, rmSync } from "node:fs";
import { parseArgs } from "node:util";
import { freePort } from "../lib/launcher/free-port.ts";
import { cpuMeter, idleRate } from "./cpu.ts";

const { values } = parseArgs({
  options: {
    learners: { type: "string", default: "5,10,20,40" },
    seconds: { type: "string", default: "90" },
    interval: { type: "string", default: "15" },
    lab: { type: "string", default: "priority-queue" },
    all: { type: "boolean", default: false },
  },
});
const steps = values.learners.split(",").map(Number);
const stepMs = Number(values.seconds) * 1000;
const intervalMs = Number(values.interval) * 1000;
const lab = values.lab;
const solutionDir = `labs/${lab}/solution`;
const files = Object.fromEntries(readdirSync(solutionDir).map((f) => [f, readFileSync(`${solutionDir}/${f}`, "utf8")]));
const editable = (JSON.parse(readFileSync(`labs/${lab}/lab.json`, "utf8")) as { files: { path: string; editable: boolean }[] }).files
  .filter((f) => f.editable)
  .map((f) => f.path);
const submitted = Object.fromEntries(editable.map((p) => [p, files[p]!]));

const port = await freePort();
const base = `http://localhost:${port}`;
rmSync(".data/load", { recursive: true, force: true });
const app = spawn(process.execPath, ["--import", "tsx", "scripts/start.ts"], {
  env: {
    ...process.env,
    NODE_ENV: "production",
    PORT: String(port),
    FAULTLINE_DATA_DIR: ".data/load",
    FAULTLINE_REDIS_PREFIX: `fl-load-${Date.now()}:`,
    RATE_LIMIT_SIGNUP_PER_IP: "100000",
    RATE_LIMIT_LOGIN_PER_IP: "100000",
    LOG_LEVEL: "warn",
  },
  stdio: ["ignore", "ignore", "inherit"],
});
const stop = () => app.kill("SIGINT");
process.on("exit", stop);

async function ready(): Promise<void> {
  for (const deadline = Date.now() + 240_000; Date.now() < deadline; await sleep(500)) {
    if (
      await fetch(`${base}/api/ready`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
  }
  throw new Error("Faultline did not become ready within 4 minutes");
}

async function signIn(n: number): Promise<string> {
  const email = `load-${n}-${Date.now()}@example.org`;
  const password = "load-ember-47-quartz";
  const signup = await fetch(`${base}/api/signup`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password, name: `Load ${n}` }),
  });
  if (!signup.ok) throw new Error(`sign-up failed: ${signup.status} ${await signup.text()}`);
  const csrf = await fetch(`${base}/api/auth/csrf`);
  const { csrfToken } = (await csrf.json()) as { csrfToken: string };
  const csrfCookie = csrf.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
  const res = await fetch(`${base}/api/auth/callback/credentials`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: csrfCookie },
    body: new URLSearchParams({ csrfToken, email, password, json: "true" }),
  });
  const session = res.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .find((c) => c?.includes("session-token"));
  if (!session) throw new Error(`sign-in failed: ${res.status}`);
  return session;
}

interface Outcome {
  ms: number;
  status: string;
  runId?: string;
}

/** One check as the workspace makes it: POST, then the SSE stream until `end`. */
async function check(cookie: string): Promise<Outcome> {
  const started = performance.now();
  const post = await fetch(`${base}/api/runs`, {
    method: "POST",
    headers: { "content-type": "application/json", cookie },
    body: JSON.stringify({ lab, mode: "check", files: submitted }),
  }).catch(() => null);
  if (post?.status !== 202) return { ms: performance.now() - started, status: `refused ${post?.status ?? "(no answer)"}` };
  const { id, eventsUrl } = (await post.json()) as { id: string; eventsUrl: string };
  try {
    const events = await fetch(`${base}${eventsUrl}`, { headers: { cookie }, signal: AbortSignal.timeout(120_000) });
    const reader = events.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return { ms: performance.now() - started, status: "stream ended", runId: id };
      text += value;
      const end = /event: (end|cancelled)\ndata: (.*)\n/.exec(text);
      if (end) {
        void reader.cancel();
        return { ms: performance.now() - started, status: end[1] === "end" ? (JSON.parse(end[2]!) as { status: string }).status : "cancelled", runId: id };
      }
    }
  } catch {
    return { ms: performance.now() - started, status: "stream broke", runId: id };
  }
}

/** Resident memory (kB) of a process and all its descendants, from /proc. */
function treeRss(pid: number): number {
  let total = 0;
  try {
    total += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      for (const child of readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").split(" ").filter(Boolean)) total += treeRss(Number(child));
    }
  } catch {
    // exited meanwhile
  }
  return total;
}

/** The launcher's web and runner children, by their command lines. */
function roles(): { web?: number; runner?: number } {
  const found: { web?: number; runner?: number } = {};
  const children = readFileSync(`/proc/${app.pid}/task/${app.pid}/children`, "utf8").split(" ").filter(Boolean).map(Number);
  for (const pid of children) {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    if (cmd.includes("runner")) found.runner = pid;
    else if (cmd.includes("web") || cmd.includes("next")) found.web = pid;
  }
  return found;
}

const pct = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((p / 100) * values.length))] ?? NaN;

async function step(cookies: string[], baseline: number) {
  const meter = cpuMeter(baseline);
  const outcomes: Outcome[] = [];
  const deadline = Date.now() + stepMs;
  const peak = { web: 0, runner: 0 };
  const sampler = setInterval(() => {
    const { web, runner } = roles();
    if (web) peak.web = Math.max(peak.web, treeRss(web));
    if (runner) peak.runner = Math.max(peak.runner, treeRss(runner));
  }, 2000);
  await Promise.all(
    cookies.map(async (cookie) => {
      // Learners arrive spread over one interval, not all in the same second.
      await sleep(Math.random() * intervalMs);
      while (Date.now() < deadline) {
        const started = Date.now();
        outcomes.push(await check(cookie));
        const wait = intervalMs - (Date.now() - started);
        if (wait > 0) await sleep(Math.min(wait, Math.max(0, deadline - Date.now())));
      }
    }),
  );
  clearInterval(sampler);
  // A run with no verdict on its stream is looked up once more after a grace period.
  const unsure = outcomes.filter((o) => o.runId && !["pass", "fail", "error", "cancelled"].includes(o.status));
  let lost = 0;
  for (const o of unsure) {
    const res = await fetch(`${base}/api/runs/${o.runId}`, { headers: { cookie: cookies[0]! } });
    lost += res.ok && ["pass", "fail", "error"].includes(((await res.json()) as { status: string }).status) ? 0 : 1;
  }
  const verdicts = outcomes.filter((o) => ["pass", "fail"].includes(o.status)).map((o) => o.ms);
  const errors = outcomes.filter((o) => !["pass", "fail"].includes(o.status)).length;
  return {
    runs: outcomes.length,
    p50: pct(verdicts, 50),
    p95: pct(verdicts, 95),
    errors,
    lost,
    webMb: peak.web / 1024,
    runnerMb: peak.runner / 1024,
    rate: outcomes.length / (stepMs / 1000),
    cpuMs: meter.stop(outcomes.length),
  };
}

try {
  await ready();
  const all: string[] = [];
  for (let i = 0; i < Math.max(...steps); i += 10)
    all.push(...(await Promise.all(Array.from({ length: Math.min(10, Math.max(...steps) - i) }, (_, j) => signIn(i + j)))));
  await check(all[0]!); // warm-up: the first imports of the checks and the harness build
  const baseline = await idleRate();
  console.log(
    `\nlab ${lab}, one check per learner every ${intervalMs / 1000} s, ${stepMs / 1000} s per step, RUNNER_CONCURRENCY=${process.env.RUNNER_CONCURRENCY ?? 4}`,
  );
  console.log("learners  runs  runs/s  p50 ms  p95 ms  errors  lost  web MB  runner MB  CPU/run ms");
  let best = 0;
  let failed = false;
  for (const n of steps) {
    const r = await step(all.slice(0, n), baseline);
    console.log(
      `${String(n).padStart(8)}  ${String(r.runs).padStart(4)}  ${r.rate.toFixed(2).padStart(6)}  ${String(Math.round(r.p50)).padStart(6)}  ${String(Math.round(r.p95)).padStart(6)}  ${String(r.errors).padStart(6)}  ${String(r.lost).padStart(4)}  ${r.webMb.toFixed(0).padStart(6)}  ${r.runnerMb.toFixed(0).padStart(9)}  ${Math.round(r.cpuMs).toString().padStart(10)}`,
    );
    if (r.p95 > 2000 || r.lost > 0) failed = true;
    else if (!failed) best = n;
    if (failed && !values.all) break;
  }
  console.log(`\nLargest N with p95 ≤ 2 s and no lost runs: ${best || "none of the steps"}`);
} finally {
  stop();
}
