import { expect, test } from "@playwright/test";
import { expectAccessible, PASSWORD, setTheme, signIn, signOut, signUp, uniqueEmail } from "./support";

// One story in order: the data directory is fresh, so the first sign-up of the run is the admin.
test.describe.configure({ mode: "serial" });

const admin = uniqueEmail("ada");
const learner = uniqueEmail("grace");

test("the first account signs up as admin, sees the admin page, and signs out", async ({ page }) => {
  await page.goto("/signup");
  await expectAccessible(page);
  await signUp(page, admin, "Ada");
  await page.getByRole("banner").locator("summary").click();
  await expect(page.getByTestId("user-role")).toHaveText("admin");
  await page.getByRole("banner").getByRole("link", { name: "Admin" }).first().click();
  await expect(page.getByRole("heading", { name: "Admin" })).toBeVisible();
  await expect(page.getByRole("cell", { name: admin, exact: true })).toBeVisible();
  // The health section: the runner `npm start` launched, its sandbox tier and heartbeat, the queue.
  await expect(page.getByTestId("health-runners")).toHaveText(/^1 connected · 4 slots$/);
  await expect(page.getByTestId("health-checks")).toHaveText(/\d+ waiting · \d+ running/);
  await expect(page.getByTestId("health-playground-runs")).toHaveText(/\d+ waiting · \d+ running/);
  const runner = page.getByRole("table", { name: "Runner processes with a live heartbeat" }).getByRole("row").nth(1);
  await expect(runner.getByRole("cell", { name: "bubblewrap" })).toBeVisible();
  await expect(runner.getByRole("cell", { name: /s ago$/ })).toBeVisible();
  await expectAccessible(page);
  await signOut(page);
});

test("sign-up explains a taken email and a weak password", async ({ page }) => {
  await signUp(page, admin, "Copycat");
  await expect(page.getByText("An account with this email already exists")).toBeVisible();
  await signUp(page, uniqueEmail("weak"), "Weak", "password123");
  await expect(page.getByText("That password is one of the most common ones")).toBeVisible();
  await expect(page.getByLabel("Password")).toHaveAttribute("aria-invalid", "true");
});

test("a learner is refused the admin page and API with 403, not a blank page", async ({ page }) => {
  await signUp(page, learner, "Grace");
  await page.getByRole("banner").locator("summary").click();
  await expect(page.getByTestId("user-role")).toHaveText("learner");
  await expect(page.getByRole("banner").getByRole("link", { name: "Admin" })).toHaveCount(0);
  const response = await page.goto("/admin");
  expect(response?.status()).toBe(403);
  await expect(page.getByRole("heading", { name: "You do not have access to this page" })).toBeVisible();
  await expectAccessible(page);
  const api = await page.request.get("/api/admin/users");
  expect(api.status()).toBe(403);
  expect((await api.json()).error).toContain("admin role");
  await signOut(page);
  expect((await page.request.get("/api/admin/users")).status()).toBe(401);
});

test("signed out, the admin page sends you to sign in and back", async ({ page }) => {
  await page.goto("/admin");
  await expect(page).toHaveURL(/\/signin\?callbackUrl=%2Fadmin/);
  await page.getByLabel("Email").fill(admin);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/admin$/);
  await expect(page.getByRole("heading", { name: "Admin" })).toBeVisible();
});

test("a wrong password gets one message that does not say which field was wrong", async ({ page }) => {
  await page.goto("/signin");
  await setTheme(page, "dark");
  await page.reload();
  await page.getByLabel("Email").fill(learner);
  await page.getByLabel("Password").fill("not-my-password-at-all");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.locator("#main").getByRole("alert")).toHaveText("Email or password is incorrect.");
  await expectAccessible(page);
  await page.getByLabel("Email").fill("nobody-" + learner);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.locator("#main").getByRole("alert")).toHaveText("Email or password is incorrect.");
  await page.getByLabel("Email").fill(learner);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("banner").locator("summary").click();
  await expect(page.getByTestId("user-role")).toHaveText("learner");
});

test("an admin can make a learner an instructor", async ({ page }) => {
  await signIn(page, admin);
  await page.goto("/admin");
  const row = page.getByRole("row").filter({ hasText: learner });
  await row.getByLabel(`Role of ${learner}`).selectOption("instructor");
  await row.getByRole("button", { name: "Save" }).click();
  await page.reload();
  await expect(page.getByRole("row").filter({ hasText: learner }).getByLabel(`Role of ${learner}`)).toHaveValue("instructor");
});
