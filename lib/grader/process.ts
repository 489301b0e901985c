/**
 * Learner processes as the grader sees them: real OS processes it can kill, pause, resume and
 * signal, and for RPC hosts a `call` that runs one of the module's exports. Whatever a learner
 * function throws, or a process that dies under a call, becomes a CheckFailure that says so.
 */
import type { LearnerProgram, Outcome } from "../runner/sandbox/spawn.ts";
import { CheckFailure, GraderError } from "./result.ts";

/** How a process ended, as a predicate: put the process in front ("worker-1 exited with code 1"). */
export function describeOutcome(outcome: Outcome): string {
  switch (outcome.kind) {
    case "exited":
      return `exited with code ${outcome.code}`;
    case "signalled":
      return `was stopped by ${outcome.signal}`;
    default:
      return outcome.message;
  }
}

export class LearnerProcess {
  private ended: Outcome | null = null;
  readonly exited: Promise<Outcome>;

  constructor(
    readonly name: string,
    protected readonly program: LearnerProgram,
    /** Records grader actions on the run's timeline. */
    private readonly mark: (action: string) => void = () => {},
  ) {
    this.exited = program.done.then((outcome) => (this.ended = outcome));
  }

  get alive(): boolean {
    return this.ended === null;
  }

  /**
   * A process of its own (pause, resume, signal and `kill` are real signals) or an instance in the
   * run's shared sandbox (`kill` ends it as SIGKILL would; the other signals are refused).
   */
  get kind(): "process" | "instance" {
    return this.program.instance ? "instance" : "process";
  }

  /** How it ended, or null while it runs. */
  get outcome(): Outcome | null {
    return this.ended;
  }

  output(): string {
    return this.program.output();
  }

  /** SIGKILL, the way a machine dies: no handler runs, nothing is flushed. */
  async kill(): Promise<Outcome> {
    if (this.alive) this.mark(`kill ${this.name}`);
    this.program.kill("SIGKILL");
    return this.exited;
  }

  /** Ends the process at the end of a check, without marking the timeline. */
  async dispose(): Promise<Outcome> {
    this.program.kill("SIGKILL");
    return this.exited;
  }

  /** SIGSTOP: the process holds its connections and its work but does nothing, like a long GC pause. */
  pause(): void {
    this.mark(`pause ${this.name}`);
    this.requireProcess("SIGSTOP");
    this.program.signal("SIGSTOP");
  }

  resume(): void {
    this.mark(`resume ${this.name}`);
    this.requireProcess("SIGCONT");
    this.program.signal("SIGCONT");
  }

  /** Any other signal (SIGTERM for graceful shutdown), delivered to the learner's program itself. */
  signal(signal: NodeJS.Signals): boolean {
    this.mark(`${signal} ${this.name}`);
    this.requireProcess(signal);
    return this.program.signal(signal);
  }

  /** Only a process of its own takes a signal other than SIGKILL; an instance has no pid to send it to. */
  private requireProcess(signal: NodeJS.Signals): void {
    if (this.program.instance)
      throw new GraderError(`${signal} needs a process of its own: load the module with t.load(module, { process: true }) or start it with t.spawn`);
  }
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  fn: string;
}

/**
 * The longest line the grader reads from a learner's channel. A reply is one JSON line, and the
 * channel belongs to a process the learner owns: without a bound, whatever it writes there with
 * no newline would pile up in the runner.
 */
export const CHANNEL_LINE_BYTES = 1024 * 1024;

type LearnerError = { name: string; message: string; stack?: string };

/** What the harness in the sandbox may send; anything else on the channel is not from it. */
type Message =
  | { kind: "ready"; exports: string[] }
  | { kind: "not-ready"; error: LearnerError }
  | { kind: "reply"; id: number; ok: true; value: unknown }
  | { kind: "reply"; id: number; ok: false; error: LearnerError };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max)}…` : text);

function learnerError(v: unknown): LearnerError | null {
  if (!isRecord(v) || typeof v.message !== "string") return null;
  if (v.name !== undefined && typeof v.name !== "string") return null;
  if (v.stack !== undefined && typeof v.stack !== "string") return null;
  return { name: clip(v.name ?? "Error", 200), message: clip(v.message, 2000), stack: v.stack === undefined ? undefined : clip(v.stack, 4000) };
}

/** The message a line carries, or null when the line is not one the harness would write. */
export function readMessage(line: string): Message | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return null;
  }
  if (!isRecord(parsed)) return null;
  if (Object.hasOwn(parsed, "ready")) {
    if (parsed.ready === true) {
      const exports = parsed.exports ?? [];
      if (!Array.isArray(exports) || !exports.every((e) => typeof e === "string")) return null;
      return { kind: "ready", exports };
    }
    if (parsed.ready !== false) return null;
    const error = learnerError(parsed.error);
    return error ? { kind: "not-ready", error } : null;
  }
  const id = parsed.id;
  if (typeof id !== "number" || !Number.isSafeInteger(id)) return null;
  if (parsed.ok === true && Object.hasOwn(parsed, "value")) {
    if (parsed.undefined !== undefined && typeof parsed.undefined !== "boolean") return null;
    return { kind: "reply", id, ok: true, value: parsed.undefined ? undefined : parsed.value };
  }
  if (parsed.ok !== false) return null;
  const error = learnerError(parsed.error);
  return error ? { kind: "reply", id, ok: false, error } : null;
}

const CHANNEL_HINT =
  "File descriptor 3 belongs to the lab harness, which uses it to pass the grader's calls and your functions' results: do not write to it, close it, or replace the functions the harness relies on.";

export class RpcModule extends LearnerProcess {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Set once the channel carried something the harness never sends; every call then fails with it. */
  private broken: CheckFailure | null = null;
  readonly ready: Promise<string[]>;

  constructor(
    name: string,
    program: LearnerProgram,
    readonly module: string,
    mark?: (action: string) => void,
    readyTimeoutMs = 5000,
  ) {
    super(name, program, mark);
    const channel = program.channel;
    if (!channel) throw new GraderError("an RPC process needs a channel");
    let onReady: (exports: string[]) => void = () => {};
    let onNotReady: (error: Error) => void = () => {};
    this.ready = new Promise<string[]>((resolve, reject) => ((onReady = resolve), (onNotReady = reject)));
    this.ready.catch(() => {});

    // Learner code can write anything to fd 3. Nothing it writes may throw here (an exception in
    // this listener would take the runner down) or pile up in the runner's memory.
    const breakChannel = (failure: CheckFailure) => {
      if (this.broken) return;
      this.broken = failure;
      channel.removeListener("data", onData);
      channel.destroy();
      this.program.kill("SIGKILL");
      onNotReady(failure);
      for (const [id, call] of this.pending) {
        this.pending.delete(id);
        call.reject(failure);
      }
    };
    const onMessage = (line: string) => {
      const message = readMessage(line);
      if (!message) {
        const shown = clip(line, 80);
        return breakChannel(
          new CheckFailure({
            message: `Your process wrote ${JSON.stringify(shown)} to the grader's channel (file descriptor 3), which is not a message from the lab harness, so the grader stopped it.`,
            hint: CHANNEL_HINT,
          }),
        );
      }
      if (message.kind === "ready") return onReady(message.exports);
      if (message.kind === "not-ready") {
        return onNotReady(
          new CheckFailure({
            message: `${module} failed to load: ${message.error.message}`,
            actual: message.error.stack,
            hint: "Fix the error your module throws when it is imported; top-level code runs on import.",
          }),
        );
      }
      // A reply to a call that already timed out is late, not forged: nothing waits for it.
      const call = this.pending.get(message.id);
      if (!call) return;
      this.pending.delete(message.id);
      if (message.ok) call.resolve(message.value);
      else
        call.reject(
          new CheckFailure({
            message: `${call.fn}() threw ${message.error.name}: ${message.error.message}`,
            actual: message.error.stack,
            hint: `Make ${call.fn} handle this case instead of throwing.`,
          }),
        );
    };
    // Lines are split on the byte 10, which never occurs inside a multi-byte UTF-8 character.
    let partial: Buffer[] = [];
    let partialBytes = 0;
    const onData = (chunk: Buffer) => {
      let at = 0;
      for (let newline = chunk.indexOf(10, at); newline !== -1 && !this.broken; newline = chunk.indexOf(10, at)) {
        const piece = chunk.subarray(at, newline);
        const line = partial.length === 0 ? piece : Buffer.concat([...partial, piece]);
        partial = [];
        partialBytes = 0;
        at = newline + 1;
        if (line.length > CHANNEL_LINE_BYTES) return overflow();
        onMessage(line.toString("utf8"));
      }
      if (this.broken || at === chunk.length) return;
      partial.push(chunk.subarray(at));
      partialBytes += chunk.length - at;
      if (partialBytes > CHANNEL_LINE_BYTES) overflow();
    };
    const overflow = () => {
      partial = [];
      breakChannel(
        new CheckFailure({
          message: `Your process wrote more than ${CHANNEL_LINE_BYTES / 1024 / 1024} MiB without a newline to the grader's channel (file descriptor 3), so the grader stopped it.`,
          hint: `${CHANNEL_HINT} A function's result must also fit in ${CHANNEL_LINE_BYTES / 1024 / 1024} MiB as JSON.`,
        }),
      );
    };
    channel.on("data", onData);
    channel.on("error", () => {});
    const timer = setTimeout(
      () =>
        onNotReady(
          new CheckFailure({
            message: `${module} did not finish loading within ${readyTimeoutMs / 1000} s`,
            hint: "Top-level code must not block or wait forever; start long work from a function.",
          }),
        ),
      readyTimeoutMs,
    );
    this.ready.finally(() => clearTimeout(timer)).catch(() => {});
    void this.exited.then((outcome) => {
      onNotReady(this.endedError(outcome, `the process running ${module} ${describeOutcome(outcome)}.`));
      for (const [id, call] of this.pending) {
        this.pending.delete(id);
        call.reject(this.endedError(outcome, `${call.fn}() never returned, because the process running ${module} ${describeOutcome(outcome)}.`));
      }
    });
  }

  /** The failure for a call to a program that has ended: a sandbox that failed is the platform's fault (`error`, never `fail`). */
  private endedError(outcome: Outcome, message: string): Error {
    return outcome.kind === "sandbox"
      ? new GraderError(`${message} This is a fault of the platform, not your code.`)
      : new CheckFailure({ message, actual: this.output().slice(-2000) || undefined });
  }

  /**
   * Calls an export of the learner's module and returns its (JSON) result. A call that does not
   * return within `timeoutMs` fails the check, naming the function.
   */
  call<T = unknown>(fn: string, args: unknown[] = [], timeoutMs = 5000): Promise<T> {
    const id = this.nextId++;
    const outcome = this.outcome;
    // Called after the program ended: nothing will ever answer.
    const refused =
      this.broken ??
      (outcome ? this.endedError(outcome, `${fn}() never returned, because the process running ${this.module} ${describeOutcome(outcome)}.`) : null);
    if (refused) {
      const failed = Promise.reject(refused);
      failed.catch(() => {});
      return failed;
    }
    const result = new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new CheckFailure({
            message: `${fn}() did not return within ${timeoutMs} ms`,
            hint: `Look for an await that never resolves in ${fn}, or a blocking call with no timeout.`,
          }),
        );
      }, timeoutMs);
      this.pending.set(id, {
        fn,
        resolve: (v) => (clearTimeout(timer), resolve(v as T)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.program.channel?.write(`${JSON.stringify({ id, fn, args })}\n`);
    });
    // A check that fails early may leave a call un-awaited; its rejection is not news.
    result.catch(() => {});
    return result;
  }

  /**
   * An HTTP request made from inside this process's sandbox, to a server the module started.
   * `headers` keep their name's case on the wire; an array value sends that header once per value.
   */
  http(
    port: number,
    path: string,
    options: { method?: string; timeoutMs?: number; headers?: Record<string, string | string[]>; body?: string } = {},
  ): Promise<{ status: number; body: string; headers: Record<string, string> }> {
    const timeoutMs = options.timeoutMs ?? 2000;
    return this.call("$http", [port, path, options.method ?? "GET", timeoutMs, options.headers ?? {}, options.body ?? null], timeoutMs + 1000);
  }
}
