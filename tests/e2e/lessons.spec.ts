import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { expect, test, type Page } from "@playwright/test";
import matter from "gray-matter";
import { expectAccessible, setTheme, signUp, uniqueEmail } from "./support";

/** The first M1 lesson as the learner will meet it, read from its file so the test follows edits. */
const dir = path.resolve(import.meta.dirname, "../../content/01-foundations");
const file = readdirSync(dir)
  .filter((f) => f.endsWith(".mdx"))
  .sort()[0]!;
const lesson = matter(readFileSync(path.join(dir, file), "utf8")).data as {
  title: string;
  quiz: { prompt: string; choices: string[]; answer: number }[];
};
const lessonUrl = `/learn/foundations/${file.replace(/^\d+-/, "").replace(/\.mdx$/, "")}`;

async function answer(page: Page, pick: (q: (typeof lesson.quiz)[number], i: number) => number) {
  const quiz = page.locator("#quiz");
  for (const [i, q] of lesson.quiz.entries()) {
    const group = quiz.getByRole("group").nth(i);
    await group.getByRole("radio").nth(pick(q, i)).check();
  }
  await quiz.getByRole("button", { name: /^Check my answers/ }).click();
}

test("a learner reads an M1 lesson, answers its quiz, completes it and finds it all kept", async ({ page }) => {
  test.setTimeout(90_000); // four axe passes over long pages
  await signUp(page, uniqueEmail("reader"), "Ada Reader");
  await expect(page.getByRole("banner").getByLabel(/^Account menu for/)).toBeVisible();
  await page.goto("/");
  await page
    .locator("#course")
    .getByRole("link", { name: /Foundations/ })
    .first()
    .click();
  await expect(page.getByRole("heading", { level: 1 })).toContainText("Foundations");
  await expect(page.getByRole("heading", { name: "M1 checklist" })).toBeVisible();
  await expectAccessible(page);

  await page.getByRole("link", { name: new RegExp(lesson.title) }).click();
  await expect(page).toHaveURL(new RegExp(`${lessonUrl}$`));
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(lesson.title);
  await expect(page.getByText("You will be able to")).toBeVisible();
  await expect(page.getByRole("navigation", { name: /On this page/i })).toBeVisible();
  await expect(page.locator(".lesson-prose pre code").first()).toBeVisible();
  await expectAccessible(page);

  // Every answer right but the last: the learner sees which were right, and why.
  const last = lesson.quiz.length - 1;
  await answer(page, (q, i) => (i === last ? (q.answer + 1) % q.choices.length : q.answer));
  const quiz = page.locator("#quiz");
  await expect(quiz.getByRole("status")).toHaveText(`${last} of ${lesson.quiz.length} correct; try the others again.`);
  await expect(quiz.getByText("Not quite.")).toHaveCount(1);
  await expect(quiz.getByText("Right.")).toHaveCount(last);
  await answer(page, (q) => q.answer);
  await expect(quiz.getByRole("status")).toHaveText(`${lesson.quiz.length} of ${lesson.quiz.length} correct — all right.`);

  await page.getByRole("button", { name: "Mark lesson complete" }).click();
  await expect(page.locator("#complete").getByRole("status")).toHaveText("You completed this lesson.");

  await page.getByRole("navigation", { name: "Breadcrumb" }).getByRole("link", { name: /M1/ }).click();
  const row = page.getByRole("link", { name: new RegExp(lesson.title) });
  await expect(row).toContainText("Completed");
  await expect(page.getByText(/^1 of \d+ lessons read/)).toBeVisible();

  await page.reload();
  await expect(page.getByRole("link", { name: new RegExp(lesson.title) })).toContainText("Completed");
  await page.goto(lessonUrl);
  await expect(page.locator("#quiz").getByRole("status")).toContainText("all right");

  // Back on the course home, the learner is offered the way back in.
  await page.goto("/");
  await expect(page.getByText("Continue where you left off").first()).toBeVisible();

  await setTheme(page, "dark");
  await page.goto(lessonUrl);
  await expect(page.locator("html")).toHaveClass(/dark/);
  await expectAccessible(page);
});

test("a lesson reads without JavaScript, code highlighted, and asks a visitor to sign in to answer", async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(lessonUrl);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(lesson.title);
  // Highlighted at compile time: tokens carry their colours in the HTML.
  await expect(page.locator(".lesson-prose pre span[style*='--shiki']").first()).toBeAttached();
  await expect(page.locator("#quiz").getByRole("link", { name: "Sign in" })).toHaveAttribute("href", `/signin?callbackUrl=${encodeURIComponent(lessonUrl)}`);
  await context.close();
});

test("a milestone without lessons says they are in preparation and still shows its checklist", async ({ page }) => {
  await page.goto("/learn/scale");
  await expect(page.getByText("The lessons of this milestone are in preparation.")).toBeVisible();
  await expect(page.getByRole("heading", { name: "M7 checklist" })).toBeVisible();
  await expect(page.getByText("In preparation").first()).toBeVisible();
});

/** Lessons whose diagrams are inline SVG written by hand: every one of M4 and M6, the first of M2 and M3. */
const lessonsIn = (folder: string, count = Infinity) =>
  readdirSync(path.resolve(import.meta.dirname, "../../content", folder))
    .filter((f) => f.endsWith(".mdx"))
    .sort()
    .slice(0, count)
    .map((f) => `/learn/${folder.replace(/^\d+-/, "")}/${f.replace(/^\d+-/, "").replace(/\.mdx$/, "")}`);

const sweeps: [string, string[]][] = [
  ["the M6 lessons and the first of M2 and M3", [...lessonsIn("02-containers", 1), ...lessonsIn("03-observability", 1), ...lessonsIn("06-security")]],
  ["the M4 lessons", lessonsIn("04-resilience")],
];

for (const [which, urls] of sweeps) {
  test(`${which} render their diagrams and pass axe in the dark theme`, async ({ page }) => {
    test.setTimeout(120_000);
    expect(urls.length).toBeGreaterThan(0);
    for (const url of urls) {
      await page.goto(url);
      await expect(page.locator("article svg[role=img]").first(), url).toBeVisible();
      await setTheme(page, "dark");
      // Code blocks are highlighted by one theme checked on the M1 lesson above; leaving their
      // thousands of token spans out keeps axe quick.
      await expectAccessible(page, (axe) => axe.exclude("article pre"));
    }
  });
}
