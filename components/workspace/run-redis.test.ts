import { expect, test } from "vitest";
import { formatScore, zsetLanes } from "./redis-view";

const m = (member: string, score: number) => ({ member, score });

test("members sharing a few scores get a lane per score, lowest first", () => {
  const lanes = zsetLanes([m("c", 2), m("a", 0), m("b", 0), m("d", 2)]);
  expect(lanes.map((l) => [l.label, l.members.map((x) => x.member)])).toEqual([
    ["score 0", ["a", "b"]],
    ["score 2", ["c", "d"]],
  ]);
});

test("priority × 2^32 + sequence scores are laned by priority, and show the sequence", () => {
  const lanes = zsetLanes([m("late-urgent", 0 * 2 ** 32 + 9), m("low", 2 * 2 ** 32 + 1), m("urgent", 0 * 2 ** 32 + 3), m("mid", 2 ** 32 + 5)]);
  expect(lanes.map((l) => [l.label, l.members.map((x) => x.member)])).toEqual([
    ["score ÷ 2³² = 0", ["urgent", "late-urgent"]],
    ["score ÷ 2³² = 1", ["mid"]],
    ["score ÷ 2³² = 2", ["low"]],
  ]);
  expect(lanes[1]!.short?.(2 ** 32 + 5)).toBe("+5");
  expect(formatScore(2 * 2 ** 32 + 17)).toBe("2·2³² + 17");
});

test("all-distinct scores are one lane in score order", () => {
  const lanes = zsetLanes([m("b", 1.5), m("a", -3), m("c", 1e3)]);
  expect(lanes).toHaveLength(1);
  expect(lanes[0]!.members.map((x) => x.member)).toEqual(["a", "b", "c"]);
  expect(formatScore(0.1 + 0.2)).toBe("0.3");
  expect(zsetLanes([])).toEqual([]);
});
