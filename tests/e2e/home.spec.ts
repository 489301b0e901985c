import { readdirSync } from "node:fs";
import { expect, test } from "@playwright/test";
import { expectAccessible, setTheme } from "./support";

test("a newcomer sees what Faultline is and where to start, in light and dark", async ({ page }) => {
  await page.goto("/");
  await expect(page.getByRole("heading", { level: 1 })).toContainText("Build a task queue");
  await expect(page.getByRole("link", { name: "Create a free account" })).toBeVisible();
  // The e2e server teaches tests/fixtures/course: the eight milestones of content/ plus a drill.
  await expect(page.locator("#course li")).toHaveCount(readdirSync("tests/fixtures/course").length);
  await expect(page.locator("#course li").first()).toContainText("Foundations");
  await expectAccessible(page);
  await setTheme(page, "dark");
  await page.reload();
  await expect(page.locator("html")).toHaveClass(/dark/);
  await expectAccessible(page);
});

test("the theme toggle switches themes and the choice survives a reload", async ({ page }) => {
  await page.goto("/");
  const toggle = page.getByRole("button", { name: /theme/ });
  await toggle.click(); // system -> light
  await toggle.click(); // light -> dark
  await expect(page.locator("html")).toHaveClass(/dark/);
  await page.reload();
  await expect(page.locator("html")).toHaveClass(/dark/);
  await expect(page.getByRole("button", { name: /^Dark theme/ })).toBeVisible();
});

test("keyboard users can skip to the content and reach sign-up", async ({ page }) => {
  await page.goto("/");
  await page.keyboard.press("Tab");
  await expect(page.getByRole("link", { name: "Skip to content" })).toBeFocused();
  const signUp = page.getByRole("banner").getByRole("link", { name: "Sign up" });
  for (let i = 0; i < 10 && !(await signUp.evaluate((el) => el === document.activeElement)); i++) await page.keyboard.press("Tab");
  await expect(signUp).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/signup$/);
});

test("an unknown page answers 404 with a way back", async ({ page }) => {
  const response = await page.goto("/no-such-lesson");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "This page is not here" })).toBeVisible();
  await expectAccessible(page);
});

test("health and readiness answer for monitoring", async ({ request }) => {
  expect((await request.get("/api/health")).status()).toBe(200);
  const ready = await request.get("/api/ready");
  expect(ready.status()).toBe(200);
  expect(await ready.json()).toMatchObject({ ready: true, checks: { database: "ok", redis: "ok" } });
});
