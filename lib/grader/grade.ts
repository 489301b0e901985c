/**
 * Runs a lab's checks against one pod, several at once (each on a lane of its own: its Redis and
 * chaos proxy), and reports them in lab.json's order. Each check gets a clean slate: no instance
 * or process of another check, faults healed, an empty Redis. A check ends as `pass`, `fail` (the
 * learner's code: a CheckFailure, a learner function that threw, a hang) or `error` (the platform
 * or the check itself), and the messages say which. A Redis the learner's code made unusable (a
 * script Redis cannot stop, a server that ran out of memory) is replaced, so the check fails
 * saying so and later checks still start clean. When the shared sandbox dies while checks run
 * in it, those that did not pass run again, one at a time, each in a fresh sandbox: the check
 * that caused it fails on its own, and the others are judged on their own code.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Lab } from "../labs/schema.ts";
import type { Lane, Pod } from "../runner/pod.ts";
import { withTimeout } from "../timeout.ts";
import type { GradeEvent } from "./events.ts";
import { CheckContext } from "./context.ts";
import type { LabChecks } from "./define.ts";
import { CheckFailure, GraderError, type CheckResult } from "./result.ts";

/** What grading and the playground both work from: one run's pod, lab, checks and event sink. */
export interface RunSession {
  pod: Pod;
  lab: Lab;
  definition: LabChecks;
  seed: number;
  emit: (event: GradeEvent) => void;
  signal?: AbortSignal;
  /** The learner's files as submitted, by path (`t.source`). */
  sources?: Readonly<Record<string, string>>;
}

export interface GradeOptions extends RunSession {
  /** Told each time a learner module finishes loading, with the milliseconds it took. */
  loaded?: (ms: number) => void;
}

const OUTPUT_CAP = 16 * 1024;

class CheckTimeout extends Error {}

function judge(error: unknown, timeoutMs: number): Pick<CheckResult, "status" | "message" | "expected" | "actual" | "hint"> {
  if (error instanceof CheckFailure) return { status: "fail", message: error.message, expected: error.expected, actual: error.actual, hint: error.hint };
  if (error instanceof CheckTimeout) {
    return {
      status: "fail",
      message: `The check did not finish within ${timeoutMs / 1000} s.`,
      hint: "Your code is probably waiting for something that never happens: a blocking call without a timeout, or a loop that never yields.",
    };
  }
  // A Redis error on the grader's own reads comes from what the learner stored (WRONGTYPE…).
  if (error instanceof Error && error.name === "ReplyError") {
    return {
      status: "fail",
      message: `Reading your Redis data failed: ${error.message}`,
      hint: "Check the key names and types your code writes against the lab's instructions.",
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  const where = error instanceof GraderError ? "" : ` (this is a fault in the check or the platform, not your code${checksLine(error)})`;
  return { status: "error", message: `${message}${where}` };
}

/** Where in a lab's checks.ts an error was thrown, for the author who reads the run: ", at labs/x/checks.ts:12:5". */
export function checksLine(error: unknown): string {
  const stack = error instanceof Error ? (error.stack ?? "") : "";
  const frame = /(?:file:\/\/)?(\/[^\s()]*?([^/\s()]+\/checks\.ts))(?:\?[^:\s()]*)?:(\d+):(\d+)/.exec(stack);
  return frame ? `, at ${frame[2]}:${frame[3]}:${frame[4]}` : "";
}

const SCRIPT_HINT = "Redis runs one script at a time and nothing else meanwhile: keep scripts short, with no loop that waits for a condition.";

/** What a check concluded, before its id, title and timing are added. */
type Judgement = Pick<CheckResult, "status" | "message" | "expected" | "actual" | "hint">;

const LUA_RESET_BYTES = 16 * 1024 * 1024;
const luaBytes = (info: string) => Number(/^used_memory_lua:(\d+)/m.exec(info)?.[1] ?? 0);

const replyOf = (p: Promise<unknown>) => p.then(String, (e: Error) => e.message);

/** Stops a busy script or function; the reply of the KILL that applied (OK, NOTBUSY, UNKILLABLE …). */
async function killScript(pod: Lane): Promise<string> {
  const reply = await replyOf(pod.admin.script("KILL"));
  // SCRIPT KILL refuses a busy function with BUSY; FUNCTION KILL is the one for those.
  return reply.startsWith("BUSY") ? replyOf(pod.admin.call("FUNCTION", "KILL")) : reply;
}

/** The run's Redis is gone: says why, for the learner when their code caused it. */
function redisEnded(ended: NonNullable<ReturnType<Lane["redis"]["ended"]>>): Judgement {
  const how = ended.signal ?? `exit code ${ended.code}`;
  const last = ended.log.split("\n").filter(Boolean).at(-1);
  const oom = /^.*Out Of Memory.*$/m.exec(ended.log)?.[0];
  if (oom) {
    return {
      status: "fail",
      message: "Your run's Redis ran out of memory and stopped, so the grader replaced it with an empty one.",
      actual: oom,
      hint: "Data counts against the lab's maxmemory, but memory a Lua script builds (strings, tables) does not, and the server as a whole is capped: look for a script or a command that builds something huge.",
    };
  }
  return {
    status: "error",
    message: `The run's Redis stopped during this check (${how}${last ? `: ${last}` : ""}) and was replaced (this is a fault in the platform, not your code)`,
  };
}

/**
 * Empties the run's Redis for the next check; a learner script still busy is killed first. When
 * that cannot be done because of what the learner's code did to it, the Redis is replaced and the
 * returned verdict says why; null when it was simply emptied. Throws only for the platform's faults.
 */
async function resetRedis(pod: Lane): Promise<Judgement | null> {
  for (let attempt = 0; ; attempt++) {
    const ended = pod.redis.ended();
    if (ended) {
      await pod.replaceRedis();
      return redisEnded(ended);
    }
    try {
      await pod.admin.flushall();
      // FLUSHALL keeps functions: one the learner's code loaded (FUNCTION LOAD) would still be
      // there, callable, in the next check, which must start from nothing.
      await pod.admin.call("FUNCTION", "FLUSH", "SYNC");
      // What a script built stays in Lua's heap until its collector runs: outside maxmemory but
      // inside the server's memory cap, where it would crowd out the next check's data.
      if (luaBytes(await pod.admin.info("memory")) > LUA_RESET_BYTES) await pod.admin.script("FLUSH");
      return null;
    } catch (error) {
      const busy = error instanceof Error && error.message.startsWith("BUSY");
      // A server that died shows first as a failed command, then as an exit: give the exit a moment.
      for (let wait = 0; !busy && wait < 10 && !pod.redis.ended(); wait++) await sleep(100);
      if (pod.redis.ended()) continue;
      if (!busy || attempt >= 3) throw error;
      const killed = await killScript(pod);
      if (killed.startsWith("UNKILLABLE")) {
        await pod.replaceRedis();
        return {
          status: "fail",
          message: `Your Lua script wrote to Redis and then kept running; Redis cannot stop such a script (${killed.split(".")[0]}), so the grader replaced your run's Redis with an empty one.`,
          hint: SCRIPT_HINT,
        };
      }
    }
  }
}

const RESET_TIMEOUT_MS = 20_000;

/** How many checks run at once unless the lab says otherwise. */
export const DEFAULT_CONCURRENCY = 4;

/** A check's own fault seed: the same for a replay, whichever lane the check gets. */
function checkSeed(seed: number, id: string): number {
  let h = seed >>> 0;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619) >>> 0;
  return h;
}

async function runCheck(session: GradeOptions, check: Lab["checks"][number], lane: Lane, rerun: boolean): Promise<CheckResult> {
  const timeoutMs = session.definition.timeoutMs ?? 15_000;
  if (!rerun) session.emit({ type: "check-start", id: check.id, title: check.title });
  const started = performance.now();
  let output = "";
  lane.proxy.reseed(checkSeed(session.seed, check.id));
  lane.check = check.id;
  const t = new CheckContext(lane, session.seed, {
    log(stream, text, process) {
      if (stream !== "grader" && output.length < OUTPUT_CAP) output = (output + text).slice(0, OUTPUT_CAP);
      session.emit({ type: "log", stream, text: process ? `[${process}] ${text}` : text, check: check.id });
    },
    loaded: session.loaded,
    sources: session.sources,
  });
  const impl = session.definition.checks[check.id];
  let verdict: Judgement;
  let explained = false;
  let timer: NodeJS.Timeout | undefined;
  try {
    if (!impl) throw new GraderError(`checks.ts does not implement the check '${check.id}' that lab.json declares`);
    await Promise.race([impl(t), new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new CheckTimeout()), timeoutMs)))]);
    verdict = { status: "pass" };
  } catch (error) {
    verdict = judge(error, timeoutMs);
    explained = error instanceof CheckFailure;
  } finally {
    clearTimeout(timer);
  }
  try {
    // Bounded: a process that will not die or a Redis that will not answer is the platform's
    // fault, reported as such, never a run that waits forever.
    const broken = await withTimeout(
      (async () => {
        await t.cleanup();
        return resetRedis(lane);
      })(),
      RESET_TIMEOUT_MS,
      `cleaning up after the check took over ${RESET_TIMEOUT_MS / 1000} s`,
    );
    if (broken) {
      session.emit({ type: "log", stream: "grader", text: `The run's Redis was replaced after this check: ${broken.message}`, check: check.id });
      // A check that failed and said why keeps its own words; anything else is about the Redis now.
      if (!(explained && verdict.status === "fail")) verdict = { ...broken, actual: broken.actual ?? verdict.message };
    }
  } catch (error) {
    verdict = { status: "error", message: `Could not reset the run's Redis after this check: ${(error as Error).message}` };
  }
  lane.check = null;
  return { id: check.id, title: check.title, ...verdict, output: output || undefined, durationMs: performance.now() - started };
}

export async function gradeChecks(session: GradeOptions): Promise<CheckResult[]> {
  const checks = session.lab.checks;
  const limit = Math.max(1, Math.min(session.definition.concurrency ?? DEFAULT_CONCURRENCY, checks.length));
  const results: (CheckResult | undefined)[] = new Array<CheckResult | undefined>(checks.length);
  const reruns: number[] = [];
  let reported = 0;
  const emitEnd = (result: CheckResult) =>
    session.emit({
      type: "check-end",
      id: result.id,
      status: result.status,
      message: result.message,
      expected: result.expected,
      actual: result.actual,
      hint: result.hint,
      ms: Math.round(result.durationMs),
    });
  // Results stream in lab.json's order: a check that ends early waits for those before it.
  const report = () => {
    for (; reported < checks.length && results[reported]; reported++) emitEnd(results[reported]!);
  };
  let next = 0;
  const running = new Set<number>();
  /** Checks that ran while another did: a crash of the shared sandbox may not be theirs. */
  const overlapped = new Set<number>();
  const lanes = async () => {
    const lane = await session.pod.takeLane();
    try {
      while (next < checks.length && !session.signal?.aborted) {
        const index = next++;
        const crashes = session.pod.hostCrashes;
        running.add(index);
        if (running.size > 1) for (const i of running) overlapped.add(i);
        const result = await runCheck(session, checks[index]!, lane, false);
        running.delete(index);
        if (session.pod.hostCrashes > crashes && result.status !== "pass" && overlapped.has(index)) {
          session.emit({
            type: "log",
            stream: "grader",
            text: "The run's sandbox crashed while this check ran beside others; it runs again, alone, in a fresh one.",
            check: result.id,
          });
          reruns.push(index);
          continue;
        }
        results[index] = result;
        report();
      }
    } finally {
      session.pod.releaseLane(lane);
    }
  };
  await Promise.all(Array.from({ length: limit }, lanes));
  for (const index of reruns.sort((a, b) => a - b)) {
    if (session.signal?.aborted) break;
    await session.pod.freshHost();
    const lane = await session.pod.takeLane();
    try {
      results[index] = await runCheck(session, checks[index]!, lane, true);
    } finally {
      session.pod.releaseLane(lane);
    }
    report();
  }
  // A cancelled run leaves gaps: what did finish is still reported, in order.
  const finished = results.filter((r): r is CheckResult => r !== undefined);
  for (const result of results.slice(reported)) if (result) emitEnd(result);
  return finished;
}
