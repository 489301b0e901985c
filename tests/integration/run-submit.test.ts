import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { ZodError } from "zod";
import type { Provider } from "../../lib/db/providers.ts";
import { loadLabs } from "../../lib/labs/loader.ts";
import { RateLimitedError } from "../../lib/redis/rate-limit.ts";
import { openRunQueue } from "../../lib/runs/dispatch.ts";
import { subscribeCancels } from "../../lib/runs/cancel.ts";
import { readEvents } from "../../lib/runs/events.ts";
import { RunRequestError, submitRun, type SubmitDeps } from "../../lib/runs/submit.ts";
import { providers, REDIS_TEST_URL, testDatabase, testRedis } from "./support/namespaces.ts";

const STARTER_QUEUE = "export function enqueue() {}\n";
const STARTER_TYPES = "export type Task = { id: string; priority: number };\n";

let labsDir = "";
beforeAll(() => {
  const root = mkdtempSync(path.join(tmpdir(), "fl-run-labs-"));
  labsDir = path.join(root, "labs");
  const dir = path.join(labsDir, "priority-queue");
  for (const sub of ["starter", "solution", "wrong/a", "wrong/b", "wrong/c"]) mkdirSync(path.join(dir, sub), { recursive: true });
  const lab = {
    id: "pq",
    slug: "priority-queue",
    title: "A priority queue on a sorted set",
    milestone: "M5",
    summary: "Enqueue and dequeue tasks by priority with ZADD and BZPOPMIN.",
    minutes: 45,
    files: [{ path: "queue.ts" }, { path: "types.ts", editable: false }],
    checks: [{ id: "no-shared-task", title: "concurrent consumers never share a task" }],
    wrong: ["a", "b", "c"].map((d) => ({ dir: d, catches: "no-shared-task", why: "claims a task with ZRANGE then ZREM" })),
  };
  writeFileSync(path.join(dir, "lab.json"), JSON.stringify(lab));
  for (const part of ["starter", "solution"]) {
    writeFileSync(path.join(dir, part, "queue.ts"), STARTER_QUEUE);
    writeFileSync(path.join(dir, part, "types.ts"), STARTER_TYPES);
  }
  writeFileSync(path.join(dir, "checks.ts"), "export {};\n");
});
afterAll(() => rmSync(path.dirname(labsDir), { recursive: true, force: true }));

/** A database, a Redis namespace, a queue in it and a learner, all removed together. */
async function harness(provider: Provider, perMinute = 30) {
  const t = await testDatabase(provider);
  const r = await testRedis();
  const queue = openRunQueue(REDIS_TEST_URL, r.prefix, "check");
  const playground = openRunQueue(REDIS_TEST_URL, r.prefix, "run");
  const user = await t.db.user.create({ data: { email: "ada@example.org" } });
  const deps: SubmitDeps = {
    db: t.db,
    redis: r.redis,
    keys: r.keys,
    queues: { check: queue, run: playground },
    labs: () => loadLabs(labsDir),
    limits: { perMinute },
  };
  return {
    ...t,
    ...r,
    queue,
    playground,
    user,
    deps,
    async [Symbol.asyncDispose]() {
      await Promise.all([queue.close(), playground.close()]);
      await r[Symbol.asyncDispose]();
      await t[Symbol.asyncDispose]();
    },
  };
}

const rejection = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

describe.each(providers)("submitting runs on %s", (provider) => {
  test("a run is stored queued, announced and queued as a job named by its id", async () => {
    await using h = await harness(provider);
    const run = await submitRun(h.deps, h.user, { lab: "priority-queue", files: { "queue.ts": "// mine" }, seed: 4127 });
    expect(run).toMatchObject({ lab: "pq", mode: "check" });
    const stored = await h.db.submission.findUniqueOrThrow({ where: { id: run.id } });
    expect(stored).toMatchObject({ userId: h.user.id, labId: "pq", mode: "check", status: "queued", seed: 4127 });
    expect(JSON.parse(stored.files)).toEqual({ "queue.ts": "// mine", "types.ts": STARTER_TYPES });
    expect((await h.queue.getJob(run.id))?.data).toEqual({ submissionId: run.id });
    expect((await readEvents(h.redis, h.keys, run.id)).map((e) => e.event)).toEqual([{ type: "queued" }]);
    // A playground run goes to its own lane, so it can never hold a slot a check is waiting for.
    const played = await submitRun(h.deps, h.user, { lab: "priority-queue", files: {}, mode: "run" });
    expect(await h.playground.getJob(played.id)).toBeDefined();
    expect(await h.queue.getJob(played.id)).toBeUndefined();
  });

  test("a second run cancels the first: row, event stream and runner channel", async () => {
    await using h = await harness(provider);
    const subscriber = h.redis.duplicate();
    const heard: string[] = [];
    const unsubscribe = await subscribeCancels(subscriber, h.keys, (id) => heard.push(id));
    const first = await submitRun(h.deps, h.user, { lab: "pq", files: {}, mode: "run" });
    const second = await submitRun(h.deps, h.user, { lab: "pq", files: {}, mode: "run" });
    expect((await h.db.submission.findUniqueOrThrow({ where: { id: first.id } })).status).toBe("cancelled");
    expect((await h.db.submission.findUniqueOrThrow({ where: { id: second.id } })).status).toBe("queued");
    expect((await readEvents(h.redis, h.keys, first.id)).map((e) => e.event.type)).toEqual(["queued", "cancelled"]);
    await vi.waitFor(() => expect(heard).toEqual([first.id]));
    await unsubscribe();
    subscriber.disconnect();
  });

  test("missing editable files come from starter/ and a read-only file sent is replaced", async () => {
    await using h = await harness(provider);
    const run = await submitRun(h.deps, h.user, { lab: "pq", files: { "types.ts": "export type Task = any;" } });
    const stored = await h.db.submission.findUniqueOrThrow({ where: { id: run.id } });
    expect(JSON.parse(stored.files)).toEqual({ "queue.ts": STARTER_QUEUE, "types.ts": STARTER_TYPES });
  });

  test("an unknown lab is a 404, an unknown or oversized file a 422, and none is stored", async () => {
    await using h = await harness(provider);
    expect(await rejection(submitRun(h.deps, h.user, { lab: "leader-election", files: {} }))).toMatchObject({
      name: "RunRequestError",
      status: 404,
      message: expect.stringContaining('"leader-election"'),
    });
    const unknown = await rejection(submitRun(h.deps, h.user, { lab: "pq", files: { "notes.ts": "" } }));
    expect(unknown).toBeInstanceOf(RunRequestError);
    expect(unknown).toMatchObject({
      status: 422,
      message: expect.stringContaining('"notes.ts" is not a file of lab "pq"; send only its editable files: queue.ts'),
    });
    // As JSON.parse gives it: an own "__proto__" key, which zod's record drops without a word.
    const proto = await rejection(submitRun(h.deps, h.user, JSON.parse('{"lab":"pq","files":{"__proto__":"x","queue.ts":"// mine"}}')));
    expect(proto).toMatchObject({ status: 422, message: expect.stringContaining('"__proto__" is not a file of lab "pq"') });
    const oversized = await rejection(submitRun(h.deps, h.user, { lab: "pq", files: { "queue.ts": "x".repeat(100_001) } }));
    expect(oversized).toMatchObject({ status: 422, diagnostics: [{ file: "queue.ts", message: expect.stringContaining("at most 100000") }] });
    await expect(submitRun(h.deps, h.user, { lab: "pq", files: {}, mode: "grade" })).rejects.toThrow(ZodError);
    expect(await h.db.submission.count()).toBe(0);
  });

  test("a learner over the per-minute limit is refused, and another learner is not", async () => {
    await using h = await harness(provider, 2);
    await submitRun(h.deps, h.user, { lab: "pq", files: {} });
    await submitRun(h.deps, h.user, { lab: "pq", files: {} });
    await expect(submitRun(h.deps, h.user, { lab: "pq", files: {} })).rejects.toThrow(RateLimitedError);
    expect(await h.db.submission.count()).toBe(2);
    const grace = await h.db.user.create({ data: { email: "grace@example.org" } });
    await expect(submitRun(h.deps, grace, { lab: "pq", files: {} })).resolves.toMatchObject({ lab: "pq" }); // limits are per learner
  });
});
