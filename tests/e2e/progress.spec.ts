/**
 * The progress tracker end to end: a graded run the runner stores ticks checklist items on
 * /progress and on the milestone page; a reflection completes the drill milestone (from
 * tests/fixtures/course); its certificate opens for anyone, signed out.
 */
import { readFileSync } from "node:fs";
import { expect, test } from "@playwright/test";
import { expectAccessible, setTheme, signUp, uniqueEmail } from "./support";

const solution = readFileSync("labs/priority-queue/solution/queue.ts", "utf8");

test("a learner passes a lab, sees it on /progress, reflects, and shares a certificate anyone can open", async ({ page, browser }) => {
  test.setTimeout(120_000);
  const first = await browser.newContext(); // the first account of a fresh database is the admin
  await signUp(await first.newPage(), uniqueEmail("first"), "First");
  await first.close();

  await signUp(page, uniqueEmail("grace"), "Grace Hopper");
  await expect(page.getByRole("banner").getByLabel(/^Account menu for/)).toBeVisible();
  await page.getByRole("banner").getByRole("link", { name: "Progress" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Your progress" })).toBeVisible();
  await expect(page.getByText("No runs yet.")).toBeVisible();
  await expectAccessible(page);

  const run = await page.request.post("/api/runs", { data: { lab: "priority-queue", mode: "check", files: { "queue.ts": solution } } });
  const { eventsUrl } = (await run.json()) as { eventsUrl: string };
  expect(await (await page.request.get(eventsUrl, { timeout: 60_000 })).text()).toContain('"type":"end","status":"pass"');

  await page.reload();
  const m5 = page.locator("section#m5");
  await expect(m5.getByText("Enqueue and dequeue (done)")).toBeAttached();
  await expect(m5.getByText("Competing consumers (done)")).toBeAttached();
  await expect(m5.getByText("Dead-letter queue (not done yet)")).toBeAttached();
  await expect(page.getByRole("row", { name: /A priority queue on a sorted set/ })).toContainText("pass");

  // The proof links to the stored run, check by check.
  await m5
    .getByRole("link", { name: /a run of priority-queue/ })
    .first()
    .click();
  await expect(page.getByRole("heading", { level: 1 })).toContainText("Graded run of");
  await expect(page.getByText("concurrent-consumers")).toBeVisible();
  await page.goBack();

  // The drill milestone needs its reflection too; a short one is refused and the text is kept.
  const drill = page.locator("section#m9");
  await expect(drill.getByText("Passed", { exact: true })).toHaveCount(0);
  const box = drill.getByLabel("Why must a consumer claim a task in one atomic step?");
  await box.fill("Because of races.");
  await drill.getByRole("button", { name: "Save reflection" }).click();
  await expect(drill.getByRole("alert")).toContainText("has 3 words; this item asks for at least 15");
  await expect(box).toHaveValue("Because of races.");
  await box.fill("Because two consumers can read the same head of the queue between a read and a delete, and both would then run the same task.");
  await drill.getByRole("button", { name: "Save reflection" }).click();
  await expect(drill.getByText("Explain the atomic claim (done)")).toBeAttached();
  await expect(drill.getByText("Passed", { exact: true })).toBeVisible();

  await drill.getByRole("button", { name: "Get your M9 certificate" }).click();
  await expect(page).toHaveURL(/\/certificates\/[A-Za-z0-9_-]+$/);
  const certificateUrl = page.url();
  await expect(page.getByRole("heading", { level: 1, name: "Grace Hopper" })).toBeVisible();

  // The milestone page shows the same ticks.
  await page.goto("/learn/queues");
  await expect(page.getByText("Enqueue and dequeue (done)")).toBeAttached();

  const stranger = await browser.newContext();
  const view = await stranger.newPage();
  await view.goto(certificateUrl);
  await expect(view.getByRole("heading", { level: 1, name: "Grace Hopper" })).toBeVisible();
  await expect(view.getByText(/passed M9 Drill: a certificate in one lab with 100% of its checklist/)).toBeVisible();
  await expect(view.getByText(/Passed priority-order, fifo-among-equals, blocking-dequeue in the lab priority-queue/)).toBeVisible();
  await expectAccessible(view);
  await setTheme(view, "dark");
  await view.reload();
  await expectAccessible(view);
  expect((await view.goto("/certificates/not-a-real-certificate-id"))?.status()).toBe(404);
  await view.goto("/progress");
  await expect(view).toHaveURL(/\/signin/);
  await stranger.close();
});
