/**
 * A learner's whole loop in the lab workspace, in real Chromium against the real runner: Check
 * the starter and read the failing check's hint, paste the solution and pass, compare with the
 * reference, reload and find the draft; watch a run fill the sorted set live; and see the grader's
 * kill of a worker on the command log of the reliable-delivery lab.
 */
import { readFileSync } from "node:fs";
import { expect, test, type Page } from "@playwright/test";
import { allPassed, expectAccessible, paste, setTheme, signUp, uniqueEmail } from "./support";

const read = (lab: string, variant: string, file: string) => readFileSync(`labs/${lab}/${variant}/${file}`, "utf8");

async function openLab(page: Page, slug: string) {
  await page.goto(`/labs/${slug}`);
  await expect(page.locator("#code-editor-panel .monaco-editor").first()).toBeVisible({ timeout: 20_000 });
}

const modelText = (page: Page, path: string) =>
  page.evaluate((p) => {
    const m = (globalThis as unknown as { monaco: { editor: { getModel(u: unknown): { getValue(): string } | null }; Uri: { parse(s: string): unknown } } })
      .monaco;
    return m.editor.getModel(m.Uri.parse(`file:///lab/${p}`))?.getValue() ?? "";
  }, path);

const tab = (page: Page, name: string) => page.getByRole("tablist", { name: "Run details" }).getByRole("tab", { name: new RegExp(`^${name}`) });
const results = (page: Page) => page.locator("#panel-run");

test.describe.configure({ mode: "serial" });

test.beforeAll(async ({ browser }) => {
  // The first account of a fresh database is the admin, who may always see solutions.
  const first = await browser.newContext();
  await signUp(await first.newPage(), uniqueEmail("first"), "First");
  await first.close();
});

test("check the starter, read the hint, paste the solution, pass, compare, and find the draft after a reload", async ({ page }) => {
  test.setTimeout(120_000);
  await signUp(page, uniqueEmail("learner"), "Linus Learner");
  await expect(page.getByRole("banner").getByLabel(/^Account menu for/)).toBeVisible();
  await openLab(page, "priority-queue");
  await expect(page.getByRole("button", { name: "Compare with solution" })).toHaveCount(0);

  await page.getByRole("button", { name: "Check", exact: true }).click();
  // Progress shows at once, long before the verdict.
  await expect(
    results(page)
      .getByText(/Queued|Building|Running|Starting|Submitting/)
      .first(),
  ).toBeVisible({ timeout: 2000 });
  await tab(page, "Checks").click();
  const failed = results(page).locator("li[data-status='fail']").first();
  await expect(failed).toBeVisible({ timeout: 30_000 });
  await expect(failed.getByText("Hint:")).toBeVisible();

  // Hints open one at a time; the last, close to the answer, waits for two more failed checks.
  const hints = page.getByRole("region", { name: /^Hints/ });
  await hints.getByRole("button", { name: "Show a hint" }).click();
  // The new hint takes focus, so a screen reader reads it and the keyboard continues from it.
  await expect(hints.getByRole("listitem").first()).toBeFocused();
  await hints.getByRole("button", { name: "Show the next hint" }).click();
  await expect(hints.getByRole("listitem")).toHaveCount(2);
  await expect(hints.getByRole("listitem").nth(1)).toBeFocused();
  await expect(hints.getByText("2 more failed checks to go (or pass the lab)")).toBeVisible();
  await expect(hints.getByRole("button", { name: "Show the next hint" })).toHaveCount(0);

  await paste(page, "queue.ts", read("priority-queue", "solution", "queue.ts"));
  await page.getByRole("button", { name: "Check", exact: true }).click();
  await expect(results(page).getByText(allPassed("priority-queue"))).toBeVisible({ timeout: 45_000 });
  await expect(results(page).locator("li[data-status='pass']")).toHaveCount(4);
  // Passing opens the last hint too.
  await hints.getByRole("button", { name: "Show the next hint" }).click();
  await expect(hints.getByRole("listitem")).toHaveCount(3);

  // Passing opens the reference solution, as a diff against the learner's code.
  await page.getByRole("button", { name: "Compare with solution" }).click();
  const diff = page.getByRole("dialog", { name: "Your code and the reference solution" });
  await expect(diff).toBeVisible();
  await expect(diff.locator(".monaco-diff-editor").first()).toBeVisible({ timeout: 15_000 });
  await expect(diff.getByRole("textbox", { name: "queue.ts, reference solution (read-only)" })).toHaveCount(1);
  await expectAccessible(page);
  await page.keyboard.press("Escape");
  await expect(diff).toHaveCount(0);

  await expect(page.getByText("Saved", { exact: true })).toBeVisible({ timeout: 10_000 });
  await page.reload();
  await expect(page.locator("#code-editor-panel .monaco-editor").first()).toBeVisible({ timeout: 20_000 });
  expect(await modelText(page, "queue.ts")).toBe(read("priority-queue", "solution", "queue.ts"));
});

test("a re-run with a chosen seed is a replay: graded and shown, but it does not open the solution", async ({ page }) => {
  test.setTimeout(120_000);
  await signUp(page, uniqueEmail("replayer"), "Rita Replayer");
  await expect(page.getByRole("banner").getByLabel(/^Account menu for/)).toBeVisible();
  await openLab(page, "priority-queue");
  await page.getByRole("button", { name: "Check", exact: true }).click();
  await expect(results(page).locator("[data-verdict='fail']")).toBeVisible({ timeout: 30_000 });
  const verdict = (await results(page).locator("[data-verdict='fail']").textContent()) ?? "";
  const seed = /seed (\d+)/.exec(verdict)?.[1];
  expect(seed).toBeTruthy();

  // The solution, checked again on the seed of the failed run: it passes, as a replay.
  await paste(page, "queue.ts", read("priority-queue", "solution", "queue.ts"));
  const rerun = page.getByRole("button", { name: `Re-run with seed ${seed}` });
  await expect(rerun).toHaveAttribute("title", /does not count toward progress/);
  await rerun.click();
  await expect(results(page).getByText(allPassed("priority-queue"))).toBeVisible({ timeout: 45_000 });
  await expect(results(page).locator("[data-verdict='pass']")).toContainText(`replay of seed ${seed} · does not count toward progress`);
  await expect(page.getByRole("button", { name: "Compare with solution" })).toHaveCount(0);
  expect((await page.request.get("/api/labs/priority-queue/solution")).status()).toBe(403);
});

test("a run fills the sorted set in the live Redis view, mid-run, in light and dark", async ({ page }) => {
  test.setTimeout(120_000);
  await signUp(page, uniqueEmail("watcher"), "Wanda Watcher");
  await expect(page.getByRole("banner").getByLabel(/^Account menu for/)).toBeVisible();
  await openLab(page, "priority-queue");
  await paste(page, "queue.ts", read("priority-queue", "solution", "queue.ts"));
  await page.getByRole("button", { name: "Run", exact: true }).click();
  await tab(page, "Redis").click();
  const lane = results(page)
    .getByRole("list", { name: /^Members with/ })
    .first();
  await expect(lane).toBeVisible({ timeout: 30_000 });
  await expect(lane.getByRole("listitem").first()).toBeVisible();
  await expect(page.getByRole("button", { name: "Cancel" })).toBeEnabled(); // still running
  await page.screenshot({ path: "test-results/workspace-midrun-light.png" });
  await expectAccessible(page);
  await setTheme(page, "dark");
  await page.screenshot({ path: "test-results/workspace-midrun-dark.png" });
  await expectAccessible(page);
  await page.getByRole("button", { name: "Cancel" }).click();
  await expect(results(page).getByRole("status").filter({ hasText: "Cancelled: you stopped this run." })).toBeAttached({ timeout: 15_000 });
  await expect(page.getByRole("button", { name: "Cancel" })).toBeDisabled();
});

test("the command log marks the grader's kill of a worker in the reliable-delivery lab", async ({ page }) => {
  test.setTimeout(120_000);
  await signUp(page, uniqueEmail("killer"), "Kim Killed");
  await expect(page.getByRole("banner").getByLabel(/^Account menu for/)).toBeVisible();
  await openLab(page, "reliable-delivery");
  await paste(page, "queue.ts", read("reliable-delivery", "solution", "queue.ts"));
  await page.getByRole("button", { name: "Check", exact: true }).click();
  await tab(page, "Checks").click();
  await expect(results(page).getByText(allPassed("reliable-delivery"))).toBeVisible({ timeout: 60_000 });
  await tab(page, "Commands").click();
  await results(page).getByLabel("Faults only").check();
  await expect(
    results(page)
      .getByRole("region", { name: "Command log" })
      .locator("tr[data-fault]", { hasText: /kill worker-\d/ })
      .first(),
  ).toBeVisible();
});
