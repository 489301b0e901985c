/**
 * The chaos dependency on real Unix sockets, called through the learner's own client from
 * `@faultline/lab` (pointed, as in a shared sandbox, by the instance's socket global).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, expect, test } from "vitest";
import { ChaosDependency } from "./chaos-dependency.ts";

let dir: string;
let lab: typeof import("./harness/lab.ts");
const marks: string[] = [];
const open: ChaosDependency[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "fl-dep-"));
  // As the shared sandbox tells an instance of lane 3 its own proxy socket.
  (globalThis as Record<symbol, unknown>)[Symbol.for("faultline.socket")] = path.join(dir, "l3-7.sock");
  lab = await import("./harness/lab.ts");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  await Promise.all(open.splice(0).map((d) => d.close()));
  marks.length = 0;
});

async function start(name: string, options: Partial<ConstructorParameters<typeof ChaosDependency>[0]> = {}): Promise<ChaosDependency> {
  const dependency = new ChaosDependency({ name, socketPath: path.join(dir, `l3-dep-${name}.sock`), seed: 1, mark: (text) => marks.push(text), ...options });
  open.push(dependency);
  await dependency.start();
  return dependency;
}

test("the learner's client finds its lane's dependency and gets the check's answers", async () => {
  const dep = await start("pricing", { behaviour: (req) => ({ status: 200, body: { price: 42, path: req.path, echoed: req.body } }) });
  expect(lab.dependencySocketPath("pricing")).toBe(path.join(dir, "l3-dep-pricing.sock"));
  const pricing = lab.dependency("pricing");
  const res = await pricing.get("/price/sku-1");
  expect(res).toMatchObject({ status: 200, ok: true });
  expect(res.json()).toEqual({ price: 42, path: "/price/sku-1", echoed: "" });
  const posted = await pricing.post("/orders", { n: 1 }, { headers: { "idempotency-key": "k-1" } });
  expect(posted.json()).toMatchObject({ echoed: '{"n":1}' });
  const calls = dep.calls();
  expect(calls.map((c) => [c.seq, c.method, c.path, c.outcome, c.status])).toEqual([
    [1, "GET", "/price/sku-1", "answered", 200],
    [2, "POST", "/orders", "answered", 200],
  ]);
  expect(calls[1]!.headers["idempotency-key"]).toBe("k-1");
  expect(calls[0]!.endedAt).toBeGreaterThanOrEqual(calls[0]!.at);
  expect(dep.stats()).toMatchObject({ calls: 2, inFlight: 0, maxInFlight: 1, byPath: { "/price/sku-1": 1, "/orders": 1 } });
});

test("failNext, reset and hang queue up in order; each call says how it ended", async () => {
  const dep = await start("svc");
  const svc = lab.dependency("svc");
  dep.failNext(2, { status: 503, retryAfter: 1 });
  dep.reset(1);
  dep.hang(1);
  dep.failNext(1, { status: 404, body: { error: "no such sku" } });
  const first = await svc.get("/a");
  expect(first).toMatchObject({ status: 503, ok: false, headers: expect.objectContaining({ "retry-after": "1" }) });
  expect((await svc.get("/a")).status).toBe(503);
  await expect(svc.get("/a")).rejects.toMatchObject({ code: "ECONNRESET" });
  const hung = svc.get("/a", { signal: AbortSignal.timeout(100) });
  await expect(hung).rejects.toMatchObject({ name: "TimeoutError" });
  const missing = await svc.get("/a");
  expect(missing.status).toBe(404);
  expect(missing.json()).toEqual({ error: "no such sku" });
  expect((await svc.get("/a")).status).toBe(200);
  await new Promise((r) => setTimeout(r, 20));
  expect(dep.calls().map((c) => [c.outcome, c.fault ?? null, c.status ?? null])).toEqual([
    ["answered", "503", 503],
    ["answered", "503", 503],
    ["reset", "reset", null],
    ["aborted", "hang", null],
    ["answered", "404", 404],
    ["answered", null, 200],
  ]);
  expect(marks).toEqual([
    "dependency svc: failNext 2 × 503 (Retry-After 1)",
    "dependency svc: reset 1",
    "dependency svc: hang 1",
    "dependency svc: failNext 1 × 404",
  ]);
});

test("down refuses connections (ECONNREFUSED) until up; heal answers what a hang held", async () => {
  const dep = await start("svc");
  const svc = lab.dependency("svc");
  await dep.down();
  await expect(svc.get("/x")).rejects.toMatchObject({ code: "ECONNREFUSED" });
  await dep.up();
  expect((await svc.get("/x")).status).toBe(200);
  dep.hangAll();
  const held = [svc.get("/h1"), svc.get("/h2")];
  await expect.poll(() => dep.stats().inFlight).toBe(2);
  expect(dep.stats().maxInFlight).toBe(2);
  await dep.heal();
  expect((await Promise.all(held)).map((r) => r.status)).toEqual([200, 200]);
  expect(marks).toEqual(["dependency svc: down (0 calls cut)", "dependency svc: up", "dependency svc: hangAll", "dependency svc: heal"]);
});

test("latency is seeded, a schedule runs its steps, and close ends hung calls as hung", async () => {
  const dep = await start("slow", { seed: 9 });
  const slow = lab.dependency("slow");
  dep.setLatency({ ms: 60, jitterMs: 20 });
  const t0 = performance.now();
  await slow.get("/a");
  expect(performance.now() - t0).toBeGreaterThanOrEqual(38);
  expect(dep.calls()[0]!.fault).toMatch(/^latency \d+ms$/);
  await dep.heal();
  const done = dep.schedule([
    { atMs: 10, action: (d) => d.hangAll() },
    { atMs: 60, action: (d) => d.heal() },
  ]);
  await new Promise((r) => setTimeout(r, 25));
  const during = slow.get("/b");
  await done;
  expect((await during).status).toBe(200);
  dep.hang(1);
  const never = slow.get("/c").catch((e: unknown) => e);
  await expect.poll(() => dep.stats().inFlight).toBe(1);
  await dep.close();
  expect(await never).toMatchObject({ code: "ECONNRESET" });
  expect(dep.calls().at(-1)!.outcome).toBe("hung");
});

test("an inert dependency (ablation) logs its faults and applies none", async () => {
  const dep = await start("inert", { inert: true });
  dep.failNext(3);
  await dep.down();
  expect((await lab.dependency("inert").get("/")).status).toBe(200);
  expect(marks).toEqual(["ablated: dependency inert: failNext 3 × 503", "ablated: dependency inert: down"]);
});

test("a signal already aborted rejects at once with its reason, and no call is made", async () => {
  const dep = await start("svc");
  const controller = new AbortController();
  controller.abort(new Error("caller gave up"));
  await expect(lab.dependency("svc").get("/", { signal: controller.signal })).rejects.toThrow("caller gave up");
  expect(dep.calls()).toHaveLength(0);
});

test("a fault aimed at a path is taken only by calls to that path", async () => {
  const dep = await start("svc");
  const svc = lab.dependency("svc");
  dep.failNext(2, { status: 500, path: "/b" });
  dep.reset(1, { path: "/c" });
  expect((await svc.get("/a")).status).toBe(200);
  expect((await svc.get("/b")).status).toBe(500);
  await expect(svc.get("/c")).rejects.toMatchObject({ code: "ECONNRESET" });
  expect((await svc.get("/b")).status).toBe(500);
  expect((await svc.get("/b")).status).toBe(200);
  expect(marks).toEqual(["dependency svc: failNext 2 × 500 on /b", "dependency svc: reset 1 on /c"]);
});
