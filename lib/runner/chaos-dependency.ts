/**
 * A dependency to break: a real HTTP server the runner runs for one check, on a Unix socket in the
 * check's lane socket directory (beside its chaos proxy), so the learner programs of that check,
 * instances and processes alike, reach it with `dependency(name)` from `@faultline/lab` and nothing
 * else can. It is the HTTP analogue of the chaos proxy: it answers with what the check sets, injects
 * the faults the check asks for (error statuses, latency, hangs, resets mid-response, refused
 * connections), records every call as the grader sees it, and marks its faults on the run's command
 * log ("dependency <name>: …") so labs:verify counts their kinds and the live view shows them.
 */
import { existsSync, rmSync } from "node:fs";
import http from "node:http";
import type net from "node:net";
import { performance } from "node:perf_hooks";
import { mulberry32 } from "./chaos-proxy.ts";
import { shareSocketWithSandbox } from "./sandbox/user.ts";

/** What one call to the dependency looked like to it, and how it ended. */
export interface DependencyCall {
  /** From 1, in arrival order. */
  seq: number;
  method: string;
  /** The request target as sent, query included ("/price/sku-1?currency=EUR"). */
  path: string;
  /** Header names lower-cased; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** The request body as text (cut at 64 KiB). */
  body: string;
  /** performance.now() in the runner when the request's headers arrived: compare with the check's own clock. */
  at: number;
  /** performance.now() when it ended (answered, reset, aborted by the client); undefined while pending. */
  endedAt?: number;
  /**
   * `pending`: still open. `answered`: a whole response was written (`status` says which).
   * `reset`: the dependency destroyed the connection mid-response (a `reset` fault).
   * `aborted`: the client closed the connection before the answer was complete (its timeout or
   * AbortSignal, or its process ended). `hung`: a hung call still open when the dependency closed.
   */
  outcome: "pending" | "answered" | "reset" | "aborted" | "hung";
  status?: number;
  /** The fault injected into this call, if any: "503", "hang", "reset", "latency 120ms", … */
  fault?: string;
  /** Calls in flight when this one arrived, itself included. */
  concurrent: number;
}

export interface DependencyRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

export interface DependencyReply {
  status?: number;
  /** An object is sent as JSON; a string as text/plain. @default {} */
  body?: unknown;
  headers?: Record<string, string>;
}

export type DependencyBehaviour = (request: DependencyRequest) => DependencyReply | Promise<DependencyReply>;

export interface DependencyFailure {
  /** 503, 500, 502, 429 are transient; 400, 404, 422 permanent. @default 503 */
  status?: number;
  /** Seconds, sent as a Retry-After header. */
  retryAfter?: number;
  /** @default { error: "<reason phrase>" } */
  body?: unknown;
}

export interface DependencyStats {
  calls: number;
  inFlight: number;
  maxInFlight: number;
  byPath: Record<string, number>;
  byOutcome: Record<DependencyCall["outcome"], number>;
}

export interface ChaosDependencyOptions {
  name: string;
  /** Host path of the Unix socket to listen on. */
  socketPath: string;
  /** Seed of the latency jitter: a replay draws the same delays. */
  seed: number;
  behaviour?: DependencyBehaviour;
  /** Puts a line on the run's command log timeline (the proxy's mark). */
  mark?: (text: string) => void;
  /** Ablation (`labs:verify --ablate`): faults are logged as `ablated: …` and not applied. */
  inert?: boolean;
}

/** A one-call fault waiting for a call (to `path` only, when set). */
type QueuedFault = ({ kind: "status"; failure: Required<Pick<DependencyFailure, "status">> & DependencyFailure } | { kind: "hang" } | { kind: "reset" }) & {
  path?: string;
};

/** Aims a queued fault at the calls to one path (the request target, query included); others pass it by. */
export interface FaultTarget {
  path?: string;
}

const on = (target: FaultTarget) => (target.path !== undefined ? ` on ${target.path}` : "");

interface Live {
  call: DependencyCall;
  req: http.IncomingMessage;
  res: http.ServerResponse;
  /** Answers a held call (a hang released by heal). */
  release?: () => void;
  timer?: NodeJS.Timeout;
}

const BODY_CAP = 64 * 1024;

/** Default behaviour: 200 with the path echoed, for checks that only care about faults. */
const echo: DependencyBehaviour = (request) => ({ status: 200, body: { path: request.path, ok: true } });

export class ChaosDependency {
  readonly name: string;
  private readonly opts: ChaosDependencyOptions;
  private server: http.Server | null = null;
  private behaviour: DependencyBehaviour;
  private random: () => number;
  private readonly queue: QueuedFault[] = [];
  private hangingAll = false;
  private isDown = false;
  private latency = { ms: 0, jitterMs: 0 };
  private readonly live = new Set<Live>();
  private readonly sockets = new Set<net.Socket>();
  private readonly timeline = new Set<NodeJS.Timeout>();
  private readonly log: DependencyCall[] = [];
  private maxInFlight = 0;
  private closed = false;

  constructor(opts: ChaosDependencyOptions) {
    this.opts = opts;
    this.name = opts.name;
    this.behaviour = opts.behaviour ?? echo;
    this.random = mulberry32(opts.seed);
  }

  /** Starts listening; the socket is shared with the sandbox's user before this resolves. */
  async start(): Promise<void> {
    if (this.closed) throw new Error(`dependency ${this.name} is closed`);
    if (this.server) return;
    if (existsSync(this.opts.socketPath)) rmSync(this.opts.socketPath, { force: true });
    const server = http.createServer((req, res) => this.handle(req, res));
    // Keep-alive would make one client connection carry several calls; one call per connection
    // keeps "in flight" and resets about calls, and is what the learner's client does anyway.
    server.keepAliveTimeout = 1;
    server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
    });
    server.on("clientError", (_error, socket) => socket.destroy());
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.opts.socketPath, () => {
        server.off("error", reject);
        resolve();
      });
    });
    shareSocketWithSandbox(this.opts.socketPath);
  }

  /** Sets how healthy calls are answered (the default echoes the path with 200). */
  respond(behaviour: DependencyBehaviour): void {
    this.behaviour = behaviour;
  }

  /** Every answer waits `ms` ± `jitterMs` (seeded) before it is sent. */
  setLatency({ ms, jitterMs = 0 }: { ms: number; jitterMs?: number }): void {
    if (!(ms >= 0 && jitterMs >= 0)) throw new RangeError("latency and jitter must be >= 0");
    if (this.ablated(`latency ${ms}±${jitterMs}ms`)) return;
    this.latency = { ms, jitterMs };
    this.mark(`latency ${ms}±${jitterMs}ms`);
  }

  /**
   * The next `n` calls are answered with `status` (503 by default) and a JSON error body, and
   * `Retry-After` when given. Queued after faults already queued (failNext, hang, reset), so a
   * burst of several kinds happens in the order it was set. With `path`, only calls to that path
   * take them, so concurrent callers can each be given their own burst.
   */
  failNext(n: number, failure: DependencyFailure & FaultTarget = {}): void {
    const { path, ...rest } = failure;
    const status = rest.status ?? 503;
    const what = `failNext ${n} × ${status}${rest.retryAfter !== undefined ? ` (Retry-After ${rest.retryAfter})` : ""}${on(failure)}`;
    if (this.ablated(what)) return;
    for (let i = 0; i < n; i++) this.queue.push({ kind: "status", failure: { ...rest, status }, path });
    this.mark(what);
  }

  /** The next `n` calls are accepted and never answered, until `heal()` or the client gives up. */
  hang(n: number, target: FaultTarget = {}): void {
    if (this.ablated(`hang ${n}${on(target)}`)) return;
    for (let i = 0; i < n; i++) this.queue.push({ kind: "hang", path: target.path });
    this.mark(`hang ${n}${on(target)}`);
  }

  /** Every call from now on hangs, until `heal()`. */
  hangAll(): void {
    if (this.ablated("hangAll")) return;
    this.hangingAll = true;
    this.mark("hangAll");
  }

  /** The next `n` calls get the start of a response, then the connection is destroyed. */
  reset(n: number, target: FaultTarget = {}): void {
    if (this.ablated(`reset ${n}${on(target)}`)) return;
    for (let i = 0; i < n; i++) this.queue.push({ kind: "reset", path: target.path });
    this.mark(`reset ${n}${on(target)}`);
  }

  /**
   * The dependency goes away: it stops listening and open calls are cut, so a connect fails
   * (the learner's client reports ECONNREFUSED, as a TCP client would) until `up()`.
   */
  async down(): Promise<void> {
    if (this.ablated("down")) return;
    this.isDown = true;
    this.mark(`down (${this.live.size} calls cut)`);
    const server = this.server;
    this.server = null;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(this.opts.socketPath, { force: true });
  }

  async up(): Promise<void> {
    if (!this.isDown) return;
    this.isDown = false;
    this.mark("up");
    if (!this.closed) await this.start();
  }

  /**
   * Every fault off: queued failures, hangs and resets dropped, latency 0, listening again, and
   * calls held by a hang answered now (as a server that recovers answers what it held).
   */
  async heal(): Promise<void> {
    this.queue.length = 0;
    this.hangingAll = false;
    this.latency = { ms: 0, jitterMs: 0 };
    this.mark("heal");
    for (const entry of [...this.live]) entry.release?.();
    if (this.isDown) {
      this.isDown = false;
      if (!this.closed) await this.start();
    }
  }

  /**
   * A timeline of faults: each step's `action` runs `atMs` after this call (times drawn by the
   * check from `t.random()`, so a replay repeats it). Steps still waiting when the check ends are
   * cancelled. Resolves once the last step has run.
   */
  schedule(steps: { atMs: number; action: (dependency: ChaosDependency) => unknown }[]): Promise<void> {
    return Promise.all(
      steps.map(
        (step) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => {
              this.timeline.delete(timer);
              if (this.closed) return resolve();
              void Promise.resolve(step.action(this)).finally(resolve);
            }, step.atMs);
            this.timeline.add(timer);
          }),
      ),
    ).then(() => undefined);
  }

  /** Every call so far, in arrival order (copies). */
  calls(filter?: (call: DependencyCall) => boolean): DependencyCall[] {
    const all = this.log.map((c) => ({ ...c, headers: { ...c.headers } }));
    return filter ? all.filter(filter) : all;
  }

  stats(): DependencyStats {
    const byPath: Record<string, number> = {};
    const byOutcome: DependencyStats["byOutcome"] = { pending: 0, answered: 0, reset: 0, aborted: 0, hung: 0 };
    for (const call of this.log) {
      byPath[call.path] = (byPath[call.path] ?? 0) + 1;
      byOutcome[call.outcome]++;
    }
    return { calls: this.log.length, inFlight: this.live.size, maxInFlight: this.maxInFlight, byPath, byOutcome };
  }

  /** Stops listening, cuts every open call (hung ones end as `hung`) and cancels the timeline. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timeline) clearTimeout(timer);
    this.timeline.clear();
    for (const entry of this.live) this.finish(entry, "hung");
    for (const socket of this.sockets) socket.destroy();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(this.opts.socketPath, { force: true });
  }

  private mark(text: string): void {
    this.opts.mark?.(`dependency ${this.name}: ${text}`);
  }

  private ablated(what: string): boolean {
    if (!this.opts.inert) return false;
    this.opts.mark?.(`ablated: dependency ${this.name}: ${what}`);
    return true;
  }

  private finish(entry: Live, outcome: DependencyCall["outcome"]): void {
    if (!this.live.delete(entry)) return;
    clearTimeout(entry.timer);
    entry.call.outcome = outcome;
    entry.call.endedAt = performance.now();
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const at = performance.now();
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(req.headers)) if (value !== undefined) headers[key] = Array.isArray(value) ? value.join(", ") : value;
    const call: DependencyCall = {
      seq: this.log.length + 1,
      method: req.method ?? "GET",
      path: req.url ?? "/",
      headers,
      body: "",
      at,
      outcome: "pending",
      concurrent: this.live.size + 1,
    };
    this.log.push(call);
    const entry: Live = { call, req, res };
    this.live.add(entry);
    this.maxInFlight = Math.max(this.maxInFlight, this.live.size);
    // The client closing before the answer is complete (its timeout, its AbortSignal, its death).
    res.once("close", () => {
      if (this.live.has(entry)) this.finish(entry, res.writableFinished ? "answered" : "aborted");
    });
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      if (size < BODY_CAP) chunks.push(chunk);
      size += chunk.length;
    });
    req.once("end", () => {
      call.body = Buffer.concat(chunks).toString("utf8").slice(0, BODY_CAP);
      const queued = this.queue.findIndex((f) => f.path === undefined || f.path === call.path);
      const fault = this.hangingAll ? ({ kind: "hang" } as const) : queued >= 0 ? this.queue.splice(queued, 1)[0] : undefined;
      if (fault?.kind === "hang") {
        call.fault = "hang";
        entry.release = () => void this.answer(entry, undefined, 0);
        return;
      }
      if (fault?.kind === "reset") {
        call.fault = "reset";
        // The start of a real response, then the connection destroyed: the client has headers
        // and part of a body, and must not treat what it got as an answer.
        res.writeHead(200, { "content-type": "application/json", "content-length": "64" });
        res.flushHeaders();
        res.socket?.write('{"value":');
        setImmediate(() => {
          this.finish(entry, "reset");
          res.socket?.destroy();
        });
        return;
      }
      const delay = this.latency.ms > 0 || this.latency.jitterMs > 0 ? Math.max(0, this.latency.ms + (this.random() * 2 - 1) * this.latency.jitterMs) : 0;
      if (delay > 0 && !fault) call.fault = `latency ${Math.round(delay)}ms`;
      void this.answer(entry, fault?.kind === "status" ? fault.failure : undefined, delay);
    });
  }

  private async answer(entry: Live, failure: (DependencyFailure & { status: number }) | undefined, delayMs: number): Promise<void> {
    entry.release = undefined;
    if (delayMs > 0) await new Promise<void>((resolve) => (entry.timer = setTimeout(resolve, delayMs)));
    if (!this.live.has(entry)) return;
    const { call, res } = entry;
    let reply: DependencyReply;
    if (failure) {
      call.fault = String(failure.status);
      reply = {
        status: failure.status,
        body: failure.body ?? { error: http.STATUS_CODES[failure.status] ?? "error" },
        headers: failure.retryAfter !== undefined ? { "retry-after": String(failure.retryAfter) } : {},
      };
    } else {
      try {
        reply = await this.behaviour({ method: call.method, path: call.path, headers: call.headers, body: call.body });
      } catch (error) {
        reply = { status: 500, body: { error: `the check's behaviour threw: ${(error as Error).message}` } };
      }
    }
    if (!this.live.has(entry)) return;
    const status = reply.status ?? 200;
    const text = typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body ?? {});
    const type = typeof reply.body === "string" ? "text/plain; charset=utf-8" : "application/json";
    call.status = status;
    res.writeHead(status, { "content-type": type, "content-length": String(Buffer.byteLength(text)), connection: "close", ...reply.headers });
    res.end(text, () => this.finish(entry, "answered"));
  }
}
