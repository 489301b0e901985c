/**
 * Milestones M2 and M3 passed end to end. In M2 the learner writes the compose file and the
 * Dockerfile in the workspace's editor (YAML and Dockerfile, not TypeScript, graded by structure)
 * and passes the other two labs through the run API; in M3 all four labs go through the API. Then
 * /progress says each milestone is passed, with every checklist item done.
 */
import { readFileSync } from "node:fs";
import { expect, test, type Page } from "@playwright/test";
import { allPassed, expectAccessible, passByApi, paste, setTheme, signUp, uniqueEmail } from "./support";

async function expectPassed(page: Page, milestone: string, items: string[]) {
  await page.goto("/progress");
  const section = page.locator(`section#${milestone}`);
  for (const item of items) await expect(section.getByText(`${item} (done)`)).toBeAttached();
  await expect(section.getByText("Passed", { exact: true })).toBeVisible();
}

test("a learner writes the compose file and Dockerfile in the editor, passes them, and passes M2", async ({ page }) => {
  test.setTimeout(180_000);
  await signUp(page, uniqueEmail("m2"), "Cy Container");
  await expect(page.getByRole("banner").getByLabel(/^Account menu for/)).toBeVisible();

  await page.goto("/labs/compose-file");
  await expect(page.locator("#code-editor-panel .monaco-editor").first()).toBeVisible({ timeout: 20_000 });
  // Before any edit, the starter's compose file fails: the grader reads the learner's own YAML.
  await page.getByRole("button", { name: "Check", exact: true }).click();
  await expect(page.locator('#panel-run [data-verdict="fail"]')).toBeVisible({ timeout: 60_000 });
  await expect(
    page
      .locator("#panel-run")
      .getByText(/docker-compose\.yml/)
      .first(),
  ).toBeVisible();

  for (const file of ["docker-compose.yml", "Dockerfile"]) await paste(page, file, readFileSync(`labs/compose-file/solution/${file}`, "utf8"));
  await page.getByRole("button", { name: "Check", exact: true }).click();
  await expect(page.locator("#panel-run").getByText(allPassed("compose-file"))).toBeVisible({ timeout: 60_000 });
  await expect(page.locator('#panel-run [data-verdict="pass"]')).toBeVisible({ timeout: 30_000 });
  for (const theme of ["light", "dark"] as const) {
    await setTheme(page, theme);
    await expectAccessible(page);
    if (process.env.SHOTS) await page.screenshot({ path: `/tmp/m2-compose-${theme}.png` });
  }

  for (const lab of ["config-from-env", "graceful-shutdown"]) await passByApi(page, lab);
  await expectPassed(page, "m2", [
    "Containerise a service",
    "Compose services with health checks",
    "Configuration from the environment",
    "Shut down gracefully",
  ]);
});

test("a learner passes M3: structured logs, metrics, traces and readiness, each checked through the API", async ({ page }) => {
  test.setTimeout(240_000);
  await signUp(page, uniqueEmail("m3"), "Obi Servable");
  await expect(page.getByRole("banner").getByLabel(/^Account menu for/)).toBeVisible();
  for (const lab of ["structured-logs", "queue-metrics", "trace-propagation", "health-readiness"]) await passByApi(page, lab);
  await expectPassed(page, "m3", ["Structured logs", "Metrics", "Trace propagation", "Health and readiness"]);
});
