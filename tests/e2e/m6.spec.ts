/**
 * Milestone M6 passed end to end: a lesson's lab card leads into the rate limiter, which the
 * learner passes in the workspace (the grader bursts at their Lua script from several programs),
 * and the signed-tasks and rbac-api labs go through the run API. Then /progress says M6 is passed.
 */
import { readFileSync } from "node:fs";
import { expect, test } from "@playwright/test";
import { allPassed, passByApi, paste, signUp, uniqueEmail } from "./support";

test("a learner passes the rate limiter in the workspace, then M6", async ({ page }) => {
  test.setTimeout(240_000);
  await signUp(page, uniqueEmail("m6"), "Sam Secure");
  await expect(page.getByRole("banner").getByLabel(/^Account menu for/)).toBeVisible();

  await page.goto("/learn/security/rate-limiting-and-fairness");
  await page.getByRole("link", { name: /An atomic rate limiter.*Open the lab/s }).click();
  await expect(page).toHaveURL(/\/labs\/rate-limiter$/);
  await expect(page.locator("#code-editor-panel .monaco-editor").first()).toBeVisible({ timeout: 20_000 });
  await paste(page, "limiter.ts", readFileSync("labs/rate-limiter/solution/limiter.ts", "utf8"));
  await page.getByRole("button", { name: "Check", exact: true }).click();
  await expect(page.locator("#panel-run").getByText(allPassed("rate-limiter"))).toBeVisible({ timeout: 90_000 });
  await expect(page.locator('#panel-run [data-verdict="pass"]')).toBeVisible({ timeout: 30_000 });

  for (const lab of ["signed-tasks", "rbac-api"]) await passByApi(page, lab);
  await page.goto("/progress");
  const m6 = page.locator("section#m6");
  for (const item of ["Secrets never logged", "Signed messages with replay protection", "Rate limiting", "Role-based access"]) {
    await expect(m6.getByText(`${item} (done)`)).toBeAttached();
  }
  await expect(m6.getByText("Passed", { exact: true })).toBeVisible();
});
