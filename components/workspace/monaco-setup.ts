"use client";

/**
 * Monaco for the lab workspace: loaded from our own origin (app/vendor/monaco serves the
 * installed monaco-editor's AMD build), never a CDN, and only when a workspace component mounts:
 * this module and @monaco-editor/react are reached only through next/dynamic, so lesson pages
 * carry none of it.
 */
import { loader } from "@monaco-editor/react";
import type * as MonacoApi from "monaco-editor";
import { useSyncExternalStore } from "react";

export type Monaco = typeof MonacoApi;

let configuredVs: string | undefined;

/** Points the loader at our copy of Monaco; must run before the first editor renders. */
export function configureMonaco(vs: string) {
  if (configuredVs === vs) return;
  configuredVs = vs;
  loader.config({ paths: { vs } });
}

export const LIGHT_THEME = "faultline-light";
export const DARK_THEME = "faultline-dark";

let themed = false;
/** Themes whose background matches the site's (white, ink-950), so the editor sits in the page. */
export function defineThemes(monaco: Monaco) {
  if (themed) return;
  themed = true;
  monaco.editor.defineTheme(LIGHT_THEME, {
    base: "vs",
    inherit: true,
    // Monaco's light colours for comments, numbers and types sit just above 4.5:1 on white and
    // fall below it on the diff view's tints; these darker ones keep 4.5:1 on every background used.
    rules: [
      { token: "comment", foreground: "006b00" },
      { token: "number", foreground: "07704a" },
      { token: "type", foreground: "1f6b80" },
      { token: "type.identifier", foreground: "1f6b80" },
    ],
    colors: {
      "editor.background": "#ffffff",
      "editorLineNumber.foreground": "#64748b",
      "editorLineNumber.activeForeground": "#0f172a",
      "diffEditor.insertedLineBackground": "#ecfdf3",
      "diffEditor.removedLineBackground": "#fef2f2",
      "diffEditor.insertedTextBackground": "#dcfce7",
      "diffEditor.removedTextBackground": "#fee2e2",
    },
  });
  monaco.editor.defineTheme(DARK_THEME, {
    base: "vs-dark",
    inherit: true,
    rules: [],
    colors: {
      "editor.background": "#0b0e14",
      "editorLineNumber.foreground": "#94a3b8",
      "editorLineNumber.activeForeground": "#f1f5f9",
      "editorGutter.background": "#0b0e14",
    },
  });
}

const isDark = () => document.documentElement.classList.contains("dark");

function subscribeToTheme(onChange: () => void) {
  const observer = new MutationObserver(onChange);
  observer.observe(document.documentElement, { attributes: true, attributeFilter: ["class"] });
  return () => observer.disconnect();
}

/** The site theme as a Monaco theme name, following `html.dark` as the toggle flips it. */
export function useMonacoTheme(): string {
  const dark = useSyncExternalStore(subscribeToTheme, isDark, () => false);
  return dark ? DARK_THEME : LIGHT_THEME;
}

export interface TypeLib {
  path: string;
  content: string;
}

let typesLoaded: string | undefined;

/**
 * The TypeScript worker as the runner sees lab code: strict, ES modules resolved like a bundler
 * (so `@faultline/lab`, `ioredis` and `node:net` all resolve), `.ts` extensions in imports, no DOM.
 */
export function configureTypeScript(monaco: Monaco, typesUrl: string) {
  const ts = monaco.typescript;
  ts.typescriptDefaults.setCompilerOptions({
    target: ts.ScriptTarget.ES2020,
    module: ts.ModuleKind.ESNext,
    // 100 is TypeScript's Bundler resolution; Monaco's enum stops at NodeJs but passes the value through.
    moduleResolution: 100 as MonacoApi.typescript.ModuleResolutionKind,
    lib: ["esnext"],
    strict: true,
    noEmit: true,
    allowImportingTsExtensions: true,
    allowNonTsExtensions: true,
    isolatedModules: true,
    esModuleInterop: true,
    skipLibCheck: true,
    types: [],
  });
  ts.typescriptDefaults.setDiagnosticsOptions({ noSemanticValidation: false, noSyntaxValidation: false });
  // Every lab file's model takes part in the program at once, so imports between tabs resolve.
  ts.typescriptDefaults.setEagerModelSync(true);
  if (typesLoaded === typesUrl) return;
  typesLoaded = typesUrl;
  void fetch(typesUrl)
    .then((r) => (r.ok ? (r.json() as Promise<{ libs: TypeLib[] }>) : Promise.reject(new Error(`types: ${r.status}`))))
    .then(({ libs }) => ts.typescriptDefaults.setExtraLibs(libs.map((l) => ({ content: l.content, filePath: l.path }))))
    .catch(() => {
      typesLoaded = undefined; // the next editor mount tries again
    });
}

/** The model URI of a lab file, the same in every editor of the page. */
export const labUri = (path: string) => `file:///lab/${path}`;
