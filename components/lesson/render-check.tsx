import { renderToStaticMarkup } from "react-dom/server";
import type { ComponentType } from "react";
import { lessonComponents, type LessonContext } from "./lesson-components";
import { MdxContent } from "./mdx-content";

/**
 * Renders a compiled lesson as the page would, with the real components, for `content:check`:
 * null when it renders, otherwise what a learner would have met as a 500, said for its author.
 */
export function renderLessonProblem(code: string, ctx: LessonContext, file: string): string | null {
  return renderProblem(code, lessonComponents(ctx), file);
}

/** The same for any compiled MDX (a lab's instructions) rendered with `components`. */
export function renderProblem(code: string, components: Record<string, ComponentType<never>>, file: string): string | null {
  try {
    renderToStaticMarkup(<MdxContent code={code} components={components} />);
    return null;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const component = /Expected component `?([\w.]+)`? to be defined/.exec(message)?.[1];
    if (component) return `${file}: <${component}> is not a component this file can use (it can use ${Object.keys(components).map((c) => `<${c}>`).join(", ")}).`;
    const name = /^(\w+) is not defined$/.exec(message)?.[1];
    if (name) return `${file}: {${name}} is an expression MDX evaluates, and nothing named ${name} is defined; to show braces as text, escape them: \\{${name}\\}.`;
    return `${file}: rendering the lesson failed: ${message}`;
  }
}
