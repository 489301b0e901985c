/**
 * Learner processes as the grader sees them: real OS processes it can kill, pause, resume and
 * signal, and for RPC hosts a `call` that runs one of the module's exports. Whatever a learner
 * function throws, or a process that dies under a call, becomes a CheckFailure that says so.
 */
import { createInterface } from "node:readline";
import type { Outcome, SandboxProcess } from "../runner/sandbox/spawn.ts";
import { CheckFailure, GraderError } from "./result.ts";

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
    protected readonly program: SandboxProcess,
    /** Records grader actions on the run's timeline. */
    private readonly mark: (action: string) => void = () => {},
  ) {
    this.exited = program.done.then((outcome) => (this.ended = outcome));
  }

  get alive(): boolean {
    return this.ended === null;
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
    this.program.signal("SIGSTOP");
  }

  resume(): void {
    this.mark(`resume ${this.name}`);
    this.program.signal("SIGCONT");
  }

  /** Any other signal (SIGTERM for graceful shutdown), delivered to the learner's program itself. */
  signal(signal: NodeJS.Signals): boolean {
    this.mark(`${signal} ${this.name}`);
    return this.program.signal(signal);
  }
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  fn: string;
}

type Reply = { id: number; ok: true; value: unknown; undefined?: boolean } | { id: number; ok: false; error: { name: string; message: string; stack?: string } };

export class RpcModule extends LearnerProcess {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  readonly ready: Promise<string[]>;

  constructor(
    name: string,
    program: SandboxProcess,
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
    const lines = createInterface({ input: channel });
    lines.on("line", (line) => {
      let message: Reply | { ready: boolean; exports?: string[]; error?: { message: string; stack?: string } };
      try {
        message = JSON.parse(line) as typeof message;
      } catch {
        return; // learner code wrote junk to fd 3; only well-formed replies count
      }
      if ("ready" in message) {
        if (message.ready) onReady(message.exports ?? []);
        else onNotReady(new CheckFailure({ message: `${module} failed to load: ${message.error?.message ?? "unknown error"}`, actual: message.error?.stack, hint: "Fix the error your module throws when it is imported; top-level code runs on import." }));
        return;
      }
      const call = this.pending.get(message.id);
      if (!call) return;
      this.pending.delete(message.id);
      if (message.ok) call.resolve(message.undefined ? undefined : message.value);
      else call.reject(new CheckFailure({ message: `${call.fn}() threw ${message.error.name}: ${message.error.message}`, actual: message.error.stack, hint: `Make ${call.fn} handle this case instead of throwing.` }));
    });
    channel.on("error", () => {});
    const timer = setTimeout(() => onNotReady(new CheckFailure({ message: `${module} did not finish loading within ${readyTimeoutMs / 1000} s`, hint: "Top-level code must not block or wait forever; start long work from a function." })), readyTimeoutMs);
    this.ready.finally(() => clearTimeout(timer)).catch(() => {});
    void this.exited.then((outcome) => {
      const died = new CheckFailure({ message: `the process running ${module} ${describeOutcome(outcome)}`, actual: this.output().slice(-2000) || undefined });
      onNotReady(died);
      for (const [id, call] of this.pending) {
        this.pending.delete(id);
        call.reject(new CheckFailure({ message: `${call.fn}() never returned, because the process running ${module} stopped. ${describeOutcome(outcome)}`, actual: this.output().slice(-2000) || undefined }));
      }
    });
  }

  /**
   * Calls an export of the learner's module and returns its (JSON) result. A call that does not
   * return within `timeoutMs` fails the check, naming the function.
   */
  call<T = unknown>(fn: string, args: unknown[] = [], timeoutMs = 5000): Promise<T> {
    const id = this.nextId++;
    const result = new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new CheckFailure({ message: `${fn}() did not return within ${timeoutMs} ms`, hint: `Look for an await that never resolves in ${fn}, or a blocking call with no timeout.` }));
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

  /** An HTTP request made from inside this process's sandbox, to a server the module started. */
  http(port: number, path: string, options: { method?: string; timeoutMs?: number } = {}): Promise<{ status: number; body: string; headers: Record<string, string> }> {
    const timeoutMs = options.timeoutMs ?? 2000;
    return this.call("$http", [port, path, options.method ?? "GET", timeoutMs], timeoutMs + 1000);
  }
}
