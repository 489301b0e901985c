/**
 * Milestone M4 passed end to end: the retries lesson's lab card leads into retry-backoff, which
 * the learner passes in the workspace (the grader's pricing service fails, hangs and resets under
 * their retry loop, and measures the waits), and the other resilience labs go through the run
 * API. Then /progress says M4 is passed.
 */
import { readFileSync } from "node:fs";
import { expect, test } from "@playwright/test";
import { allPassed, passByApi, paste, signUp, uniqueEmail } from "./support";

test("a learner passes retries with backoff in the workspace, then M4", async ({ page }) => {
  test.setTimeout(300_000);
  await signUp(page, uniqueEmail("m4"), "Rhea Silient");
  await expect(page.getByRole("banner").getByLabel(/^Account menu for/)).toBeVisible();

  await page.goto("/learn/resilience/retries-backoff-and-jitter");
  await page.getByRole("link", { name: /Retr.*Open the lab/s }).click();
  await expect(page).toHaveURL(/\/labs\/retry-backoff$/);
  await expect(page.locator("#code-editor-panel .monaco-editor").first()).toBeVisible({ timeout: 20_000 });
  await paste(page, "retry.ts", readFileSync("labs/retry-backoff/solution/retry.ts", "utf8"));
  await page.getByRole("button", { name: "Check", exact: true }).click();
  await expect(page.locator("#panel-run").getByText(allPassed("retry-backoff"))).toBeVisible({ timeout: 120_000 });
  await expect(page.locator('#panel-run [data-verdict="pass"]')).toBeVisible({ timeout: 30_000 });

  const m4 = page.locator("section#m4");
  await page.goto("/progress");
  await expect(m4.getByText("A retry policy (done)")).toBeAttached();
  for (const lab of ["circuit-breaker", "bulkhead-timeouts", "fallback-cache"]) await passByApi(page, lab);
  await page.goto("/progress");
  for (const item of ["A retry policy", "A circuit breaker", "Bulkheads and timeouts", "Graceful degradation"])
    await expect(m4.getByText(`${item} (done)`)).toBeAttached();
  await expect(m4.getByText("Passed", { exact: true })).toBeVisible();
});
