import { expect, test, vi } from "vitest";
import type { HintsState } from "@/lib/labs/hints";
import { HintRequests, hintControl, refreshAfterRun } from "./hint-list";

const HINTS = ["Use a sorted set.", "Encode arrival order in the score.", "score = priority * 2^32 + sequence"];

/** A server with lib/labs/hints.ts's rules: one more hint per POST, the last after `finalHintAfter` failed checks. */
function server({ finalHintAfter = 0 } = {}) {
  const s = { unlocked: 0, failed: 0, calls: [] as string[], refuse: null as string | null };
  const state = (): HintsState => {
    const locked = Math.max(0, finalHintAfter - s.failed);
    const reachable = locked > 0 ? HINTS.length - 1 : HINTS.length;
    return { total: HINTS.length, unlocked: HINTS.slice(0, Math.min(s.unlocked, reachable)), finalLockedFor: locked };
  };
  const fetch = vi.fn<typeof globalThis.fetch>(async (input, init) => {
    s.calls.push(`${init?.method ?? "GET"} ${String(input)}`);
    if (s.refuse) return Response.json({ error: s.refuse }, { status: 503 });
    const { unlocked, finalLockedFor } = state();
    if (init?.method === "POST" && unlocked.length < HINTS.length && !(unlocked.length === HINTS.length - 1 && finalLockedFor > 0))
      s.unlocked = unlocked.length + 1;
    return Response.json(state());
  });
  const requests = new HintRequests({ api: "/api/labs/priority-queue", fetch });
  // The page: what it shows, and a press of the hint button.
  const page = { hints: state(), notice: null as string | null };
  const press = async () => {
    const answer = await requests.next();
    if ("hints" in answer) page.hints = answer.hints;
    else page.notice = answer.notice;
  };
  const refresh = async () => {
    page.hints = (await requests.unlocked(new AbortController().signal)) ?? page.hints;
  };
  return { s, page, press, refresh };
}

test("hints are revealed one at a time, in order, and nothing is offered past the last", async () => {
  const t = server();
  expect(hintControl(t.page.hints)).toEqual({ kind: "button", label: "Show a hint" });
  await t.press();
  expect(t.page.hints.unlocked).toEqual(HINTS.slice(0, 1));
  expect(hintControl(t.page.hints)).toEqual({ kind: "button", label: "Show the next hint" });
  await t.press();
  expect(t.page.hints.unlocked).toEqual(HINTS.slice(0, 2));
  await t.press();
  expect(t.page.hints.unlocked).toEqual(HINTS);
  expect(hintControl(t.page.hints)).toBeNull();
  expect(t.s.calls).toEqual(Array(3).fill("POST /api/labs/priority-queue/hints"));
});

test("the last hint waits for failed checks: the section counts them down, and each graded run asks again", async () => {
  const t = server({ finalHintAfter: 2 });
  await t.press();
  await t.press();
  await t.press();
  expect(t.page.hints.unlocked).toEqual(HINTS.slice(0, 2));
  expect(hintControl(t.page.hints)).toEqual({ kind: "locked", failedChecksToGo: 2 });
  expect(refreshAfterRun(true, t.page.hints)).toBe(true);
  expect(refreshAfterRun(false, t.page.hints)).toBe(false);

  t.s.failed = 1;
  await t.refresh();
  expect(t.s.calls.at(-1)).toBe("GET /api/labs/priority-queue/hints");
  expect(hintControl(t.page.hints)).toEqual({ kind: "locked", failedChecksToGo: 1 });
  t.s.failed = 2;
  await t.refresh();
  expect(hintControl(t.page.hints)).toEqual({ kind: "button", label: "Show the next hint" });
  expect(refreshAfterRun(true, t.page.hints)).toBe(false);
  await t.press();
  expect(t.page.hints.unlocked).toEqual(HINTS);
});

test("a hint the server cannot give leaves those shown in place and says why; a failed refresh says nothing", async () => {
  const t = server();
  await t.press();
  t.s.refuse = "The course is being updated; try again in a minute.";
  await t.press();
  expect(t.page.notice).toBe("Could not show a hint: The course is being updated; try again in a minute.");
  expect(t.page.hints.unlocked).toEqual(HINTS.slice(0, 1));
  t.page.notice = null;
  await t.refresh();
  expect(t.page.hints.unlocked).toEqual(HINTS.slice(0, 1));
  expect(t.page.notice).toBeNull();
});
