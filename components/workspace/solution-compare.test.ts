import { expect, test, vi } from "vitest";
import type { RunVerdict } from "@/lib/runs/run-state";
import { SolutionCompare, opensSolution } from "./solution-compare";

const REFUSED = "The reference solution opens once your code passes every check of this lab.";
const verdict = (status: RunVerdict["status"]): RunVerdict => ({ status, seed: 4127, ms: 900 });

/** A server that refuses the solution until `passed`, counting its requests. */
function setup() {
  const s = { passed: false, requests: 0 };
  const fetch = vi.fn<typeof globalThis.fetch>(async (input) => {
    s.requests++;
    expect(String(input)).toBe("/api/labs/resp-client/solution");
    if (!s.passed) return Response.json({ error: REFUSED }, { status: 403 });
    return Response.json({ files: { "resp.ts": "// reference" } });
  });
  return { s, compare: new SolutionCompare({ api: "/api/labs/resp-client", fetch }) };
}

test("only a real graded pass opens the comparison: not a failure, not a plain run, not a replay of a chosen seed", () => {
  expect(opensSolution({ mode: "check", verdict: verdict("fail") })).toBe(false);
  expect(opensSolution({ mode: "check", verdict: verdict("error") })).toBe(false);
  expect(opensSolution({ mode: "run", verdict: verdict("pass") })).toBe(false);
  expect(opensSolution({ mode: "check", verdict: verdict("pass"), replay: true })).toBe(false);
  expect(opensSolution({ mode: "check" })).toBe(false);
  expect(opensSolution({ mode: "check", verdict: verdict("pass") })).toBe(true);
});

test("the comparison stays closed while the server refuses, and the learner reads the server's reason", async () => {
  const t = setup();
  expect(await t.compare.open(() => ({ "resp.ts": "// mine" }))).toBe(REFUSED);
  expect(t.compare.getState()).toEqual({ open: false, solution: null, mine: {} });
  expect(t.compare.reference(["resp.ts"])).toEqual({ "resp.ts": "" });

  t.s.passed = true;
  expect(await t.compare.open(() => ({ "resp.ts": "// mine" }))).toBeNull();
  expect(t.compare.getState()).toEqual({ open: true, solution: { "resp.ts": "// reference" }, mine: { "resp.ts": "// mine" } });
});

test("the solution is fetched once; reopening shows the learner's code as it is now", async () => {
  const t = setup();
  t.s.passed = true;
  await t.compare.open(() => ({ "resp.ts": "// first" }));
  t.compare.close();
  expect(t.compare.getState().open).toBe(false);
  t.s.passed = false; // even a server that would now refuse is not asked again
  expect(await t.compare.open(() => ({ "resp.ts": "// second" }))).toBeNull();
  expect(t.s.requests).toBe(1);
  expect(t.compare.getState()).toMatchObject({ open: true, mine: { "resp.ts": "// second" } });
  // "Check the reference solution" grades the solution's editable files; one it lacks is sent empty.
  expect(t.compare.reference(["resp.ts", "extra.ts"])).toEqual({ "resp.ts": "// reference", "extra.ts": "" });
});
