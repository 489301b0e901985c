/**
 * Checklist credit as the platform records it: a graded run through the real runner (sandbox,
 * private Redis, grader) earns its items in the same transaction as its result; quizzes and
 * reflections earn theirs; nothing lowers a credit; and a learner with 300 runs is graded in the
 * same handful of queries as one with none.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import type { Job } from "bullmq";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { loadCourse } from "../../lib/content/loader.ts";
import { loadLabs } from "../../lib/labs/loader.ts";
import { createRunHandler } from "../../lib/runs/consume.ts";
import type { RunJobData } from "../../lib/runs/dispatch.ts";
import { PrivateRedisPool } from "../../lib/runner/private-redis.ts";
import { probeSandbox, type SandboxTier } from "../../lib/runner/sandbox/probe.ts";
import { progressOverview } from "../../lib/progress/dashboard.ts";
import { translateIds } from "../../lib/content/lock.ts";
import { loadEvidence, loadEvidenceFor } from "../../lib/progress/evidence.ts";
import { gradeMilestone } from "../../lib/progress/grade.ts";
import { answerQuiz } from "../../lib/progress/lessons.ts";
import { saveReflection } from "../../lib/progress/reflections.ts";
import { createSubmission, markRunning, recordResult } from "../../lib/runs/store.ts";
import { MilestoneSchema } from "../../lib/content/schema.ts";
import { providers, testDatabase, testRedis } from "./support/namespaces.ts";

const root = path.resolve(import.meta.dirname, "../..");
const labs = loadLabs(path.join(root, "labs"));
const course = loadCourse(path.join(root, "content"), labs);
const milestones = course.milestones.map((m) => m.milestone);
const m5 = milestones.find((m) => m.id === "m5")!;
const quizzes = new Map(course.milestones.flatMap((m) => m.lessons.map((l) => [l.frontmatter.id, l.frontmatter.quiz.map((q) => q.id)] as const)));
const silent = { info() {}, warn() {}, error() {} };

let pool: PrivateRedisPool;
let tier: SandboxTier;
beforeAll(async () => {
  tier = (await probeSandbox()).tier;
  pool = new PrivateRedisPool(1);
});
afterAll(() => pool?.close());

test("a passing check run of priority-queue, graded by the real runner, ticks its M5 items", async () => {
  await using t = await testDatabase("sqlite");
  await using r = await testRedis();
  const ada = await t.db.user.create({ data: { email: "ada@example.org" } });
  const files = { "queue.ts": readFileSync(path.join(root, "labs/priority-queue/solution/queue.ts"), "utf8") };
  // No seed: a run with a seed the learner chose is a replay and earns nothing (replay-runs.test.ts).
  const { id } = await createSubmission(t.db, { userId: ada.id, labId: "priority-queue", mode: "check", files });
  const runs = createRunHandler({ db: t.db, redis: r.redis, keys: r.keys, labs: () => labs, milestones: () => milestones, pool, tier, log: silent });
  await runs.handle({ data: { submissionId: id }, attemptsStarted: 1, stalledCounter: 0 } as unknown as Job<RunJobData>);

  expect((await t.db.submission.findUniqueOrThrow({ where: { id } })).status).toBe("pass");
  const credits = await t.db.checklistCredit.findMany({ where: { userId: ada.id }, orderBy: { itemId: "asc" } });
  expect(credits.map((c) => [c.milestoneId, c.itemId, c.submissionId])).toEqual([
    ["m5", "competing-consumers", id],
    ["m5", "enqueue-dequeue", id],
  ]);
  const grade = gradeMilestone(m5, quizzes, await loadEvidence(t.db, ada.id));
  expect(grade.items.filter((i) => i.satisfied).map((i) => i.id)).toEqual(["enqueue-dequeue", "competing-consumers"]);
}, 60_000);

describe.each(providers)("credits on %s", (provider) => {
  test("evidence stored under a check id an author renamed (with a migration) still counts, under the new id; a removed one does not", async () => {
    await using t = await testDatabase(provider);
    const ada = await t.db.user.create({ data: { email: "ada@example.org" } });
    // Ada passed priority-queue when its ordering check was still called "most-urgent-first".
    const { id } = await createSubmission(t.db, { userId: ada.id, labId: "priority-queue", mode: "check", files: {} });
    await markRunning(t.db, id);
    const checks = ["most-urgent-first", "fifo-among-equals", "blocking-dequeue", "concurrent-consumers"].map((c) => ({
      id: c,
      title: c,
      status: "pass" as const,
      durationMs: 1,
    }));
    await recordResult(t.db, id, { status: "pass", seed: 1, durationMs: 5, checks }, []);
    const renamed = translateIds([{ kind: "check", from: "priority-queue/most-urgent-first", to: "priority-queue/priority-order", why: "renamed" }]);
    const item = async (ids: ReturnType<typeof translateIds>) =>
      gradeMilestone(m5, quizzes, (await loadEvidenceFor(t.db, [ada.id], ids)).get(ada.id)!).items.find((i) => i.id === "enqueue-dequeue");
    expect(await item(renamed)).toMatchObject({ satisfied: true, proof: { submissionId: id } });
    expect((await item(translateIds([])))?.satisfied).toBe(false);
    const removed = translateIds([
      { kind: "check", from: "priority-queue/fifo-among-equals", to: null, why: "removed" },
      { kind: "check", from: "priority-queue/most-urgent-first", to: "priority-queue/priority-order", why: "renamed" },
    ]);
    expect((await item(removed))?.satisfied).toBe(false);
  });

  test("a later failing run lowers nothing; the first passing run stays the proof", async () => {
    await using t = await testDatabase(provider);
    const ada = await t.db.user.create({ data: { email: "ada@example.org" } });
    const all = ["priority-order", "fifo-among-equals", "blocking-dequeue", "concurrent-consumers"];
    const record = async (pass: string[]) => {
      const { id } = await createSubmission(t.db, { userId: ada.id, labId: "priority-queue", mode: "check", files: {} });
      await markRunning(t.db, id);
      const checks = all.map((c) => ({ id: c, title: c, status: pass.includes(c) ? ("pass" as const) : ("fail" as const), durationMs: 1 }));
      await recordResult(t.db, id, { status: pass.length === all.length ? "pass" : "fail", seed: 1, durationMs: 5, checks }, milestones);
      return id;
    };
    const first = await record(all);
    await record([]);
    // The run rows of the pass could even be gone: the credit alone keeps the items.
    await t.db.checkResult.deleteMany({ where: { submissionId: first } });
    const grade = gradeMilestone(m5, quizzes, await loadEvidence(t.db, ada.id));
    expect(grade.items.find((i) => i.id === "enqueue-dequeue")).toMatchObject({ satisfied: true, proof: { submissionId: first } });
  });

  test("quizzes and reflections earn their items; a too-short reflection is refused and stores nothing", async () => {
    await using t = await testDatabase(provider);
    const ada = await t.db.user.create({ data: { email: "ada@example.org" } });
    const m1 = course.milestones.find((m) => m.milestone.id === "m1")!;
    for (const lesson of m1.lessons.filter((l) => ["m1-processes-and-sockets", "m1-event-loop"].includes(l.frontmatter.id))) {
      const answers = Object.fromEntries(lesson.frontmatter.quiz.map((q) => [q.id, q.answer]));
      await answerQuiz(t.db, ada.id, lesson.frontmatter.id, lesson.frontmatter.quiz, answers, { milestones, quizzes });
    }
    expect(await t.db.checklistCredit.findMany({ where: { userId: ada.id }, select: { itemId: true, kind: true } })).toEqual([
      { itemId: "tcp-event-loop-quiz", kind: "quiz" },
    ]);

    const fixture = MilestoneSchema.parse({
      id: "m9",
      code: "M9",
      title: "Fixture",
      summary: "A milestone with a reflection.",
      labs: [],
      checklist: [
        {
          id: "why",
          title: "Reflect",
          description: "Say why partial failure is hard.",
          satisfiedBy: { kind: "reflection", prompt: "Why is partial failure hard?", minWords: 20 },
        },
      ],
    });
    await expect(saveReflection(t.db, ada.id, fixture, "why", "Too short.")).rejects.toThrow(/has 2 words; this item asks for at least 20/);
    await expect(saveReflection(t.db, ada.id, fixture, "nope", "x")).rejects.toThrow(/no reflection 'nope'/);
    expect(await t.db.reflection.count()).toBe(0);
    await saveReflection(
      t.db,
      ada.id,
      fixture,
      "why",
      "A peer that stopped answering may be dead, slow, or cut off, and from where I stand all three look the same, so every timeout is a guess I have to design around.",
    );
    const grade = gradeMilestone(fixture, quizzes, await loadEvidence(t.db, ada.id));
    expect(grade).toMatchObject({ satisfied: 1, percent: 100, passed: true });
  });

  test("a learner with 300 runs is graded from the same four queries", async () => {
    await using t = await testDatabase(provider);
    const ada = await t.db.user.create({ data: { email: "ada@example.org" } });
    await t.db.submission.createMany({
      data: Array.from({ length: 300 }, (_, i) => ({
        id: `run-${i}`,
        userId: ada.id,
        labId: i % 2 ? "priority-queue" : "reliable-delivery",
        mode: "check" as const,
        files: "{}",
        status: "fail" as const,
        finishedAt: new Date(i * 1000),
      })),
    });
    await t.db.checkResult.createMany({
      data: Array.from({ length: 300 }, (_, i) => ({
        submissionId: `run-${i}`,
        checkId: "priority-order",
        title: "x",
        status: "pass",
        durationMs: 1,
        position: 0,
      })),
    });
    let queries = 0;
    const counted = t.db.$extends({ query: { $allOperations: ({ args, query }) => (queries++, query(args)) } }) as unknown as typeof t.db;
    const started = performance.now();
    const evidence = await loadEvidence(counted, ada.id);
    const grades = milestones.map((m) => gradeMilestone(m, quizzes, evidence));
    const ms = performance.now() - started;
    expect(queries).toBe(4);
    expect(evidence.runs).toHaveLength(300);
    expect(grades).toHaveLength(8);
    expect(ms).toBeLessThan(1000);

    // The whole dashboard: grades, runs by lab, streak and time, in a fixed 8 queries.
    queries = 0;
    const dashboardStarted = performance.now();
    const overview = await progressOverview(counted, ada.id, course, quizzes, labs);
    const dashboardMs = performance.now() - dashboardStarted;
    expect(queries).toBe(8);
    expect(overview.totals.runs).toBe(300);
    expect(overview.labs.map((l) => [l.labId, l.runs])).toEqual(
      expect.arrayContaining([
        ["priority-queue", 150],
        ["reliable-delivery", 150],
      ]),
    );
    expect(dashboardMs).toBeLessThan(1000);
    console.log(`progress for a learner with 300 runs (${provider}): evidence ${ms.toFixed(1)} ms in 4 queries, dashboard ${dashboardMs.toFixed(1)} ms in 8`);
  });
});
