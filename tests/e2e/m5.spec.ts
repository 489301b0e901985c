/**
 * Milestone M5 as a learner walks it: open the milestone, read a lesson (its diagram and code),
 * follow the lesson's lab card into the workspace, pass the lab, and find its checklist item done.
 */
import { readFileSync } from "node:fs";
import { expect, test } from "@playwright/test";
import { expectAccessible, paste, setTheme, signUp, uniqueEmail, allPassed } from "./support";

test("an M5 lesson leads into its lab, which the learner passes and the milestone checklist credits", async ({ page }) => {
  test.setTimeout(120_000);
  await signUp(page, uniqueEmail("m5"), "Quinn Queue");
  await expect(page.getByRole("banner").getByLabel(/^Account menu for/)).toBeVisible();

  await page.goto("/");
  await page
    .locator("#course")
    .getByRole("link", { name: /Queues, data and consistency/ })
    .first()
    .click();
  await expect(page.getByRole("heading", { name: "Queues, data and consistency", level: 1 })).toBeVisible();
  // All nine labs are written: none is "in preparation" any more.
  await expect(page.getByText(/in preparation/i)).toHaveCount(0);
  await page.getByRole("link", { name: /Delivery guarantees, at-most-once to effectively-once/ }).click();

  await expect(page.getByRole("heading", { name: /Delivery guarantees/, level: 1 })).toBeVisible();
  await expect(page.locator("article figure svg, article svg").first()).toBeVisible();
  await expect(page.locator("article pre code").first()).toBeVisible();
  for (const theme of ["light", "dark"] as const) {
    await setTheme(page, theme);
    await expectAccessible(page);
    if (process.env.SHOTS) await page.screenshot({ path: `/tmp/m5-lesson-${theme}.png`, fullPage: false });
  }
  if (process.env.SHOTS) await page.locator("figure").first().screenshot({ path: "/tmp/m5-diagram.png" });

  await page.getByRole("link", { name: /The task model.*Open the lab/s }).click();
  await expect(page).toHaveURL(/\/labs\/task-model$/);
  await expect(page.locator("#code-editor-panel .monaco-editor").first()).toBeVisible({ timeout: 20_000 });
  await paste(page, "task.ts", readFileSync("labs/task-model/solution/task.ts", "utf8"));
  await page.getByRole("button", { name: "Check", exact: true }).click();
  await expect(page.locator("#panel-run").getByText(allPassed("task-model"))).toBeVisible({ timeout: 60_000 });
  // The count ticks with each check; the stored verdict (what progress reads) comes after the last one.
  await expect(page.locator('#panel-run [data-verdict="pass"]')).toBeVisible({ timeout: 30_000 });

  await page.getByRole("navigation", { name: "Breadcrumb" }).getByRole("link", { name: /M5/ }).click();
  await expect(page.getByText(/A task model.*\(done\)/)).toBeAttached();
});
