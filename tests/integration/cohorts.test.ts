/**
 * Cohorts on both databases: an instructor creates one, learners join by code or link, the grid
 * grades them from stored runs (stuck and idle flags, requirements met, late or overdue), the CSV
 * carries it, and nobody outside the cohort sees any of it.
 */
import path from "node:path";
import { describe, expect, test } from "vitest";
import {
  addInstructor,
  CohortError,
  cohortForInstructor,
  createCohort,
  instructorsOf,
  joinCohort,
  previewInvite,
  removeLearner,
  replaceInvite,
  teachesLearner,
} from "../../lib/cohorts/cohorts.ts";
import { checksCsv, gridCsv } from "../../lib/cohorts/csv.ts";
import { classGrid } from "../../lib/cohorts/grid.ts";
import { requirementsOfLearner, setRequirement, type Catalog } from "../../lib/cohorts/requirements.ts";
import { MilestoneSchema } from "../../lib/content/schema.ts";
import type { Db } from "../../lib/db/client.ts";
import { loadLab } from "../../lib/labs/loader.ts";
import { createSubmission, findRun, markRunning, recordResult } from "../../lib/runs/store.ts";
import { providers, testDatabase } from "./support/namespaces.ts";

const lab = loadLab(path.resolve(import.meta.dirname, "../../labs"), "priority-queue");
const checkIds = lab.lab.checks.map((c) => c.id);
const milestone = MilestoneSchema.parse({
  id: "m5",
  code: "M5",
  title: "Queues, data and consistency",
  summary: "A milestone with one checklist item: the priority queue lab.",
  labs: [{ id: "priority-queue", title: "A priority queue" }],
  checklist: [
    { id: "pq", title: "A priority queue", description: "All its checks.", satisfiedBy: { kind: "checks", lab: "priority-queue", checks: checkIds } },
  ],
});
const catalog: Catalog = { milestones: [{ slug: "05-queues", order: 5, dir: "", milestone, lessons: [] }], labs: [lab] };
const quizzes = new Map<string, string[]>();

/** A graded run as the runner stores it: `passing` checks pass, the rest fail. */
async function gradedRun(db: Db, userId: string, passing: string[], at?: Date) {
  const s = await createSubmission(db, { userId, labId: "priority-queue", mode: "check", files: { "queue.ts": `// ${passing.join(",")}` } });
  await markRunning(db, s.id);
  const checks = checkIds.map((id) => ({ id, title: id, status: passing.includes(id) ? ("pass" as const) : ("fail" as const), durationMs: 10 }));
  await recordResult(db, s.id, { status: passing.length === checkIds.length ? "pass" : "fail", seed: 1, durationMs: 100, checks }, [milestone]);
  if (at) await db.submission.update({ where: { id: s.id }, data: { createdAt: at, finishedAt: at } });
  return s.id;
}

describe.each(providers)("cohorts on %s", (provider) => {
  test("an instructor creates a cohort, learners join by code or link, and the grid shows who passed and who is stuck", async () => {
    await using t = await testDatabase(provider);
    const [teacher, ada, bob, cy] = await Promise.all(
      ["teacher", "ada", "bob", "cy"].map((name) =>
        t.db.user.create({ data: { email: `${name}@example.org`, name, role: name === "teacher" ? "instructor" : "learner" } }),
      ),
    );
    const cohort = await createCohort(t.db, teacher!, { name: "Spring evening" });
    expect(cohort.inviteCode).toMatch(/^[2-9A-Z]{8}$/);
    expect(await previewInvite(t.db, cohort.inviteCode.toLowerCase())).toMatchObject({ name: "Spring evening", learners: 0 });

    expect(await joinCohort(t.db, ada!.id, `https://faultline.example.org/join/${cohort.inviteCode}`)).toMatchObject({
      already: false,
      name: "Spring evening",
    });
    expect(await joinCohort(t.db, ada!.id, cohort.inviteCode)).toMatchObject({ already: true });
    await joinCohort(t.db, bob!.id, `${cohort.inviteCode.slice(0, 4)}-${cohort.inviteCode.slice(4)}`);
    await joinCohort(t.db, cy!.id, cohort.inviteCode);
    await expect(joinCohort(t.db, cy!.id, "NOPE")).rejects.toThrow(/not an invite code/);
    await expect(joinCohort(t.db, cy!.id, "ZZZZZZZZ")).rejects.toThrow(/No cohort has this invite code/);

    const due = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    await setRequirement(t.db, teacher!, cohort.id, { target: "lab:priority-queue", checks: ["priority-order"], dueDate: due }, catalog);
    await setRequirement(t.db, teacher!, cohort.id, { target: "milestone:m5", dueDate: "2020-01-31" }, catalog);
    await expect(setRequirement(t.db, teacher!, cohort.id, { target: "lab:priority-queue", checks: ["no-such-check"] }, catalog)).rejects.toThrow(
      /has no check no-such-check/,
    );
    await expect(setRequirement(t.db, teacher!, cohort.id, { target: "lab:priority-queue", dueDate: "2026-02-30" }, catalog)).rejects.toThrow(/not a date/);

    await gradedRun(t.db, ada!.id, checkIds); // ada passes everything
    for (let i = 0; i < 5; i++) await gradedRun(t.db, bob!.id, ["priority-order"]); // bob keeps failing the rest
    const old = new Date(Date.now() - 10 * 86_400_000);
    await t.db.cohortMember.update({ where: { cohortId_userId: { cohortId: cohort.id, userId: cy!.id } }, data: { joinedAt: old } });

    const grid = await classGrid(t.db, teacher!, cohort.id, catalog, quizzes);
    const row = (name: string) => grid.rows.find((r) => r.name === name)!;
    expect(grid.rows.map((r) => r.name).sort()).toEqual(["ada", "bob", "cy"]); // not the instructor
    expect(row("ada").cells[0]).toMatchObject({ percent: 100, passed: true });
    expect(Object.fromEntries(row("ada").requirements.map((s) => [s.requirement.kind, s.state]))).toEqual({ lab: "met", milestone: "late" });
    expect(row("bob").cells[0]).toMatchObject({ percent: 0, passed: false });
    expect(
      row("bob")
        .stuck.map((s) => [s.checkId, s.fails])
        .sort(),
    ).toEqual(
      checkIds
        .filter((c) => c !== "priority-order")
        .map((c) => [c, 5])
        .sort(),
    );
    expect(Object.fromEntries(row("bob").requirements.map((s) => [s.requirement.kind, s.state]))).toEqual({ lab: "met", milestone: "overdue" });
    expect(row("cy")).toMatchObject({ idle: true, idleDays: 10, lastActivity: null, stuck: [] });

    const csv = gridCsv(grid);
    expect(csv.split("\r\n")[0]).toBe(
      `name,email,joined,last_activity,idle_days,M5_percent,stuck_on,"required: Pass M5 Queues, data and consistency",required: Pass the check priority-order of the lab “${lab.lab.title}”`,
    ); // soonest due first
    expect(csv).toMatch(/\r\nada,ada@example\.org,[^,]+,[^,]+,0,100,,late [^,]+,met /);
    expect(checksCsv(grid)).toContain(`bob,bob@example.org,priority-queue,${checkIds[1]},5,0,,fail,`);

    // What learners see: the requirements of their cohorts, soonest due first.
    expect((await requirementsOfLearner(t.db, bob!.id, catalog)).map((r) => [r.kind, r.cohort])).toEqual([
      ["milestone", "Spring evening"],
      ["lab", "Spring evening"],
    ]);
  });

  test("only the cohort's instructors and admins see it, its learners' runs and their code", async () => {
    await using t = await testDatabase(provider);
    const [teacher, other, admin, ada, eve] = await Promise.all(
      (["instructor", "instructor", "admin", "learner", "learner"] as const).map((role, i) => t.db.user.create({ data: { email: `u${i}@example.org`, role } })),
    );
    await expect(createCohort(t.db, ada!, { name: "Mine" })).rejects.toMatchObject({ status: 403 });
    const cohort = await createCohort(t.db, teacher!, { name: "Winter" });
    await joinCohort(t.db, ada!.id, cohort.inviteCode);
    const run = await gradedRun(t.db, ada!.id, []);
    const eveRun = await gradedRun(t.db, eve!.id, []);

    await expect(cohortForInstructor(t.db, other!, cohort.id)).rejects.toBeInstanceOf(CohortError);
    await expect(classGrid(t.db, ada!, cohort.id, catalog, quizzes)).rejects.toMatchObject({ status: 404 });
    expect((await classGrid(t.db, admin!, cohort.id, catalog, quizzes)).rows).toHaveLength(1);

    expect(await findRun(t.db, teacher!, run)).toMatchObject({ id: run, userId: ada!.id });
    expect(await findRun(t.db, other!, run)).toBeNull(); // an instructor, but not hers
    expect(await findRun(t.db, teacher!, eveRun)).toBeNull(); // not in the cohort
    expect(await findRun(t.db, admin!, eveRun)).not.toBeNull();
    expect(await teachesLearner(t.db, ada!, eve!.id)).toBe(false);

    // A co-instructor must be an instructor; once added, they see the cohort and its learners' runs.
    await expect(addInstructor(t.db, teacher!, cohort.id, eve!.email)).rejects.toThrow(/is a learner/);
    await expect(addInstructor(t.db, teacher!, cohort.id, "nobody@example.org")).rejects.toThrow(/No account has the email/);
    await addInstructor(t.db, teacher!, cohort.id, ` ${other!.email.toUpperCase()} `);
    expect(await findRun(t.db, other!, run)).not.toBeNull();
    expect((await instructorsOf(t.db, cohort.id)).map((u) => u.email)).toEqual([teacher!.email, other!.email]);
    expect((await classGrid(t.db, other!, cohort.id, catalog, quizzes)).rows.map((r) => r.userId)).toEqual([ada!.id]); // instructors are not rows

    // A replaced code stops working; members stay.
    const fresh = await replaceInvite(t.db, teacher!, cohort.id);
    await expect(joinCohort(t.db, eve!.id, cohort.inviteCode)).rejects.toMatchObject({ status: 404 });
    await joinCohort(t.db, eve!.id, fresh);
    expect((await classGrid(t.db, teacher!, cohort.id, catalog, quizzes)).rows).toHaveLength(2);

    // Removing a learner takes them off the grid and out of the instructor's sight; their runs stay.
    await removeLearner(t.db, teacher!, cohort.id, ada!.id);
    expect((await classGrid(t.db, teacher!, cohort.id, catalog, quizzes)).rows.map((r) => r.userId)).toEqual([eve!.id]);
    expect(await findRun(t.db, teacher!, run)).toBeNull();
    expect(await t.db.submission.count({ where: { userId: ada!.id } })).toBe(1);
  });
});
