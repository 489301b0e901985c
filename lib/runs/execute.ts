/**
 * One run, end to end inside the runner (docs/architecture.md "A run, end to end", steps 1-4):
 * build the learner's files, take a pod (the run's shared sandbox and its lanes: a private Redis
 * and chaos proxy per check running at once), grade the checks or run the playground, stream every
 * step as events, and always clean up. The verdict comes only from what the runner observed.
 */
import { addAbortListener } from "node:events";
import { statSync } from "node:fs";
import { randomInt } from "node:crypto";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { gradeChecks, type RunSession } from "../grader/grade.ts";
import { isLabChecks, type LabChecks } from "../grader/define.ts";
import { runPlayground } from "../grader/playground.ts";
import { verdictOf, type CheckResult, type GradeResult } from "../grader/result.ts";
import type { LoadedLab } from "../labs/loader.ts";
import type { RunEvent } from "./events.ts";
import { buildFiles } from "../runner/build.ts";
import { feedCommands } from "./command-feed.ts";
import { createPod, type Pod } from "../runner/pod.ts";
import type { PrivateRedisPool } from "../runner/private-redis.ts";
import { admitRun, type SandboxPolicy } from "../runner/sandbox/policy.ts";
import type { SandboxTier } from "../runner/sandbox/probe.ts";

export interface RunInput {
  lab: LoadedLab;
  mode: "run" | "check";
  /** The learner's complete file set (read-only files already taken from the starter). */
  files: Record<string, string>;
  seed?: number | null;
}

export interface RunDeps {
  pool: PrivateRedisPool;
  tier: SandboxTier;
  emit: (event: RunEvent) => void;
  signal?: AbortSignal;
  /** @default 60000 */
  playgroundMs?: number;
  /** Whether a weak sandbox tier may run learner code. @default from the environment (policy.ts) */
  sandboxPolicy?: SandboxPolicy;
  /** Checks' proxy faults are logged, not applied: for `labs:verify --ablate`, never for learners. */
  ablateFaults?: boolean;
}

export interface RunTimings {
  buildMs: number;
  podMs: number;
  redisMs: number;
  checksMs: number;
  /** Median time for a learner module to load in a fresh sandbox (spawn → imported). */
  moduleLoadMs: number;
  totalMs: number;
}

export type RunOutcome = GradeResult & { timings: RunTimings };

const pinned = new Map<string, Promise<LabChecks>>();

/**
 * Imports a lab's checks.ts. In development the file's mtime in the URL makes an edited file load
 * afresh on the next run; in production the checks a runner first loaded stay until it restarts,
 * as the labs and the course do, so grading never changes under learners unverified.
 */
export function loadChecks(labDir: string): Promise<LabChecks> {
  if (process.env.NODE_ENV !== "production") return importChecks(labDir);
  let found = pinned.get(labDir);
  if (!found) {
    found = importChecks(labDir);
    pinned.set(labDir, found);
    found.catch(() => pinned.delete(labDir));
  }
  return found;
}

async function importChecks(labDir: string): Promise<LabChecks> {
  const file = path.join(labDir, "checks.ts");
  const url = `${pathToFileURL(file).href}?v=${Math.round(statSync(file).mtimeMs)}`;
  const mod = (await import(url)) as { default?: unknown };
  if (!isLabChecks(mod.default)) throw new Error(`${file}: the default export must be defineChecks({ checks: { ... } })`);
  return mod.default;
}

export async function executeRun(input: RunInput, deps: RunDeps): Promise<RunOutcome> {
  const started = performance.now();
  const seed = input.seed ?? randomInt(0, 2 ** 31 - 1);
  const timings: RunTimings = { buildMs: 0, podMs: 0, redisMs: 0, checksMs: 0, moduleLoadMs: 0, totalMs: 0 };
  const loads: number[] = [];
  let stopFeed = () => {};
  const finish = (status: GradeResult["status"], checks: CheckResult[], message?: string): RunOutcome => {
    stopFeed(); // the last commands go out before `end`, which viewers treat as the last event
    timings.totalMs = performance.now() - started;
    const sorted = loads.sort((a, b) => a - b);
    timings.moduleLoadMs = sorted[Math.floor(sorted.length / 2)] ?? 0;
    const result = { status, seed, message, checks, durationMs: timings.totalMs, timings };
    deps.emit({ type: "end", status, seed, message, ms: Math.round(timings.totalMs) });
    return result;
  };

  const refused = admitRun(deps.tier, (text) => deps.emit({ type: "log", stream: "grader", text }), deps.sandboxPolicy);
  if (refused) return finish("error", [], refused);

  const built = await buildFiles(input.files);
  timings.buildMs = built.ms;
  deps.emit({ type: "build", ok: built.ok, ms: Math.round(built.ms), diagnostics: built.ok ? undefined : built.diagnostics });
  if (!built.ok) {
    const first = built.diagnostics[0]!;
    return finish("error", [], `Your code does not build: ${first.file}:${first.line}:${first.column} ${first.message}`);
  }

  const definition = await loadChecks(input.lab.dir);
  const lab = input.lab.lab;
  const allow = lab.redis.allow === "all" ? undefined : new Set(lab.redis.allow);
  let pod: Pod | undefined;
  try {
    const podStarted = performance.now() - started;
    const feeds: (() => void)[] = [];
    stopFeed = () => feeds.forEach((stop) => stop());
    // Every lane's proxy feeds the live command log; they share one sequence and one clock.
    pod = await createPod({
      tier: deps.tier,
      pool: deps.pool,
      files: built.files,
      seed,
      allow,
      budgets: lab.redis.budgets,
      inertFaults: deps.ablateFaults,
      onLane: (lane) => feeds.push(feedCommands(lane.proxy, deps.emit, podStarted, () => lane.check)),
    });
    // A run cancelled while it built or took its pod does not start: whoever cancelled it has
    // already told the viewers, and this verdict is never stored.
    const stop = pod.dispose;
    if (deps.signal?.aborted) {
      await stop();
      return finish("error", [], "The run was cancelled before it started.");
    }
    // Cancelled later, it stops now: its processes die, so a check waiting on them ends at once.
    if (deps.signal) addAbortListener(deps.signal, () => void stop());
    timings.podMs = pod.timings.setupMs;
    timings.redisMs = pod.timings.redisMs;
    const checksStarted = performance.now();
    const session: RunSession = { pod, lab, definition, seed, sources: input.files, emit: deps.emit, signal: deps.signal };
    if (input.mode === "run") {
      const played = await runPlayground({ ...session, durationMs: deps.playgroundMs, offsetMs: performance.now() - started });
      timings.checksMs = performance.now() - checksStarted;
      return finish(played.status, [], played.message);
    }
    const checks = await gradeChecks({ ...session, loaded: (ms) => loads.push(ms) });
    timings.checksMs = performance.now() - checksStarted;
    const status = verdictOf(checks);
    const failed = checks.filter((c) => c.status !== "pass").length;
    return finish(status, checks, status === "pass" ? `All ${checks.length} checks passed.` : `${failed} of ${checks.length} checks did not pass.`);
  } finally {
    stopFeed();
    await pod?.dispose();
  }
}
