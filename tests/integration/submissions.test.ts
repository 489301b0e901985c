import { describe, expect, test } from "vitest";
import { cancelOtherRuns, createSubmission, markRunning, recordResult, type RunResult } from "../../lib/runs/store.ts";
import { providers, testDatabase } from "./support/namespaces.ts";

const result: RunResult = {
  status: "fail",
  seed: 4127,
  durationMs: 212.6,
  checks: [
    { id: "fifo-equal-priority", title: "ties come out first in, first out", status: "pass", durationMs: 40 },
    {
      id: "no-shared-task",
      title: "consumers never share a task",
      status: "fail",
      message: "task t-7 was handed to two consumers",
      expected: "1 consumer",
      actual: "2 consumers",
      hint: "Claim with one atomic command.",
      durationMs: 150,
    },
  ],
};

describe.each(providers)("submissions on %s", (provider) => {
  test("a result is stored once with its checks in order, and a second report is ignored", async () => {
    await using t = await testDatabase(provider);
    const user = await t.db.user.create({ data: { email: "ada@example.org" } });
    const { id } = await createSubmission(t.db, { userId: user.id, labId: "priority-queue", mode: "check", files: { "queue.ts": "export {}" } });
    expect(await markRunning(t.db, id)).toBe(true);
    expect(await recordResult(t.db, id, result)).toBe(true);
    expect(await recordResult(t.db, id, { ...result, status: "pass" })).toBe(false); // a stalled runner reporting late
    const stored = await t.db.submission.findUniqueOrThrow({ where: { id }, include: { checks: { orderBy: { position: "asc" } } } });
    expect(stored).toMatchObject({ status: "fail", seed: 4127, durationMs: 213 });
    expect(stored.checks.map((c) => [c.checkId, c.status])).toEqual([
      ["fifo-equal-priority", "pass"],
      ["no-shared-task", "fail"],
    ]);
    expect(stored.checks[1]).toMatchObject({ expected: "1 consumer", actual: "2 consumers", hint: "Claim with one atomic command." });
    expect(JSON.parse(stored.files)).toEqual({ "queue.ts": "export {}" });
  });

  test("pressing Run again cancels the learner's live run, whose late result is then ignored", async () => {
    await using t = await testDatabase(provider);
    const [ada, grace] = await Promise.all([
      t.db.user.create({ data: { email: "ada@example.org" } }),
      t.db.user.create({ data: { email: "grace@example.org" } }),
    ]);
    const first = await createSubmission(t.db, { userId: ada.id, labId: "priority-queue", mode: "run", files: {} });
    const others = await createSubmission(t.db, { userId: grace.id, labId: "priority-queue", mode: "run", files: {} });
    await markRunning(t.db, first.id);
    const second = await createSubmission(t.db, { userId: ada.id, labId: "priority-queue", mode: "run", files: {} });
    expect(await cancelOtherRuns(t.db, ada.id, second.id)).toEqual([first.id]);
    expect(await markRunning(t.db, first.id)).toBe(false);
    expect(await recordResult(t.db, first.id, result)).toBe(false);
    expect((await t.db.submission.findUniqueOrThrow({ where: { id: first.id } })).status).toBe("cancelled");
    expect((await t.db.submission.findUniqueOrThrow({ where: { id: others.id } })).status).toBe("queued"); // another learner's run is untouched
  });
});
