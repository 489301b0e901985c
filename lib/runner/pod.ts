/**
 * A run's "pod": its directory (read-only /lab with the built learner code and the harness, a
 * socket directory), a private Redis from the pool, and the chaos proxy in front of it, which
 * is the only thing learner processes can reach. Disposing it kills every process the run
 * started, stops its Redis and removes its files, whatever happened during the run.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Redis } from "ioredis";
import { ChaosProxy, type ChaosBudgets } from "./chaos-proxy.ts";
import { installHarness } from "./harness/install.ts";
import type { PrivateRedis, PrivateRedisPool } from "./private-redis.ts";
import type { SandboxTier } from "./sandbox/probe.ts";
import { runInSandbox, sandboxCommand, defaultLimits, type LearnerProgram, type SandboxLimits, type SandboxProcess } from "./sandbox/spawn.ts";
import { SharedHost } from "./shared-host.ts";
import { shareDirWithSandbox, shareSocketWithSandbox } from "./sandbox/user.ts";

export interface PodOptions {
  tier: SandboxTier;
  pool: PrivateRedisPool;
  /** Built files, path relative to /lab → JavaScript or JSON. */
  files: Map<string, string>;
  seed: number;
  allow?: Set<string>;
  budgets?: ChaosBudgets;
  /** Parent of the run directory. @default os.tmpdir() */
  baseDir?: string;
  /**
   * Processes (for roles that need one) kept started ahead of need once the run has started one.
   * @default 1
   */
  parked?: number;
}

/**
 * Limits of the run's shared sandbox, which hosts every instance the checks load: a run's worth
 * of the per-process ones, so one run cannot take the host, and one instance cannot take the run.
 */
export const sharedLimits: Partial<SandboxLimits> = { cpuSeconds: 60, heapMb: 384, dataBytes: 1024 * 1024 * 1024, openFiles: 512, outputBytes: 1024 * 1024 };

export interface StartOptions {
  limits?: Partial<SandboxLimits>;
  /** A process of its own rather than an instance in the shared sandbox (for SIGSTOP, SIGTERM, a port). */
  process?: boolean;
  onOutput?: (text: string, stream: "stdout" | "stderr") => void;
}

export interface PodTimings {
  redisMs: number;
  setupMs: number;
}

export interface Pod {
  dir: string;
  labDir: string;
  socketDir: string;
  tier: SandboxTier;
  redis: PrivateRedis;
  proxy: ChaosProxy;
  /** The grader's own connection, opened before any learner code runs. */
  admin: Redis;
  timings: PodTimings;
  /**
   * Starts a learner program for a module under /lab: in `rpc` mode an instance in the run's
   * shared sandbox (a process of its own with `process: true`); in `main` mode (a worker) always a
   * process of its own.
   */
  start(mode: "rpc" | "main", module: string, name: string, options?: StartOptions): LearnerProgram;
  /**
   * Swaps the run's Redis for a fresh one from the pool, for a Redis the learner's code made
   * unusable (a Lua script Redis cannot stop, a server that died). The old one is killed, the
   * proxy is pointed at the new one (current learner connections are cut), and `redis` and
   * `admin` are the new server's from then on.
   */
  replaceRedis(): Promise<void>;
  dispose(): Promise<void>;
}

export async function createPod(o: PodOptions): Promise<Pod> {
  const started = performance.now();
  const dir = mkdtempSync(path.join(o.baseDir ?? tmpdir(), "fl-run-"));
  const labDir = path.join(dir, "lab");
  const socketDir = path.join(dir, "sock");
  mkdirSync(labDir, { mode: 0o755 });
  mkdirSync(socketDir, { mode: 0o700 });
  const processes = new Set<SandboxProcess>();
  let host: SharedHost | undefined;
  let redis: PrivateRedis | undefined;
  let proxy: ChaosProxy | undefined;
  let admin: Redis | undefined;
  let disposed: Promise<void> | undefined;
  const dispose = () => (disposed ??= teardown());
  const teardown = async () => {
    for (const p of processes) p.kill("SIGKILL");
    await Promise.all([...processes].map((p) => p.done));
    await host?.dispose();
    admin?.disconnect();
    await proxy?.stop();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // Learner code may run as another uid than the runner's (sandbox/user.ts): it must reach /lab
    // and the proxy socket through these two directories, which stay closed to everyone else.
    shareDirWithSandbox(dir);
    shareDirWithSandbox(socketDir);
    for (const [name, content] of o.files) {
      mkdirSync(path.dirname(path.join(labDir, name)), { recursive: true });
      writeFileSync(path.join(labDir, name), content);
    }
    const paths = sandboxCommand({ tier: o.tier, labDir, socketDir, entry: "x" }, defaultLimits);
    const hostPath = await installHarness(labDir, `${paths.socketPath}/redis.sock`);
    const redisStarted = performance.now();
    redis = await o.pool.acquire();
    const redisMs = performance.now() - redisStarted;
    admin = redis.adminClient();
    const replaceRedis = async () => {
      if (disposed) throw new Error("the pod is disposed");
      admin?.disconnect();
      // SIGKILL: the only stop that works while a script keeps the server busy.
      await redis?.stop();
      const fresh = await o.pool.acquire();
      if (disposed) {
        await fresh.stop();
        throw new Error("the run ended while its Redis was being replaced");
      }
      redis = fresh;
      admin = fresh.adminClient();
      proxy?.retarget({ path: fresh.socketPath, user: fresh.learner.user, password: fresh.learner.password });
      await admin.ping();
    };
    proxy = new ChaosProxy({
      listenPath: path.join(socketDir, "redis.sock"),
      upstreamPath: redis.socketPath,
      upstreamUser: redis.learner.user,
      upstreamPassword: redis.learner.password,
      seed: o.seed,
      allow: o.allow,
      budgets: o.budgets,
    });
    await Promise.all([proxy.start(), admin.ping()]);
    shareSocketWithSandbox(path.join(socketDir, "redis.sock"));
    const spawnHost = (limits?: Partial<SandboxLimits>) => {
      const program = runInSandbox({ tier: o.tier, labDir, socketDir, entry: hostPath, limits, channel: true, deferDeadline: true });
      processes.add(program);
      return program;
    };
    const spawnShared = () => {
      const program = runInSandbox({ tier: o.tier, labDir, socketDir, entry: hostPath, args: [`--shared=${paths.labPath}`], limits: sharedLimits, channel: true, deferDeadline: true });
      processes.add(program);
      return new SharedHost(program);
    };
    host = spawnShared();
    const parkedWanted = o.parked ?? 1;
    const parked: SandboxProcess[] = [];
    const start = (mode: "rpc" | "main", module: string, name: string, options: StartOptions = {}): LearnerProgram => {
      const onlyWall = !options.limits || Object.keys(options.limits).every((k) => k === "wallMs");
      if (mode === "rpc" && !options.process && onlyWall) {
        // A host that died (a crash, a heap exhausted) is replaced: the next instance starts clean.
        if (!host?.alive) host = spawnShared();
        const instance = host.open({ name, entry: `${paths.labPath}/${module}`, socket: `${paths.socketPath}/redis.sock` }, { outputBytes: defaultLimits.outputBytes, onOutput: options.onOutput });
        instance.arm(options.limits?.wallMs ?? defaultLimits.wallMs);
        return instance;
      }
      // A parked process has the default limits; a check asking for others gets a fresh one.
      let program = options.limits ? undefined : parked.shift();
      while (program && program.child.exitCode !== null) program = parked.shift();
      program ??= spawnHost(options.limits);
      if (options.onOutput) program.setOutputHandler(options.onOutput);
      program.arm(options.limits?.wallMs);
      program.channel?.write(`${JSON.stringify({ load: `${paths.labPath}/${module}`, mode, name })}\n`);
      // A worker's channel carries nothing back; draining it lets its end be noticed (and whatever
      // a learner writes there is dropped rather than buffered).
      if (mode === "main") program.channel?.resume();
      if (!disposed && parked.length < parkedWanted) parked.push(spawnHost());
      return program;
    };
    const current = proxy;
    return {
      dir,
      labDir,
      socketDir,
      tier: o.tier,
      // Getters: replaceRedis() swaps them during a run.
      get redis() {
        return redis as PrivateRedis;
      },
      get admin() {
        return admin as Redis;
      },
      proxy: current,
      timings: { redisMs, setupMs: performance.now() - started },
      start,
      replaceRedis,
      dispose,
    };
  } catch (error) {
    await dispose();
    throw error;
  }
}
