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

export function MdxContent({ code, components }: { code: string; components: Components }) {
  // Called as a function: the compiled lesson is cached per code, not a component created per render.
  return component(code)({ components });
}
