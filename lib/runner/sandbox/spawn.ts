/**
 * Runs one learner program as its own OS process inside the sandbox (docs/architecture.md "The
 * sandbox", layers 1-3): as an unprivileged uid (user.ts), in the tier the probe proved
 * (tiers.ts), under the Node permission model, prlimit limits, a wall-clock deadline and an output
 * cap. The grader gets a real process it can SIGKILL, SIGSTOP or SIGTERM, and every way it can
 * end maps to a message.
 */
import { dieWithOwner } from "../die-with-owner.ts";
import { spawn, type ChildProcess } from "node:child_process";
import type { Duplex } from "node:stream";
import { programPids } from "./pids.ts";
import { tierPaths, wrapInTier, type SandboxTier } from "./tiers.ts";
import { sandboxUser } from "./user.ts";

export interface SandboxLimits {
  /** Wall-clock deadline; the whole process group is killed after it. @default 10000 */
  wallMs: number;
  /** @default 5 */
  cpuSeconds: number;
  /** prlimit --data: what a Buffer bomb hits, since the heap flag does not cover it. @default 256 MiB */
  dataBytes: number;
  /** @default 128 */
  heapMb: number;
  /** @default 64 */
  openFiles: number;
  /** stdout + stderr kept and allowed before the process is stopped. @default 256 KiB */
  outputBytes: number;
  /** Size of the private /tmp (bubblewrap and unshare tiers). @default 16 MiB */
  tmpBytes: number;
}

export const defaultLimits: SandboxLimits = {
  wallMs: 10_000,
  cpuSeconds: 5,
  dataBytes: 256 * 1024 * 1024,
  heapMb: 128,
  openFiles: 64,
  outputBytes: 256 * 1024,
  tmpBytes: 16 * 1024 * 1024,
};

export interface SandboxSpec {
  tier: SandboxTier;
  /** Host directory with the built learner code and vendored modules, mounted read-only. */
  labDir: string;
  /** Host directory holding the run's proxy socket; the only other thing the program can reach (read-only: it can connect, not create). */
  socketDir: string;
  /** Entry file, relative to labDir. */
  entry: string;
  args?: string[];
  limits?: Partial<SandboxLimits>;
  /** Called with each chunk the program prints, as it prints it (within the output cap). */
  onOutput?: (text: string, stream: "stdout" | "stderr") => void;
  /** Start the wall-clock deadline only when `arm()` is called (a parked, pre-started program). @default false */
  deferDeadline?: boolean;
  /** Open fd 3 as a private channel to the program (the harness's RPC). @default false */
  channel?: boolean;
}

export type Outcome =
  | { kind: "exited"; code: number }
  | { kind: "signalled"; signal: NodeJS.Signals }
  /**
   * `message` says what happened as a predicate with no subject ("ran out of its 128 MiB heap
   * (…)"), so every caller puts its own in front, once: "Your program …", "worker-1 …", "the
   * process running queue.ts …".
   */
  | { kind: "timeout" | "cpu" | "heap" | "memory" | "output" | "files" | "crashed"; message: string }
  /** The sandbox itself failed: infrastructure, never the learner's fault. */
  | { kind: "sandbox"; message: string };

/**
 * A learner program as the grader drives it: a process of its own (SandboxProcess) or an instance
 * in the run's shared sandbox (shared-host.ts), which refuses the signals only a process has.
 */
export type LearnerProgram = Pick<SandboxProcess, "done" | "output" | "truncated" | "channel" | "arm" | "setOutputHandler" | "kill" | "signal"> & {
  /** Set on an instance of the shared sandbox; a process of its own leaves it unset. */
  readonly instance?: true;
};

export interface SandboxProcess {
  child: ChildProcess;
  /** Paths as the program sees them. */
  labPath: string;
  socketPath: string;
  output(): string;
  truncated(): boolean;
  done: Promise<Outcome>;
  /** fd 3 of the program, when `channel` was asked for. */
  channel: Duplex | null;
  /** Starts the wall-clock deadline (for a program started with deferDeadline). */
  arm(wallMs?: number): void;
  /** Where printed output goes from now on. */
  setOutputHandler(handler: (text: string, stream: "stdout" | "stderr") => void): void;
  /** SIGKILLs the whole sandbox. */
  kill(signal?: NodeJS.Signals): void;
  /**
   * Sends a signal to the learner's program itself. bubblewrap's --new-session puts it in its
   * own session, so signalling the sandbox's process group reaches only bwrap.
   */
  signal(signal: NodeJS.Signals): boolean;
}

const MIB = 1024 * 1024;

export function sandboxCommand(spec: SandboxSpec, limits: SandboxLimits): { command: string; args: string[]; labPath: string; socketPath: string } {
  const { labPath, socketPath } = tierPaths(spec.tier, spec);
  const node = [
    process.execPath,
    "--experimental-permission",
    `--allow-fs-read=${labPath}/`,
    `--max-old-space-size=${limits.heapMb}`,
    "--no-warnings",
    "--disable-proto=delete",
    // The run's shared sandbox gives each instance its own module graph with vm.SourceTextModule.
    "--experimental-vm-modules",
    `${labPath}/${spec.entry}`,
    ...(spec.args ?? []),
  ];
  const prlimit = [
    "/usr/bin/prlimit",
    `--data=${limits.dataBytes}`,
    `--nofile=${limits.openFiles}`,
    `--cpu=${limits.cpuSeconds}:${limits.cpuSeconds + 1}`,
    `--fsize=${MIB}`,
    `--core=0`,
    "--",
  ];
  const user = sandboxUser() ?? { uid: process.geteuid!(), gid: process.getegid!() };
  const wrapped = wrapInTier(spec.tier, { labDir: spec.labDir, socketDir: spec.socketDir, tmpBytes: limits.tmpBytes, ...user }, [...prlimit, ...node]);
  return { ...wrapped, labPath, socketPath };
}

function classify(code: number | null, signal: NodeJS.Signals | null, output: string, limits: SandboxLimits): Outcome {
  // The tools' own messages; `fl-sandbox:` is the unshare tier's setup (tiers.ts).
  const sandboxFailure = /^(bwrap|unshare|prlimit|setpriv|fl-sandbox): .*/m.exec(output);
  if (sandboxFailure && code !== 0) return { kind: "sandbox", message: `could not be started by the sandbox (${sandboxFailure[0].slice(0, 200)})` };
  if (signal === "SIGXCPU" || code === 152)
    return { kind: "cpu", message: `used more than ${limits.cpuSeconds} s of CPU time and was stopped (look for a loop that never waits or never ends)` };
  if (/JavaScript heap out of memory|Reached heap limit/.test(output))
    return { kind: "heap", message: `ran out of its ${limits.heapMb} MiB heap (look for data that grows without bound)` };
  if (
    /Array buffer allocation failed|Cannot allocate memory|ENOMEM|bad_alloc|out of memory|Allocation failed|invalid size error|RangeError: .*(Invalid typed array length|Array buffer)/i.test(
      output,
    )
  ) {
    return { kind: "memory", message: `tried to allocate more than ${limits.dataBytes / MIB} MiB and the allocation failed` };
  }
  if (/EMFILE/.test(output))
    return { kind: "files", message: `opened more than ${limits.openFiles} files or connections at once (close connections you no longer need)` };
  // Through bubblewrap, or the unshare tier's pid-1 shell, a fatal signal shows as 128 + its
  // number: SIGTRAP, SIGABRT, SIGBUS, SIGSEGV.
  if ([133, 134, 135, 139].includes(code ?? 0)) {
    return { kind: "crashed", message: `crashed (exit ${code}) without an error of its own, which under these limits usually means it ran out of memory` };
  }
  if (signal) return { kind: "signalled", signal };
  return { kind: "exited", code: code ?? 1 };
}

/** Outcomes that mean a sandbox limit stopped the program (what the kill metric counts). */
const limitKinds = new Set<Outcome["kind"]>(["timeout", "cpu", "heap", "memory", "output", "files", "crashed"]);
const limitListeners = new Set<(kind: Outcome["kind"]) => void>();

/** Calls `listener` with the reason whenever a sandbox limit stops a program in this process. */
export function onLimitHit(listener: (kind: Outcome["kind"]) => void): () => void {
  limitListeners.add(listener);
  return () => limitListeners.delete(listener);
}

export function runInSandbox(spec: SandboxSpec): SandboxProcess {
  const limits = { ...defaultLimits, ...spec.limits };
  const { command, args, labPath, socketPath } = sandboxCommand(spec, limits);
  const [program, ...argv] = dieWithOwner([command, ...args], sandboxUser());
  // An empty environment: nothing of the runner's (URLs, secrets) reaches learner code.
  const child = spawn(program!, argv, {
    env: {} as NodeJS.ProcessEnv /* Next types NODE_ENV as required; empty on purpose */,
    cwd: spec.labDir,
    detached: true,
    stdio: spec.channel ? ["ignore", "pipe", "pipe", "pipe"] : ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let kept = 0;
  let cut = false;
  let forced: Outcome | null = null;
  let onOutput = spec.onOutput;
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  const onData = (stream: "stdout" | "stderr") => (d: Buffer) => {
    if (kept + d.length > limits.outputBytes) {
      const tail = d.subarray(0, Math.max(0, limits.outputBytes - kept)).toString();
      out += tail;
      if (tail) onOutput?.(tail, stream);
      kept = limits.outputBytes;
      if (!cut) {
        cut = true;
        forced = { kind: "output", message: `printed more than ${limits.outputBytes / 1024} KiB and was stopped (print less, or only what you need to see)` };
        killGroup("SIGKILL");
      }
      return;
    }
    kept += d.length;
    out += d.toString();
    onOutput?.(d.toString(), stream);
  };
  child.stdout?.on("data", onData("stdout"));
  child.stderr?.on("data", onData("stderr"));
  let deadline: NodeJS.Timeout | undefined;
  const arm = (wallMs = limits.wallMs) => {
    clearTimeout(deadline);
    deadline = setTimeout(() => {
      forced ??= { kind: "timeout", message: `was still running after ${wallMs / 1000} s and was stopped` };
      killGroup("SIGKILL");
    }, wallMs);
  };
  if (!spec.deferDeadline) arm();
  const done = new Promise<Outcome>((resolve) => {
    child.on("error", (error) => resolve({ kind: "sandbox", message: `could not be started by the sandbox (${error.message})` }));
    let settled = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(deadline);
      if (settled) return;
      settled = true;
      const outcome = forced ?? classify(code, signal, out, limits);
      if (limitKinds.has(outcome.kind)) for (const listener of limitListeners) listener(outcome.kind);
      resolve(outcome);
    };
    child.on("close", finish);
    // 'close' waits for every stdio stream to close, and a stream nobody reads (the channel of a
    // worker the grader never calls) may never notice its end. Once the process has exited, its
    // output has a moment to drain; then the streams are closed and the outcome stands.
    child.on("exit", (code, signal) => {
      setTimeout(() => {
        for (const stream of child.stdio) stream?.destroy();
        finish(code, signal);
      }, 500).unref();
    });
  });
  const signal = (sig: NodeJS.Signals) => {
    const pids = child.pid ? programPids(child.pid) : [];
    for (const pid of pids) {
      try {
        process.kill(pid, sig);
      } catch {
        // exited meanwhile
      }
    }
    return pids.length > 0;
  };
  const channel = spec.channel ? (child.stdio[3] as Duplex) : null;
  // A learner process that dies with bytes unread resets its end of the channel; its exit is the
  // outcome that matters, and an unhandled 'error' here would take down the whole runner.
  channel?.on("error", () => {});
  for (const stream of [child.stdout, child.stderr]) stream?.on("error", () => {});
  return {
    child,
    labPath,
    socketPath,
    output: () => out,
    truncated: () => cut,
    done,
    channel,
    arm,
    setOutputHandler: (h) => (onOutput = h),
    kill: (sig = "SIGKILL") => killGroup(sig),
    signal,
  };
}
