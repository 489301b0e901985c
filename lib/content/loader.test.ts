import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, expect, test } from "vitest";
import type { LoadedLab } from "../labs/loader.ts";
import { LabSchema } from "../labs/schema.ts";
import { headings } from "./compile.ts";
import { loadCourse } from "./loader.ts";
import { courseJsonSchema, lessonJsonSchema, LessonFrontmatterSchema, MilestoneSchema, milestoneJsonSchema } from "./schema.ts";

const roots: string[] = [];
afterEach(() => roots.splice(0).forEach((r) => rmSync(r, { recursive: true, force: true })));

const lab: LoadedLab = {
  dir: "/labs/resp-client",
  lab: LabSchema.parse({
    id: "resp-client", slug: "resp-client", title: "RESP client", milestone: "M1", summary: "Speak RESP over a socket.", minutes: 30,
    files: [{ path: "resp.ts" }], checks: [{ id: "encode", title: "encodes commands" }, { id: "parse", title: "parses replies" }],
    wrong: ["a", "b", "c"].map((d) => ({ dir: d, catches: "encode", why: "a plausible mistake" })),
  }),
};

const milestone = {
  id: "m1", code: "M1", title: "Foundations", summary: "Sockets and the event loop.",
  labs: [{ id: "resp-client", title: "RESP client" }],
  checklist: [
    { id: "wire", title: "Speak a wire protocol", description: "Encode and parse RESP.", satisfiedBy: { kind: "checks", lab: "resp-client", checks: ["encode", "parse"] } },
    { id: "quiz", title: "Quiz", description: "TCP and the event loop.", satisfiedBy: { kind: "quiz", lessons: ["m1-sockets"] } },
  ],
};

const frontmatter = `---
id: m1-sockets
title: Sockets
summary: What a socket is and how it fails.
minutes: 10
objectives: [Explain a socket]
labs: [resp-client]
quiz:
  - id: q1
    prompt: Which is reliable?
    choices: [TCP, UDP]
    answer: 0
    explanation: TCP retransmits lost segments; UDP does not.
---
`;

function course(files: Record<string, string>): string {
  const root = mkdtempSync(path.join(tmpdir(), "fl-content-"));
  roots.push(root);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    writeFileSync(path.join(root, name), text);
  }
  return root;
}

const valid = () => ({ "01-foundations/milestone.json": JSON.stringify(milestone), "01-foundations/01-sockets.mdx": `${frontmatter}\n## Hello\n\nSee [the lab](/labs/resp-client).\n\n<Lab id="resp-client" />\n\n<Quiz />\n` });

test("a valid course loads with slugs and order from the file names", () => {
  const loaded = loadCourse(course(valid()), [lab]);
  expect(loaded.milestones[0]).toMatchObject({ slug: "foundations", order: 1 });
  expect(loaded.milestones[0]?.lessons[0]).toMatchObject({ slug: "sockets", frontmatter: { id: "m1-sockets" } });
});

test.each([
  ["an unknown check of a lab", { "01-foundations/milestone.json": JSON.stringify({ ...milestone, checklist: [{ ...milestone.checklist[0], satisfiedBy: { kind: "checks", lab: "resp-client", checks: ["pipeline"] } }] }) }, /checklist.0 \(wire\): lab 'resp-client' has no check 'pipeline'; its checks are encode, parse/],
  ["an unknown lab that is not marked planned", { "01-foundations/milestone.json": JSON.stringify({ ...milestone, labs: [...milestone.labs, { id: "tcp-line-server", title: "TCP server" }] }) }, /lab 'tcp-line-server' is not among the course's labs; create it \(npm run lab:new tcp-line-server\), or mark it "planned": true/],
  ["a lesson id used twice", { "01-foundations/02-again.mdx": frontmatter }, /02-again\.mdx: id 'm1-sockets' is also used by \/.*\/01-foundations\/01-sockets.mdx/],
  ["a broken internal link", { "01-foundations/01-sockets.mdx": `${frontmatter}\nSee [nowhere](/learn/foundations/nope).\n` }, /the link \/learn\/foundations\/nope leads nowhere/],
  ["bad frontmatter", { "01-foundations/01-sockets.mdx": frontmatter.replace("minutes: 10", "minutes: soon") }, /01-sockets.mdx frontmatter: minutes: .*number/],
  ["an unknown <Lab id>", { "01-foundations/01-sockets.mdx": `${frontmatter}\n<Lab id="nope" />\n` }, /<Lab id="nope" \/> names a lab that does not exist/],
  ["a quiz item naming a lesson with no quiz", { "01-foundations/01-sockets.mdx": frontmatter.replace(/quiz:[\s\S]*---/, "---") }, /lesson 'm1-sockets' has no quiz/],
  ["a misnamed lesson file", { "01-foundations/sockets.mdx": frontmatter }, /lesson files are named NN-slug.mdx/],
  ["a lab that names another milestone than the one listing it", { "01-foundations/milestone.json": JSON.stringify({ ...milestone, code: "M2" }) }, /milestone\.json: labs\.0: lab 'resp-client' says it belongs to M1 \(its lab\.json "milestone"\), but this milestone is M2; make them agree\./],
  ["a milestone.json that is not JSON, by line and column", { "01-foundations/milestone.json": JSON.stringify(milestone, null, 2).replace('"code": "M1",', '"code": "M1",,') }, /milestone\.json: not valid JSON, line 3, column 16: Expected double-quoted property name\./],
])("content:check reports %s with the file, the field and the fix", (_, override, message) => {
  expect(() => loadCourse(course({ ...valid(), ...override }), [lab])).toThrow(message);
});

test("schemas accept the documented shapes and refuse an answer outside the choices", () => {
  expect(MilestoneSchema.safeParse(milestone).success).toBe(true);
  expect(MilestoneSchema.safeParse({ ...milestone, checklist: [] }).success).toBe(false);
  expect(MilestoneSchema.safeParse({ ...milestone, passPercent: 120 }).success).toBe(false);
  const lesson = { id: "m1-x", title: "X lesson", summary: "A summary of it.", minutes: 5, objectives: ["Do a thing"] };
  expect(LessonFrontmatterSchema.parse(lesson)).toMatchObject({ labs: [], quiz: [] });
  const quiz = [{ id: "q", prompt: "Which?", choices: ["a", "b"], answer: 2, explanation: "Because it is." }];
  expect(LessonFrontmatterSchema.safeParse({ ...lesson, quiz }).error?.issues[0]?.message).toMatch(/index of one of the choices/);
  expect(LessonFrontmatterSchema.safeParse({ ...lesson, extra: 1 }).success).toBe(false);
});

test("headings are the ## and ### lines outside code, with rehype-slug's ids", () => {
  expect(headings("## The `poll` phase\n```ts\n## not a heading\n```\n### Why *it* waits\n## The poll phase")).toEqual([
    { depth: 2, text: "The poll phase", id: "the-poll-phase" },
    { depth: 3, text: "Why it waits", id: "why-it-waits" },
    { depth: 2, text: "The poll phase", id: "the-poll-phase-1" },
  ]);
});

test.each([
  ["milestone.schema.json", milestoneJsonSchema],
  ["lesson.schema.json", lessonJsonSchema],
  ["course.schema.json", courseJsonSchema],
])("content/%s is the JSON Schema its loader validates with, so editors help with the current fields", (name, schema) => {
  const file = path.join(import.meta.dirname, "../../content", name);
  expect(JSON.parse(readFileSync(file, "utf8"))).toEqual(schema());
});

test("one bad frontmatter is one problem, not also every quiz item and link that names its lesson", () => {
  const root = course({ ...valid(), "01-foundations/01-sockets.mdx": frontmatter.replace("minutes: 10", "minutes: soon") });
  let message = "";
  try {
    loadCourse(root, [lab]);
  } catch (error) {
    message = (error as Error).message;
  }
  expect(message.split("\n")).toEqual([expect.stringMatching(/01-sockets\.mdx frontmatter: minutes: .*number/)]);
});

test("course.json gives the home page the course's own words; without it the defaults count its milestones", () => {
  expect(loadCourse(course(valid()), [lab]).home).toMatchObject({ headline: "Build a task queue. Then watch us try to break it.", intro: expect.stringContaining("a hands-on course in one milestone.") });
  const own = loadCourse(course({ ...valid(), "course.json": JSON.stringify({ headline: "Queues for the Tuesday cohort", tagline: "Bootcamp, week 6" }) }), [lab]).home;
  expect(own).toMatchObject({ headline: "Queues for the Tuesday cohort", tagline: "Bootcamp, week 6", summary: expect.stringContaining("Redis-backed task queue") });
  expect(() => loadCourse(course({ ...valid(), "course.json": JSON.stringify({ headlin: "typo" }) }), [lab])).toThrow(/course\.json: \(top level\): Unrecognized key: "headlin"/);
});
