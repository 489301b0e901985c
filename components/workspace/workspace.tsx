"use client";

/**
 * The lab workspace: instructions | editor | run panel, side by side under the site header.
 * The instructions arrive already rendered on the server (children); Monaco and the diff view
 * load on demand through next/dynamic, so nothing of the editor ships with other pages.
 */
import type { HintsState } from "@/lib/labs/hints";
import dynamic from "next/dynamic";
import { useMemo, useRef, useState, type ReactNode } from "react";
import { Splitter } from "@/components/ui/splitter";
import { isLive } from "@/lib/runs/run-state";
import type { CodeEditorHandle, EditorFile } from "./code-editor";
import { CompareDialog } from "./compare-dialog";
import { GraderChecks } from "./grader-checks";
import { HintsSection } from "./hints-section";
import { labApi } from "./lab-api";
import { Notice } from "./notice";
import { splitterBounds } from "./panel-sizes";
import { ResetDialog } from "./reset-dialog";
import { RunPanel } from "./run-panel";
import { Toolbar } from "./toolbar";
import { useDrafts } from "./use-drafts";
import { useHints } from "./use-hints";
import { usePanelSizes } from "./use-panel-sizes";
import { useRun } from "./use-run";
import { useRunControls } from "./use-run-controls";
import { useSolution } from "./use-solution";

const CodeEditor = dynamic(() => import("./code-editor"), {
  ssr: false,
  loading: () => <p className="p-4 text-sm text-slate-600 dark:text-slate-400">Loading the editor…</p>,
});

export interface WorkspaceProps {
  lab: { id: string; slug: string; title: string };
  files: EditorFile[];
  checks: { id: string; title: string }[];
  /** The learner's draft, or the starter (signed out, or no draft yet). */
  initialFiles: Record<string, string>;
  signedIn: boolean;
  signInHref: string;
  /** The learner already passed (or teaches): "Compare with solution" shows from the start. */
  solutionAvailable: boolean;
  hints: HintsState;
  monacoVs: string;
  typesUrl: string;
  /** Server-rendered instructions. */
  children: ReactNode;
}

export function Workspace({
  lab,
  files,
  checks,
  initialFiles,
  signedIn,
  signInHref,
  solutionAvailable,
  hints: initialHints,
  monacoVs,
  typesUrl,
  children,
}: WorkspaceProps) {
  const api = labApi(lab.slug);
  const editable = useMemo(() => files.filter((f) => f.editable).map((f) => f.path), [files]);
  const { state, start, cancel } = useRun(lab.id);
  const editor = useRef<CodeEditorHandle | null>(null);
  const container = useRef<HTMLDivElement>(null);
  const [sizes, setSizes] = usePanelSizes();
  const bounds = splitterBounds(sizes);
  const [notice, setNotice] = useState<string | null>(null);
  const [confirmReset, setConfirmReset] = useState(false);

  const { drafts, save } = useDrafts({ api, signedIn, editable, initialFiles });
  const { go, goRef, lastSeed } = useRunControls({ signedIn, drafts, run: state, start });
  const hints = useHints({ api, signedIn, initial: initialHints, verdict: state.verdict, onNotice: setNotice });
  const solution = useSolution({ api, available: solutionAvailable, run: state, mine: () => drafts.current, onNotice: setNotice });

  async function reset() {
    setConfirmReset(false);
    try {
      await drafts.reset((starter) => editor.current?.replace(starter));
      setNotice("Back to the starter. Your previous code is kept in the draft history, and Undo in the editor brings it back.");
    } catch (error) {
      setNotice(`Could not reset: ${(error as Error).message}`);
    }
  }

  function checkReference() {
    solution.close();
    setNotice("Checking the reference solution. Your own code in the editor is unchanged.");
    void start("check", solution.reference(editable));
  }

  return (
    <div ref={container} className="flex h-[calc(100dvh-3.5rem-1px)] min-h-[32rem] w-full overflow-hidden">
      <section
        id="panel-instructions"
        aria-label="Instructions"
        style={{ flexBasis: `${sizes.left * 100}%` }}
        className="min-w-0 shrink-0 grow-0 overflow-y-auto px-5 py-4"
      >
        {children}
        <GraderChecks checks={checks} />
        {signedIn && hints.hints.total > 0 && (
          <HintsSection hints={hints.hints} busy={hints.busy} onNext={() => void hints.next()} sectionRef={hints.sectionRef} listRef={hints.listRef} />
        )}
      </section>

      <Splitter
        label="Resize instructions"
        controls="panel-instructions"
        value={sizes.left}
        {...bounds.left}
        onChange={(left) => setSizes({ ...sizes, left })}
        container={container}
        edge="left"
      />

      <section aria-label="Code" className="flex min-w-0 flex-1 flex-col">
        <Toolbar
          signedIn={signedIn}
          signInHref={signInHref}
          live={isLive(state.phase)}
          cancelling={state.cancelling}
          lastSeed={lastSeed}
          hints={{ shown: hints.hints.unlocked.length, total: hints.hints.total }}
          solutionOffered={solution.offered}
          save={save}
          onGo={(mode, seed) => void go(mode, seed)}
          onCancel={() => void cancel()}
          onShowHints={hints.show}
          onCompare={() => void solution.open()}
          onReset={() => setConfirmReset(true)}
        />
        {notice && <Notice message={notice} onDismiss={() => setNotice(null)} />}
        <div className="min-h-0 flex-1">
          <CodeEditor
            handleRef={editor}
            files={files}
            initial={initialFiles}
            readOnly={!signedIn}
            vs={monacoVs}
            typesUrl={typesUrl}
            diagnostics={state.diagnostics}
            onChange={(path, value) => drafts.edit(path, value)}
            onRun={() => void goRef.current("run")}
            onCheck={() => void goRef.current("check")}
          />
        </div>
      </section>

      <Splitter
        label="Resize run results"
        controls="panel-run"
        value={sizes.right}
        {...bounds.right}
        onChange={(right) => setSizes({ ...sizes, right })}
        container={container}
        edge="right"
      />

      <section id="panel-run" aria-label="Run results" style={{ flexBasis: `${sizes.right * 100}%` }} className="min-w-0 shrink-0 grow-0 overflow-hidden">
        <RunPanel state={state} checks={checks} />
      </section>

      <ResetDialog open={confirmReset} onConfirm={() => void reset()} onClose={() => setConfirmReset(false)} />
      <CompareDialog
        open={solution.isOpen}
        paths={editable}
        mine={solution.mine}
        solution={solution.solution}
        monacoVs={monacoVs}
        onCheckReference={checkReference}
        onClose={solution.close}
      />
    </div>
  );
}
