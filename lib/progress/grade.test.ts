import { expect, test } from "vitest";
import { MilestoneSchema } from "../content/schema.ts";
import { creditsFromQuizzes, creditsFromRun, creditKey, type Credit } from "./credits.ts";
import { gradeMilestone, type Evidence } from "./grade.ts";

const milestone = MilestoneSchema.parse({
  id: "m1",
  code: "M1",
  title: "Foundations",
  summary: "Sockets and the event loop.",
  passPercent: 60,
  labs: [{ id: "resp-client", title: "RESP client" }],
  checklist: [
    {
      id: "wire",
      title: "Speak a wire protocol",
      description: "Encode and parse RESP.",
      satisfiedBy: { kind: "checks", lab: "resp-client", checks: ["encode", "parse"] },
    },
    { id: "quiz", title: "Quiz", description: "TCP and the event loop.", satisfiedBy: { kind: "quiz", lessons: ["l1", "l2"] } },
    { id: "reflect", title: "Reflect", description: "Think about partial failure.", satisfiedBy: { kind: "reflection", prompt: "What fails partially?" } },
  ],
});
const quizzes = new Map([
  ["l1", ["a", "b"]],
  ["l2", ["c"]],
]);
const none = (): Evidence => ({ runs: [], correctAnswers: new Map(), reflections: new Map(), credits: new Map() });
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
  expect(gradeMilestone(milestone, quizzes, e).items[0]?.proof).toEqual({
    kind: "checks",
    labId: "resp-client",
    submissionId: "good",
    at: new Date(5),
    checks: ["encode", "parse"],
  });
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
  e.reflections.set(creditKey("m1", "reflect"), new Date(3));
  expect(gradeMilestone(milestone, quizzes, e)).toMatchObject({ satisfied: 2, percent: 66, passed: true });
});

const credit = (c: Partial<Credit> & Pick<Credit, "itemId">): Credit => ({
  milestoneId: "m1",
  kind: "checks",
  labId: "resp-client",
  submissionId: "old",
  basis: ["encode", "parse"],
  fraction: 1,
  earnedAt: new Date(1),
  ...c,
});

test("a recorded credit keeps an item earned when the evidence behind it is gone", () => {
  const e = none();
  e.credits.set(creditKey("m1", "wire"), credit({ itemId: "wire" }));
  const item = gradeMilestone(milestone, quizzes, e).items[0];
  expect(item).toMatchObject({ satisfied: true, fraction: 1, proof: { kind: "checks", submissionId: "old" } });
  expect(item?.changed).toBeUndefined();
});

test("an item the author gave a new check since it was earned stays earned, flagged", () => {
  const changed = MilestoneSchema.parse({
    ...milestone,
    checklist: [{ ...milestone.checklist[0], satisfiedBy: { kind: "checks", lab: "resp-client", checks: ["encode", "parse", "pipeline"] } }],
  });
  const e = none();
  e.credits.set(creditKey("m1", "wire"), credit({ itemId: "wire" }));
  e.runs.push(run(["encode"], 9)); // a later, failing run changes nothing
  const item = gradeMilestone(changed, quizzes, e).items[0];
  expect(item).toMatchObject({ satisfied: true, changed: expect.stringMatching(/gained a check \(pipeline\)/) });
});

test("partial credit, where declared, earns the share of checks passed in the best run", () => {
  const partial = MilestoneSchema.parse({
    ...milestone,
    passPercent: 50,
    checklist: [
      {
        id: "wire",
        title: "Wire",
        description: "Encode and parse RESP.",
        weight: 2,
        satisfiedBy: { kind: "checks", lab: "resp-client", checks: ["encode", "parse", "pipeline", "utf8"], partial: true },
      },
      { id: "quiz", title: "Quiz", description: "TCP and the event loop.", satisfiedBy: { kind: "quiz", lessons: ["l1"] } },
    ],
  });
  const e = none();
  e.runs.push(run(["encode"], 1), run(["encode", "parse", "utf8"], 2), run(["parse"], 3));
  const grade = gradeMilestone(partial, quizzes, e);
  expect(grade.items[0]).toMatchObject({ satisfied: false, fraction: 0.75, proof: { submissionId: "s2" } });
  // weight 2 × 0.75 of a total weight 3 = 50%
  expect(grade).toMatchObject({ satisfied: 0, percent: 50, passed: true });
});

test("an item satisfied by several checks and runs counts once, with the first full run as proof", () => {
  const e = none();
  e.runs.push(run(["encode", "parse"], 4, "second"), run(["encode", "parse"], 2, "first"));
  const grade = gradeMilestone(milestone, quizzes, e);
  expect(grade.items[0]?.proof).toMatchObject({ submissionId: "first" });
  expect(grade.satisfied).toBe(1);
});

test("credits from a run: full items, partial ones where declared, nothing for other labs", () => {
  const partialItem = {
    id: "part",
    title: "Partly",
    description: "Some of the checks count.",
    satisfiedBy: { kind: "checks", lab: "resp-client", checks: ["encode", "pipeline"], partial: true },
  };
  const m = MilestoneSchema.parse({ ...milestone, checklist: [...milestone.checklist, partialItem] });
  const credits = creditsFromRun([m], { labId: "resp-client", submissionId: "r1", passed: new Set(["encode"]), at: new Date(7) });
  expect(credits).toEqual([
    { milestoneId: "m1", itemId: "part", kind: "checks", labId: "resp-client", submissionId: "r1", basis: ["encode"], fraction: 0.5, earnedAt: new Date(7) },
  ]);
  expect(creditsFromRun([m], { labId: "other", submissionId: "r2", passed: new Set(["encode", "parse"]), at: new Date(8) })).toEqual([]);
  expect(creditsFromRun([m], { labId: "resp-client", submissionId: "r3", passed: new Set(["encode", "parse"]), at: new Date(9) }).map((c) => c.itemId)).toEqual(
    ["wire", "part"],
  );
});

test("credits from quizzes only once every question of every named lesson is right", () => {
  expect(creditsFromQuizzes([milestone], quizzes, new Map([["l1", new Set(["a", "b"])]]), new Date(1))).toEqual([]);
  const both = new Map([
    ["l1", new Set(["a", "b"])],
    ["l2", new Set(["c"])],
  ]);
  expect(creditsFromQuizzes([milestone], quizzes, both, new Date(1))).toMatchObject([{ itemId: "quiz", kind: "quiz", basis: ["l1", "l2"], fraction: 1 }]);
});
