/**
 * `npm run labs:verify [lab…] [options]`: proves every lab (or the ones named) by running its
 * solution, starter and wrong/ variants through the real run engine: sandbox, private Redis,
 * chaos proxy and checks. Exits 1 with the evidence when a lab is not proven; otherwise prints
 * each lab's variant count, the fault kinds its checks injected and its median check time.
 * `--help` lists the options.
 */
import { parseArgs } from "node:util";
import { labsDirFor, loadLabs, LabError } from "../lib/labs/loader.ts";
import { env } from "../lib/env.ts";
import { checkKeyProblems, faultKind, judgeVariant, labVariants, median, pickVariants, type LabSummary, type Variant } from "../lib/grader/verify.ts";
import { typecheckLabs } from "../lib/labs/typecheck.ts";
import type { GradeResult } from "../lib/grader/result.ts";
import { executeRun, loadChecks, type RunDeps } from "../lib/runs/execute.ts";
import { PrivateRedisPool } from "../lib/runner/private-redis.ts";
import { probeSandbox } from "../lib/runner/sandbox/probe.ts";
import type { LoadedLab } from "../lib/labs/loader.ts";
import type { RunEvent } from "../lib/runs/events.ts";

const USAGE = `Usage: npm run labs:verify -- [lab…] [options]

Proves each lab (all of them, or the slugs named): its solution passes every check, its starter
fails at least one, and each wrong/ variant fails the check lab.json says catches it.

Options:
  --variant NAME    only this variant: solution, starter, or a wrong/ folder (wrong/NAME or NAME);
                    may be given more than once
  --check ID        only this check: the solution runs it alone, the starter and the wrong
                    variants that lab.json says it catches are judged on it
  --verbose         print each failing check's message, as the learner would read it
  --seed N          the seed of every run (default 1); a replay of a learner's run uses theirs
  --repeat N        run each solution N times, with seeds seed…seed+N-1, to prove it never flakes
  --jobs N          runs at once (default 6; use 1 or 2 on a busy machine)
  --retries N       give a variant whose proof fails N more runs with other seeds (default 0);
                    a proof that holds on a retry passes but is listed at the end, since on a
                    loaded machine a timing window can let a wrong variant slip past or fail
                    a solution once, and the check that let it should be made firmer
  --ablate          also rerun each caught wrong variant with the proxy's faults logged but not
                    applied, and warn when it is still caught (its check's faults prove nothing)
  --skip-typecheck  do not type-check checks.ts, solutions, starters and variants first
  --help            this text
`;

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      jobs: { type: "string", default: "6" },
      retries: { type: "string", default: "0" },
      seed: { type: "string", default: "1" },
      repeat: { type: "string", default: "1" },
      variant: { type: "string", multiple: true },
      check: { type: "string" },
      verbose: { type: "boolean", default: false },
      ablate: { type: "boolean", default: false },
      "skip-typecheck": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
} catch (error) {
  console.error(`${(error as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
const { values, positionals } = parsed;
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const count = (name: string, raw: string, min: number): number => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) {
    console.error(`--${name} must be a whole number of at least ${min}; got ${JSON.stringify(raw)}.\n\n${USAGE}`);
    process.exit(2);
  }
  return n;
};
const jobs = count("jobs", values.jobs, 1);
const seed = count("seed", values.seed, 0);
const repeat = count("repeat", values.repeat, 1);
const retries = count("retries", values.retries, 0);
/** Proofs that held only on a retry: listed at the end, as checks to make firmer. */
const slipped: string[] = [];

let labs: LoadedLab[];
try {
  labs = loadLabs(labsDirFor(env().courseDir));
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

const problems: string[] = [];
const warnings: string[] = [];
// What can be found wrong without a sandbox is found first: check keys, --check, types.
for (const lab of labs) {
  try {
    problems.push(...checkKeyProblems(lab.lab, await loadChecks(lab.dir), `labs/${lab.lab.slug}/checks.ts`));
  } catch (error) {
    problems.push(`labs/${lab.lab.slug}/checks.ts could not be loaded: ${(error as Error).message}`);
  }
}
if (values.check && !labs.some((l) => l.lab.checks.some((c) => c.id === values.check))) {
  problems.push(
    `No lab ${positionals.length > 0 ? "named here " : ""}has a check '${values.check}'; checks: ${labs.map((l) => `${l.lab.slug}: ${l.lab.checks.map((c) => c.id).join(", ")}`).join("; ")}.`,
  );
}
if (problems.length === 0 && !values["skip-typecheck"]) {
  const t0 = performance.now();
  problems.push(...typecheckLabs(labs.map((l) => l.dir)));
  console.log(`type-checked ${labs.length} lab(s) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
if (problems.length > 0) {
  console.error(`${problems.join("\n\n")}\n\nlabs:verify: ${problems.length} problem(s), found before any run`);
  process.exit(1);
}

const { tier, reasons } = await probeSandbox();
if (tier !== "bubblewrap") console.warn(`sandbox tier: ${tier} (${reasons.join("; ")})`);
const pool = new PrivateRedisPool(jobs);
const work: { lab: LoadedLab; variant: Variant; seed: number }[] = [];
const summaries = new Map<string, LabSummary>();
for (const lab of labs) {
  try {
    if (values.check && !lab.lab.checks.some((c) => c.id === values.check)) continue;
    const picked = pickVariants(labVariants(lab), { names: values.variant, check: values.check });
    if (picked.unknown.length > 0) {
      problems.push(
        `labs/${lab.lab.slug} has no variant ${picked.unknown.join(", ")}; its variants: ${labVariants(lab)
          .map((v) => v.name)
          .join(", ")}.`,
      );
      continue;
    }
    summaries.set(lab.lab.slug, { variants: picked.variants.filter((v) => v.expect.kind === "fail-check").length, faults: new Set(), checkMs: [] });
    for (const variant of picked.variants) {
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
 * runs them all in one run, as a learner's would. `--check` narrows the solution and the starter
 * to that check.
 */
async function runVariant(full: LoadedLab, variant: Variant, seed: number, deps: RunDeps): Promise<GradeResult> {
  const lab = values.check ? only(full, [values.check]) : full;
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

/** What the learner would read for each check that did not pass, indented under the variant's line. */
const messages = (result: GradeResult) =>
  [
    result.message,
    ...result.checks
      .filter((c) => c.status !== "pass")
      .map(
        (c) =>
          `${c.id} (${c.status}): ${c.message ?? ""}${c.expected !== undefined ? `\n    expected: ${String(c.expected)}` : ""}${c.actual !== undefined ? `\n    actual:   ${String(c.actual)}` : ""}`,
      ),
  ]
    .filter(Boolean)
    .map((m) => `    ${String(m).split("\n").join("\n    ")}`)
    .join("\n");

/**
 * How labs:verify runs a variant. The code verified is the lab's own (solution, starter, wrong
 * variants), never a learner's, so a weak sandbox tier may run it (sandbox/policy.ts refuses it
 * for learners).
 */
const depsFor = (emit: (event: RunEvent) => void, signal: AbortSignal): RunDeps => ({
  pool,
  tier,
  emit,
  signal,
  sandboxPolicy: { allowWeak: true, local: false },
});

const started = performance.now();
/** The fault kinds the proxy and the chaos dependency inject, which --ablate turns off (kills, pauses and crash points stay). */
const PROXY_FAULTS = new Set([
  "latency",
  "failed command",
  "duplicated command",
  "dropped reply",
  "fragmented replies",
  "cut connections",
  "partition",
  "stall",
  "dependency latency",
  "dependency error status",
  "dependency hang",
  "dependency reset",
  "dependency down",
]);
/** Far above any variant's real time (the slowest takes about 20 s). */
const VARIANT_WATCHDOG_MS = 150_000;
/**
 * The longest runs first, so none of them starts last and leaves the other jobs idle: every
 * solution (all of a lab's checks, 5–20 s), then the rest taken from each lab in turn, so runs of
 * one lab with the same heavy check do not all land at once.
 */
function longestFirst<T extends { lab: LoadedLab; variant: Variant }>(items: T[]): T[] {
  const taken = new Map<string, number>();
  const turn = (item: T) => {
    if (item.variant.expect.kind === "pass") return -1;
    const n = taken.get(item.lab.lab.slug) ?? 0;
    taken.set(item.lab.lab.slug, n + 1);
    return n;
  };
  // A stable sort by each lab's turn keeps the labs in order within a turn.
  return items
    .map((item) => ({ item, turn: turn(item) }))
    .sort((a, b) => a.turn - b.turn)
    .map(({ item }) => item);
}
work.splice(0, work.length, ...longestFirst(work));
/**
 * A run that hangs must not hang CI with it: past the watchdog it is aborted (its pod is disposed)
 * and reported with the last events it emitted, which say where it stopped.
 */
async function watched(start: (signal: AbortSignal) => Promise<GradeResult>, recent: string[]): Promise<GradeResult> {
  const signal = AbortSignal.timeout(VARIANT_WATCHDOG_MS);
  const result = await Promise.race([
    start(signal),
    new Promise<never>((_, reject) =>
      signal.addEventListener(
        "abort",
        () => setTimeout(() => reject(new Error(`hung for ${VARIANT_WATCHDOG_MS / 1000} s; its last events:\n  ${recent.join("\n  ")}`)), 5000),
        { once: true },
      ),
    ),
  ]);
  if (signal.aborted) throw new Error(`hung for ${VARIANT_WATCHDOG_MS / 1000} s and was aborted; its last events:\n  ${recent.join("\n  ")}`);
  return result;
}

let next = 0;
async function worker() {
  while (next < work.length) {
    const { lab, variant, seed } = work[next++]!;
    const label = `${lab.lab.slug} ${variant.name}${repeat > 1 && variant.expect.kind === "pass" ? ` (seed ${seed})` : ""}`;
    const summary = summaries.get(lab.lab.slug)!;
    const recent: string[] = [];
    /** Whether this run's checks had the proxy inject a fault (what --ablate can take away). */
    let proxyFaults = false;
    const emit = (event: RunEvent) => {
      recent.push(JSON.stringify(event).slice(0, 300));
      if (recent.length > 12) recent.shift();
      if (event.type === "commands")
        for (const entry of event.entries) {
          const kind = entry.fault ? faultKind(entry.fault) : null;
          if (kind && PROXY_FAULTS.has(kind)) proxyFaults = true;
          // The solution's runs show what the checks inject and how long they take when they pass.
          if (kind && variant.expect.kind === "pass") summary.faults.add(kind);
        }
      if (event.type === "check-end" && variant.expect.kind === "pass") summary.checkMs.push(event.ms);
    };
    try {
      let result: GradeResult | undefined;
      let problem: string | null = null;
      const failedOn: string[] = [];
      // Another seed on each retry: the same one would repeat the same shape and faults.
      for (let attempt = 0, runSeed = seed; attempt <= retries; attempt++, runSeed += 7919) {
        result = await watched((signal) => runVariant(lab, variant, runSeed, depsFor(emit, signal)), recent);
        problem = judgeVariant(variant, result);
        if (!problem) {
          if (failedOn.length > 0) slipped.push(`labs/${lab.lab.slug} ${variant.name}: held on seed ${runSeed} after failing on ${failedOn.join("; ")}`);
          break;
        }
        // What went wrong, without the checks that passed.
        failedOn.push(
          `seed ${runSeed}: ${problem
            .split("\n")
            .filter((line) => !/: pass$/.test(line))
            .join("\n  ")}`,
        );
      }
      result = result!;
      const marks = result.checks.map((c) => (c.status === "pass" ? "✓" : c.status === "fail" ? "✗" : "!")).join("");
      const retried = failedOn.length > 0 && !problem ? `  (held on retry ${failedOn.length})` : "";
      console.log(
        `${problem ? "FAIL" : "ok  "} ${label.padEnd(52)} ${result.status.padEnd(5)} ${marks.padEnd(8)} ${Math.round(result.durationMs)} ms${retried}`,
      );
      if (values.verbose && result.status !== "pass") console.log(messages(result));
      if (problem) problems.push(`labs/${lab.lab.slug} ${variant.name}: ${problem}`);
      else if (values.ablate && variant.expect.kind === "fail-check" && proxyFaults) {
        const bare = await runVariant(lab, variant, seed, { ...depsFor(() => {}, AbortSignal.timeout(VARIANT_WATCHDOG_MS)), ablateFaults: true });
        const still = bare.checks.find((c) => c.id === (variant.expect as { check: string }).check);
        console.log(`     ${label.padEnd(52)} faults off: ${still?.status === "fail" ? "still caught" : "escapes"}`);
        if (still?.status === "fail")
          warnings.push(
            `labs/${lab.lab.slug} ${variant.name} is caught by ${still.id} even with the proxy's faults off, so they are not what catches it:\n    ${(still.message ?? "").split("\n").join("\n    ")}`,
          );
      }
    } catch (error) {
      console.log(`FAIL ${label}`);
      problems.push(`labs/${lab.lab.slug} ${variant.name}: the run could not complete: ${(error as Error).stack ?? error}`);
    }
  }
}
await Promise.all(Array.from({ length: jobs }, worker));
await pool.close();
const seconds = ((performance.now() - started) / 1000).toFixed(1);
if (slipped.length > 0)
  console.warn(
    `\n${slipped.join("\n")}\n\n${slipped.length} proof(s) held only on a retry: a timing window let a wrong variant slip past its check, or failed a solution, on a loaded machine. Make those checks firmer.`,
  );
if (problems.length > 0) {
  console.error(`\n${problems.join("\n\n")}\n\nlabs:verify: ${problems.length} problem(s) in ${seconds} s`);
  process.exit(1);
}
if (warnings.length > 0)
  console.warn(
    `\n${warnings.join("\n\n")}\n\n${warnings.length} variant(s) caught without the proxy's faults (--ablate); a kill, pause or crash point may still be what catches them.`,
  );
console.log("");
for (const [slug, { variants, faults, checkMs }] of summaries) {
  console.log(
    `${slug.padEnd(22)} ${String(variants).padStart(2)} wrong variants  median check ${String(Math.round(median(checkMs))).padStart(5)} ms  faults: ${[...faults].sort().join(", ") || "none"}`,
  );
}
console.log(
  `\nlabs:verify: ${labs.length} lab(s), ${work.length} variants proven in ${seconds} s (seed ${repeat > 1 ? `${seed}…${seed + repeat - 1} for solutions` : seed})`,
);
// Done: exit now. Finished runs leave handles behind (the child-process handles of lane Redis
// servers already killed, and timers) that held this process open 20–45 s after the last line.
process.exit(0);
