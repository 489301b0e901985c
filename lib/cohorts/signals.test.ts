import { describe, expect, test } from "vitest";
import { idleDays, requirementState, stuckChecks, type CheckOutcome } from "./signals.ts";

const at = (minute: number) => new Date(Date.UTC(2026, 10, 1, 9, minute));
const run = (checkId: string, passed: boolean, minute: number, labId = "priority-queue"): CheckOutcome => ({ labId, checkId, passed, at: at(minute) });

describe("stuck on a check", () => {
  test("five failures in a row of one check flags it, counting from the first of them", () => {
    const outcomes = [1, 2, 3, 4, 5].map((m) => run("blocking-dequeue", false, m));
    expect(stuckChecks(outcomes, 5)).toEqual([{ labId: "priority-queue", checkId: "blocking-dequeue", fails: 5, since: at(1) }]);
    expect(stuckChecks(outcomes.slice(1), 5)).toEqual([]);
  });

  test("a pass resets the streak, whatever order the rows arrive in", () => {
    const outcomes = [run("x", false, 1), run("x", false, 2), run("x", true, 3), run("x", false, 4), run("x", false, 5)].reverse();
    expect(stuckChecks(outcomes, 3)).toEqual([]);
    expect(stuckChecks(outcomes, 2)).toEqual([expect.objectContaining({ fails: 2, since: at(4) })]);
  });

  test("the same check id in two labs is two streaks; the worst comes first", () => {
    const outcomes = [run("a", false, 1, "lab-1"), run("a", false, 2, "lab-2"), run("a", false, 3, "lab-2"), run("b", true, 4, "lab-2")];
    expect(stuckChecks(outcomes, 1).map((s) => [s.labId, s.fails])).toEqual([
      ["lab-2", 2],
      ["lab-1", 1],
    ]);
  });
});

describe("idle and due dates", () => {
  const now = new Date(Date.UTC(2026, 10, 10, 12));
  test("idle days are whole days; no activity is null", () => {
    expect(idleDays(new Date(Date.UTC(2026, 10, 3, 13)), now)).toBe(6);
    expect(idleDays(new Date(Date.UTC(2026, 10, 3, 12)), now)).toBe(7);
    expect(idleDays(null, now)).toBeNull();
  });

  test("a requirement is met, late, open or overdue", () => {
    const due = new Date(Date.UTC(2026, 10, 9));
    expect(requirementState(new Date(Date.UTC(2026, 10, 8)), due, now)).toBe("met");
    expect(requirementState(new Date(Date.UTC(2026, 10, 9, 1)), due, now)).toBe("late");
    expect(requirementState(null, due, now)).toBe("overdue");
    expect(requirementState(null, new Date(Date.UTC(2026, 10, 11)), now)).toBe("open");
    expect(requirementState(null, null, now)).toBe("open");
    expect(requirementState(now, null, now)).toBe("met");
  });
});
