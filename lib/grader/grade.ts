/**
 * Runs a lab's checks, in lab.json's order, against one pod. Each check gets a clean slate: the
 * processes of the check before are gone, faults healed, the Redis emptied. A check ends as
 * `pass`, `fail` (the learner's code: a CheckFailure, a learner function that threw, a hang) or
 * `error` (the platform or the check itself), and the messages say which.
 */
import type { Lab } from "../labs/schema.ts";
import type { Pod } from "../runner/pod.ts";
import type { RunEvent } from "../runs/events.ts";
import { CheckContext } from "./context.ts";
import type { LabChecks } from "./define.ts";
import { CheckFailure, GraderError, type CheckResult } from "./result.ts";

export interface GradeOptions {
  pod: Pod;
  lab: Lab;
  definition: LabChecks;
  seed: number;
  emit: (event: RunEvent) => void;
  signal?: AbortSignal;
  /** Told each time a learner module finishes loading, with the milliseconds it took. */
  loaded?: (ms: number) => void;
}

const OUTPUT_CAP = 16 * 1024;

class CheckTimeout extends Error {}

function judge(error: unknown, timeoutMs: number): Pick<CheckResult, "status" | "message" | "expected" | "actual" | "hint"> {
  if (error instanceof CheckFailure) return { status: "fail", message: error.message, expected: error.expected, actual: error.actual, hint: error.hint };
  if (error instanceof CheckTimeout) {
    return { status: "fail", message: `The check did not finish within ${timeoutMs / 1000} s.`, hint: "Your code is probably waiting for something that never happens: a blocking call without a timeout, or a loop that never yields." };
  }
  // A Redis error on the grader's own reads comes from what the learner stored (WRONGTYPE…).
  if (error instanceof Error && error.name === "ReplyError") {
    return { status: "fail", message: `Reading your Redis data failed: ${error.message}`, hint: "Check the key names and types your code writes against the lab's instructions." };
  }
  const message = error instanceof Error ? error.message : String(error);
  const where = error instanceof GraderError ? "" : " (this is a fault in the check or the platform, not your code)";
  return { status: "error", message: `${message}${where}` };
}

/** Empties the run's Redis for the next check; a learner script still busy is killed first. */
async function resetRedis(pod: Pod): Promise<void> {
  try {
    await pod.admin.flushall();
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith("BUSY")) throw error;
    await pod.admin.script("KILL").catch(() => {});
    await pod.admin.flushall();
  }
}

export async function gradeChecks(o: GradeOptions): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const timeoutMs = o.definition.timeoutMs ?? 15_000;
  for (const check of o.lab.checks) {
    if (o.signal?.aborted) break;
    o.emit({ type: "check-start", id: check.id, title: check.title });
    const started = performance.now();
    let output = "";
    const t = new CheckContext(o.pod, o.seed, {
      log(stream, text, process) {
        if (stream !== "grader" && output.length < OUTPUT_CAP) output = (output + text).slice(0, OUTPUT_CAP);
        o.emit({ type: "log", stream, text: process ? `[${process}] ${text}` : text, check: check.id });
      },
      loaded: o.loaded,
    });
    const impl = o.definition.checks[check.id];
    let verdict: Pick<CheckResult, "status" | "message" | "expected" | "actual" | "hint">;
    let timer: NodeJS.Timeout | undefined;
    try {
      if (!impl) throw new GraderError(`checks.ts does not implement the check '${check.id}' that lab.json declares`);
      await Promise.race([impl(t), new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new CheckTimeout()), timeoutMs)))]);
      verdict = { status: "pass" };
    } catch (error) {
      verdict = judge(error, timeoutMs);
    } finally {
      clearTimeout(timer);
    }
    try {
      await t.cleanup();
      await resetRedis(o.pod);
    } catch (error) {
      verdict = { status: "error", message: `Could not reset the run's Redis after this check: ${(error as Error).message}` };
    }
    const result: CheckResult = { id: check.id, title: check.title, ...verdict, output: output || undefined, durationMs: performance.now() - started };
    results.push(result);
    o.emit({ type: "check-end", id: result.id, status: result.status, message: result.message, expected: result.expected, actual: result.actual, hint: result.hint, ms: Math.round(result.durationMs) });
  }
  return results;
}
