import { expect, test } from "vitest";
import { MilestoneSchema } from "../content/schema.ts";
import { gradeMilestone, type Evidence } from "./grade.ts";

const milestone = MilestoneSchema.parse({
  id: "m1",
  code: "M1",
  title: "Foundations",
  summary: "Sockets and the event loop.",
  passPercent: 60,
  labs: [{ id: "resp-client", title: "RESP client" }],
  checklist: [
    { id: "wire", title: "Speak a wire protocol", description: "Encode and parse RESP.", satisfiedBy: { kind: "checks", lab: "resp-client", checks: ["encode", "parse"] } },
    { id: "quiz", title: "Quiz", description: "TCP and the event loop.", satisfiedBy: { kind: "quiz", lessons: ["l1", "l2"] } },
    { id: "reflect", title: "Reflect", description: "Think about partial failure.", satisfiedBy: { kind: "reflection", prompt: "What fails partially?" } },
  ],
});
const quizzes = new Map([["l1", ["a", "b"]], ["l2", ["c"]]]);
const none = (): Evidence => ({ runs: [], correctAnswers: new Map(), reflections: new Map() });
const run = (passed: string[], at: number, id = `s${at}`) => ({ labId: "resp-client", submissionId: id, finishedAt: new Date(at), passed: new Set(passed) });

test("nothing done: every item open, with what is missing, and not passed", () => {
  const grade = gradeMilestone(milestone, quizzes, none());
  expect(grade).toMatchObject({ satisfied: 0, total: 3, percent: 0, passed: false });
  expect(grade.items[0]?.missing).toMatch(/encode, parse of the lab resp-client in one graded run/);
});

test("a check item needs all its checks in one run: two runs each passing one do not count", () => {
  const e = none();
  e.runs.push(run(["encode"], 1), run(["parse"], 2));
  expect(gradeMilestone(milestone, quizzes, e).items[0]?.satisfied).toBe(false);
});

test("a check item stays satisfied by the first run that passed, whatever later runs did", () => {
  const e = none();
  e.runs.push(run(["encode", "parse", "pipeline"], 5, "good"), run([], 9, "later-failure"));
  expect(gradeMilestone(milestone, quizzes, e).items[0]?.proof).toEqual({ kind: "checks", labId: "resp-client", submissionId: "good", at: new Date(5) });
});

test("runs of another lab with the same check ids do not count", () => {
  const e = none();
  e.runs.push({ ...run(["encode", "parse"], 1), labId: "other-lab" });
  expect(gradeMilestone(milestone, quizzes, e).items[0]?.satisfied).toBe(false);
});

test("a quiz item needs every question of every named lesson answered correctly", () => {
  const e = none();
  e.correctAnswers.set("l1", new Set(["a", "b"]));
  expect(gradeMilestone(milestone, quizzes, e).items[1]).toMatchObject({ satisfied: false, missing: expect.stringMatching(/l2/) });
  e.correctAnswers.set("l2", new Set(["c"]));
  expect(gradeMilestone(milestone, quizzes, e).items[1]?.satisfied).toBe(true);
});

test("the pass mark is a percentage of items: 2 of 3 (66%) passes a 60% mark", () => {
  const e = none();
  e.runs.push(run(["encode", "parse"], 1));
  e.reflections.set("reflect", new Date(3));
  expect(gradeMilestone(milestone, quizzes, e)).toMatchObject({ satisfied: 2, percent: 66, passed: true });
});
