/**
 * The runner's side of a run's shared sandbox (docs/architecture.md, "One sandbox per run"): one
 * sandboxed Node process that hosts every module the checks load, each as an instance with its
 * own V8 context and module graph (harness/instance.ts). Each instance looks to the grader like a
 * process of its own (`LearnerProgram`): a channel for its calls, its output, how it ended, and a
 * `kill` that is its SIGKILL. What only a real process has — SIGSTOP, SIGTERM, a pid or a port of
 * its own — it refuses, and the check must use a process (`t.spawn`, `t.load(m, { process: true })`).
 *
 * When the host itself dies (the heap of all its instances, a busy loop the grader had to stop, a
 * channel the learner's code wrote over), every instance in it ends with the host's outcome and
 * `crashed` says so, so the grader can run the checks it held again, each in a fresh host.
 */
import { Duplex } from "node:stream";
import type { LearnerProgram, Outcome, SandboxProcess } from "./sandbox/spawn.ts";

/** The longest line the runner reads from the host: an instance's reply is capped at 1 MiB of JSON, escaped once more. */
const HOST_LINE_BYTES = 4 * 1024 * 1024;
/** How long an instance's SIGKILL may take before the whole host is killed (its event loop is stuck). */
const KILL_GRACE_MS = 1500;

interface InstanceOptions {
  outputBytes: number;
  onOutput?: (text: string, stream: "stdout" | "stderr") => void;
}

class HostedInstance implements LearnerProgram {
  readonly instance = true;
  readonly channel: Duplex;
  readonly done: Promise<Outcome>;
  private settle!: (outcome: Outcome) => void;
  private outcome: Outcome | null = null;
  private text = "";
  private kept = 0;
  private deadline: NodeJS.Timeout | undefined;
  private onOutput: ((text: string, stream: "stdout" | "stderr") => void) | undefined;

  constructor(
    readonly id: number,
    private readonly host: SharedHost,
    private readonly options: InstanceOptions,
  ) {
    this.onOutput = options.onOutput;
    this.done = new Promise<Outcome>((resolve) => (this.settle = resolve));
    this.channel = new Duplex({
      read() {},
      write: (chunk: Buffer | string, _encoding, callback) => {
        for (const line of String(chunk).split("\n")) if (line) host.send({ op: "line", i: id, l: line });
        callback();
      },
    });
    this.channel.on("error", () => {});
  }

  /** Called by the host for each message about this instance. */
  receive(message: { l?: unknown; o?: unknown; s?: unknown; x?: unknown }): void {
    if (this.outcome) return;
    if (this.stopping && message.x) return this.finish(this.stopping);
    if (typeof message.l === "string") this.channel.push(`${message.l}\n`);
    else if (typeof message.o === "string") this.print(message.o, message.s === "stderr" ? "stderr" : "stdout");
    else if (message.x && typeof message.x === "object") {
      const x = message.x as { kind?: unknown; code?: unknown; signal?: unknown };
      if (x.kind === "output")
        return this.finish({
          kind: "output",
          message: `printed more than ${this.options.outputBytes / 1024} KiB and was stopped (print less, or only what you need to see)`,
        });
      this.finish(x.kind === "signalled" ? { kind: "signalled", signal: "SIGKILL" } : { kind: "exited", code: typeof x.code === "number" ? x.code : 1 });
    }
  }

  private print(text: string, stream: "stdout" | "stderr"): void {
    if (this.kept + text.length > this.options.outputBytes) {
      const tail = text.slice(0, Math.max(0, this.options.outputBytes - this.kept));
      this.text += tail;
      if (tail) this.onOutput?.(tail, stream);
      this.kept = this.options.outputBytes;
      this.stop({
        kind: "output",
        message: `printed more than ${this.options.outputBytes / 1024} KiB and was stopped (print less, or only what you need to see)`,
      });
      return;
    }
    this.kept += text.length;
    this.text += text;
    this.onOutput?.(text, stream);
  }

  /**
   * Ends the instance from the runner's side with `outcome`. A host that does not acknowledge the
   * kill is stuck in a synchronous loop: then that is what the outcome says.
   */
  private stop(outcome: Outcome): void {
    if (this.outcome || this.stopping) return;
    this.stopping = outcome;
    this.host.killInstance(this.id, () => ({
      kind: "cpu",
      message: "kept the CPU busy without ever yielding, so the grader stopped it (look for a loop that never waits or never ends)",
    }));
  }

  private stopping: Outcome | null = null;

  finish(outcome: Outcome): void {
    if (this.outcome) return;
    this.outcome = outcome;
    clearTimeout(this.deadline);
    this.channel.push(null);
    this.settle(outcome);
  }

  output(): string {
    return this.text;
  }

  truncated(): boolean {
    return this.kept >= this.options.outputBytes;
  }

  arm(wallMs?: number): void {
    clearTimeout(this.deadline);
    if (wallMs === undefined) return;
    this.deadline = setTimeout(() => this.stop({ kind: "timeout", message: `was still running after ${wallMs / 1000} s and was stopped` }), wallMs);
  }

  setOutputHandler(handler: (text: string, stream: "stdout" | "stderr") => void): void {
    this.onOutput = handler;
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    // The grader refuses other signals before they get here, in words for the lab author (grader/process.ts).
    if (signal !== "SIGKILL") throw new Error(`an instance has no process to send ${signal} to`);
    if (this.outcome) return;
    // The outcome comes with the host's acknowledgement: once it arrives, none of the instance's sockets is open.
    this.host.killInstance(this.id);
  }

  signal(signal: NodeJS.Signals): boolean {
    throw new Error(`an instance has no process to send ${signal} to`);
  }
}

export class SharedHost {
  private next = 1;
  private readonly instances = new Map<number, HostedInstance>();
  private dead: Outcome | null = null;
  private disposing = false;
  /** Set when the host died on its own (not disposed): the instances it held ended with it. */
  crashed = false;
  readonly done: Promise<Outcome>;

  constructor(
    private readonly program: SandboxProcess,
    /** Told when the host dies with instances in it. */
    private readonly onCrash: () => void = () => {},
  ) {
    const channel = program.channel;
    if (!channel) throw new Error("a shared host needs a channel");
    let partial = "";
    channel.setEncoding("utf8");
    channel.on("data", (chunk: string) => {
      partial += chunk;
      let newline: number;
      while ((newline = partial.indexOf("\n")) >= 0) {
        const line = partial.slice(0, newline);
        partial = partial.slice(newline + 1);
        this.route(line);
      }
      if (partial.length > HOST_LINE_BYTES) this.broken("wrote more than 4 MiB without a newline to the grader's channel (file descriptor 3)");
    });
    this.done = program.done.then((outcome) => {
      this.dead = outcome;
      if (this.instances.size > 0 && !this.disposing && !this.crashed) this.crash();
      for (const instance of this.instances.values()) instance.finish(outcome);
      this.instances.clear();
      return outcome;
    });
  }

  get alive(): boolean {
    return this.dead === null;
  }

  private route(line: string): void {
    let message: { i?: unknown };
    try {
      message = JSON.parse(line) as { i?: unknown };
    } catch {
      return this.broken(`wrote ${JSON.stringify(line.slice(0, 80))} to the grader's channel (file descriptor 3), which is not a message from the lab harness`);
    }
    if (typeof message !== "object" || message === null || typeof message.i !== "number")
      return this.broken(`wrote ${JSON.stringify(line.slice(0, 80))} to the grader's channel (file descriptor 3), which is not a message from the lab harness`);
    const instance = this.instances.get(message.i);
    if (!instance) return;
    instance.receive(message as Parameters<HostedInstance["receive"]>[0]);
    if ((message as { x?: unknown }).x) this.instances.delete(message.i);
  }

  /** The channel cannot be trusted any more: the host is killed, and its instances end with a message. */
  private broken(what: string): void {
    if (this.dead) return;
    const outcome: Outcome = { kind: "crashed", message: `${what}, so the grader stopped the run's sandbox` };
    this.crash();
    for (const instance of this.instances.values()) instance.finish(outcome);
    this.instances.clear();
    this.program.kill("SIGKILL");
  }

  private crash(): void {
    this.crashed = true;
    this.onCrash();
  }

  send(message: unknown): void {
    if (!this.dead) this.program.channel?.write(`${JSON.stringify(message)}\n`);
  }

  /** Loads `entry` (a path as the sandbox sees it) as a new instance whose clients use `socket`. */
  open(spec: { name: string; entry: string; socket: string }, options: InstanceOptions): LearnerProgram {
    const id = this.next++;
    const instance = new HostedInstance(id, this, options);
    if (this.dead) {
      instance.finish(this.dead);
      return instance;
    }
    this.instances.set(id, instance);
    this.send({ op: "open", i: id, ...spec });
    return instance;
  }

  /** Ends instance `id` (SIGKILL); `stuck` says how it ended if the host never acknowledges. */
  killInstance(id: number, stuck: () => Outcome = () => ({ kind: "signalled", signal: "SIGKILL" })): void {
    const instance = this.instances.get(id);
    this.send({ op: "kill", i: id });
    if (!instance) return;
    // A host whose event loop is stuck (a learner's busy loop) never answers: then the whole host goes.
    const timer = setTimeout(() => {
      if (!this.instances.has(id)) return;
      this.instances.delete(id);
      instance.finish(stuck());
      this.broken("did not let the grader stop one of its modules (an endless synchronous loop?)");
    }, KILL_GRACE_MS);
    void instance.done.then(() => clearTimeout(timer));
  }

  async dispose(): Promise<void> {
    this.disposing = true;
    this.program.kill("SIGKILL");
    await this.done;
  }
}
