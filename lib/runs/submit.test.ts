import { expect, test } from "vitest";
import { LabSchema } from "../labs/schema.ts";
import { assembleFiles, findLab, RunRequestError, RunRequestSchema } from "./submit.ts";

const lab = LabSchema.parse({
  id: "priority-queue",
  slug: "priority-queue",
  title: "A priority queue on a sorted set",
  milestone: "M5",
  summary: "Enqueue and dequeue tasks by priority with ZADD and BZPOPMIN.",
  minutes: 45,
  files: [{ path: "queue.ts" }, { path: "worker.ts" }, { path: "types.ts", editable: false }],
  checks: [{ id: "no-shared-task", title: "concurrent consumers never share a task" }],
  wrong: ["a", "b", "c"].map((dir) => ({ dir, catches: "no-shared-task", why: "claims a task non-atomically" })),
});
const starter = { "queue.ts": "// starter queue", "worker.ts": "// starter worker", "types.ts": "export type Task = string;" };

test("a request defaults to check mode and accepts a seed in range", () => {
  expect(RunRequestSchema.parse({ lab: "priority-queue", files: {} })).toEqual({ lab: "priority-queue", files: {}, mode: "check" });
  expect(RunRequestSchema.parse({ lab: "x", files: {}, mode: "run", seed: 2 ** 31 - 1 }).seed).toBe(2 ** 31 - 1);
});

test("a bad seed, mode or file content is refused", () => {
  expect(() => RunRequestSchema.parse({ lab: "x", files: {}, seed: 2 ** 31 })).toThrow();
  expect(() => RunRequestSchema.parse({ lab: "x", files: {}, seed: 1.5 })).toThrow();
  expect(() => RunRequestSchema.parse({ lab: "x", files: {}, mode: "grade" })).toThrow();
  expect(() => RunRequestSchema.parse({ lab: "x", files: { "queue.ts": 42 } })).toThrow();
  expect(() => RunRequestSchema.parse({ lab: "", files: {} })).toThrow();
});

test("a lab is found by id or slug, and an unknown one is a 404 naming it", () => {
  const labs = [{ lab: { ...lab, id: "pq-v1", slug: "priority-queue" }, dir: "/labs/priority-queue" }];
  expect(findLab(labs, "pq-v1").dir).toBe("/labs/priority-queue");
  expect(findLab(labs, "priority-queue").dir).toBe("/labs/priority-queue");
  expect(() => findLab(labs, "leader-election")).toThrow(RunRequestError);
  expect(() => findLab(labs, "leader-election")).toThrow(/no lab "leader-election"/);
});

test("missing editable files come from starter/ so the runner gets a full set", () => {
  expect(assembleFiles(lab, { "queue.ts": "// mine" }, starter)).toEqual({
    "queue.ts": "// mine",
    "worker.ts": "// starter worker",
    "types.ts": "export type Task = string;",
  });
});

test("a read-only file sent by the learner is replaced by the starter's", () => {
  expect(assembleFiles(lab, { "types.ts": "export type Task = any;" }, starter)["types.ts"]).toBe("export type Task = string;");
});

test("an unknown file is a 422 naming it and the files the lab accepts", () => {
  let error: unknown;
  try {
    assembleFiles(lab, { "queue.ts": "", "../secrets.ts": "" }, starter);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(RunRequestError);
  expect(error).toMatchObject({
    status: 422,
    message: '"../secrets.ts" is not a file of lab "priority-queue"; send only its editable files: queue.ts, worker.ts.',
  });
});
