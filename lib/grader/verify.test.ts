import { expect, test } from "vitest";
import { checkKeyProblems, faultKind, median, pickVariants, type Variant } from "./verify.ts";

test("fault kinds are read from what the proxy logged, and undoing a fault is not one", () => {
  const logged = [
    "latency 80±40ms",
    "latency 0±0ms",
    "failNext",
    "failNext 1 ZADD",
    "failNext 0 ZADD",
    "duplicate",
    "dropReply",
    "fragment 3",
    "fragment off",
    "cutAll (4 connections)",
    "partition (2 connections cut)",
    "heal",
    "reset",
    "crash point: worker-2 stops after this EVAL",
    "kill worker-2",
    "pause worker-1",
    "resume worker-1",
    "SIGTERM worker-1",
    "handler throws for task-1",
    "redis replaced (3 connections cut)",
    "ablated: latency 80±40ms",
    "stall (2 connections held)",
    "unstall (3 commands released)",
    "dependency readFile fails (EACCES)",
    "dependency pricing: failNext 3 × 503 (Retry-After 1)",
    "dependency pricing: hang 2",
    "dependency pricing: hangAll",
    "dependency pricing: reset 1",
    "dependency pricing: down (2 calls cut)",
    "dependency pricing: latency 80±20ms",
    "dependency pricing: up",
    "dependency pricing: heal",
    "ablated: dependency pricing: hang 1",
  ];
  expect(logged.map(faultKind)).toEqual([
    "latency",
    null,
    "failed command",
    "failed command",
    null,
    "duplicated command",
    "dropped reply",
    "fragmented replies",
    null,
    "cut connections",
    "partition",
    null,
    null,
    "crash point",
    "kill",
    "pause",
    null,
    "signal",
    "failing handler",
    "Redis replaced",
    null,
    "stall",
    null,
    "failing dependency",
    "dependency error status",
    "dependency hang",
    "dependency hang",
    "dependency reset",
    "dependency down",
    "dependency latency",
    null,
    null,
    null,
  ]);
});

test("median of check times", () => {
  expect(median([])).toBe(0);
  expect(median([300, 100, 200])).toBe(200);
  expect(median([4, 1, 3, 2])).toBe(2.5);
});

const lab = {
  checks: [
    { id: "readyz-slow-redis", title: "" },
    { id: "healthz-alive", title: "" },
  ],
};
const impl = async () => {};

test("a misspelt check key is named with the check it was meant to be, before any run", () => {
  expect(checkKeyProblems(lab, { checks: { "readyz-slow-redi": impl, "healthz-alive": impl } }, "labs/x/checks.ts")).toEqual([
    "labs/x/checks.ts: the key 'readyz-slow-redi' is not a check in lab.json; did you mean 'readyz-slow-redis'?",
  ]);
  expect(checkKeyProblems(lab, { checks: { "healthz-alive": impl, unrelated: impl } }, "c")).toEqual([
    "c: the key 'unrelated' is not a check in lab.json (its checks: readyz-slow-redis, healthz-alive); add it to lab.json's checks or remove it.",
    "c: lab.json declares the check 'readyz-slow-redis', but checks.ts does not implement it; add 'readyz-slow-redis': async (t) => { … } to its checks.",
  ]);
  expect(checkKeyProblems(lab, { checks: { "healthz-alive": impl, "readyz-slow-redis": impl } }, "c")).toEqual([]);
});

const variants: Variant[] = [
  { name: "solution", files: {}, expect: { kind: "pass" } },
  { name: "starter", files: {}, expect: { kind: "fail-any" } },
  { name: "wrong/no-timeout", files: {}, expect: { kind: "fail-check", check: "readyz-slow-redis", why: "" } },
  { name: "wrong/checks-redis", files: {}, expect: { kind: "fail-check", check: "healthz-alive", why: "" } },
];
const names = (picked: { variants: Variant[] }) => picked.variants.map((v) => v.name);

test("--variant and --check pick what they name, and a name that matches nothing is reported", () => {
  expect(names(pickVariants(variants, {}))).toEqual(variants.map((v) => v.name));
  expect(names(pickVariants(variants, { names: ["no-timeout", "solution"] }))).toEqual(["solution", "wrong/no-timeout"]);
  expect(names(pickVariants(variants, { check: "healthz-alive" }))).toEqual(["solution", "wrong/checks-redis"]);
  expect(names(pickVariants(variants, { check: "healthz-alive", names: ["starter"] }))).toEqual(["starter"]);
  expect(pickVariants(variants, { names: ["wrong/no-timeot"] }).unknown).toEqual(["wrong/no-timeot"]);
});
