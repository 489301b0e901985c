/**
 * `npm run labs:verify [lab…] [--jobs N] [--seed N] [--repeat N]`: proves every lab (or the ones
 * named) by running its solution, starter and wrong/ variants through the real run engine:
 * sandbox, private Redis, chaos proxy and checks. `--repeat N` runs each solution N times, with
 * seeds seed…seed+N-1, to prove its checks do not flake. Exits 1 with the evidence when a lab is
 * not proven; otherwise prints each lab's variant count, the fault kinds its checks injected and
 * its median check time.
 */
import { parseArgs } from "node:util";
import path from "node:path";
import { loadLabs, LabError } from "../lib/labs/loader.ts";
import { faultKind, judgeVariant, labVariants, median, type LabSummary, type Variant } from "../lib/labs/verify.ts";
import type { GradeResult } from "../lib/grader/result.ts";
import { executeRun, type RunDeps } from "../lib/runner/execute.ts";
import { PrivateRedisPool } from "../lib/runner/private-redis.ts";
import { probeSandbox } from "../lib/runner/sandbox/probe.ts";
import type { LoadedLab } from "../lib/labs/loader.ts";
import type { RunEvent } from "../lib/runs/events.ts";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { jobs: { type: "string", default: "6" }, seed: { type: "string", default: "1" }, repeat: { type: "string", default: "1" } } });
const jobs = Math.max(1, Number(values.jobs));
const seed = Number(values.seed);
const repeat = Math.max(1, Number(values.repeat));

let labs: LoadedLab[];
try {
  labs = loadLabs(path.resolve("labs"));
} catch (error) {
  console.error(error instanceof LabError ? error.message : error);
  process.exit(1);
}
const unknown = positionals.filter((name) => !labs.some((l) => l.lab.slug === name || l.lab.id === name));
if (unknown.length > 0) {
  console.error(`No lab named ${unknown.join(", ")}. Labs: ${labs.map((l) => l.lab.slug).join(", ")}`);
  process.exit(1);
}
if (positionals.length > 0) labs = labs.filter((l) => positionals.includes(l.lab.slug) || positionals.includes(l.lab.id));

const { tier, reasons } = await probeSandbox();
if (tier !== "bubblewrap") console.warn(`sandbox tier: ${tier} (${reasons.join("; ")})`);
const pool = new PrivateRedisPool(jobs);
const work: { lab: LoadedLab; variant: Variant; seed: number }[] = [];
const problems: string[] = [];
const summaries = new Map<string, LabSummary>();
for (const lab of labs) {
  try {
    const variants = labVariants(lab);
    summaries.set(lab.lab.slug, { variants: variants.filter((v) => v.expect.kind === "fail-check").length, faults: new Set(), checkMs: [] });
    for (const variant of variants) {
      const times = variant.expect.kind === "pass" ? repeat : 1;
      for (let i = 0; i < times; i++) work.push({ lab, variant: times > 1 ? { ...variant, name: `${variant.name} #${i + 1}` } : variant, seed: seed + i });
    }
  } catch (error) {
    problems.push((error as Error).message);
  }
}

const only = (lab: LoadedLab, ids: string[]): LoadedLab => ({ ...lab, lab: { ...lab.lab, checks: lab.lab.checks.filter((c) => ids.includes(c.id)) } });

/**
 * Runs a variant as far as its proof needs. Checks start from a clean slate each (fresh
 * processes, an empty Redis), so a check fails alone as it would among the others; the others'
 * timeouts, which are most of a failing variant's time, are not waited out. A wrong variant runs
 * the one check it names; the starter runs its checks one by one until one fails; the solution
 * runs them all in one run, as a learner's would.
 */
async function runVariant(lab: LoadedLab, variant: Variant, seed: number, deps: RunDeps): Promise<GradeResult> {
  const run = (subject: LoadedLab) => executeRun({ lab: subject, mode: "check", files: variant.files, seed }, deps);
  const { expect } = variant;
  if (expect.kind === "fail-check") return run(only(lab, [expect.check]));
  if (expect.kind === "pass") return run(lab);
  const checks: GradeResult["checks"] = [];
  let durationMs = 0;
  for (const check of lab.lab.checks) {
    const result = await run(only(lab, [check.id]));
    checks.push(...result.checks);
    durationMs += result.durationMs;
    if (result.status !== "pass") return { ...result, checks, durationMs };
  }
  return { status: "pass", seed, checks, durationMs };
}

const started = performance.now();
/** Far above any variant's real time (the slowest takes about 20 s). */
const VARIANT_WATCHDOG_MS = 150_000;
let next = 0;
async function worker() {
  while (next < work.length) {
    const { lab, variant, seed } = work[next++]!;
    const label = `${lab.lab.slug} ${variant.name}${repeat > 1 && variant.expect.kind === "pass" ? ` (seed ${seed})` : ""}`;
    const summary = summaries.get(lab.lab.slug)!;
    // A run that hangs must not hang CI with it: past the watchdog it is aborted (its pod is
    // disposed) and reported with the last events it emitted, which say where it stopped.
    const recent: string[] = [];
    const emit = (event: RunEvent) => {
      recent.push(JSON.stringify(event).slice(0, 300));
      if (recent.length > 12) recent.shift();
      // The solution's runs show what the checks inject and how long they take when they pass.
      if (variant.expect.kind !== "pass") return;
      if (event.type === "commands") for (const entry of event.entries) {
        const kind = entry.fault ? faultKind(entry.fault) : null;
        if (kind) summary.faults.add(kind);
      }
      if (event.type === "check-end") summary.checkMs.push(event.ms);
    };
    const signal = AbortSignal.timeout(VARIANT_WATCHDOG_MS);
    try {
      const result = await Promise.race([
        // The code verified is the lab's own (solution, starter, wrong variants), never a
        // learner's, so a weak sandbox tier may run it (sandbox/policy.ts refuses it for learners).
        runVariant(lab, variant, seed, { pool, tier, emit, signal, sandboxPolicy: { allowWeak: true, local: false } }),
        new Promise<never>((_, reject) => signal.addEventListener("abort", () => setTimeout(() => reject(new Error(`hung for ${VARIANT_WATCHDOG_MS / 1000} s; its last events:\n  ${recent.join("\n  ")}`)), 5000), { once: true })),
      ]);
      if (signal.aborted) throw new Error(`hung for ${VARIANT_WATCHDOG_MS / 1000} s and was aborted; its last events:\n  ${recent.join("\n  ")}`);
      const problem = judgeVariant(variant, result);
      const marks = result.checks.map((c) => (c.status === "pass" ? "✓" : c.status === "fail" ? "✗" : "!")).join("");
      console.log(`${problem ? "FAIL" : "ok  "} ${label.padEnd(52)} ${result.status.padEnd(5)} ${marks.padEnd(8)} ${Math.round(result.durationMs)} ms`);
      if (problem) problems.push(`labs/${lab.lab.slug} ${variant.name}: ${problem}`);
    } catch (error) {
      console.log(`FAIL ${label}`);
      problems.push(`labs/${lab.lab.slug} ${variant.name}: the run could not complete: ${(error as Error).stack ?? error}`);
    }
  }
}
await Promise.all(Array.from({ length: jobs }, worker));
await pool.close();
const seconds = ((performance.now() - started) / 1000).toFixed(1);
if (problems.length > 0) {
  console.error(`\n${problems.join("\n\n")}\n\nlabs:verify: ${problems.length} problem(s) in ${seconds} s`);
  process.exit(1);
}
console.log("");
for (const [slug, { variants, faults, checkMs }] of summaries) {
  console.log(`${slug.padEnd(22)} ${String(variants).padStart(2)} wrong variants  median check ${String(Math.round(median(checkMs))).padStart(5)} ms  faults: ${[...faults].sort().join(", ") || "none"}`);
}
console.log(`\nlabs:verify: ${labs.length} lab(s), ${work.length} variants proven in ${seconds} s (seed ${repeat > 1 ? `${seed}…${seed + repeat - 1} for solutions` : seed})`);
