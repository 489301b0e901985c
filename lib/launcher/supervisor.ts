/**
 * Supervises the web and runner processes: prefixes their output, restarts a crashed child
 * with backoff (and says so, with its exit code), gives up after repeated crashes, and stops
 * everything cleanly on Ctrl-C.
 */
import { spawn, type ChildProcess } from "node:child_process";
import readline from "node:readline";

export interface ChildSpec {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

const MAX_CRASHES = 5;
const CRASH_WINDOW_MS = 60_000;
const STOP_GRACE_MS = 10_000;

export class Supervisor {
  private children = new Map<string, ChildProcess>();
  private crashes = new Map<string, number[]>();
  private stopping = false;
  private exitCode = 0;
  private done!: (code: number) => void;
  readonly finished = new Promise<number>((resolve) => (this.done = resolve));

  constructor(
    private readonly specs: ChildSpec[],
    private readonly cwd: string,
  ) {}

  start(): void {
    for (const spec of this.specs) this.launch(spec);
  }

  private launch(spec: ChildSpec): void {
    const child = spawn(spec.command, spec.args, { cwd: this.cwd, env: spec.env, stdio: ["ignore", "pipe", "pipe"] });
    this.children.set(spec.name, child);
    const label = spec.name.padEnd(6);
    for (const stream of [child.stdout, child.stderr]) {
      readline.createInterface({ input: stream }).on("line", (line) => {
        (stream === child.stderr ? process.stderr : process.stdout).write(`${label} │ ${line}\n`);
      });
    }
    child.on("exit", (code, signal) => this.onExit(spec, child, code, signal));
  }

  private onExit(spec: ChildSpec, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.children.get(spec.name) === child) this.children.delete(spec.name);
    if (this.stopping) {
      if (this.children.size === 0) this.done(this.exitCode);
      return;
    }
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    const now = Date.now();
    const recent = (this.crashes.get(spec.name) ?? []).filter((t) => now - t < CRASH_WINDOW_MS);
    recent.push(now);
    this.crashes.set(spec.name, recent);
    if (recent.length >= MAX_CRASHES) {
      console.error(`\n✖ ${spec.name} ${how}, its ${recent.length}th crash in a minute. Stopping Faultline; see its output above.`);
      void this.stop(1);
      return;
    }
    const delay = 500 * 2 ** (recent.length - 1);
    console.error(`\n✖ ${spec.name} ${how} unexpectedly. Restarting it in ${delay / 1000}s (crash ${recent.length} of ${MAX_CRASHES} allowed per minute).`);
    setTimeout(() => {
      if (!this.stopping) this.launch(spec);
    }, delay);
  }

  /** SIGTERM to every child, SIGKILL to any still running after the grace period. */
  async stop(exitCode = 0): Promise<number> {
    if (!this.stopping) {
      this.stopping = true;
      this.exitCode = exitCode;
      if (this.children.size === 0) this.done(exitCode);
      for (const child of this.children.values()) child.kill("SIGTERM");
      const timer = setTimeout(() => {
        for (const [name, child] of this.children) {
          console.error(`${name} did not stop within ${STOP_GRACE_MS / 1000}s; killing it.`);
          child.kill("SIGKILL");
        }
      }, STOP_GRACE_MS);
      timer.unref();
      await this.finished;
      clearTimeout(timer);
    }
    return this.finished;
  }
}
