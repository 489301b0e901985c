/**
 * An instructor runs a class: creates a cohort and a requirement with a due date, a learner joins
 * through the invite link (signing up on the way), sees the due date, passes the lab, and the
 * instructor's grid, the learner's runs and code, and the CSV export all show it.
 */
import { readFileSync } from "node:fs";
import Database from "better-sqlite3";
import { expect, test } from "@playwright/test";
import { expectAccessible, PASSWORD, paste, setTheme, signUp, uniqueEmail, allPassed } from "./support";

const instructor = uniqueEmail("ines");
const learner = uniqueEmail("lea");
const cohortName = `Evening ${Date.now() % 100_000}`;
let cohortUrl = "";
let inviteLink = "";

test.describe.configure({ mode: "serial" });

/**
 * Setup, not the flow under test: the admin page's role change is tested in auth.spec.ts, and the
 * admin of this run's fresh database belongs to whichever spec signed up first.
 */
function makeInstructor(email: string) {
  const db = new Database(".data/e2e/faultline.db");
  try {
    db.prepare(`UPDATE "User" SET role = 'instructor' WHERE email = ?`).run(email);
  } finally {
    db.close();
  }
}

test.beforeAll(async ({ browser }) => {
  // On a fresh database the first sign-up becomes admin; keep that role away from our instructor.
  const first = await browser.newContext();
  await signUp(await first.newPage(), uniqueEmail("first"), "First");
  await first.close();
});

test("an instructor creates a cohort with a required lab due tomorrow", async ({ page }) => {
  await signUp(page, instructor, "Ines Instructor");
  await expect(page.getByRole("banner").getByLabel(/^Account menu for/)).toBeVisible();
  makeInstructor(instructor);
  await page.goto("/");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Cohorts" }).click();
  await expect(page.getByRole("heading", { name: "Cohorts", level: 1 })).toBeVisible();
  await expectAccessible(page);

  await page.getByLabel("Name").fill(cohortName);
  await page.getByRole("button", { name: "Create cohort" }).click();
  await expect(page.getByRole("heading", { name: cohortName, level: 1 })).toBeVisible();
  cohortUrl = new URL(page.url()).pathname;
  await expect(page.getByText("No learners yet")).toBeVisible();
  inviteLink = await page.getByLabel("Invite link").inputValue();
  expect(inviteLink).toMatch(/\/join\/[2-9A-Z]{8}$/);

  await page.getByLabel("Required").selectOption("lab:priority-queue");
  await page.getByRole("checkbox", { name: /priority-order/ }).check();
  const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
  await page.getByLabel(/Due date/).fill(tomorrow);
  await page.getByRole("button", { name: "Add requirement" }).click();
  await expect(page.getByText("Requirement saved.")).toBeVisible();
  await expect(page.getByRole("link", { name: /Pass the check priority-order of the lab/ })).toBeVisible();
  await expect(page.getByText(`due ${tomorrow}`)).toBeVisible();
  for (const theme of ["light", "dark"] as const) {
    await setTheme(page, theme);
    await expectAccessible(page);
  }
});

test("a learner follows the invite link, signs up on the way, joins, sees the due date and passes the lab", async ({ page }) => {
  test.setTimeout(120_000);
  await page.goto(new URL(inviteLink).pathname);
  await expect(page.getByRole("heading", { name: `Join ${cohortName}` })).toBeVisible();
  await expectAccessible(page);
  await page.getByRole("link", { name: "Create an account to join" }).click();
  await page.getByLabel("Name (optional)").fill("Lea Learner");
  await page.getByLabel("Email").fill(learner);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  // Back on the invite, now signed in: one button.
  await page.getByRole("button", { name: `Join ${cohortName}` }).click();
  await expect(page.getByText(`You joined ${cohortName}.`)).toBeVisible();
  const due = page.getByRole("complementary", { name: "Due for your cohort" });
  await expect(due.getByText("to do")).toBeVisible();
  await expect(due.getByRole("link", { name: /priority-order/ })).toBeVisible();
  await expectAccessible(page);

  await page.goto("/labs/priority-queue");
  await expect(page.getByRole("complementary", { name: "Required by your cohort" })).toBeVisible();
  await expect(page.locator("#code-editor-panel .monaco-editor").first()).toBeVisible({ timeout: 20_000 });
  await paste(page, "queue.ts", readFileSync("labs/priority-queue/solution/queue.ts", "utf8"));
  await page.getByRole("button", { name: "Check", exact: true }).click();
  await expect(page.locator("#panel-run").getByText(allPassed("priority-queue"))).toBeVisible({ timeout: 60_000 });
  // The count ticks with each check; the stored verdict (what progress reads) comes after the last one.
  await expect(page.locator('#panel-run [data-verdict="pass"]')).toBeVisible({ timeout: 30_000 });
  await page.goto("/");
  await expect(page.getByRole("complementary", { name: "Due for your cohort" }).getByText("done", { exact: true })).toBeVisible();
});

test("the instructor's grid, the learner's runs and code, and the CSV exports show the pass", async ({ page }) => {
  await page.goto("/signin");
  await page.getByLabel("Email").fill(instructor);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("banner").getByLabel(/^Account menu for/)).toBeVisible();
  await page.goto(cohortUrl);

  const grid = page.getByTestId("class-grid");
  const row = grid.getByRole("row").filter({ hasText: learner });
  await expect(row).toBeVisible();
  await expect(row.getByText("met", { exact: true })).toBeVisible();
  await expect(row.getByRole("cell", { name: /^[1-9]\d*%/ }).first()).toBeVisible(); // M5 above 0%
  // Sorting by M5 and filtering to "Needs attention" are links and a GET form: the URL holds the view.
  await grid.getByRole("link", { name: "M5" }).click();
  await expect(page).toHaveURL(/sort=m5/);
  await page.getByLabel("Show").selectOption("stuck");
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page.getByText("No learner matches this filter.")).toBeVisible();
  await page.getByLabel("Show").selectOption("all");
  await page.getByRole("button", { name: "Apply" }).click();
  for (const theme of ["light", "dark"] as const) {
    await setTheme(page, theme);
    await expectAccessible(page);
  }

  if (process.env.SHOTS) {
    await setTheme(page, "light");
    await page.screenshot({ path: "/tmp/cohort-light.png", fullPage: true });
    await setTheme(page, "dark");
    await page.screenshot({ path: "/tmp/cohort-dark.png", fullPage: true });
  }
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Download grid (CSV)" }).click()]);
  const csv = readFileSync((await download.path())!, "utf8");
  expect(csv.split("\r\n")[0]).toContain("M5_percent");
  expect(csv).toMatch(new RegExp(`Lea Learner,${learner.replace(/[.+]/g, "\\$&")},.*,met `));
  const checks = await (await page.request.get(`/api/cohorts/${cohortUrl.split("/").pop()}/export?kind=checks`)).text();
  expect(checks).toMatch(new RegExp(`${learner.replace(/[.+]/g, "\\$&")},priority-queue,priority-order,1,1,\\d{4}-`));

  // The platform's metrics count the learner's graded pass (Prometheus text, from any replica).
  const metrics = await page.request.get("/api/metrics");
  expect(metrics.headers()["content-type"]).toContain("text/plain");
  const text = await metrics.text();
  expect(Number(/faultline_runs_total\{lab="priority-queue",mode="check",verdict="pass"\} (\d+)/.exec(text)?.[1] ?? 0)).toBeGreaterThanOrEqual(1);
  expect(text).toMatch(/faultline_run_duration_seconds_count\{lab="priority-queue",mode="check"\} \d+/);
  expect(text).toMatch(/faultline_runners\{sandbox="bubblewrap"\} 1/);

  await row.getByRole("link", { name: "Lea Learner" }).click();
  await expect(page.getByRole("heading", { name: "Lea Learner", level: 1 })).toBeVisible();
  await expectAccessible(page);
  await page
    .getByRole("link", { name: /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$/ })
    .first()
    .click();
  await expect(page.getByRole("heading", { name: "Code submitted" })).toBeVisible();
  await expect(page.getByText("queue.ts")).toBeVisible();
  await expectAccessible(page);
});
