/**
 * A run as the browser sees it: a pure reducer from the run's events (lib/runs/events.ts) and
 * the client's own steps (submitting, refused, cancelling) to one RunState the workspace renders.
 * No React and no I/O, so it runs in unit tests as it runs in the page.
 *
 * It never trusts the stream to be tidy: events after an SSE reconnect may repeat (skipped by
 * their stream id), arrive for a run the learner already replaced (skipped by run id), or come
 * after the run ended (ignored). Output, commands and snapshots are capped so a chatty run cannot
 * make the page slow. Events come here already read by `readRunEvent` (lib/runs/event-schema.ts),
 * so a malformed one was dropped or mended at the boundary and the reducer trusts their shape.
 */
import type { Verdict } from "../grader/result.ts";
import type { Diagnostic } from "../runner/files.ts";
import type { KeySnapshot } from "../runner/snapshot.ts";
import type { CommandEntry, RunEvent } from "./event-schema.ts";

/** Defined once where they are produced (the file checks, the grader, the event stream), used here as the browser sees them. */
export type { CommandEntry, Diagnostic, KeySnapshot, RunEvent, Verdict };

export type RunPhase = "idle" | "submitting" | "queued" | "building" | "running" | "done" | "cancelled" | "failed-to-start";
export type RunMode = "run" | "check";
export type CheckStatus = "pending" | "running" | "pass" | "fail" | "error";

export interface CheckState {
  id: string;
  title: string;
  status: CheckStatus;
  message?: string;
  expected?: string;
  actual?: string;
  hint?: string;
  ms?: number;
}

export interface OutputLine {
  stream: "stdout" | "stderr" | "grader";
  /** One line, without its newline. */
  text: string;
  check?: string;
  /** The program has not ended this line yet: the next chunk from the same source continues it. */
  open?: boolean;
}

export interface RunSnapshot {
  /** ms since the run started, on the same clock as CommandEntry.at. */
  at: number;
  keys: KeySnapshot[];
}

export interface RunVerdict {
  status: Verdict;
  seed: number;
  message?: string;
  ms: number;
  timings?: Record<string, number>;
}

export interface RunState {
  phase: RunPhase;
  runId?: string;
  mode?: RunMode;
  /**
   * The learner chose this run's seed ("Re-run with seed"): a replay for debugging, graded and
   * shown, but it earns no checklist credit and does not open the reference solution.
   */
  replay?: boolean;
  /** Why the run could not start or was lost, in the server's words where it gave any. */
  error?: string;
  /** HTTP status of a refused start (401 signed out, 429 rate limited, 422 bad files). */
  errorStatus?: number;
  diagnostics: Diagnostic[];
  build?: { ok: boolean; ms: number };
  checks: CheckState[];
  output: OutputLine[];
  /** Some output is not shown: lines were dropped from the start, or a line was cut. */
  outputTruncated: boolean;
  /** How many lines were dropped from the start of `output`. */
  outputDropped: number;
  /** Characters held in `output`, for the cap. */
  outputChars: number;
  /** Sorted by seq. */
  commands: CommandEntry[];
  /** How many commands (never markers) were dropped from the start of `commands`. */
  commandsDropped: number;
  /** Sorted by `at`. */
  snapshots: RunSnapshot[];
  /** How many snapshots were thinned out to stay under the cap. */
  snapshotsDropped: number;
  verdict?: RunVerdict;
  /** Set when the run was cancelled: the server's message, or the client's when it gave up waiting. */
  cancelMessage?: string;
  /** A cancel was asked for and its `cancelled` event has not arrived yet. */
  cancelling: boolean;
  connection: "idle" | "connecting" | "open" | "reconnecting" | "closed";
  /** The stream id of the last event applied: anything at or before it is a replay. */
  lastEventId?: string;
  /** Client clock (ms) when the learner pressed Run or Check. */
  startedAt?: number;
  /** Client clock (ms) when `phase` last changed, for "queued for 4 s". */
  phaseAt?: number;
}

export const RUN_STATE_LIMITS = {
  /** Console lines kept (the newest). */
  outputLines: 2000,
  /** Console characters kept (the newest), about 200 KiB. */
  outputChars: 200 * 1024,
  /** One line longer than this is cut, so a program printing without newlines cannot hold everything. */
  lineChars: 8 * 1024,
  /** Commands kept (the newest; fault markers are always kept). The runner stops feeding at 3000 too. */
  commands: 3000,
  /** Snapshots kept for scrubbing; beyond it the closest pair is thinned, keeping the first and last. */
  snapshots: 300,
};

export const initialRunState: RunState = {
  phase: "idle",
  diagnostics: [],
  checks: [],
  output: [],
  outputTruncated: false,
  outputDropped: 0,
  outputChars: 0,
  commands: [],
  commandsDropped: 0,
  snapshots: [],
  snapshotsDropped: 0,
  cancelling: false,
  connection: "idle",
};

/** What the client does and sees; `event` carries one event of the run's SSE stream. */
export type RunAction =
  | { type: "submit"; mode: RunMode; at?: number; replay?: boolean }
  | { type: "accepted"; runId: string; mode: RunMode; at?: number }
  | { type: "rejected"; error: string; status?: number; diagnostics?: Diagnostic[]; at?: number }
  | { type: "event"; runId: string; event: RunEvent; id?: string; at?: number }
  /** Several events at once (a reconnect replays many): one render instead of hundreds. */
  | { type: "events"; runId: string; events: { event: RunEvent; id?: string }[]; at?: number }
  | { type: "connection"; runId: string; status: "connecting" | "open" | "reconnecting" | "closed" }
  | { type: "cancelling"; runId?: string }
  /** The client stopped following the run itself (the cancel endpoint was missing, or the event never came). */
  | { type: "cancelled-locally"; runId?: string; message: string; at?: number }
  /** The event stream failed for good and the run's outcome is unknown. */
  | { type: "lost"; runId: string; message: string; at?: number };

const RANK: Record<RunPhase, number> = { idle: 0, submitting: 1, queued: 2, building: 3, running: 4, done: 5, cancelled: 5, "failed-to-start": 5 };

export const isTerminal = (phase: RunPhase) => RANK[phase] === 5;
/** A run the server is (or may be) working on: cancel it before starting another. */
export const isLive = (phase: RunPhase) => phase === "submitting" || phase === "queued" || phase === "building" || phase === "running";

/** Redis stream ids are "ms-seq"; null for anything else (never compared, always applied). */
function parseId(id: string): [number, number] | null {
  const match = /^(\d{1,20})-(\d{1,20})$/.exec(id);
  return match ? [Number(match[1]), Number(match[2])] : null;
}

/** Negative when a is before b, as Redis orders stream ids. */
export function compareEventIds(a: string, b: string): number {
  const x = parseId(a);
  const y = parseId(b);
  if (!x || !y) return Number.NaN;
  return x[0] - y[0] || x[1] - y[1];
}

function advance(state: RunState, phase: RunPhase, at: number | undefined): RunState {
  if (phase === state.phase || RANK[phase] < RANK[state.phase]) return state;
  return { ...state, phase, phaseAt: at ?? state.phaseAt };
}

// ---- output -------------------------------------------------------------------------------

/** The "[worker-1] " prefix the grader puts on each chunk a process prints. */
const SOURCE = /^\[[^\]\n]{1,64}\] /;

function trimOutput(state: RunState, output: OutputLine[], chars: number, cut: boolean): RunState {
  let dropped = 0;
  while (output.length > 0 && (output.length > RUN_STATE_LIMITS.outputLines || chars > RUN_STATE_LIMITS.outputChars)) {
    chars -= output.shift()!.text.length;
    dropped++;
  }
  return {
    ...state,
    output,
    outputChars: chars,
    outputDropped: state.outputDropped + dropped,
    outputTruncated: state.outputTruncated || cut || dropped > 0,
  };
}

function appendLog(state: RunState, event: Extract<RunEvent, { type: "log" }>): RunState {
  if (event.text === "") return state;
  const output = state.output.slice();
  let chars = state.outputChars;
  let cut = false;
  const last = output.at(-1);
  let text = event.text;
  let continues = false;
  if (last?.open && last.stream === event.stream && last.check === event.check) {
    const source = SOURCE.exec(text)?.[0];
    const lastSource = SOURCE.exec(last.text)?.[0];
    // A chunk from the same process continues its open line; one from another process starts a new line.
    if (source === undefined || source === lastSource) {
      continues = true;
      if (source !== undefined) text = text.slice(source.length);
    }
  }
  if (last?.open && !continues) output[output.length - 1] = closed(last);
  // Grader notes are whole messages; program output is a byte stream cut anywhere.
  const pieces = text.replace(/\r\n/g, "\n").split("\n");
  const ends = event.stream === "grader" || text.endsWith("\n");
  if (text.endsWith("\n")) pieces.pop();
  pieces.forEach((piece, i) => {
    const open = i === pieces.length - 1 && !ends;
    const line: OutputLine = { stream: event.stream, text: piece, ...(event.check !== undefined ? { check: event.check } : {}), ...(open ? { open } : {}) };
    if (i === 0 && continues) {
      const prev = output[output.length - 1]!;
      line.text = prev.text + piece;
      chars -= prev.text.length;
      output.pop();
    }
    if (line.text.length > RUN_STATE_LIMITS.lineChars) {
      line.text = `${line.text.slice(0, RUN_STATE_LIMITS.lineChars)}…`;
      cut = true;
    }
    chars += line.text.length;
    output.push(line);
  });
  return trimOutput(state, output, chars, cut);
}

// ---- commands -----------------------------------------------------------------------------

function mergeCommands(state: RunState, entries: CommandEntry[]): RunState {
  if (entries.length === 0) return state;
  const have = state.commands;
  const lastSeq = have.at(-1)?.seq ?? -Infinity;
  let commands: CommandEntry[];
  // The common case: a batch of newer commands. Replies complete out of order, so sort the batch.
  if (entries.every((e) => e.seq > lastSeq)) {
    const batch = [...new Map(entries.map((e) => [e.seq, e])).values()].sort((a, b) => a.seq - b.seq);
    commands = have.concat(batch);
  } else {
    const seen = new Set(have.map((e) => e.seq));
    const added = entries.filter((e) => !seen.has(e.seq) && (seen.add(e.seq), true));
    if (added.length === 0) return state;
    commands = have.concat(added).sort((a, b) => a.seq - b.seq);
  }
  let dropped = 0;
  const over = commands.length - RUN_STATE_LIMITS.commands;
  if (over > 0) {
    // Fault markers stay: they are few, and the timeline needs every one.
    commands = commands.filter((e) => (e.conn === 0 || dropped >= over ? true : (dropped++, false)));
  }
  return { ...state, commands, commandsDropped: state.commandsDropped + dropped };
}

// ---- snapshots ----------------------------------------------------------------------------

function addSnapshot(state: RunState, snapshot: RunSnapshot): RunState {
  const snapshots = state.snapshots.slice();
  let i = snapshots.length;
  while (i > 0 && snapshots[i - 1]!.at > snapshot.at) i--;
  if (i > 0 && snapshots[i - 1]!.at === snapshot.at) snapshots[i - 1] = snapshot;
  else snapshots.splice(i, 0, snapshot);
  let dropped = 0;
  while (snapshots.length > RUN_STATE_LIMITS.snapshots && snapshots.length > 2) {
    // Drop the snapshot whose neighbours are closest together: the timeline keeps an even spread.
    let best = 1;
    let bestGap = Infinity;
    for (let j = 1; j < snapshots.length - 1; j++) {
      const gap = snapshots[j + 1]!.at - snapshots[j - 1]!.at;
      if (gap < bestGap) {
        bestGap = gap;
        best = j;
      }
    }
    snapshots.splice(best, 1);
    dropped++;
  }
  return { ...state, snapshots, snapshotsDropped: state.snapshotsDropped + dropped };
}

// ---- checks -------------------------------------------------------------------------------

function upsertCheck(checks: CheckState[], id: string, update: (old: CheckState | undefined) => CheckState): CheckState[] {
  const i = checks.findIndex((c) => c.id === id);
  if (i === -1) return [...checks, update(undefined)];
  const next = checks.slice();
  next[i] = update(checks[i]);
  return next;
}

const finished = (s: CheckStatus) => s === "pass" || s === "fail" || s === "error";

// ---- events -------------------------------------------------------------------------------

/**
 * Applies one event of the run's stream. `id` is its SSE id (the Redis stream id): an event at or
 * before the last applied id is a replay and changes nothing. `at` is the client's clock.
 */
export function reduce(state: RunState, event: RunEvent, id?: string, at?: number): RunState {
  if (id !== undefined && state.lastEventId !== undefined && compareEventIds(id, state.lastEventId) <= 0) return state;
  // A run that ended takes no more events: a late replay cannot reopen it.
  if (isTerminal(state.phase) || state.phase === "idle") return state;
  const next = apply(state, event, at);
  return id !== undefined && parseId(id) ? { ...next, lastEventId: id } : next;
}

function apply(state: RunState, event: RunEvent, at: number | undefined): RunState {
  switch (event.type) {
    case "queued":
      return advance(state, "queued", at);
    case "started":
      return advance(state, "building", at);
    case "build": {
      const built = { ...state, build: { ok: event.ok, ms: event.ms }, diagnostics: event.ok ? [] : (event.diagnostics ?? []) };
      return advance(built, event.ok ? "running" : "building", at);
    }
    case "check-start": {
      const checks = upsertCheck(state.checks, event.id, (old) =>
        old && finished(old.status) ? old : { id: event.id, title: event.title || old?.title || event.id, status: "running" },
      );
      return advance({ ...state, checks }, "running", at);
    }
    case "check-end": {
      const checks = upsertCheck(state.checks, event.id, (old) => ({
        id: event.id,
        title: old?.title ?? event.id,
        status: event.status,
        ...(event.message !== undefined ? { message: event.message } : {}),
        ...(event.expected !== undefined ? { expected: event.expected } : {}),
        ...(event.actual !== undefined ? { actual: event.actual } : {}),
        ...(event.hint !== undefined ? { hint: event.hint } : {}),
        ms: event.ms,
      }));
      return advance({ ...state, checks }, "running", at);
    }
    case "log":
      return advance(appendLog(state, event), "running", at);
    case "snapshot":
      return advance(addSnapshot(state, { at: event.at, keys: event.keys }), "running", at);
    case "commands":
      return advance(mergeCommands(state, event.entries), "running", at);
    case "end": {
      const checks = state.checks.map((c) =>
        c.status === "running" ? { ...c, status: "error" as const, message: c.message ?? "This check did not finish before the run ended." } : c,
      );
      const verdict: RunVerdict = {
        status: event.status,
        seed: event.seed,
        ms: event.ms,
        ...(event.message !== undefined ? { message: event.message } : {}),
        ...(event.timings ? { timings: event.timings } : {}),
      };
      return { ...closeOpenLine(state), checks, verdict, phase: "done", phaseAt: at ?? state.phaseAt, cancelling: false, connection: "closed" };
    }
    case "cancelled": {
      const checks = state.checks.map((c) => (c.status === "running" ? { ...c, status: "pending" as const } : c));
      return {
        ...closeOpenLine(state),
        checks,
        phase: "cancelled",
        phaseAt: at ?? state.phaseAt,
        cancelMessage: event.message,
        cancelling: false,
        connection: "closed",
      };
    }
    default:
      // An event type this page does not know yet (a newer server): nothing to show.
      return state;
  }
}

const closed = (line: OutputLine): OutputLine => ({ stream: line.stream, text: line.text, ...(line.check !== undefined ? { check: line.check } : {}) });

function closeOpenLine(state: RunState): RunState {
  const last = state.output.at(-1);
  if (!last?.open) return state;
  return { ...state, output: [...state.output.slice(0, -1), closed(last)] };
}

/** The workspace's reducer: client steps and stream events alike. */
export function runReducer(state: RunState, action: RunAction): RunState {
  switch (action.type) {
    case "submit":
      return {
        ...initialRunState,
        phase: "submitting",
        mode: action.mode,
        ...(action.replay ? { replay: true } : {}),
        startedAt: action.at,
        phaseAt: action.at,
      };
    case "accepted":
      if (state.phase !== "submitting") return state;
      return { ...state, runId: action.runId, mode: action.mode, phase: "queued", phaseAt: action.at ?? state.phaseAt, connection: "connecting" };
    case "rejected":
      if (state.phase !== "submitting") return state;
      return {
        ...state,
        phase: "failed-to-start",
        phaseAt: action.at ?? state.phaseAt,
        error: action.error,
        ...(action.status !== undefined ? { errorStatus: action.status } : {}),
        diagnostics: action.diagnostics ?? [],
        connection: "idle",
      };
    case "event":
      if (action.runId !== state.runId) return state;
      return reduce(state, action.event, action.id, action.at);
    case "events": {
      if (action.runId !== state.runId) return state;
      let next = state;
      for (const { event, id } of action.events) next = reduce(next, event, id, action.at);
      return next;
    }
    case "connection":
      if (action.runId !== state.runId || isTerminal(state.phase)) return state;
      return state.connection === action.status ? state : { ...state, connection: action.status };
    case "cancelling":
      if ((action.runId !== undefined && action.runId !== state.runId) || !isLive(state.phase)) return state;
      return { ...state, cancelling: true };
    case "cancelled-locally":
      if ((action.runId !== undefined && action.runId !== state.runId) || !isLive(state.phase)) return state;
      return reduce(state, { type: "cancelled", message: action.message }, undefined, action.at);
    case "lost":
      if (action.runId !== state.runId || isTerminal(state.phase)) return state;
      return { ...closeOpenLine(state), phase: "done", phaseAt: action.at ?? state.phaseAt, error: action.message, cancelling: false, connection: "closed" };
    default:
      return state;
  }
}
