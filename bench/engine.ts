/**
 * `node --import tsx bench/engine.ts [lab=priority-queue] [runs=20]`
 *
 * The run engine alone, in this process (no web tier, no queue): `executeRun` on the lab's
 * solution, one run after another, as the runner does it. Prints wall time p50/p95, each check's
 * median duration, module load time, and CPU per run for the whole process tree (bench/cpu.ts).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { readFileSync } from "node:fs";
import path from "node:path";
import { loadLab } from "../lib/labs/loader.ts";
import { executeRun, type RunOutcome } from "../lib/runs/execute.ts";
import { PrivateRedisPool } from "../lib/runner/private-redis.ts";
import { probeSandbox } from "../lib/runner/sandbox/probe.ts";
import { cpuMeter, idleRate } from "./cpu.ts";

const [name = "priority-queue", runsArg = "20"] = process.argv.slice(2);
const runs = Number(runsArg);
const lab = loadLab(path.resolve(import.meta.dirname, "../labs"), name);
const files = Object.fromEntries(lab.lab.files.map((f) => [f.path, readFileSync(path.join(lab.dir, "solution", f.path), "utf8")]));
const tier = (await probeSandbox()).tier;
const pool = new PrivateRedisPool(4);
const once = (seed: number) => executeRun({ lab, mode: "check", files, seed }, { pool, tier, emit: () => {} });

const pct = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((p / 100) * values.length))] ?? NaN;

await once(0); // warm-up: the harness build, the checks' first import
await sleep(1000);
const baseline = await idleRate();
const meter = cpuMeter(baseline);
const outcomes: RunOutcome[] = [];
for (let i = 1; i <= runs; i++) outcomes.push(await once(i));
const cpu = meter.stop(runs);
await pool.close();

const failed = outcomes.filter((o) => o.status !== "pass");
console.log(`${name}, ${runs} runs on the ${tier} tier (${failed.length} not passing${failed.length ? `: ${failed[0]!.message}` : ""})`);
console.log(
  `  wall           p50 ${Math.round(
    pct(
      outcomes.map((o) => o.durationMs),
      50,
    ),
  )} ms   p95 ${Math.round(
    pct(
      outcomes.map((o) => o.durationMs),
      95,
    ),
  )} ms`,
);
console.log(
  `  module load    p50 ${Math.round(
    pct(
      outcomes.map((o) => o.timings.moduleLoadMs),
      50,
    ),
  )} ms`,
);
for (const check of lab.lab.checks) {
  const ms = outcomes.map((o) => o.checks.find((c) => c.id === check.id)?.durationMs ?? NaN);
  console.log(`  ${check.id.padEnd(28)} p50 ${Math.round(pct(ms, 50))} ms`);
}
console.log(`  CPU per run    ${Math.round(cpu)} ms (whole machine, idle baseline ${Math.round(baseline)} ms/s taken off)`);
process.exit(0);
