"use client";

/**
 * The lab workspace: instructions | editor | run panel, side by side under the site header.
 * The instructions arrive already rendered on the server (children); Monaco and the diff view
 * load on demand through next/dynamic, so nothing of the editor ships with other pages.
 */
import type { HintsState } from "@/lib/labs/hints";
import dynamic from "next/dynamic";
import Link from "next/link";
import {
  useCallback,
  useEffect,
  useLayoutEffect,
  useMemo,
  useRef,
  useState,
  useSyncExternalStore,
  type KeyboardEvent as ReactKeyboardEvent,
  type PointerEvent as ReactPointerEvent,
  type ReactNode,
  type RefObject,
} from "react";
import { isLive } from "@/lib/runs/run-state";
import type { CodeEditorHandle, EditorFile } from "./code-editor";
import { RunPanel } from "./run-panel";
import { useRun } from "./use-run";

const CodeEditor = dynamic(() => import("./code-editor"), {
  ssr: false,
  loading: () => <p className="p-4 text-sm text-slate-600 dark:text-slate-400">Loading the editor…</p>,
});
const DiffView = dynamic(() => import("./diff-view"), {
  ssr: false,
  loading: () => <p className="p-4 text-sm text-slate-600 dark:text-slate-400">Loading the comparison…</p>,
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

type SaveStatus = "saved" | "pending" | "saving" | "offline";
const SAVE_DEBOUNCE_MS = 800;
const SAVE_RETRY_MS = 5000;

// Panel widths as fractions of the workspace, so they carry across window sizes.
const SIZES_KEY = "faultline:workspace:panels";
const DEFAULT_SIZES = { left: 0.26, right: 0.32 };
const MIN = { left: 0.15, right: 0.2, centre: 0.3 };
const STEP = 0.02;

function clampSizes(s: { left: number; right: number }) {
  const left = Math.min(Math.max(s.left, MIN.left), 1 - MIN.centre - MIN.right);
  const right = Math.min(Math.max(s.right, MIN.right), 1 - MIN.centre - left);
  return { left, right };
}

const sizeListeners = new Set<() => void>();
function subscribeToSizes(listener: () => void) {
  sizeListeners.add(listener);
  window.addEventListener("storage", listener);
  return () => {
    sizeListeners.delete(listener);
    window.removeEventListener("storage", listener);
  };
}

/** Panel sizes, remembered in localStorage; the server (and first paint) use the defaults. */
function usePanelSizes() {
  const raw = useSyncExternalStore(
    subscribeToSizes,
    () => localStorage.getItem(SIZES_KEY),
    () => null,
  );
  const sizes = useMemo(() => {
    try {
      const saved = JSON.parse(raw ?? "null") as { left?: unknown; right?: unknown } | null;
      if (saved && typeof saved.left === "number" && typeof saved.right === "number") return clampSizes({ left: saved.left, right: saved.right });
    } catch {
      // A corrupt entry just means the default layout.
    }
    return DEFAULT_SIZES;
  }, [raw]);
  const update = useCallback((next: { left: number; right: number }) => {
    localStorage.setItem(SIZES_KEY, JSON.stringify(clampSizes(next)));
    sizeListeners.forEach((l) => l());
  }, []);
  return [sizes, update] as const;
}

/** A keyboard-operable vertical splitter (WAI-ARIA window splitter pattern). */
function Splitter({
  label,
  controls,
  value,
  min,
  max,
  onChange,
  container,
  edge,
}: {
  label: string;
  controls: string;
  value: number;
  min: number;
  max: number;
  onChange(v: number): void;
  container: RefObject<HTMLDivElement | null>;
  edge: "left" | "right";
}) {
  const onKeyDown = (e: ReactKeyboardEvent) => {
    const grow = edge === "left" ? 1 : -1;
    const next =
      e.key === "ArrowRight" ? value + STEP * grow : e.key === "ArrowLeft" ? value - STEP * grow : e.key === "Home" ? min : e.key === "End" ? max : null;
    if (next === null) return;
    e.preventDefault();
    onChange(Math.min(max, Math.max(min, next)));
  };
  const onPointerDown = (e: ReactPointerEvent<HTMLDivElement>) => {
    const box = container.current?.getBoundingClientRect();
    if (!box) return;
    e.preventDefault();
    const target = e.currentTarget;
    target.setPointerCapture(e.pointerId);
    const move = (ev: PointerEvent) => {
      const fraction = edge === "left" ? (ev.clientX - box.left) / box.width : (box.right - ev.clientX) / box.width;
      onChange(Math.min(max, Math.max(min, fraction)));
    };
    const up = () => {
      target.removeEventListener("pointermove", move);
      target.removeEventListener("pointerup", up);
      target.removeEventListener("pointercancel", up);
    };
    target.addEventListener("pointermove", move);
    target.addEventListener("pointerup", up);
    target.addEventListener("pointercancel", up);
  };
  return (
    <div
      role="separator"
      aria-orientation="vertical"
      aria-label={label}
      aria-controls={controls}
      aria-valuenow={Math.round(value * 100)}
      aria-valuemin={Math.round(min * 100)}
      aria-valuemax={Math.round(max * 100)}
      tabIndex={0}
      onKeyDown={onKeyDown}
      onPointerDown={onPointerDown}
      className="group relative w-1.5 shrink-0 cursor-col-resize touch-none bg-slate-200 hover:bg-brand-500 focus-visible:bg-brand-500 dark:bg-ink-800 dark:hover:bg-brand-500"
    >
      <span
        aria-hidden="true"
        className="absolute left-1/2 top-1/2 h-8 w-0.5 -translate-x-1/2 -translate-y-1/2 rounded bg-slate-400 group-hover:bg-white dark:bg-ink-700"
      />
    </div>
  );
}

/** A modal confirmation on the native <dialog>: focus moves in, Escape closes, focus returns. */
function ConfirmDialog({
  open,
  title,
  children,
  confirmLabel,
  onConfirm,
  onClose,
}: {
  open: boolean;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  onConfirm(): void;
  onClose(): void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog
      ref={ref}
      onClose={onClose}
      aria-labelledby="confirm-title"
      className="m-auto max-w-md rounded-xl border border-slate-200 bg-white p-6 text-slate-900 shadow-xl backdrop:bg-black/40 dark:border-ink-700 dark:bg-ink-900 dark:text-slate-100"
    >
      <h2 id="confirm-title" className="text-lg font-semibold">
        {title}
      </h2>
      <div className="mt-2 text-sm text-slate-700 dark:text-slate-300">{children}</div>
      <div className="mt-5 flex justify-end gap-2">
        <button type="button" autoFocus onClick={onClose} className={secondaryButton}>
          Cancel
        </button>
        <button type="button" onClick={onConfirm} className="rounded-md bg-red-700 px-3 py-1.5 text-sm font-medium text-white hover:bg-red-800">
          {confirmLabel}
        </button>
      </div>
    </dialog>
  );
}

const primaryButton =
  "inline-flex items-center gap-1.5 rounded-md bg-brand-700 px-3 py-1.5 text-sm font-medium text-white hover:bg-brand-800 disabled:opacity-50";
const secondaryButton =
  "inline-flex items-center gap-1.5 rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium text-slate-800 hover:bg-slate-50 disabled:opacity-50 dark:border-ink-700 dark:bg-ink-900 dark:text-slate-100 dark:hover:bg-ink-800";
const smallButton =
  "inline-flex items-center rounded-md border border-slate-300 bg-white px-2 py-1 text-xs font-medium text-slate-800 hover:bg-slate-50 disabled:opacity-50 dark:border-ink-700 dark:bg-ink-900 dark:text-slate-100 dark:hover:bg-ink-800";
// Shortcut hints only where the toolbar has room; the buttons' titles and aria-keyshortcuts carry them anyway.
const kbd = "hidden rounded border border-current/30 px-1 font-mono text-[0.65rem] opacity-80 2xl:inline";

const saveText: Record<SaveStatus, string> = { saved: "Saved", pending: "Unsaved changes", saving: "Saving…", offline: "Offline — will retry" };

async function json<T>(response: Response): Promise<T> {
  if (!response.ok) {
    const body = (await response.json().catch(() => null)) as { error?: string } | null;
    throw new Error(body?.error ?? `The server answered ${response.status}.`);
  }
  return (await response.json()) as T;
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
  const { state, start, cancel } = useRun(lab.id);
  const editor = useRef<CodeEditorHandle | null>(null);
  const container = useRef<HTMLDivElement>(null);
  const [sizes, setSizes] = usePanelSizes();
  const editable = files.filter((f) => f.editable).map((f) => f.path);
  const api = `/api/labs/${encodeURIComponent(lab.slug)}`;

  // ---- drafts: the editor is the source of truth; the server gets a debounced copy.
  const current = useRef<Record<string, string>>(initialFiles);
  const dirty = useRef(false);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const [saveStatus, setSaveStatus] = useState<SaveStatus>("saved");
  const [saveError, setSaveError] = useState<string | null>(null);

  const editableFiles = useCallback(() => Object.fromEntries(editable.map((p) => [p, current.current[p] ?? ""])), [editable]);

  const saveRef = useRef<() => Promise<void>>(async () => {});
  const save = useCallback(async () => {
    clearTimeout(timer.current);
    if (!signedIn || !dirty.current) return;
    dirty.current = false;
    setSaveStatus("saving");
    try {
      await json(
        await fetch(`${api}/draft`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ files: editableFiles() }) }),
      );
      setSaveError(null);
      setSaveStatus(dirty.current ? "pending" : "saved");
    } catch (error) {
      dirty.current = true;
      setSaveStatus("offline");
      setSaveError(error instanceof TypeError ? null : (error as Error).message);
      timer.current = setTimeout(() => void saveRef.current(), SAVE_RETRY_MS);
    }
  }, [api, editableFiles, signedIn]);
  useLayoutEffect(() => {
    saveRef.current = save;
  }, [save]);

  const onChange = useCallback(
    (path: string, value: string) => {
      if (current.current[path] === value) return;
      current.current = { ...current.current, [path]: value };
      if (!signedIn || !editable.includes(path)) return;
      dirty.current = true;
      setSaveStatus((s) => (s === "offline" ? s : "pending"));
      clearTimeout(timer.current);
      timer.current = setTimeout(() => void save(), SAVE_DEBOUNCE_MS);
    },
    [editable, save, signedIn],
  );

  useEffect(() => {
    const online = () => void save();
    // Leaving the page: one last save that outlives it.
    const hide = () => {
      if (!dirty.current || !signedIn) return;
      dirty.current = false;
      void fetch(`${api}/draft`, {
        method: "PUT",
        keepalive: true,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ files: editableFiles() }),
      });
    };
    window.addEventListener("online", online);
    window.addEventListener("pagehide", hide);
    return () => {
      window.removeEventListener("online", online);
      window.removeEventListener("pagehide", hide);
    };
  }, [api, editableFiles, save, signedIn]);

  // ---- runs
  const live = isLive(state.phase);
  const [lastSeed, setLastSeed] = useState<number | null>(null);
  const [passed, setPassed] = useState(solutionAvailable);
  // A graded run just ended: remember its seed, and whether it opened the solution (a replay of
  // a seed the learner chose never does).
  const [seenVerdict, setSeenVerdict] = useState(state.verdict);
  if (state.verdict !== seenVerdict) {
    setSeenVerdict(state.verdict);
    if (state.mode === "check" && state.verdict) {
      setLastSeed(state.verdict.seed);
      if (state.verdict.status === "pass" && !state.replay) setPassed(true);
    }
  }

  const go = useCallback(
    async (mode: "run" | "check", seed?: number) => {
      if (!signedIn) return;
      void save();
      // Pressing again while a run is live restarts it: useRun cancels the one in progress first.
      await start(mode, editableFiles(), seed);
    },
    [editableFiles, save, signedIn, start],
  );
  const goRef = useRef(go);
  useLayoutEffect(() => {
    goRef.current = go;
  }, [go]);

  // Ctrl/Cmd+Enter and Ctrl/Cmd+Shift+Enter anywhere on the page; inside Monaco the editor's own
  // commands handle them first and mark the event handled.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.defaultPrevented || e.key !== "Enter" || !(e.ctrlKey || e.metaKey) || e.altKey) return;
      e.preventDefault();
      void goRef.current(e.shiftKey ? "check" : "run");
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  // ---- reset
  const [confirmReset, setConfirmReset] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  async function reset() {
    setConfirmReset(false);
    try {
      clearTimeout(timer.current);
      const draft = await json<{ files: Record<string, string> }>(await fetch(`${api}/draft/reset`, { method: "POST" }));
      editor.current?.replace(Object.fromEntries(editable.map((p) => [p, draft.files[p] ?? ""])));
      current.current = { ...current.current, ...draft.files };
      dirty.current = false;
      setSaveStatus("saved");
      setNotice("Back to the starter. Your previous code is kept in the draft history, and Undo in the editor brings it back.");
    } catch (error) {
      setNotice(`Could not reset: ${(error as Error).message}`);
    }
  }

  // ---- hints
  const [hints, setHints] = useState(initialHints);
  const [hintBusy, setHintBusy] = useState(false);
  const hintsRef = useRef<HTMLOListElement>(null);
  const hintsSection = useRef<HTMLElement>(null);
  function showHints() {
    hintsSection.current?.scrollIntoView({ behavior: "smooth", block: "start" });
    hintsSection.current?.focus({ preventScroll: true });
  }
  // A graded run that fails (or passes) may be the one that opens the last hint: ask again when one ends.
  const hintsApi = `${api}/hints`;
  const verdictSeen = seenVerdict;
  const lockedFor = hints.finalLockedFor;
  useEffect(() => {
    if (!signedIn || lockedFor === 0 || !verdictSeen) return;
    const controller = new AbortController();
    fetch(hintsApi, { signal: controller.signal })
      .then((response) => json<HintsState>(response))
      .then(setHints, () => {});
    return () => controller.abort();
  }, [verdictSeen, lockedFor, hintsApi, signedIn]);
  async function nextHint() {
    setHintBusy(true);
    try {
      setHints(await json<HintsState>(await fetch(`${api}/hints`, { method: "POST" })));
      setTimeout(() => (hintsRef.current?.lastElementChild as HTMLElement | null)?.focus(), 0);
    } catch (error) {
      setNotice(`Could not show a hint: ${(error as Error).message}`);
    } finally {
      setHintBusy(false);
    }
  }

  // ---- solution
  const [solution, setSolution] = useState<Record<string, string> | null>(null);
  const [mineAtCompare, setMineAtCompare] = useState<Record<string, string>>({});
  const [compareOpen, setCompareOpen] = useState(false);
  const compareRef = useRef<HTMLDialogElement>(null);
  async function compare() {
    try {
      const body = solution ?? (await json<{ files: Record<string, string> }>(await fetch(`${api}/solution`))).files;
      setSolution(body);
      setMineAtCompare(current.current);
      setCompareOpen(true);
    } catch (error) {
      setNotice((error as Error).message);
    }
  }
  useEffect(() => {
    const dialog = compareRef.current;
    if (!dialog) return;
    if (compareOpen && !dialog.open) dialog.showModal();
    if (!compareOpen && dialog.open) dialog.close();
  }, [compareOpen]);

  const runLabel = live ? "Restart run" : "Run";
  const checkLabel = live ? "Restart check" : "Check";

  return (
    <div ref={container} className="flex h-[calc(100dvh-3.5rem-1px)] min-h-[32rem] w-full overflow-hidden">
      <section
        id="panel-instructions"
        aria-label="Instructions"
        style={{ flexBasis: `${sizes.left * 100}%` }}
        className="min-w-0 shrink-0 grow-0 overflow-y-auto px-5 py-4"
      >
        {children}
        <section aria-labelledby="grader-checks" className="mt-8 rounded-lg border border-slate-200 p-4 dark:border-ink-700">
          <h2 id="grader-checks" className="font-semibold">
            What the grader checks
          </h2>
          <ol className="mt-2 space-y-1.5 text-sm">
            {checks.map((c, i) => (
              <li key={c.id} className="flex gap-2">
                <span className="font-mono text-slate-600 dark:text-slate-400">{i + 1}.</span>
                <span>{c.title}</span>
              </li>
            ))}
          </ol>
        </section>
        {signedIn && hints.total > 0 && (
          <section ref={hintsSection} tabIndex={-1} aria-labelledby="hints-title" className="mt-6 rounded-lg border border-slate-200 p-4 dark:border-ink-700">
            <h2 id="hints-title" className="font-semibold">
              Hints{" "}
              <span className="text-sm font-normal text-slate-600 dark:text-slate-400">
                ({hints.unlocked.length} of {hints.total} shown)
              </span>
            </h2>
            {hints.unlocked.length > 0 && (
              <ol ref={hintsRef} className="mt-2 list-decimal space-y-2 pl-5 text-sm">
                {hints.unlocked.map((h, i) => (
                  <li key={i} tabIndex={-1}>
                    {h}
                  </li>
                ))}
              </ol>
            )}
            {hints.unlocked.length < hints.total &&
              (hints.unlocked.length === hints.total - 1 && hints.finalLockedFor > 0 ? (
                <p className="mt-3 text-sm text-slate-600 dark:text-slate-400">
                  The last hint is close to the answer, so it opens after you have tried: {hints.finalLockedFor} more failed check
                  {hints.finalLockedFor === 1 ? "" : "s"} to go (or pass the lab).
                </p>
              ) : (
                <button type="button" onClick={() => void nextHint()} disabled={hintBusy} className={`${secondaryButton} mt-3`}>
                  {hints.unlocked.length === 0 ? "Show a hint" : "Show the next hint"}
                </button>
              ))}
          </section>
        )}
      </section>

      <Splitter
        label="Resize instructions"
        controls="panel-instructions"
        value={sizes.left}
        min={MIN.left}
        max={1 - MIN.centre - sizes.right}
        onChange={(left) => setSizes({ ...sizes, left })}
        container={container}
        edge="left"
      />

      <section aria-label="Code" className="flex min-w-0 flex-1 flex-col">
        <div
          role="toolbar"
          aria-label="Lab actions"
          className="flex shrink-0 flex-wrap items-center gap-2 border-b border-slate-200 px-3 py-2 dark:border-ink-700"
        >
          {signedIn ? (
            <>
              <button
                type="button"
                onClick={() => void go("run")}
                className={primaryButton}
                aria-keyshortcuts="Control+Enter Meta+Enter"
                title="Run your program (Ctrl/Cmd+Enter)"
              >
                <span aria-hidden="true">▶</span> {runLabel}{" "}
                <kbd className={kbd} aria-hidden="true">
                  ⌃↵
                </kbd>
              </button>
              <button
                type="button"
                onClick={() => void go("check")}
                className={primaryButton}
                aria-keyshortcuts="Control+Shift+Enter Meta+Shift+Enter"
                title="Grade your code against every check (Ctrl/Cmd+Shift+Enter)"
              >
                <span aria-hidden="true">✓</span> {checkLabel}{" "}
                <kbd className={kbd} aria-hidden="true">
                  ⌃⇧↵
                </kbd>
              </button>
              <button type="button" onClick={() => void cancel()} disabled={!live || state.cancelling} className={smallButton}>
                Cancel
              </button>
              {lastSeed !== null && (
                <span className="flex items-center gap-1 text-xs text-slate-700 dark:text-slate-300">
                  <span>
                    Seed <code className="font-mono">{lastSeed}</code>
                  </span>
                  <button
                    type="button"
                    onClick={() => void go("check", lastSeed)}
                    aria-label={`Re-run with seed ${lastSeed}`}
                    title="Check again with the same faults and timings, to reproduce this result. A replay of a seed you chose is for debugging: it does not count toward progress or open the solution."
                    className="rounded px-1 py-0.5 font-medium text-brand-700 underline underline-offset-2 hover:bg-slate-100 dark:text-brand-400 dark:hover:bg-ink-800"
                  >
                    Re-run
                  </button>
                </span>
              )}
              <span className="ml-auto flex flex-wrap items-center justify-end gap-1.5">
                {hints.total > 0 && (
                  <button type="button" onClick={showHints} className={smallButton} aria-label={`Hints, ${hints.unlocked.length} of ${hints.total} shown`}>
                    Hints {hints.unlocked.length}/{hints.total}
                  </button>
                )}
                {passed && (
                  <button type="button" onClick={() => void compare()} className={smallButton}>
                    Compare with solution
                  </button>
                )}
                <button type="button" onClick={() => setConfirmReset(true)} className={smallButton}>
                  Reset
                </button>
                <span
                  role="status"
                  aria-live="polite"
                  className="min-w-[5.5rem] text-right text-xs text-slate-600 dark:text-slate-400"
                  title={saveError ?? undefined}
                >
                  {saveText[saveStatus]}
                </span>
              </span>
            </>
          ) : (
            <>
              <Link href={signInHref} className={primaryButton}>
                Sign in to run
              </Link>
              <p className="text-sm text-slate-700 dark:text-slate-300">You can read the starter; sign in to edit it, run it and have it graded.</p>
            </>
          )}
        </div>
        {notice && (
          <div
            role="status"
            className="flex shrink-0 items-start gap-2 border-b border-slate-200 bg-amber-50 px-3 py-2 text-sm text-amber-950 dark:border-ink-700 dark:bg-amber-950/40 dark:text-amber-100"
          >
            <p className="flex-1">{notice}</p>
            <button
              type="button"
              onClick={() => setNotice(null)}
              aria-label="Dismiss message"
              className="rounded px-1 hover:bg-amber-100 dark:hover:bg-amber-900"
            >
              <span aria-hidden="true">×</span>
            </button>
          </div>
        )}
        <div className="min-h-0 flex-1">
          <CodeEditor
            handleRef={editor}
            files={files}
            initial={initialFiles}
            readOnly={!signedIn}
            vs={monacoVs}
            typesUrl={typesUrl}
            diagnostics={state.diagnostics}
            onChange={onChange}
            onRun={() => void goRef.current("run")}
            onCheck={() => void goRef.current("check")}
          />
        </div>
      </section>

      <Splitter
        label="Resize run results"
        controls="panel-run"
        value={sizes.right}
        min={MIN.right}
        max={1 - MIN.centre - sizes.left}
        onChange={(right) => setSizes({ ...sizes, right })}
        container={container}
        edge="right"
      />

      <section id="panel-run" aria-label="Run results" style={{ flexBasis: `${sizes.right * 100}%` }} className="min-w-0 shrink-0 grow-0 overflow-hidden">
        <RunPanel state={state} checks={checks} />
      </section>

      <ConfirmDialog
        open={confirmReset}
        title="Reset to the starter?"
        confirmLabel="Reset to starter"
        onConfirm={() => void reset()}
        onClose={() => setConfirmReset(false)}
      >
        <p>
          Your files go back to the lab&apos;s starter code. Your current code is not lost: it stays in your draft history, and Undo in the editor brings it
          back.
        </p>
      </ConfirmDialog>

      <dialog
        ref={compareRef}
        onClose={() => setCompareOpen(false)}
        aria-labelledby="compare-title"
        className="m-auto h-[85vh] w-[90vw] max-w-none rounded-xl border border-slate-200 bg-white p-0 text-slate-900 shadow-xl backdrop:bg-black/40 dark:border-ink-700 dark:bg-ink-950 dark:text-slate-100"
      >
        <div className="flex h-full flex-col">
          <div className="flex shrink-0 items-center border-b border-slate-200 px-4 py-2 dark:border-ink-700">
            <h2 id="compare-title" className="font-semibold">
              Your code and the reference solution
            </h2>
            <button
              type="button"
              onClick={() => {
                setCompareOpen(false);
                setNotice("Checking the reference solution. Your own code in the editor is unchanged.");
                void start("check", Object.fromEntries(editable.map((p) => [p, solution?.[p] ?? ""])));
              }}
              className={`${secondaryButton} ml-auto`}
            >
              Check the reference solution
            </button>
            <button type="button" onClick={() => setCompareOpen(false)} className={`${secondaryButton} ml-2`}>
              Close
            </button>
          </div>
          <div className="min-h-0 flex-1">
            {compareOpen && solution && <DiffView paths={editable} mine={mineAtCompare} solution={solution} vs={monacoVs} />}
          </div>
        </div>
      </dialog>
    </div>
  );
}
