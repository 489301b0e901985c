"use client";

/**
 * The lab's files in tabs over one Monaco editor. Each file has its own model (file:///lab/<path>),
 * created up front and kept for the page's life, so imports between files resolve and each tab
 * keeps its undo history and view state when another is shown. Reached only via next/dynamic.
 */
import Editor from "@monaco-editor/react";
import type * as MonacoApi from "monaco-editor";
import { useEffect, useImperativeHandle, useLayoutEffect, useRef, useState, type KeyboardEvent, type Ref } from "react";
import { languageOf, type Diagnostic } from "@/lib/runner/files";
import { configureMonaco, configureTypeScript, defineThemes, labUri, useMonacoTheme, type Monaco } from "./monaco-setup";

export interface EditorFile {
  path: string;
  editable: boolean;
}

export interface CodeEditorHandle {
  /** Replaces files' contents as one undoable edit each (reset to starter, restoring a draft). */
  replace(files: Record<string, string>): void;
  /** Shows a file's tab and puts the cursor at a line (e.g. from a build error). */
  reveal(path: string, line?: number, column?: number): void;
}

export interface CodeEditorProps {
  files: EditorFile[];
  initial: Record<string, string>;
  /** Signed out: every file is shown read-only. */
  readOnly?: boolean;
  vs: string;
  typesUrl: string;
  diagnostics: Diagnostic[];
  onChange?(path: string, value: string): void;
  onRun?(): void;
  onCheck?(): void;
  /** Not `ref`: next/dynamic sits between the workspace and this component. */
  handleRef?: Ref<CodeEditorHandle>;
}

const LIBRARY_PREFIX = "file:///node_modules/";

export default function CodeEditor({ files, initial, readOnly = false, vs, typesUrl, diagnostics, onChange, onRun, onCheck, handleRef }: CodeEditorProps) {
  configureMonaco(vs);
  const theme = useMonacoTheme();
  const [active, setActive] = useState(files[0]!.path);
  // A library file opened by go-to-definition (e.g. ioredis's Redis.d.ts), shown read-only in its own tab.
  const [library, setLibrary] = useState<string | null>(null);
  const monacoRef = useRef<Monaco | null>(null);
  const editorRef = useRef<MonacoApi.editor.IStandaloneCodeEditor | null>(null);
  const callbacks = useRef({ onChange, onRun, onCheck });
  useLayoutEffect(() => {
    callbacks.current = { onChange, onRun, onCheck };
  });
  const tabRefs = useRef<(HTMLButtonElement | null)[]>([]);

  const showing = library ?? labUri(active);
  const activeFile = files.find((f) => f.path === active)!;
  const fileReadOnly = library !== null || readOnly || !activeFile.editable;

  function beforeMount(monaco: Monaco) {
    monacoRef.current = monaco;
    defineThemes(monaco);
    configureTypeScript(monaco, typesUrl);
    for (const file of files) {
      const uri = monaco.Uri.parse(labUri(file.path));
      if (monaco.editor.getModel(uri)) continue;
      const model = monaco.editor.createModel(initial[file.path] ?? "", languageOf(file.path), uri);
      model.onDidChangeContent(() => callbacks.current.onChange?.(file.path, model.getValue()));
    }
    // Ctrl/Cmd-click and F12 on a symbol in another file: show that file here instead of nowhere.
    monaco.editor.registerEditorOpener({
      openCodeEditor(_source, resource, selection) {
        const uri = resource.toString();
        const labFile = files.find((f) => labUri(f.path) === uri);
        if (labFile) {
          setLibrary(null);
          setActive(labFile.path);
        } else if (uri.startsWith(LIBRARY_PREFIX)) {
          setLibrary(uri);
        } else return false;
        const range =
          selection && "startLineNumber" in selection
            ? selection
            : selection
              ? { startLineNumber: selection.lineNumber, startColumn: selection.column, endLineNumber: selection.lineNumber, endColumn: selection.column }
              : null;
        if (range) {
          // After React has switched the editor to the target model.
          setTimeout(() => {
            editorRef.current?.setSelection(range);
            editorRef.current?.revealRangeInCenter(range);
          }, 0);
        }
        return true;
      },
    });
  }

  function onMount(editor: MonacoApi.editor.IStandaloneCodeEditor, monaco: Monaco) {
    editorRef.current = editor;
    editor.addCommand(monaco.KeyMod.CtrlCmd | monaco.KeyCode.Enter, () => callbacks.current.onRun?.());
    editor.addCommand(monaco.KeyMod.CtrlCmd | monaco.KeyMod.Shift | monaco.KeyCode.Enter, () => callbacks.current.onCheck?.());
  }

  // Build errors from the last run, as markers on the files they name.
  useEffect(() => {
    const monaco = monacoRef.current;
    if (!monaco) return;
    for (const file of files) {
      const model = monaco.editor.getModel(monaco.Uri.parse(labUri(file.path)));
      if (!model) continue;
      const mine = diagnostics.filter((d) => d.file === file.path || d.file.endsWith(`/${file.path}`));
      monaco.editor.setModelMarkers(
        model,
        "faultline-build",
        mine.map((d) => ({
          severity: monaco.MarkerSeverity.Error,
          message: d.message,
          source: "build",
          startLineNumber: d.line,
          startColumn: d.column,
          endLineNumber: d.line,
          endColumn: model.getLineMaxColumn(Math.min(d.line, model.getLineCount())),
        })),
      );
    }
  }, [diagnostics, files]);

  // The models belong to this component; nothing else should find stale ones after it goes.
  useEffect(
    () => () => {
      const monaco = monacoRef.current;
      if (!monaco) return;
      for (const file of files) monaco.editor.getModel(monaco.Uri.parse(labUri(file.path)))?.dispose();
    },
    [files],
  );

  useImperativeHandle(handleRef, () => ({
    replace(next) {
      const monaco = monacoRef.current;
      if (!monaco) return;
      for (const [path, text] of Object.entries(next)) {
        const model = monaco.editor.getModel(monaco.Uri.parse(labUri(path)));
        if (!model || model.getValue() === text) continue;
        model.pushStackElement();
        model.pushEditOperations([], [{ range: model.getFullModelRange(), text }], () => null);
        model.pushStackElement();
      }
    },
    reveal(path, line, column) {
      if (!files.some((f) => f.path === path)) return;
      setLibrary(null);
      setActive(path);
      if (line) {
        setTimeout(() => {
          editorRef.current?.setPosition({ lineNumber: line, column: column ?? 1 });
          editorRef.current?.revealLineInCenter(line);
          editorRef.current?.focus();
        }, 0);
      }
    },
  }));

  function onTabKey(event: KeyboardEvent<HTMLButtonElement>, index: number) {
    const count = files.length + (library ? 1 : 0);
    const to =
      event.key === "ArrowRight"
        ? (index + 1) % count
        : event.key === "ArrowLeft"
          ? (index - 1 + count) % count
          : event.key === "Home"
            ? 0
            : event.key === "End"
              ? count - 1
              : -1;
    if (to < 0) return;
    event.preventDefault();
    tabRefs.current[to]?.focus();
    if (to < files.length) {
      setLibrary(null);
      setActive(files[to]!.path);
    }
  }

  const libraryName = library?.slice(LIBRARY_PREFIX.length);
  const label = library ? `${libraryName}, library file, read-only` : `${active}${fileReadOnly ? ", read-only" : ""}`;

  return (
    <div className="flex h-full min-h-0 flex-col">
      <div
        role="tablist"
        aria-label="Lab files"
        className="flex shrink-0 items-end gap-0.5 overflow-x-auto border-b border-slate-200 bg-slate-50 px-1 pt-1 dark:border-ink-700 dark:bg-ink-900"
      >
        {files.map((file, i) => {
          const selected = library === null && file.path === active;
          const locked = readOnly || !file.editable;
          return (
            <button
              key={file.path}
              ref={(el) => {
                tabRefs.current[i] = el;
              }}
              type="button"
              role="tab"
              id={`file-tab-${file.path}`}
              aria-selected={selected}
              aria-controls="code-editor-panel"
              tabIndex={selected ? 0 : -1}
              onClick={() => {
                setLibrary(null);
                setActive(file.path);
              }}
              onKeyDown={(e) => onTabKey(e, i)}
              className={`flex items-center gap-1.5 rounded-t-md border border-b-0 px-3 py-1.5 font-mono text-xs ${selected ? "border-slate-200 bg-white text-slate-900 dark:border-ink-700 dark:bg-ink-950 dark:text-slate-100" : "border-transparent text-slate-600 hover:bg-white/60 dark:text-slate-400 dark:hover:bg-ink-800"}`}
            >
              {file.path}
              {locked && (
                <span className="flex items-center text-slate-500 dark:text-slate-400" title="Read-only">
                  <svg aria-hidden="true" viewBox="0 0 16 16" className="h-3 w-3" fill="currentColor">
                    <path d="M5 7V5a3 3 0 1 1 6 0v2h.5A1.5 1.5 0 0 1 13 8.5v5a1.5 1.5 0 0 1-1.5 1.5h-7A1.5 1.5 0 0 1 3 13.5v-5A1.5 1.5 0 0 1 4.5 7H5Zm1.5 0h3V5a1.5 1.5 0 0 0-3 0v2Z" />
                  </svg>
                  <span className="sr-only">(read-only)</span>
                </span>
              )}
            </button>
          );
        })}
        {library && (
          <span className="flex items-center rounded-t-md border border-b-0 border-slate-200 bg-white dark:border-ink-700 dark:bg-ink-950">
            <button
              ref={(el) => {
                tabRefs.current[files.length] = el;
              }}
              type="button"
              role="tab"
              aria-selected="true"
              aria-controls="code-editor-panel"
              tabIndex={0}
              onKeyDown={(e) => onTabKey(e, files.length)}
              className="px-3 py-1.5 font-mono text-xs text-slate-900 dark:text-slate-100"
              title={libraryName}
            >
              {libraryName?.split("/").pop()} <span className="text-slate-500 dark:text-slate-400">· library</span>
            </button>
            <button
              type="button"
              onClick={() => setLibrary(null)}
              aria-label={`Close ${libraryName}`}
              className="mr-1 rounded px-1 text-xs text-slate-600 hover:bg-slate-100 dark:text-slate-300 dark:hover:bg-ink-800"
            >
              <span aria-hidden="true">×</span>
            </button>
          </span>
        )}
      </div>
      <div id="code-editor-panel" role="tabpanel" aria-label={label} className="relative min-h-0 flex-1" data-readonly={fileReadOnly ? "true" : "false"}>
        <Editor
          path={showing}
          theme={theme}
          keepCurrentModel
          saveViewState
          beforeMount={beforeMount}
          onMount={onMount}
          loading={<p className="p-4 text-sm text-slate-600 dark:text-slate-400">Loading the editor…</p>}
          options={{
            readOnly: fileReadOnly,
            readOnlyMessage: {
              value: library
                ? "Library files are read-only."
                : readOnly
                  ? "Sign in to edit and run this lab."
                  : `${active} is part of the lab and read-only; your code goes in the other files.`,
            },
            ariaLabel: `Code editor: ${label}. Ctrl+Enter runs, Ctrl+Shift+Enter checks. Press Alt+F1 for accessibility help.`,
            minimap: { enabled: false },
            fontSize: 13,
            tabSize: 2,
            scrollBeyondLastLine: false,
            automaticLayout: true,
            fixedOverflowWidgets: true,
            renderLineHighlight: "line",
            padding: { top: 8 },
          }}
        />
      </div>
    </div>
  );
}
