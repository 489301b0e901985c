"use server";

import { revalidatePath } from "next/cache";
import { redirect } from "next/navigation";
import { requirePageUser } from "@/lib/auth/session";
import { course, findLessonById } from "@/lib/content";
import { quizIndex } from "@/lib/progress/quiz-index";
import { db } from "@/lib/db";
import { answerQuiz, QuizInputError, setComplete } from "@/lib/progress/lessons";

function located(lessonId: string) {
  const found = findLessonById(lessonId);
  if (!found) redirect("/");
  return { ...found, url: `/learn/${found.milestone.slug}/${found.lesson.slug}` };
}

/** Grades the quiz on the server and comes back to it; works as a plain form post. */
export async function submitQuizAction(lessonId: string, form: FormData): Promise<void> {
  const { lesson, url } = located(lessonId);
  const user = await requirePageUser("learner", `${url}#quiz`);
  const answers = Object.fromEntries([...form.entries()].filter(([key]) => key.startsWith("q:")).map(([key, value]) => [key.slice(2), String(value)]));
  let error = "";
  try {
    await answerQuiz(db(), user.id, lessonId, lesson.frontmatter.quiz, answers, {
      milestones: course().milestones.map((m) => m.milestone),
      quizzes: quizIndex(),
    });
  } catch (e) {
    if (!(e instanceof QuizInputError)) throw e;
    error = `?quizError=${encodeURIComponent(e.message)}`;
  }
  // Without this, a redirect to the same path with only a new hash keeps the stale page.
  revalidatePath(url);
  redirect(`${url}${error}#quiz`);
}

export async function setCompleteAction(lessonId: string, complete: boolean): Promise<void> {
  const { url } = located(lessonId);
  const user = await requirePageUser("learner", url);
  await setComplete(db(), user.id, lessonId, complete);
  revalidatePath(url);
  redirect(`${url}#complete`);
}
