import { readFileSync } from "node:fs";
import AxeBuilder from "@axe-core/playwright";
import { expect, type Page } from "@playwright/test";

/** No serious or critical axe violations on the page as it is now. */
export async function expectAccessible(page: Page, narrow: (axe: AxeBuilder) => AxeBuilder = (axe) => axe) {
  const results = await narrow(new AxeBuilder({ page })).analyze();
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`)).toEqual([]);
}

export async function setTheme(page: Page, theme: "light" | "dark") {
  await page.evaluate((t) => {
    localStorage.setItem("theme", t);
    document.documentElement.classList.toggle("dark", t === "dark");
  }, theme);
}

export const PASSWORD = "tidal-ember-47-quartz";
export const uniqueEmail = (who: string) => `${who}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.org`;

export async function signUp(page: Page, email: string, name: string, password = PASSWORD) {
  await page.goto("/signup");
  await page.getByLabel("Name (optional)").fill(name);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Create account" }).click();
}

export async function signOut(page: Page) {
  await page.getByRole("banner").locator("summary").click();
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByRole("link", { name: "Sign in" })).toBeVisible();
}

export async function signIn(page: Page, email: string, password = PASSWORD) {
  await page.goto("/signin");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("banner").getByLabel(/^Account menu for/)).toBeVisible();
}

/** Replaces a lab file's content the way a paste does, through the Monaco editor's own model. */
export async function paste(page: Page, path: string, text: string) {
  await page.evaluate(
    ([p, t]) => {
      const m = (
        globalThis as unknown as { monaco: { editor: { getModel(u: unknown): { setValue(v: string): void } | null }; Uri: { parse(s: string): unknown } } }
      ).monaco;
      m.editor.getModel(m.Uri.parse(`file:///lab/${p}`))!.setValue(t!);
    },
    [path, text],
  );
}

/** A lab's editable files, as the learner's reference solution would send them. */
export function solution(lab: string): Record<string, string> {
  const { files } = JSON.parse(readFileSync(`labs/${lab}/lab.json`, "utf8")) as { files: { path: string; editable?: boolean }[] };
  return Object.fromEntries(files.filter((f) => f.editable !== false).map((f) => [f.path, readFileSync(`labs/${lab}/solution/${f.path}`, "utf8")]));
}

/**
 * Checks a lab's reference solution through the run API, graded by the real runner, and waits for
 * its verdict. One at a time per learner: a newer run cancels the one still going.
 */
export async function passByApi(page: Page, lab: string) {
  const res = await page.request.post("/api/runs", { data: { lab, mode: "check", files: solution(lab) } });
  expect(res.status(), lab).toBe(202);
  const { eventsUrl } = (await res.json()) as { eventsUrl: string };
  expect(await (await page.request.get(eventsUrl, { timeout: 120_000 })).text(), lab).toContain('"type":"end","status":"pass"');
}

/** "N of N checks passed" for a lab, N read from its lab.json, so adding a check does not break a spec. */
export function allPassed(slug: string): string {
  const lab = JSON.parse(readFileSync(`labs/${slug}/lab.json`, "utf8")) as { checks: unknown[] };
  return `${lab.checks.length} of ${lab.checks.length} checks passed`;
}
