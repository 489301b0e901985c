/**
 * A run's "pod" (docs/architecture.md, "One sandbox per run"): its directory (read-only /lab with
 * the built learner code and the harness, a socket directory), the shared sandbox that hosts every
 * module the checks load, and its lanes. A lane is what one check runs against: a private Redis
 * from the pool and the chaos proxy in front of it, the only thing learner code can reach. Checks
 * that run at once each hold a lane of their own; a lane is emptied before the next check takes it.
 * Disposing the pod kills every process the run started, stops its Redis servers and removes its
 * files, whatever happened during the run.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Redis } from "ioredis";
import { ChaosProxy, ProxyNumbering, type ChaosBudgets } from "./chaos-proxy.ts";
import { installHarness } from "./harness/install.ts";
import type { PrivateRedis, PrivateRedisPool } from "./private-redis.ts";
import type { SandboxTier } from "./sandbox/probe.ts";
import { runInSandbox, sandboxCommand, defaultLimits, type LearnerProgram, type SandboxLimits, type SandboxProcess } from "./sandbox/spawn.ts";
import { shareDirWithSandbox, shareSocketWithSandbox } from "./sandbox/user.ts";
import { SharedHost } from "./shared-host.ts";

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
  /** Told of each lane as it opens (the live command log follows every lane's proxy). */
  onLane?: (lane: Lane) => void;
  /** The proxies log the faults checks ask for but apply none (`labs:verify --ablate`). */
  inertFaults?: boolean;
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

/** One check's Redis, proxy and way to start learner programs against them. */
export interface Lane {
  readonly index: number;
  /** The check running on this lane now, if any (the live command log tags its commands with it). */
  check: string | null;
  readonly redis: PrivateRedis;
  /** The grader's own connection, opened before any learner code runs. */
  readonly admin: Redis;
  readonly proxy: ChaosProxy;
  /**
   * Starts a learner program for a module under /lab, its clients pointed at this lane's proxy: in
   * `rpc` mode an instance in the run's shared sandbox (a process of its own with `process: true`
   * or limits other than `wallMs`); in `main` mode (a worker) always a process of its own.
   */
  start(mode: "rpc" | "main", module: string, name: string, options?: StartOptions): LearnerProgram;
  /**
   * Swaps the lane's Redis for a fresh one from the pool, for a Redis the learner's code made
   * unusable (a Lua script Redis cannot stop, a server that died). The old one is killed, the
   * proxy is pointed at the new one (current learner connections are cut), and `redis` and
   * `admin` are the new server's from then on.
   */
  replaceRedis(): Promise<void>;
  /**
   * Where this lane's dependency `name` (lib/runner/chaos-dependency.ts) listens, on the host:
   * `l<index>-dep-<name>.sock` in the socket directory, beside the programs' own proxy sockets
   * (`l<index>-<n>.sock`), which is how `@faultline/lab` finds it from the socket it was given.
   */
  dependencySocket(name: string): string;
}

export interface Pod {
  dir: string;
  labDir: string;
  socketDir: string;
  tier: SandboxTier;
  timings: PodTimings;
  /** The first lane, opened with the pod. */
  lane: Lane;
  /** A lane for another check to run at the same time: a free one, or a new one. */
  takeLane(): Promise<Lane>;
  /** Gives a lane back once its check has cleaned up and its Redis is empty. */
  releaseLane(lane: Lane): void;
  /** How many times the shared sandbox died with instances in it (a crash, a heap exhausted). */
  readonly hostCrashes: number;
  /** Replaces the shared sandbox with a fresh one (for a check to run again alone). */
  freshHost(): Promise<void>;
  dispose(): Promise<void>;
}

export async function createPod(spec: PodOptions): Promise<Pod> {
  const started = performance.now();
  const dir = mkdtempSync(path.join(spec.baseDir ?? tmpdir(), "fl-run-"));
  const labDir = path.join(dir, "lab");
  const socketDir = path.join(dir, "sock");
  mkdirSync(labDir, { mode: 0o755 });
  mkdirSync(socketDir, { mode: 0o700 });
  const processes = new Set<SandboxProcess>();
  const redisServers = new Set<PrivateRedis>();
  const lanes: LaneImpl[] = [];
  const free: LaneImpl[] = [];
  const numbering = new ProxyNumbering();
  let laneCount = 0;
  let host: SharedHost | undefined;
  let hostCrashes = 0;
  let disposed: Promise<void> | undefined;
  const dispose = () => (disposed ??= teardown());
  const teardown = async () => {
    for (const p of processes) p.kill("SIGKILL");
    await Promise.all([...processes].map((p) => p.done));
    await host?.dispose();
    for (const lane of lanes) lane.admin.disconnect();
    await Promise.all(lanes.map((lane) => lane.proxy.stop()));
    await Promise.all([...redisServers].map((r) => r.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // Learner code may run as another uid than the runner's (sandbox/user.ts): it must reach /lab
    // and the proxy sockets through these two directories, which stay closed to everyone else.
    shareDirWithSandbox(dir);
    shareDirWithSandbox(socketDir);
    for (const [name, content] of spec.files) {
      mkdirSync(path.dirname(path.join(labDir, name)), { recursive: true });
      writeFileSync(path.join(labDir, name), content);
    }
    const paths = sandboxCommand({ tier: spec.tier, labDir, socketDir, entry: "x" }, defaultLimits);
    // Processes of their own read the first lane's socket from the harness's config file.
    const hostPath = await installHarness(labDir, `${paths.socketPath}/redis.sock`);
    const spawnShared = () => {
      const program = runInSandbox({
        tier: spec.tier,
        labDir,
        socketDir,
        entry: hostPath,
        args: [`--shared=${paths.labPath}`],
        limits: sharedLimits,
        channel: true,
        deferDeadline: true,
      });
      processes.add(program);
      void program.done.then(() => processes.delete(program));
      return new SharedHost(program, () => hostCrashes++);
    };
    host = spawnShared();
    const parkedWanted = spec.parked ?? 1;
    const parked: SandboxProcess[] = [];
    const spawnProcess = (limits?: Partial<SandboxLimits>) => {
      const program = runInSandbox({ tier: spec.tier, labDir, socketDir, entry: hostPath, limits, channel: true, deferDeadline: true });
      processes.add(program);
      return program;
    };
    const startIn =
      (socketFor: (name: string) => string) =>
      (mode: "rpc" | "main", module: string, name: string, options: StartOptions = {}): LearnerProgram => {
        // Each program reaches the lane's proxy through a socket of its own, so the proxy knows whose
        // every command is (crash points, the command log's owner).
        const socket = socketFor(name);
        const onlyWall = !options.limits || Object.keys(options.limits).every((k) => k === "wallMs");
        if (mode === "rpc" && !options.process && onlyWall) {
          // A host that died (a crash, a heap exhausted) is replaced: the next instance starts clean.
          if (!host?.alive) host = spawnShared();
          const instance = host.open(
            { name, entry: `${paths.labPath}/${module}`, socket },
            { outputBytes: defaultLimits.outputBytes, onOutput: options.onOutput },
          );
          instance.arm(options.limits?.wallMs ?? defaultLimits.wallMs);
          return instance;
        }
        // A parked process has the default limits; a check asking for others gets a fresh one.
        let program = options.limits ? undefined : parked.shift();
        while (program && program.child.exitCode !== null) program = parked.shift();
        program ??= spawnProcess(options.limits);
        if (options.onOutput) program.setOutputHandler(options.onOutput);
        program.arm(options.limits?.wallMs);
        program.channel?.write(`${JSON.stringify({ load: `${paths.labPath}/${module}`, mode, name, socket })}\n`);
        // A worker's channel carries nothing back; draining it lets its end be noticed (and whatever
        // a learner writes there is dropped rather than buffered).
        if (mode === "main") program.channel?.resume();
        if (!disposed && parked.length < parkedWanted) parked.push(spawnProcess());
        return program;
      };
    const openLane = async (): Promise<LaneImpl> => {
      if (disposed) throw new Error("the pod is disposed");
      const index = laneCount++;
      const file = index === 0 ? "redis.sock" : `redis-${index}.sock`;
      const redis = await spec.pool.acquire();
      redisServers.add(redis);
      const proxy = new ChaosProxy({
        listenPath: path.join(socketDir, file),
        upstreamPath: redis.socketPath,
        upstreamUser: redis.learner.user,
        upstreamPassword: redis.learner.password,
        seed: spec.seed,
        allow: spec.allow,
        budgets: spec.budgets,
        numbering,
        inert: spec.inertFaults,
      });
      let programs = 0;
      const socketFor = (name: string) => {
        const own = `l${index}-${++programs}.sock`;
        proxy.listenFor(path.join(socketDir, own), name);
        shareSocketWithSandbox(path.join(socketDir, own));
        return `${paths.socketPath}/${own}`;
      };
      const lane = new LaneImpl(
        index,
        redis,
        proxy,
        startIn(socketFor),
        (name) => path.join(socketDir, `l${index}-dep-${name}.sock`),
        async () => {
          if (disposed) throw new Error("the pod is disposed");
          // SIGKILL: the only stop that works while a script keeps the server busy.
          await lane.redis.stop();
          redisServers.delete(lane.redis);
          const fresh = await spec.pool.acquire();
          redisServers.add(fresh);
          if (disposed) throw new Error("the run ended while its Redis was being replaced");
          return fresh;
        },
      );
      lanes.push(lane);
      await Promise.all([proxy.start(), lane.admin.ping()]);
      shareSocketWithSandbox(path.join(socketDir, file));
      spec.onLane?.(lane);
      return lane;
    };
    const redisStarted = performance.now();
    const first = await openLane();
    free.push(first);
    const redisMs = performance.now() - redisStarted;
    return {
      dir,
      labDir,
      socketDir,
      tier: spec.tier,
      timings: { redisMs, setupMs: performance.now() - started },
      lane: first,
      async takeLane() {
        return free.pop() ?? openLane();
      },
      releaseLane(lane) {
        if (!disposed) free.push(lane as LaneImpl);
      },
      get hostCrashes() {
        return hostCrashes;
      },
      async freshHost() {
        const old = host;
        host = spawnShared();
        await old?.dispose();
      },
      dispose,
    };
  } catch (error) {
    await dispose();
    throw error;
  }
}

class LaneImpl implements Lane {
  admin: Redis;
  check: string | null = null;

  constructor(
    readonly index: number,
    public redis: PrivateRedis,
    readonly proxy: ChaosProxy,
    readonly start: Lane["start"],
    readonly dependencySocket: Lane["dependencySocket"],
    private readonly replace: () => Promise<PrivateRedis>,
  ) {
    this.admin = redis.adminClient();
  }

  async replaceRedis(): Promise<void> {
    this.admin.disconnect();
    const fresh = await this.replace();
    this.redis = fresh;
    this.admin = fresh.adminClient();
    this.proxy.retarget({ path: fresh.socketPath, user: fresh.learner.user, password: fresh.learner.password });
    await this.admin.ping();
  }
}
