import type { ComponentType, ReactNode } from "react";
import * as React from "react";
import * as ReactDOM from "react-dom";
import * as jsxRuntime from "react/jsx-runtime";

type Components = Record<string, ComponentType<never>>;
type MdxComponent = (props: { components?: Components }) => ReactNode;

const cache = new Map<string, MdxComponent>();

/**
 * Renders compiled lesson code (mdx-bundler's output) on the server with this app's React, so
 * lessons are plain HTML that reads without JavaScript. The code is our own compiled content,
 * never learner input.
 */
function component(code: string): MdxComponent {
  let found = cache.get(code);
  if (!found) {
    // Same evaluation mdx-bundler's getMDXComponent does, bound to Next's React rather than a second copy.
    const fn = new Function("React", "ReactDOM", "_jsx_runtime", code) as (...args: unknown[]) => { default: MdxComponent };
    found = fn(React, ReactDOM, jsxRuntime).default;
    if (cache.size > 200) cache.clear();
    cache.set(code, found);
  }
  return found;
}

/**
 * What a lesson's author needs from an error its MDX threw while rendering: the file, and for the
 * two common mistakes (a component that does not exist, braces read as an expression) the fix.
 */
export function explainRenderError(error: unknown, components: Components, file: string): string {
  const message = error instanceof Error ? error.message : String(error);
  const component = /Expected component `?([\w.]+)`? to be defined/.exec(message)?.[1];
  if (component)
    return `${file}: <${component}> is not a component this file can use (it can use ${Object.keys(components)
      .map((c) => `<${c}>`)
      .join(", ")}).`;
  const name = /^(\w+) is not defined$/.exec(message)?.[1];
  if (name)
    return `${file}: {${name}} is an expression MDX evaluates, and nothing named ${name} is defined; to show braces as text, escape them: \\{${name}\\}.`;
  return `${file}: rendering failed: ${message}`;
}

export function MdxContent({ code, components, file }: { code: string; components: Components; file?: string }) {
  // Called as a function: the compiled lesson is cached per code, not a component created per render.
  // Its body is where MDX checks components and evaluates expressions, so errors surface here.
  try {
    return component(code)({ components });
  } catch (error) {
    if (!file) throw error;
    throw new Error(explainRenderError(error, components, file), { cause: error });
  }
}
