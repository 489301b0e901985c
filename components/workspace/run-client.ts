/**
 * The browser's side of a run, without React: POST /api/runs, follow its SSE stream, cancel it.
 * useRun wraps it; tests drive it with a fake fetch and EventSource.
 *
 * EventSource reconnects by itself after a dropped connection, sending Last-Event-ID, and the
 * server resumes after that id; the reducer also skips any event at or before the last id it
 * applied, so a replay never doubles output or commands. If the stream fails for good (the
 * browser gives up on a non-200 answer), the client opens a new one from the last id a few
 * times, then asks the run's row how it ended.
 */
import { readRunEvent, type RunEvent } from "@/lib/runs/event-schema";
import { CANCELLED, CANCELLED_BY_LEARNER } from "@/lib/runs/messages";
import type { Diagnostic, RunAction, RunMode } from "@/lib/runs/run-state";

/** The part of EventSource used here, so tests can supply their own. */
export interface EventSourceLike {
  readonly readyState: number;
  onopen: ((this: EventSourceLike, ev: Event) => unknown) | null;
  onerror: ((this: EventSourceLike, ev: Event) => unknown) | null;
  addEventListener(type: string, listener: (ev: MessageEvent<string>) => void): void;
  close(): void;
}

export interface RunClientOptions {
  lab: string;
  dispatch: (action: RunAction) => void;
  fetch?: typeof fetch;
  EventSource?: new (url: string) => EventSourceLike;
  now?: () => number;
  /** Events are handed to the reducer in batches this often, so a replay of thousands renders once. @default 50 */
  batchMs?: number;
  /** How long to wait for the server's `cancelled` event after a cancel was accepted. @default 4000 */
  cancelWaitMs?: number;
  /** Fresh connections tried after the browser gives up on the stream. @default 4 */
  reopenAttempts?: number;
}

const EVENT_TYPES: RunEvent["type"][] = ["queued", "build", "check-start", "log", "check-end", "snapshot", "commands", "end", "cancelled"];
const CLOSED = 2;

/** The server's `{ error }` message, or a sentence about the status when it sent none. */
export async function errorMessage(response: Response): Promise<{ message: string; diagnostics?: Diagnostic[] }> {
  // Not JSON (a proxy's error page, say): fall back to a sentence about the status.
  const body = (await response.json().catch(() => null)) as { error?: unknown; diagnostics?: unknown } | null;
  const diagnostics = Array.isArray(body?.diagnostics) ? (body.diagnostics as Diagnostic[]) : undefined;
  if (typeof body?.error === "string" && body.error) return { message: body.error, ...(diagnostics ? { diagnostics } : {}) };
  if (response.status === 401) return { message: "Sign in to run your code." };
  if (response.status === 429) {
    const wait = Number(response.headers.get("retry-after"));
    return { message: `Too many runs at once. Try again${wait > 0 ? ` in ${wait} s` : " in a moment"}.` };
  }
  return { message: `The server could not start the run (HTTP ${response.status}). Try again in a moment.` };
}

interface Stream {
  runId: string;
  url: string;
  source: EventSourceLike | null;
  /** The id of the last event received (not necessarily applied yet). */
  lastId?: string;
  pending: { event: RunEvent; id?: string }[];
  timer: ReturnType<typeof setTimeout> | null;
  reopenTimer: ReturnType<typeof setTimeout> | null;
  cancelTimer: ReturnType<typeof setTimeout> | null;
  reopens: number;
  ended: boolean;
}

export class RunClient {
  private readonly o: Required<Omit<RunClientOptions, "fetch" | "EventSource">> & { fetch: typeof fetch; EventSource?: new (url: string) => EventSourceLike };
  /** Bumped by every start, cancel and dispose: an answer for an older generation is stale. */
  private generation = 0;
  private stream: Stream | null = null;
  /** A POST in flight: its run must be cancelled if the learner moved on before it answered. */
  private submitting: number | null = null;
  private disposed = false;

  constructor(options: RunClientOptions) {
    this.o = {
      batchMs: 50,
      cancelWaitMs: 4000,
      reopenAttempts: 4,
      now: () => Date.now(),
      ...options,
      fetch: options.fetch ?? ((...args) => globalThis.fetch(...args)),
      EventSource: options.EventSource ?? (typeof EventSource === "undefined" ? undefined : (EventSource as unknown as new (url: string) => EventSourceLike)),
    };
  }

  /** True while a run is submitting or its stream is open. */
  get live(): boolean {
    return this.submitting !== null || (this.stream !== null && !this.stream.ended);
  }

  async start(mode: RunMode, files: Record<string, string>, seed?: number): Promise<void> {
    if (this.disposed) return;
    // Pressing Run again cancels the run in progress first (the server would also supersede it).
    if (this.live) await this.cancel({ quiet: true });
    const generation = ++this.generation;
    this.submitting = generation;
    // A seed the learner chose makes the run a replay: the server stores it so, and the page says so.
    this.o.dispatch({ type: "submit", mode, at: this.o.now(), ...(seed !== undefined ? { replay: true } : {}) });
    let response: Response;
    try {
      response = await this.o.fetch("/api/runs", {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify({ lab: this.o.lab, files, mode, ...(seed !== undefined ? { seed } : {}) }),
      });
    } catch {
      if (this.submitting === generation) this.submitting = null;
      if (generation === this.generation)
        this.o.dispatch({ type: "rejected", error: "Could not reach the server. Check your connection and try again.", at: this.o.now() });
      return;
    }
    if (this.submitting === generation) this.submitting = null;
    if (!response.ok) {
      if (generation !== this.generation) return;
      const { message, diagnostics } = await errorMessage(response);
      if (generation === this.generation)
        this.o.dispatch({ type: "rejected", error: message, status: response.status, ...(diagnostics ? { diagnostics } : {}), at: this.o.now() });
      return;
    }
    let body: { id?: unknown; mode?: unknown; eventsUrl?: unknown };
    try {
      body = (await response.json()) as typeof body;
    } catch {
      body = {};
    }
    const runId = typeof body.id === "string" ? body.id : null;
    if (generation !== this.generation) {
      // Cancelled (or restarted) while the POST was in flight: stop the run it created.
      if (runId) void this.deleteRun(runId);
      return;
    }
    if (!runId) {
      this.o.dispatch({ type: "rejected", error: "The server's answer did not name the run. Try again.", status: response.status, at: this.o.now() });
      return;
    }
    const runMode = body.mode === "run" || body.mode === "check" ? body.mode : mode;
    this.o.dispatch({ type: "accepted", runId, mode: runMode, at: this.o.now() });
    const url = typeof body.eventsUrl === "string" ? body.eventsUrl : `/api/runs/${encodeURIComponent(runId)}/events`;
    this.follow(runId, url);
  }

  /** Cancels the run in progress. Without a working cancel endpoint it just stops following the stream. */
  async cancel({ quiet = false }: { quiet?: boolean } = {}): Promise<void> {
    if (this.submitting !== null) {
      // The POST has not answered: forget it; start() deletes its run when it does.
      this.submitting = null;
      this.generation++;
      if (!quiet) this.o.dispatch({ type: "cancelled-locally", message: CANCELLED_BY_LEARNER, at: this.o.now() });
      return;
    }
    const stream = this.stream;
    if (!stream || stream.ended) return;
    if (quiet) {
      this.closeStream(stream);
      void this.deleteRun(stream.runId);
      return;
    }
    this.o.dispatch({ type: "cancelling", runId: stream.runId });
    const accepted = await this.deleteRun(stream.runId);
    if (stream.ended || this.stream !== stream) return;
    const giveUp = () => {
      if (stream.ended) return;
      this.flush(stream);
      this.closeStream(stream);
      this.o.dispatch({ type: "cancelled-locally", runId: stream.runId, message: CANCELLED_BY_LEARNER, at: this.o.now() });
    };
    // Accepted: the `cancelled` event is on its way through the stream; wait for it a little.
    if (accepted) stream.cancelTimer = setTimeout(giveUp, this.o.cancelWaitMs);
    else giveUp();
  }

  /** Stops everything; the run itself goes on until the server supersedes it. */
  dispose(): void {
    this.disposed = true;
    this.generation++;
    this.submitting = null;
    if (this.stream) this.closeStream(this.stream);
    this.stream = null;
  }

  private async deleteRun(runId: string): Promise<boolean> {
    try {
      const response = await this.o.fetch(`/api/runs/${encodeURIComponent(runId)}`, { method: "DELETE" });
      return response.ok;
    } catch {
      return false;
    }
  }

  private follow(runId: string, url: string): void {
    if (this.stream) this.closeStream(this.stream);
    const stream: Stream = { runId, url, source: null, pending: [], timer: null, reopenTimer: null, cancelTimer: null, reopens: 0, ended: false };
    this.stream = stream;
    this.open(stream);
  }

  private open(stream: Stream): void {
    const Source = this.o.EventSource;
    if (!Source) {
      this.o.dispatch({ type: "lost", runId: stream.runId, message: "This browser cannot follow a run's progress (no EventSource).", at: this.o.now() });
      stream.ended = true;
      return;
    }
    const url = stream.lastId ? `${stream.url}${stream.url.includes("?") ? "&" : "?"}lastEventId=${encodeURIComponent(stream.lastId)}` : stream.url;
    const source = new Source(url);
    stream.source = source;
    source.onopen = () => {
      if (stream.source !== source || stream.ended) return;
      stream.reopens = 0;
      this.o.dispatch({ type: "connection", runId: stream.runId, status: "open" });
    };
    source.onerror = () => {
      if (stream.source !== source || stream.ended) return;
      if (source.readyState !== CLOSED) {
        // The browser reconnects by itself, sending Last-Event-ID.
        this.o.dispatch({ type: "connection", runId: stream.runId, status: "reconnecting" });
        return;
      }
      source.close();
      stream.source = null;
      this.flush(stream);
      if (stream.reopens < this.o.reopenAttempts) {
        stream.reopens++;
        this.o.dispatch({ type: "connection", runId: stream.runId, status: "reconnecting" });
        stream.reopenTimer = setTimeout(
          () => {
            stream.reopenTimer = null;
            if (!stream.ended && this.stream === stream) this.open(stream);
          },
          500 * 2 ** (stream.reopens - 1),
        );
        return;
      }
      void this.settleFromRow(stream);
    };
    const onMessage = (message: MessageEvent<string>) => {
      if (stream.source !== source || stream.ended) return;
      let event: RunEvent | null;
      try {
        event = readRunEvent(JSON.parse(message.data));
      } catch {
        return;
      }
      if (!event) return;
      // lastEventId carries over to a message without an id of its own. Only the final event
      // rebuilt from the database comes without one, so a final event repeating the last id has
      // none (and applies); anything else repeating it is a replay the reducer skips.
      const final = event.type === "end" || event.type === "cancelled";
      const id = message.lastEventId && !(final && message.lastEventId === stream.lastId) ? message.lastEventId : undefined;
      if (id) stream.lastId = id;
      stream.pending.push(id ? { event, id } : { event });
      if (final) {
        stream.ended = true;
        this.flush(stream);
        this.closeStream(stream);
        return;
      }
      stream.timer ??= setTimeout(() => this.flush(stream), this.o.batchMs);
    };
    for (const type of EVENT_TYPES) source.addEventListener(type, onMessage);
    source.addEventListener("message", onMessage);
  }

  /** The stream is gone for good: the run's row says whether it finished. */
  private async settleFromRow(stream: Stream): Promise<void> {
    let event: RunEvent | null = null;
    try {
      const response = await this.o.fetch(`/api/runs/${encodeURIComponent(stream.runId)}`, { headers: { accept: "application/json" } });
      if (response.ok) {
        const run = (await response.json()) as { status?: string; seed?: number | null; message?: string | null; durationMs?: number | null };
        if (run.status === "cancelled") event = { type: "cancelled", message: run.message ?? CANCELLED };
        else if (run.status === "pass" || run.status === "fail" || run.status === "error") {
          event = { type: "end", status: run.status, seed: run.seed ?? 0, ms: run.durationMs ?? 0, ...(run.message ? { message: run.message } : {}) };
        }
      }
    } catch {
      // Offline: reported below.
    }
    if (this.stream !== stream || stream.ended) return;
    stream.ended = true;
    this.closeStream(stream);
    if (event) return this.o.dispatch({ type: "event", runId: stream.runId, event, at: this.o.now() });
    const refused = await this.refusal(stream.url);
    this.o.dispatch({
      type: "lost",
      runId: stream.runId,
      message: refused ?? "Lost the connection to this run. Its result will be in your run history; run again to see it live.",
      at: this.o.now(),
    });
  }

  /**
   * Why the server refuses this run's stream, if it does: EventSource hides a refusal's status and
   * body, so a stream over the live-view cap (429, "close other tabs") would otherwise read as a
   * lost connection. A stream that opens instead is closed at once.
   */
  private async refusal(url: string): Promise<string | null> {
    const controller = new AbortController();
    try {
      const response = await this.o.fetch(url, { headers: { accept: "text/event-stream" }, signal: controller.signal });
      if (response.status !== 429) return null;
      const body = (await response.json()) as { error?: unknown };
      return typeof body.error === "string" ? body.error : null;
    } catch {
      return null;
    } finally {
      controller.abort();
    }
  }

  private flush(stream: Stream): void {
    if (stream.timer) clearTimeout(stream.timer);
    stream.timer = null;
    if (stream.pending.length === 0) return;
    const events = stream.pending;
    stream.pending = [];
    this.o.dispatch({ type: "events", runId: stream.runId, events, at: this.o.now() });
  }

  private closeStream(stream: Stream): void {
    stream.ended = true;
    stream.source?.close();
    stream.source = null;
    for (const timer of [stream.timer, stream.reopenTimer, stream.cancelTimer]) if (timer) clearTimeout(timer);
    stream.timer = stream.reopenTimer = stream.cancelTimer = null;
  }
}
