import { expect, test } from "vitest";
import type { Lab } from "../labs/schema.ts";
import type { Lane, Pod } from "../runner/pod.ts";
import type { GradeEvent } from "./events.ts";
import { defineChecks } from "./define.ts";
import { checksLine, gradeChecks } from "./grade.ts";

const replyError = (message: string) => Object.assign(new Error(message), { name: "ReplyError" });

/** A pod of one lane; the fakes hold only what grading touches. */
const podOf = (lane: object) => ({ lane, takeLane: async () => lane, releaseLane() {}, hostCrashes: 0 }) as unknown as Pod;

/** A pod whose Redis is held by a script until it is replaced; `killReply` is what SCRIPT KILL answers. */
function stuckPod(killReply: string, ended: ReturnType<Lane["redis"]["ended"]> = null) {
  const state = { generation: 0, stuck: true, flushes: 0 };
  const admin = {
    flushall: async () => {
      if (state.stuck) throw replyError("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.");
      state.flushes++;
      return "OK";
    },
    script: async () => {
      if (killReply === "OK") state.stuck = false;
      if (killReply.startsWith("OK")) return killReply;
      throw replyError(killReply);
    },
    call: async () => "OK",
    info: async () => "used_memory_lua:31744\r\n",
    get: async () => `generation-${state.generation}`,
  };
  const redis = { ended: () => (state.generation === 0 ? ended : null) };
  const lane = {
    admin,
    redis,
    proxy: { log: [], mark() {}, reset() {}, reseed() {} },
    replaceRedis: async () => {
      state.generation++;
      state.stuck = false;
    },
  };
  return { pod: podOf(lane), state };
}

const lab = {
  checks: [
    { id: "first", title: "First" },
    { id: "second", title: "Second" },
  ],
} as unknown as Lab;

async function grade(pod: Pod, first: "pass" | "throw" = "pass") {
  const events: GradeEvent[] = [];
  const seen: string[] = [];
  const definition = defineChecks({
    // One lane in this fake: the second check must find what the first one left.
    concurrency: 1,
    checks: {
      first: async () => {
        if (first === "throw") throw new Error("the check's own read failed");
      },
      second: async (t) => void seen.push(String(await t.redis.get("x"))),
    },
  });
  const results = await gradeChecks({ pod, lab, definition, seed: 1, emit: (e) => events.push(e) });
  return { results, events, seen };
}

test("a script Redis cannot kill fails the check, not the platform, and the next check runs on a fresh Redis", async () => {
  const { pod, state } = stuckPod(
    "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
  );
  const { results, events, seen } = await grade(pod);
  expect(results.map((r) => r.status)).toEqual(["fail", "pass"]);
  expect(results[0]?.message).toBe(
    "Your Lua script wrote to Redis and then kept running; Redis cannot stop such a script (UNKILLABLE Sorry the script already executed write commands against the dataset), so the grader replaced your run's Redis with an empty one.",
  );
  expect(state.generation).toBe(1);
  expect(seen).toEqual(["generation-1"]);
  expect(events.some((e) => e.type === "log" && e.text.startsWith("The run's Redis was replaced after this check: "))).toBe(true);
});

test("a check that errored because of the stuck script is the learner's failure, with the check's message kept as evidence", async () => {
  const { pod } = stuckPod("UNKILLABLE Sorry the script already executed write commands against the dataset.");
  const { results } = await grade(pod, "throw");
  expect(results[0]).toMatchObject({ status: "fail", actual: expect.stringContaining("the check's own read failed") });
});

test("a script that can be killed is killed, and nothing is replaced", async () => {
  const { pod, state } = stuckPod("OK");
  const { results } = await grade(pod);
  expect(results.map((r) => r.status)).toEqual(["pass", "pass"]);
  expect(state.generation).toBe(0);
});

test("a Redis that ran out of memory and died is replaced and blamed on the learner's code; one that died otherwise is an error", async () => {
  const oom = stuckPod("OK", { code: null, signal: "SIGABRT", log: "12345:M 01 Dec 2026 23:00:00.000 # Out Of Memory allocating 1048600 bytes!" });
  const a = await grade(oom.pod);
  expect(a.results.map((r) => r.status)).toEqual(["fail", "pass"]);
  expect(a.results[0]?.message).toMatch(/^Your run's Redis ran out of memory and stopped/);

  const killed = stuckPod("OK", { code: null, signal: "SIGKILL", log: "" });
  const b = await grade(killed.pod);
  expect(b.results.map((r) => r.status)).toEqual(["error", "pass"]);
  expect(b.results[0]?.message).toMatch(/^The run's Redis stopped during this check \(SIGKILL\) and was replaced \(this is a fault in the platform/);
});

test("a Redis whose death shows as a failed command before its exit is still recognised and replaced", async () => {
  let endedAt = Infinity;
  let replaced = false;
  const lane = {
    admin: {
      flushall: async () => {
        if (replaced) return "OK";
        endedAt = Math.min(endedAt, Date.now() + 150);
        throw new Error("Connection is closed.");
      },
      info: async () => "used_memory_lua:31744\r\n",
      get: async () => "x",
      call: async () => "OK", // FUNCTION FLUSH
    },
    redis: {
      ended: () =>
        !replaced && Date.now() >= endedAt ? { code: null, signal: "SIGSEGV", log: "1:M # Out Of Memory allocating 2097163 bytes!\n1:M # crash report" } : null,
    },
    proxy: { log: [], mark() {}, reset() {}, reseed() {} },
    replaceRedis: async () => void (replaced = true),
  };
  const { results } = await grade(podOf(lane));
  expect(results.map((r) => r.status)).toEqual(["fail", "pass"]);
  expect(results[0]?.actual).toBe("1:M # Out Of Memory allocating 2097163 bytes!");
});

test("a check that throws by mistake names the line of checks.ts it threw at, for the lab's author", () => {
  const error = new TypeError("Cannot read properties of undefined (reading 'id')");
  error.stack = `TypeError: ${error.message}\n    at Object.impl (file:///srv/course/labs/saga/checks.ts?v=1733:120:17)\n    at runCheck (/srv/app/lib/grader/grade.ts:160:3)`;
  expect(checksLine(error)).toBe(", at saga/checks.ts:120:17");
  expect(checksLine(new Error("thrown elsewhere"))).toBe("");
  expect(checksLine("not an error")).toBe("");
});
