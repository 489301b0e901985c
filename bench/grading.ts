/**
 * `node --import tsx bench/grading.ts [runs=50] [submitters=8] [perSubmitter=6]`
 *
 * End-to-end grading latency and throughput on this machine: starts Faultline the way `npm start`
 * does (production build, web + runner, fresh data under .data/bench), signs learners up over
 * HTTP, and for each run measures POST /api/runs → the SSE `end` event, with the runner's own
 * breakdown (queue wait, build, pod with its private Redis, module load in the sandbox, checks).
 * Phase 1: one learner, sequential runs. Phase 2: several learners submitting at once. Each phase
 * also reports CPU per run for the whole process tree (web, runner, sandboxes, Redis; bench/cpu.ts).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { spawn } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { freePort } from "../lib/launcher/free-port.ts";
import { cpuMeter, idleRate } from "./cpu.ts";

const [runs = 50, submitters = 8, perSubmitter = 6] = process.argv.slice(2).map(Number);
const port = await freePort();
const base = `http://localhost:${port}`;
const solution = readFileSync("labs/priority-queue/solution/queue.ts", "utf8");

rmSync(".data/bench", { recursive: true, force: true });
const app = spawn(process.execPath, ["--import", "tsx", "scripts/start.ts"], {
  env: {
    ...process.env,
    PORT: String(port),
    FAULTLINE_DATA_DIR: ".data/bench",
    FAULTLINE_REDIS_PREFIX: `fl-bench-${Date.now()}:`,
    RUN_RATE_LIMIT_PER_MINUTE: "100000",
    RATE_LIMIT_SIGNUP_PER_IP: "1000",
    LOG_LEVEL: "warn",
  },
  stdio: ["ignore", "ignore", "inherit"],
});
const stop = () => app.kill("SIGINT");
process.on("exit", stop);

async function ready(): Promise<void> {
  const deadline = Date.now() + 240_000;
  while (Date.now() < deadline) {
    const ok = await fetch(`${base}/api/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await sleep(500);
  }
  throw new Error("Faultline did not become ready within 4 minutes");
}

/** Signs a new learner up and in; returns their session cookie. */
async function learner(n: number): Promise<string> {
  const email = `bench-${n}-${Date.now()}@example.org`;
  const password = "bench-ember-47-quartz";
  const signup = await fetch(`${base}/api/signup`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password, name: `Bench ${n}` }),
  });
  if (!signup.ok) throw new Error(`sign-up failed: ${signup.status} ${await signup.text()}`);
  const csrf = await fetch(`${base}/api/auth/csrf`);
  const { csrfToken } = (await csrf.json()) as { csrfToken: string };
  const csrfCookie = csrf.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
  const signin = await fetch(`${base}/api/auth/callback/credentials`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: csrfCookie },
    body: new URLSearchParams({ csrfToken, email, password, json: "true" }),
  });
  const session = signin.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .find((c) => c?.includes("session-token"));
  if (!session) throw new Error(`sign-in failed: ${signin.status}`);
  return session;
}

interface Measured {
  ms: number;
  status: string;
  timings: Record<string, number>;
}

async function gradeOnce(cookie: string): Promise<Measured> {
  const started = performance.now();
  const post = await fetch(`${base}/api/runs`, {
    method: "POST",
    headers: { "content-type": "application/json", cookie },
    body: JSON.stringify({ lab: "priority-queue", mode: "check", files: { "queue.ts": solution } }),
  });
  if (post.status !== 202) throw new Error(`POST /api/runs: ${post.status} ${await post.text()}`);
  const { eventsUrl } = (await post.json()) as { eventsUrl: string };
  const events = await fetch(`${base}${eventsUrl}`, { headers: { cookie } });
  const reader = events.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the event stream ended without an end event");
    text += value;
    const end = /event: end\ndata: (.*)\n/.exec(text);
    if (end) {
      void reader.cancel();
      const data = JSON.parse(end[1]!) as { status: string; timings?: Record<string, number> };
      return { ms: performance.now() - started, status: data.status, timings: data.timings ?? {} };
    }
  }
}

const pct = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
};
const fmt = (v: number) => `${Math.round(v)} ms`.padStart(8);

function report(title: string, results: Measured[], cpuMs: number, seconds?: number) {
  const failed = results.filter((r) => r.status !== "pass").length;
  console.log(
    `\n${title}: ${results.length} runs, ${failed} not passing${seconds ? `, ${(results.length / seconds).toFixed(2)} graded runs/s over ${seconds.toFixed(1)} s` : ""}`,
  );
  console.log(`  CPU per run      ${Math.round(cpuMs)} ms (whole machine, idle baseline taken off)`);
  console.log(
    `  POST → verdict   p50 ${fmt(
      pct(
        results.map((r) => r.ms),
        50,
      ),
    )}   p95 ${fmt(
      pct(
        results.map((r) => r.ms),
        95,
      ),
    )}`,
  );
  for (const part of ["queueMs", "buildMs", "podMs", "redisMs", "moduleLoadMs", "checksMs", "totalMs"]) {
    const values = results.map((r) => r.timings[part] ?? NaN).filter((v) => !Number.isNaN(v));
    console.log(`  ${part.replace(/Ms$/, "").padEnd(15)} p50 ${fmt(pct(values, 50))}   p95 ${fmt(pct(values, 95))}`);
  }
}

try {
  await ready();
  const cookies = await Promise.all(Array.from({ length: Math.max(1, submitters) }, (_, i) => learner(i)));
  await gradeOnce(cookies[0]!); // warm-up: first imports of the checks, first harness build
  const baseline = await idleRate();
  const sequential: Measured[] = [];
  let meter = cpuMeter(baseline);
  for (let i = 0; i < runs; i++) sequential.push(await gradeOnce(cookies[0]!));
  report(`Sequential (one learner, priority-queue solution)`, sequential, meter.stop(runs));

  meter = cpuMeter(baseline);
  const started = performance.now();
  const concurrent = (
    await Promise.all(
      cookies.map(async (cookie) => {
        const mine: Measured[] = [];
        for (let i = 0; i < perSubmitter; i++) mine.push(await gradeOnce(cookie));
        return mine;
      }),
    )
  ).flat();
  report(`Concurrent (${submitters} learners × ${perSubmitter} runs)`, concurrent, meter.stop(concurrent.length), (performance.now() - started) / 1000);
} finally {
  stop();
}
