import path from "node:path";
import { describe, expect, test } from "vitest";
import { DraftInputError, draftHistory, draftVersionFiles, loadDraft, resetDraft, saveDraft, starterFiles } from "../../lib/drafts/index.ts";
import { loadLab } from "../../lib/labs/loader.ts";
import { unlockNextHint, unlockedHints } from "../../lib/labs/hints.ts";
import { canSeeSolution } from "../../lib/labs/solution-access.ts";
import { createSubmission, markRunning, recordResult } from "../../lib/runs/store.ts";
import { providers, testDatabase } from "./support/namespaces.ts";

const labsDir = path.resolve(import.meta.dirname, "../../labs");
// reliable-delivery has an editable queue.ts and a read-only handler.ts.
const lab = loadLab(labsDir, "reliable-delivery");
const starter = starterFiles(lab);

describe.each(providers)("drafts on %s", (provider) => {
  test("a draft starts as the starter, keeps every save, and read-only files stay the lab's", async () => {
    await using t = await testDatabase(provider);
    const ada = await t.db.user.create({ data: { email: "ada@example.org" } });
    expect(await loadDraft(t.db, ada.id, lab)).toMatchObject({ source: "starter", version: 0, files: starter });

    await saveDraft(t.db, ada.id, lab, { "queue.ts": "// one", "handler.ts": "// tampered" });
    const second = await saveDraft(t.db, ada.id, lab, { "queue.ts": "// two" });
    expect(second.version).toBe(2);
    expect(await saveDraft(t.db, ada.id, lab, { "queue.ts": "// two" })).toMatchObject({ version: 2 }); // unchanged: no new version
    const draft = await loadDraft(t.db, ada.id, lab);
    expect(draft).toMatchObject({ source: "draft", version: 2 });
    expect(draft.files["queue.ts"]).toBe("// two");
    expect(draft.files["handler.ts"]).toBe(starter["handler.ts"]);
    expect((await draftHistory(t.db, ada.id, lab.lab.id)).map((v) => v.version)).toEqual([1]);
    expect((await draftVersionFiles(t.db, ada.id, lab, 1))?.["queue.ts"]).toBe("// one");
  });

  test("reset to starter keeps the replaced draft recoverable, and another learner sees none of it", async () => {
    await using t = await testDatabase(provider);
    const [ada, grace] = await Promise.all([
      t.db.user.create({ data: { email: "ada@example.org" } }),
      t.db.user.create({ data: { email: "grace@example.org" } }),
    ]);
    await saveDraft(t.db, ada.id, lab, { "queue.ts": "// precious work" });
    const reset = await resetDraft(t.db, ada.id, lab);
    expect(reset.files).toEqual(starter);
    const history = await draftHistory(t.db, ada.id, lab.lab.id);
    expect(history[0]).toMatchObject({ version: 1, reason: "reset" });
    expect((await draftVersionFiles(t.db, ada.id, lab, 1))?.["queue.ts"]).toBe("// precious work");
    expect(await loadDraft(t.db, grace.id, lab)).toMatchObject({ source: "starter" });
    expect(await draftHistory(t.db, grace.id, lab.lab.id)).toEqual([]);
  });

  test("two windows saving at once both land, one after the other", async () => {
    await using t = await testDatabase(provider);
    const ada = await t.db.user.create({ data: { email: "ada@example.org" } });
    await Promise.all(Array.from({ length: 6 }, (_, i) => saveDraft(t.db, ada.id, lab, { "queue.ts": `// window ${i}` })));
    const draft = await loadDraft(t.db, ada.id, lab);
    expect(draft.version).toBe(6);
    const kept = await Promise.all((await draftHistory(t.db, ada.id, lab.lab.id)).map((v) => draftVersionFiles(t.db, ada.id, lab, v.version)));
    const seen = new Set([draft.files["queue.ts"], ...kept.map((f) => f?.["queue.ts"])]);
    expect(seen.size).toBe(6);
  });

  test("bad drafts are refused with the reason", async () => {
    await using t = await testDatabase(provider);
    const ada = await t.db.user.create({ data: { email: "ada@example.org" } });
    await expect(saveDraft(t.db, ada.id, lab, { "../etc/passwd": "x" })).rejects.toThrow(/has no file '..\/etc\/passwd'/);
    await expect(saveDraft(t.db, ada.id, lab, { "queue.ts": 7 })).rejects.toThrow(DraftInputError);
    await expect(saveDraft(t.db, ada.id, lab, { "queue.ts": "x".repeat(250_000) })).rejects.toThrow(/at most 200 kB/);
    await expect(saveDraft(t.db, ada.id, lab, ["queue.ts"])).rejects.toThrow(/object of \{ path: content \}/);
    expect(await loadDraft(t.db, ada.id, lab)).toMatchObject({ source: "starter" });
  });

  test("the solution opens only after a stored passing check run, and hints unlock one at a time", async () => {
    await using t = await testDatabase(provider);
    const ada = await t.db.user.create({ data: { email: "ada@example.org" } });
    const teacher = await t.db.user.create({ data: { email: "t@example.org", role: "instructor" } });
    expect(await canSeeSolution(t.db, ada, lab.lab.id)).toBe(false);
    expect(await canSeeSolution(t.db, teacher, lab.lab.id)).toBe(true);
    const run = await createSubmission(t.db, { userId: ada.id, labId: lab.lab.id, mode: "run", files: {} });
    await markRunning(t.db, run.id);
    await recordResult(t.db, run.id, { status: "pass", seed: 1, durationMs: 5, checks: [] });
    expect(await canSeeSolution(t.db, ada, lab.lab.id)).toBe(false); // a playground run is not a graded pass
    const check = await createSubmission(t.db, { userId: ada.id, labId: lab.lab.id, mode: "check", files: {} });
    await markRunning(t.db, check.id);
    await recordResult(t.db, check.id, { status: "pass", seed: 1, durationMs: 5, checks: [] });
    expect(await canSeeSolution(t.db, ada, lab.lab.id)).toBe(true);

    // Passed: every hint, the last one included, unlocks one click at a time.
    expect(await unlockedHints(t.db, ada, lab)).toEqual({ total: 3, unlocked: [], finalLockedFor: 0 });
    expect((await unlockNextHint(t.db, ada, lab)).unlocked).toEqual(lab.lab.hints.slice(0, 1));
    for (let i = 0; i < 4; i++) await unlockNextHint(t.db, ada, lab);
    expect((await unlockedHints(t.db, ada, lab)).unlocked).toEqual(lab.lab.hints);
  });

  test("the last hint waits for three failed graded runs; replays and playground runs do not count", async () => {
    await using t = await testDatabase(provider);
    const bo = await t.db.user.create({ data: { email: "bo@example.org" } });
    const teacher = await t.db.user.create({ data: { email: "t2@example.org", role: "instructor" } });
    const finish = async (mode: "run" | "check", status: "pass" | "fail", seed?: number) => {
      const run = await createSubmission(t.db, { userId: bo.id, labId: lab.lab.id, mode, files: {}, seed });
      await markRunning(t.db, run.id);
      await recordResult(t.db, run.id, { status, seed: seed ?? 1, durationMs: 5, checks: [] });
    };
    // Two clicks at once unlock one hint, not two.
    await Promise.all([unlockNextHint(t.db, bo, lab), unlockNextHint(t.db, bo, lab)]);
    expect((await unlockedHints(t.db, bo, lab)).unlocked).toHaveLength(1);
    await unlockNextHint(t.db, bo, lab);
    const waiting = await unlockNextHint(t.db, bo, lab);
    expect(waiting).toEqual({ total: 3, unlocked: lab.lab.hints.slice(0, 2), finalLockedFor: 3 });
    await finish("check", "fail");
    await finish("check", "fail", 42); // a replay of a chosen seed
    await finish("run", "fail");
    expect((await unlockNextHint(t.db, bo, lab)).finalLockedFor).toBe(2);
    await finish("check", "fail");
    await finish("check", "fail");
    const open = await unlockNextHint(t.db, bo, lab);
    expect(open).toEqual({ total: 3, unlocked: lab.lab.hints, finalLockedFor: 0 });
    expect((await unlockedHints(t.db, teacher, lab)).finalLockedFor).toBe(0);
  });
});
