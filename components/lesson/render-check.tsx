import { renderToStaticMarkup } from "react-dom/server";
import type { ComponentType } from "react";
import type { Course } from "@/lib/content/loader";
import { compileLesson } from "@/lib/content/compile";
import type { LoadedLab } from "@/lib/labs/loader";
import { labPageMarkdown } from "@/lib/labs/page-content";
import { instructionComponents, lessonComponents } from "./lesson-components";
import { explainRenderError, MdxContent } from "./mdx-content";

/**
 * Renders compiled MDX as its page would, with that page's components: null when it renders,
 * otherwise what a learner would have met as a 500, said for its author.
 */
function renderProblem(code: string, components: Record<string, ComponentType<never>>, file: string): string | null {
  try {
    renderToStaticMarkup(<MdxContent code={code} components={components} />);
    return null;
  } catch (error) {
    return explainRenderError(error, components, file);
  }
}

/**
 * Compiles and renders every lesson and lab's instructions as their pages do (content:check, and
 * `npm start` before it serves): an unknown component or an undefined expression compiles fine
 * and only fails when a learner opens the page. `cacheDir` keeps the compiled lessons for the
 * web server, which then compiles nothing on first view. Empty when every page renders.
 */
export async function renderCourseProblems(course: Course, loadedLabs: LoadedLab[], cacheDir?: string): Promise<string[]> {
  const labs = new Map(loadedLabs.map(({ lab }) => [lab.id, lab]));
  const failures: string[] = [];
  for (const { milestone, lessons } of course.milestones) {
    for (const lesson of lessons) {
      const fm = lesson.frontmatter;
      const ctx = { labs, milestone, grade: null, quiz: { questions: fm.quiz, answers: new Map(), signedIn: false, action: async () => {}, returnTo: "/" } };
      await compileLesson(lesson.body, lesson.file, cacheDir).then(
        (code) => void failures.push(...[renderProblem(code, lessonComponents(ctx), lesson.file)].filter((p) => p !== null)),
        (error: Error) => void failures.push(error.message),
      );
    }
  }
  for (const found of loadedLabs) {
    const file = `labs/${found.lab.slug}/instructions.md`;
    await compileLesson(labPageMarkdown(found), file, cacheDir).then(
      (code) => void failures.push(...[renderProblem(code, instructionComponents, file)].filter((p) => p !== null)),
      (error: Error) => void failures.push(error.message),
    );
  }
  return failures;
}
