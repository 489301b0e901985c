import { expect, test } from "vitest";
import { faultKind, median } from "./verify.ts";

test("fault kinds are read from what the proxy logged, and undoing a fault is not one", () => {
  const logged = ["latency 80±40ms", "latency 0±0ms", "failNext", "failNext 1 ZADD", "failNext 0 ZADD", "duplicate", "dropReply", "fragment 3", "fragment off", "cutAll (4 connections)", "partition (2 connections cut)", "heal", "reset", "crash point: worker-2 stops after this EVAL", "kill worker-2", "pause worker-1", "resume worker-1", "SIGTERM worker-1", "handler throws for task-1", "redis replaced (3 connections cut)"];
  expect(logged.map(faultKind)).toEqual(["latency", null, "failed command", "failed command", null, "duplicated command", "dropped reply", "fragmented replies", null, "cut connections", "partition", null, null, "crash point", "kill", "pause", null, "signal", "failing handler", "Redis replaced"]);
});

test("median of check times", () => {
  expect(median([])).toBe(0);
  expect(median([300, 100, 200])).toBe(200);
  expect(median([4, 1, 3, 2])).toBe(2.5);
});
