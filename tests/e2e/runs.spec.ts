/**
 * A learner's run through the whole stack: POST /api/runs as a signed-in learner, the runner
 * grades it in the sandbox, and the SSE stream carries every check to a verdict. The browser UI
 * for this is the lab workspace; here the API a workspace uses is exercised directly.
 */
import { readFileSync } from "node:fs";
import { expect, test, type Page } from "@playwright/test";
import { signUp as signUpForm, uniqueEmail } from "./support";

async function signUp(page: Page, email: string, name: string) {
  await signUpForm(page, email, name);
  await expect(page.getByRole("banner").getByLabel(/^Account menu for/)).toBeVisible();
}

const file = (variant: string) => readFileSync(`labs/priority-queue/${variant}/queue.ts`, "utf8");

function events(body: string): { event: string; data: Record<string, unknown> }[] {
  return body
    .split("\n\n")
    .filter((block) => block.includes("data: "))
    .map((block) => ({ event: /^event: (.*)$/m.exec(block)?.[1] ?? "message", data: JSON.parse(/^data: (.*)$/m.exec(block)![1]!) as Record<string, unknown> }));
}

test("a learner checks the priority-queue lab: the starter fails with a hint, the solution passes", async ({ page }) => {
  test.setTimeout(60_000);
  await signUp(page, uniqueEmail("runner"), "Runner Learner");
  const api = page.request;

  expect((await api.post("/api/runs", { data: { lab: "no-such-lab", files: {} } })).status()).toBe(404);
  const bad = await api.post("/api/runs", { data: { lab: "priority-queue", files: { "../escape.ts": "x" } } });
  expect(bad.status()).toBe(422);

  const starter = await api.post("/api/runs", { data: { lab: "priority-queue", mode: "check", files: { "queue.ts": file("starter") } } });
  expect(starter.status()).toBe(202);
  const { eventsUrl: starterEvents } = (await starter.json()) as { eventsUrl: string };
  const failed = events(await (await api.get(starterEvents, { timeout: 30_000 })).text());
  const firstFail = failed.find((e) => e.event === "check-end" && e.data.status === "fail");
  expect(firstFail?.data.hint).toBeTruthy();
  expect(failed.at(-1)?.data).toMatchObject({ type: "end", status: "fail" });

  const solution = await api.post("/api/runs", { data: { lab: "priority-queue", mode: "check", files: { "queue.ts": file("solution") }, seed: 7 } });
  const { id, eventsUrl } = (await solution.json()) as { id: string; eventsUrl: string };
  const passed = events(await (await api.get(eventsUrl, { timeout: 30_000 })).text());
  expect(passed.filter((e) => e.event === "check-end").map((e) => e.data.status)).toEqual(["pass", "pass", "pass", "pass"]);
  expect(passed.at(-1)?.data).toMatchObject({ type: "end", status: "pass", seed: 7 });

  const stored = (await (await api.get(`/api/runs/${id}`)).json()) as { status: string; seed: number; checks: unknown[] };
  expect(stored).toMatchObject({ status: "pass", seed: 7 });
  expect(stored.checks).toHaveLength(4);
});

test("runs are private: signed out gets 401, another learner gets 404", async ({ page, browser }) => {
  await signUp(page, uniqueEmail("owner"), "Owner");
  const created = await page.request.post("/api/runs", { data: { lab: "priority-queue", files: { "queue.ts": file("starter") } } });
  const { id } = (await created.json()) as { id: string };
  const anonymous = await browser.newContext();
  expect((await anonymous.request.get(`/api/runs/${id}`)).status()).toBe(401);
  const other = await (await browser.newContext()).newPage();
  await signUp(other, uniqueEmail("other"), "Other");
  expect((await other.request.get(`/api/runs/${id}`)).status()).toBe(404);
  expect((await other.request.get(`/api/runs/${id}/events`)).status()).toBe(404);
});
