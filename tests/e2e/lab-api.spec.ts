/**
 * The workspace's server API, as a browser session uses it: drafts that survive anything, hints
 * one at a time, the solution only after a stored pass, and cancelling a run.
 */
import { readFileSync } from "node:fs";
import { expect, test } from "@playwright/test";
import { signUp, uniqueEmail } from "./support";

const file = (variant: string) => readFileSync(`labs/priority-queue/${variant}/queue.ts`, "utf8");

test("drafts, hints and the solution over HTTP, and nothing for visitors", async ({ page, browser }) => {
  test.setTimeout(60_000);
  const visitor = await browser.newContext();
  expect((await visitor.request.get("/api/labs/priority-queue/draft")).status()).toBe(401);
  // The first account of a fresh database becomes the admin, who may always see solutions.
  await signUp(await visitor.newPage(), uniqueEmail("first"), "First");
  await visitor.close();

  await signUp(page, uniqueEmail("drafter"), "Drafter");
  await expect(page.getByRole("banner").getByLabel(/^Account menu for/)).toBeVisible();
  const api = page.request;
  const fresh = await (await api.get("/api/labs/priority-queue/draft")).json();
  expect(fresh).toMatchObject({ source: "starter", version: 0, files: { "queue.ts": file("starter") } });

  const saved = await api.put("/api/labs/priority-queue/draft", { data: { files: { "queue.ts": "// mine" } } });
  expect(saved.status()).toBe(200);
  expect(await saved.json()).toMatchObject({ version: 1 });
  expect(await (await api.get("/api/labs/priority-queue/draft")).json()).toMatchObject({ source: "draft", files: { "queue.ts": "// mine" } });

  const unknown = await api.put("/api/labs/priority-queue/draft", { data: { files: { "other.ts": "x" } } });
  expect(unknown.status()).toBe(422);
  expect((await unknown.json()).error).toMatch(/has no file 'other.ts'/);
  expect((await api.put("/api/labs/priority-queue/draft", { headers: { "content-type": "application/json" }, data: "{not json" })).status()).toBe(422);
  expect((await api.get("/api/labs/no-such-lab/draft")).status()).toBe(404);

  const reset = await (await api.post("/api/labs/priority-queue/draft/reset")).json();
  expect(reset).toMatchObject({ source: "starter", version: 2 });
  const history = await (await api.get("/api/labs/priority-queue/draft/history")).json();
  expect(history.versions[0]).toMatchObject({ version: 1, reason: "reset" });
  expect(await (await api.get("/api/labs/priority-queue/draft/history/1")).json()).toEqual({ files: { "queue.ts": "// mine" } });

  expect(await (await api.get("/api/labs/priority-queue/hints")).json()).toMatchObject({ total: 3, unlocked: [] });
  expect((await (await api.post("/api/labs/priority-queue/hints")).json()).unlocked).toHaveLength(1);

  const locked = await api.get("/api/labs/priority-queue/solution");
  expect(locked.status()).toBe(403);
  expect((await locked.json()).error).toMatch(/passes every check/);
  const run = await api.post("/api/runs", { data: { lab: "priority-queue", mode: "check", files: { "queue.ts": file("solution") } } });
  const { eventsUrl } = (await run.json()) as { eventsUrl: string };
  expect(await (await api.get(eventsUrl, { timeout: 30_000 })).text()).toContain('"type":"end","status":"pass"');
  expect(await (await api.get("/api/labs/priority-queue/solution")).json()).toEqual({ files: { "queue.ts": file("solution") } });
});

test("a learner cancels a live run, and cannot cancel it twice", async ({ page }) => {
  await signUp(page, uniqueEmail("canceller"), "Canceller");
  await expect(page.getByRole("banner").getByLabel(/^Account menu for/)).toBeVisible();
  const api = page.request;
  const run = await api.post("/api/runs", { data: { lab: "priority-queue", mode: "run", files: { "queue.ts": file("solution") } } });
  const { id, eventsUrl } = (await run.json()) as { id: string; eventsUrl: string };
  const cancelled = await api.delete(`/api/runs/${id}`);
  expect(cancelled.status()).toBe(202);
  expect(await (await api.get(eventsUrl, { timeout: 30_000 })).text()).toContain('"type":"cancelled","message":"Cancelled: you stopped this run."');
  expect((await api.get(`/api/runs/${id}`).then((r) => r.json())).status).toBe("cancelled");
  expect((await api.delete(`/api/runs/${id}`)).status()).toBe(409);
});
