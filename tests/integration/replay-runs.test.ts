/**
 * A run whose seed the learner chose is a replay, for debugging (docs/authoring-labs.md, "Seeds
 * and replays"): graded and stored like any run, but it earns no checklist credit, counts as no
 * evidence for a grade, and does not open the reference solution. The seed fixes the fault
 * schedule, so a learner free to choose it could search offline for the kindest one.
 */
import path from "node:path";
import { describe, expect, test } from "vitest";
import { loadCourse } from "../../lib/content/loader.ts";
import type { Db } from "../../lib/db/client.ts";
import { loadLabs } from "../../lib/labs/loader.ts";
import { canSeeSolution } from "../../lib/labs/solution-access.ts";
import { loadEvidence } from "../../lib/progress/evidence.ts";
import { gradeMilestone } from "../../lib/progress/grade.ts";
import { createSubmission, findRun, markRunning, recordResult } from "../../lib/runs/store.ts";
import { providers, testDatabase } from "./support/namespaces.ts";

const root = path.resolve(import.meta.dirname, "../..");
const labs = loadLabs(path.join(root, "labs"));
const course = loadCourse(path.join(root, "content"), labs);
const milestones = course.milestones.map((m) => m.milestone);
const m5 = milestones.find((m) => m.id === "m5")!;
const quizzes = new Map(course.milestones.flatMap((m) => m.lessons.map((l) => [l.frontmatter.id, l.frontmatter.quiz.map((q) => q.id)] as const)));
const CHECKS = ["priority-order", "fifo-among-equals", "blocking-dequeue", "concurrent-consumers"];

/** A passing graded run of priority-queue, stored as the runner stores it; `seed` as the learner sent it. */
async function passingRun(db: Db, userId: string, seed?: number): Promise<string> {
  const { id } = await createSubmission(db, { userId, labId: "priority-queue", mode: "check", files: {}, ...(seed === undefined ? {} : { seed }) });
  await markRunning(db, id);
  const checks = CHECKS.map((c) => ({ id: c, title: c, status: "pass" as const, durationMs: 1 }));
  expect(await recordResult(db, id, { status: "pass", seed: seed ?? 918_273, durationMs: 5, checks }, milestones)).toBe(true);
  return id;
}

describe.each(providers)("replays on %s", (provider) => {
  test("a passing replay is stored and shown, but earns no credit, no grade and no solution", async () => {
    await using t = await testDatabase(provider);
    const ada = await t.db.user.create({ data: { email: "ada@example.org" } });
    const replay = await passingRun(t.db, ada.id, 4127);

    const stored = await t.db.submission.findUniqueOrThrow({ where: { id: replay } });
    expect(stored).toMatchObject({ status: "pass", seed: 4127, replay: true });
    expect((await findRun(t.db, { id: ada.id, role: "learner" }, replay))?.checks.map((c) => c.status)).toEqual(["pass", "pass", "pass", "pass"]);
    expect(await t.db.checklistCredit.count({ where: { userId: ada.id } })).toBe(0);
    const grade = gradeMilestone(m5, quizzes, await loadEvidence(t.db, ada.id));
    expect(grade.items.filter((i) => i.satisfied)).toEqual([]);
    expect(await canSeeSolution(t.db, { id: ada.id, role: "learner" }, "priority-queue")).toBe(false);

    // The same code, on a seed the platform chose, counts.
    const counted = await passingRun(t.db, ada.id);
    expect(await t.db.submission.findUniqueOrThrow({ where: { id: counted }, select: { replay: true } })).toEqual({ replay: false });
    const credits = await t.db.checklistCredit.findMany({ where: { userId: ada.id }, orderBy: { itemId: "asc" } });
    expect(credits.map((c) => [c.itemId, c.submissionId])).toEqual([
      ["competing-consumers", counted],
      ["enqueue-dequeue", counted],
    ]);
    expect(await canSeeSolution(t.db, { id: ada.id, role: "learner" }, "priority-queue")).toBe(true);
  });

  test("an earned item stays earned when a later replay fails, and a replay's passes are no proof", async () => {
    await using t = await testDatabase(provider);
    const ada = await t.db.user.create({ data: { email: "ada@example.org" } });
    const counted = await passingRun(t.db, ada.id);
    const { id } = await createSubmission(t.db, { userId: ada.id, labId: "priority-queue", mode: "check", files: {}, seed: 7 });
    await markRunning(t.db, id);
    await recordResult(
      t.db,
      id,
      { status: "fail", seed: 7, durationMs: 5, checks: CHECKS.map((c) => ({ id: c, title: c, status: "fail" as const, durationMs: 1 })) },
      milestones,
    );
    await passingRun(t.db, ada.id, 8);
    const evidence = await loadEvidence(t.db, ada.id);
    expect(evidence.runs.map((r) => r.submissionId)).toEqual([counted]);
    expect(gradeMilestone(m5, quizzes, evidence).items.find((i) => i.id === "enqueue-dequeue")).toMatchObject({
      satisfied: true,
      proof: { submissionId: counted },
    });
  });
});
