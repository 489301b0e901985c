"use client";

/**
 * The learner's files beside the reference solution, one file at a time, in Monaco's diff editor.
 * Shown only after a pass (the solution is not sent before); reached only via next/dynamic.
 */
import { DiffEditor } from "@monaco-editor/react";
import type * as MonacoApi from "monaco-editor";
import { useEffect, useRef, useState } from "react";
import { languageOf } from "@/lib/runner/files";
import { configureMonaco, defineThemes, useMonacoTheme, type Monaco } from "./monaco-setup";

export interface DiffViewProps {
  paths: string[];
  mine: Record<string, string>;
  solution: Record<string, string>;
  vs: string;
}

export default function DiffView({ paths, mine, solution, vs }: DiffViewProps) {
  configureMonaco(vs);
  const theme = useMonacoTheme();
  const [active, setActive] = useState(paths[0]!);
  const monacoRef = useRef<Monaco | null>(null);
  const [diffEditor, setDiffEditor] = useState<MonacoApi.editor.IStandaloneDiffEditor | null>(null);
  // The diff editor does not hand its aria labels on to the inputs of its two inner editors. They
  // are set on mount too, in the same task that created the inputs, so no moment exists in which
  // an input has an empty label (an effect would run a render later).
  const label = (diff: MonacoApi.editor.IStandaloneDiffEditor, path: string) => {
    diff.getOriginalEditor().updateOptions({ ariaLabel: `${path}, your code (read-only)` });
    diff.getModifiedEditor().updateOptions({ ariaLabel: `${path}, reference solution (read-only)` });
  };
  useEffect(() => {
    if (diffEditor) label(diffEditor, active);
  }, [active, diffEditor]);
  // The diff editor keeps its models (disposing them first makes it throw while it unmounts); they
  // go once it has, so reopening the comparison shows the code as it is then.
  useEffect(
    () => () => {
      setTimeout(() => {
        for (const model of monacoRef.current?.editor.getModels() ?? []) if (model.uri.path.startsWith("/compare/")) model.dispose();
      }, 0);
    },
    [],
  );
  return (
    <div className="flex h-full min-h-0 flex-col">
      <div className="flex shrink-0 flex-wrap items-center gap-2 border-b border-slate-200 px-3 py-2 text-sm dark:border-ink-700">
        <div role="tablist" aria-label="Files to compare" className="flex gap-1">
          {paths.map((p) => (
            <button
              key={p}
              type="button"
              role="tab"
              aria-selected={p === active}
              aria-controls="diff-panel"
              tabIndex={p === active ? 0 : -1}
              onClick={() => setActive(p)}
              onKeyDown={(e) => {
                const i = paths.indexOf(p);
                const to = e.key === "ArrowRight" ? (i + 1) % paths.length : e.key === "ArrowLeft" ? (i - 1 + paths.length) % paths.length : -1;
                if (to < 0) return;
                e.preventDefault();
                setActive(paths[to]!);
                (e.currentTarget.parentElement?.children[to] as HTMLElement | undefined)?.focus();
              }}
              className={`rounded px-2 py-1 font-mono text-xs ${p === active ? "bg-slate-200 text-slate-900 dark:bg-ink-700 dark:text-slate-100" : "text-slate-600 hover:bg-slate-100 dark:text-slate-300 dark:hover:bg-ink-800"}`}
            >
              {p}
              {mine[p] === solution[p] && <span className="ml-1 text-slate-700 dark:text-slate-300">(same)</span>}
            </button>
          ))}
        </div>
        <p className="ml-auto text-xs text-slate-600 dark:text-slate-400">
          Left: <strong>your code</strong> · Right: <strong>reference solution</strong>
        </p>
      </div>
      <div id="diff-panel" role="tabpanel" aria-label={`${active}: your code compared with the reference solution`} className="min-h-0 flex-1">
        <DiffEditor
          original={mine[active] ?? ""}
          modified={solution[active] ?? ""}
          originalModelPath={`file:///compare/mine/${active}`}
          modifiedModelPath={`file:///compare/solution/${active}`}
          language={languageOf(active)}
          theme={theme}
          keepCurrentOriginalModel
          keepCurrentModifiedModel
          onMount={(diff) => {
            label(diff, active);
            setDiffEditor(diff);
          }}
          beforeMount={(monaco) => {
            monacoRef.current = monaco;
            defineThemes(monaco);
          }}
          loading={<p className="p-4 text-sm text-slate-600 dark:text-slate-400">Loading the comparison…</p>}
          options={{
            readOnly: true,
            originalEditable: false,
            renderSideBySide: true,
            minimap: { enabled: false },
            fontSize: 13,
            scrollBeyondLastLine: false,
            automaticLayout: true,
            ariaLabel: `${active}: differences between your code and the reference solution`,
            originalAriaLabel: `${active}, your code`,
            modifiedAriaLabel: `${active}, reference solution`,
          }}
        />
      </div>
    </div>
  );
}
