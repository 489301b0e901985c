import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, expect, test } from "vitest";

mkdirSync(".data", { recursive: true });
const dir = mkdtempSync(path.resolve(".data/content-check-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A course of one milestone (the real M1) whose first lesson ends with `tail`; content:check's output. */
function check(name: string, tail: string) {
  const course = path.join(dir, name);
  cpSync("content/01-foundations", path.join(course, "01-foundations"), { recursive: true, dereference: true });
  const lesson = path.join(course, "01-foundations", "01-processes-and-sockets.mdx");
  writeFileSync(lesson, `${readFileSync(lesson, "utf8")}\n${tail}\n`);
  const run = spawnSync("node", ["--import", "tsx", "scripts/content-check.ts", course], { encoding: "utf8" });
  return { status: run.status, output: run.stdout + run.stderr };
}

test("a lesson using a component that does not exist fails content:check, naming it and the ones that do", () => {
  const { status, output } = check("unknown-component", "<Warning>Mind the gap.</Warning>");
  expect(status).toBe(1);
  expect(output).toContain(
    "01-processes-and-sockets.mdx: <Warning> is not a component this file can use (it can use <Callout>, <Hint>, <Diagram>, <Lab>, <Quiz>, <Checklist>).",
  );
}, 60_000);

test("prose with an undefined {expression} fails content:check with the escape that fixes it", () => {
  const { status, output } = check("undefined-expression", "Retry with {exact} backoff.");
  expect(status).toBe(1);
  expect(output).toContain(
    "01-processes-and-sockets.mdx: {exact} is an expression MDX evaluates, and nothing named exact is defined; to show braces as text, escape them: \\{exact\\}.",
  );
}, 60_000);

test("the course as written passes, lessons and lab instructions rendered", () => {
  const { status, output } = check("as-written", "");
  expect(output).toMatch(/content:check: 1 milestone, 4 lessons, \d+ checklist items, \d+ labs with their instructions, all valid and rendered/);
  expect(status).toBe(0);
}, 60_000);

/** A course folder with its own labs/ (a copy of task-model) and one milestone listing `labIds`. */
function ownCourse(name: string, labIds: string[]) {
  const course = path.join(dir, name);
  cpSync("labs/task-model", path.join(course, "labs", "task-model"), { recursive: true });
  const milestone = {
    id: "m1",
    code: "M5",
    title: "Our queue",
    summary: "The one lab this bootcamp teaches.",
    labs: labIds.map((id) => ({ id, title: id, summary: "A lab this course teaches." })),
    checklist: [
      { id: "model", title: "A task model", description: "Tasks validated.", satisfiedBy: { kind: "checks", lab: "task-model", checks: ["validates-tasks"] } },
    ],
  };
  mkdirSync(path.join(course, "01-queue"), { recursive: true });
  writeFileSync(path.join(course, "01-queue", "milestone.json"), JSON.stringify(milestone));
  const run = spawnSync("node", ["--import", "tsx", "scripts/content-check.ts", course], { encoding: "utf8" });
  return { status: run.status, output: run.stdout + run.stderr };
}

test("a course folder with its own labs/ teaches those labs, and none of the built-in ones", () => {
  const own = ownCourse("own-labs", ["task-model"]);
  expect(own.output).toMatch(/content:check: 1 milestone, 0 lessons, 1 checklist item, 1 lab with their instructions, all valid/);
  expect(own.status).toBe(0);
  const builtIn = ownCourse("built-in-lab", ["task-model", "priority-queue"]);
  expect(builtIn.status).toBe(1);
  expect(builtIn.output).toMatch(
    /01-queue\/milestone\.json: labs\.1: lab 'priority-queue' is not among the course's labs; create it \(npm run lab:new priority-queue\), or mark it "planned": true\./,
  );
}, 60_000);
