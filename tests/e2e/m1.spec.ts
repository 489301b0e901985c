/**
 * Milestone 1 passed end to end, as a learner would: its three labs' reference solutions checked
 * through the run API (graded by the real runner), its two quizzes answered in the lesson pages,
 * and then /progress says M1 is passed and offers its certificate.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { expect, test } from "@playwright/test";
import matter from "gray-matter";
import { passByApi, signUp, uniqueEmail } from "./support";

const root = path.resolve(import.meta.dirname, "../..");

const quizLessons = ["01-processes-and-sockets", "02-event-loop"].map((name) => ({
  url: `/learn/foundations/${name.replace(/^\d+-/, "")}`,
  quiz: (matter(readFileSync(path.join(root, "content/01-foundations", `${name}.mdx`), "utf8")).data as { quiz: { answer: number }[] }).quiz,
}));

test("a learner passes M1: three labs checked through the API, two quizzes answered, and its certificate offered", async ({ page }) => {
  test.setTimeout(180_000);
  await signUp(page, uniqueEmail("m1"), "Ada Sockets");
  await expect(page.getByRole("banner").getByLabel(/^Account menu for/)).toBeVisible();

  for (const lab of ["resp-client", "tcp-line-server", "bounded-fanout"]) await passByApi(page, lab);

  for (const lesson of quizLessons) {
    await page.goto(lesson.url);
    const quiz = page.locator("#quiz");
    for (const [i, q] of lesson.quiz.entries()) await quiz.getByRole("group").nth(i).getByRole("radio").nth(q.answer).check();
    await quiz.getByRole("button", { name: /^Check my answers/ }).click();
    await expect(quiz.getByRole("status")).toHaveText(`${lesson.quiz.length} of ${lesson.quiz.length} correct — all right.`);
  }

  await page.goto("/progress");
  const m1 = page.locator("section#m1");
  for (const item of [
    "Speak a wire protocol",
    "Handle partial reads and pipelining",
    "Serve concurrent clients",
    "Bound async concurrency",
    "Know TCP, UDP and the event loop",
  ]) {
    await expect(m1.getByText(`${item} (done)`)).toBeAttached();
  }
  await expect(m1.getByText("Passed", { exact: true })).toBeVisible();
  await m1.getByRole("button", { name: "Get your M1 certificate" }).click();
  await expect(page).toHaveURL(/\/certificates\/[A-Za-z0-9_-]+$/);
  await expect(page.getByRole("heading", { level: 1, name: "Ada Sockets" })).toBeVisible();
});
