/**
 * What a lab's checks.ts gets for each check (`t`): the learner's processes, the run's Redis as
 * the grader sees it, the chaos proxy, and helpers that turn observations into failures that say
 * what happened, what was expected and what to change. Everything a verdict rests on comes from
 * here: RPC return values, Redis read with the grader's own connection, the proxy's log, exits.
 */
import { randomBytes } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import type { Redis } from "ioredis";
import { ChaosDependency, type DependencyBehaviour } from "../runner/chaos-dependency.ts";
import { mulberry32, type ChaosProxy, type CommandLogEntry, type CrashPoint } from "../runner/chaos-proxy.ts";
import type { Lane } from "../runner/pod.ts";
import type { SandboxLimits } from "../runner/sandbox/spawn.ts";
import { LearnerProcess, RpcModule } from "./process.ts";
import { checkProperty, type fc, type PropertyOptions } from "./property.ts";
import { viewRedis, type RedisView, type ViewOptions } from "./redis-view.ts";
import { CheckFailure, GraderError, type FailureDetails } from "./result.ts";

export interface ContextHooks {
  /** Learner output and grader notes, streamed to the learner as the check runs. */
  log(stream: "stdout" | "stderr" | "grader", text: string, process?: string): void;
  /** How long a learner module took from spawn to loaded (sandbox start, Node start, import). */
  loaded?(ms: number): void;
  /** The learner's files as submitted (read-only ones included), by lab.json path: what `t.source` reads. */
  sources?: Readonly<Record<string, string>>;
}

export interface SpawnOptions {
  /** Name shown in logs and passed to the program (`workerName`). */
  name?: string;
  limits?: Partial<SandboxLimits>;
}

export interface LoadOptions extends SpawnOptions {
  /**
   * Load the module in a process of its own, for a check that pauses it (SIGSTOP), signals it
   * (SIGTERM), reads its pid or has it listen on a port. Limits other than `wallMs` imply it.
   * @default false: an instance in the run's shared sandbox
   */
  process?: boolean;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const ordinal = (n: number) => `${n}${n % 100 >= 11 && n % 100 <= 13 ? "th" : (["th", "st", "nd", "rd"][n % 10] ?? "th")}`;

/** The module name the learner wrote (`queue.ts`) → the built file the sandbox runs. */
const built = (module: string) => module.replace(/\.ts$/, ".js");

export class CheckContext {
  /** The grader's own Redis connection (admin): read and seed state, never through the proxy. */
  readonly redis: Redis;
  readonly proxy: ChaosProxy;
  readonly seed: number;
  /**
   * Seeded randomness for the *shape* of a check: orders, sizes, which worker dies and when. A run
   * replayed with the same seed makes the same choices, so a failure reproduces. The seed is known
   * to the learner (they can even choose it), so never use this for values learner code could
   * otherwise compute in advance: ids, payloads, secrets. Those come from `t.id()`/`t.unpredictable()`.
   */
  readonly random: () => number;
  readonly processes: LearnerProcess[] = [];
  private readonly dependencies = new Map<string, ChaosDependency>();
  private counter = 0;
  /**
   * Log entries up to this seq belong to earlier checks. A seq, not an index: the log drops its
   * oldest entries at its cap, which would shift an index.
   */
  private readonly logAfterSeq: number;

  constructor(
    private readonly lane: Lane,
    seed: number,
    private readonly hooks: ContextHooks,
  ) {
    this.redis = lane.admin;
    this.proxy = lane.proxy;
    this.seed = seed;
    this.random = mulberry32(seed);
    this.logAfterSeq = this.logPosition();
  }

  private name(prefix: string, given?: string): string {
    this.counter += 1;
    return given ?? `${prefix}-${this.counter}`;
  }

  private readonly mark = (action: string) => {
    this.proxy.mark(action);
    this.hooks.log("grader", action);
  };

  private output(name: string) {
    return (text: string, stream: "stdout" | "stderr") => this.hooks.log(stream, text, name);
  }

  /**
   * Imports a learner module and waits until it is loaded: an instance in the run's shared sandbox,
   * with its own globals and a fresh module graph (all the learner's files, `@faultline/lab`,
   * ioredis), whose `kill()` is a SIGKILL's (every connection and timer gone at once); or, with
   * `process: true`, a sandboxed process of its own, which can also be paused and signalled.
   */
  async load(module: string, options: LoadOptions = {}): Promise<RpcModule> {
    const name = this.name("module", options.name);
    const started = performance.now();
    const program = this.lane.start("rpc", built(module), name, { limits: options.limits, process: options.process, onOutput: this.output(name) });
    const rpc = new RpcModule(name, program, module, this.mark);
    this.processes.push(rpc);
    await rpc.ready;
    this.hooks.loaded?.(performance.now() - started);
    return rpc;
  }

  /** Loads the same module n times at once (n instances, or n processes), for competing consumers. */
  loadMany(module: string, n: number, options: Omit<LoadOptions, "name"> = {}): Promise<RpcModule[]> {
    return Promise.all(Array.from({ length: n }, (_, i) => this.load(module, { ...options, name: `${module.replace(/\.ts$/, "")}-${i + 1}` })));
  }

  /**
   * Starts a learner entry point as a worker, always a sandboxed process of its own (kill, pause,
   * resume and signal are real signals): its top level runs, then `main(name)` if exported.
   */
  spawn(module: string, options: SpawnOptions = {}): LearnerProcess {
    const name = this.name("worker", options.name);
    const program = this.lane.start("main", built(module), name, { limits: options.limits, onOutput: this.output(name) });
    const worker = new LearnerProcess(name, program, this.mark);
    this.processes.push(worker);
    return worker;
  }

  /**
   * A fresh random id no learner program can predict, even one that knows the seed (it is drawn
   * from the runner's CSPRNG, never from the seed): `t.id("task")` → `task-0k3x9q2m7a1bz`.
   * Fixed width, so no id is a prefix of another and a substring search for one never finds a
   * longer one.
   */
  id(prefix = "id"): string {
    return `${prefix}-${randomBytes(8).readBigUInt64BE().toString(36).padStart(13, "0")}`;
  }

  /**
   * A number in [0, 1) no learner program can predict (the runner's CSPRNG): for payload values
   * (amounts, text) that a program could otherwise hard-code. Not reproduced by the seed.
   */
  unpredictable(): number {
    // 48 random bits (randomInt refuses a range of 2^48 or more, so read the bytes directly).
    return randomBytes(6).readUIntBE(0, 6) / 2 ** 48;
  }

  /**
   * Tries `predicate` on inputs drawn from `arbitrary` (fast-check, `import { fc }` from the
   * grader), seeded by the check, and fails with the smallest input that breaks it: generated
   * inputs instead of three listed ones, and a failure the learner can reproduce by hand.
   */
  property<T>(arbitrary: fc.Arbitrary<T>, predicate: (value: T) => Promise<void>, options?: PropertyOptions<T>): Promise<void> {
    return checkProperty(this.seed, arbitrary, predicate, options);
  }

  /**
   * Kills `program` at a command boundary, the way a machine dies between two steps of a
   * multi-step operation: when the `nth` (default 1st) `match` command (`*`: any) it sends from now on reaches
   * the proxy, `before` (the default: that command never reaches Redis) or `after` (Redis applied
   * it; its reply never arrives). From that instant nothing else the program sends reaches Redis,
   * on any of its connections, and it is SIGKILLed. Resolves with the command it crashed at, or
   * null when the check ended first. Choose the point with `t.random()` to sweep a multi-step
   * operation; a replay with the same seed crashes at the same one.
   */
  async crashAt(program: LearnerProcess, point: { match: string; nth?: number; when?: CrashPoint["when"] }): Promise<CommandLogEntry | null> {
    const spec: CrashPoint = { owner: program.name, match: point.match.toUpperCase(), nth: point.nth ?? 1, when: point.when ?? "before" };
    const { fired } = this.proxy.crashPoint(spec);
    const entry = await fired;
    if (!entry) return null;
    this.hooks.log("grader", `crash point: ${program.name} dies ${spec.when} its ${ordinal(spec.nth)} ${spec.match} since the point was set`);
    await program.kill();
    return entry;
  }

  /**
   * Puts a fault the proxy cannot see on the command log's timeline and in the learner's log: a
   * handler told to throw, hang or run slow (`t.fault("handler throws for task-…")`). Start the
   * text with "handler" for a handler's fault, so labs:verify counts its kind.
   */
  fault(text: string): void {
    this.mark(text);
  }

  /**
   * The text of one of the learner's files exactly as they submitted it (`"docker-compose.yml"`, a
   * path from lab.json's `files`), for checks that grade a file by reading it: a compose file, a
   * Dockerfile, or the source of a module. Learner code never sees what the check reads.
   */
  source(file: string): string {
    const text = this.hooks.sources?.[file];
    if (text === undefined) {
      const known = Object.keys(this.hooks.sources ?? {});
      throw new GraderError(
        `t.source("${file}"): the run has no such file; its files are ${known.length > 0 ? known.join(", ") : "(none were given to the check)"}`,
      );
    }
    return text;
  }

  /**
   * A real HTTP dependency for the learner's code to call, run by the grader for this check only
   * (lib/runner/chaos-dependency.ts): learner programs of this check reach it with
   * `dependency(name)` from `@faultline/lab`, and the check sets its answers (`respond`), breaks it
   * (`failNext`, `hang`, `reset`, `down`, `setLatency`, `schedule`), heals it and reads every call
   * it took (`calls()`, `stats()`). Its faults are marked on the command log as "dependency
   * <name>: …". The same name twice in a check is the same dependency; it closes when the check ends.
   */
  async dependency(name: string, options: { respond?: DependencyBehaviour } = {}): Promise<ChaosDependency> {
    if (!/^[a-z][a-z0-9-]{0,31}$/.test(name))
      throw new GraderError(`t.dependency("${name}"): a name is 1–32 lower-case letters, digits and dashes, starting with a letter`);
    const known = this.dependencies.get(name);
    if (known) {
      if (options.respond) known.respond(options.respond);
      return known;
    }
    const dependency = new ChaosDependency({
      name,
      socketPath: this.lane.dependencySocket(name),
      // Drawn from the check's seed: a replay draws the same latencies.
      seed: Math.floor(this.random() * 2 ** 32),
      behaviour: options.respond,
      mark: this.mark,
      inert: this.proxy.inert,
    });
    this.dependencies.set(name, dependency);
    await dependency.start();
    return dependency;
  }

  /** A note in the learner's log, e.g. "killing worker-2 while it holds task 17". */
  note(text: string): void {
    this.hooks.log("grader", text);
  }

  sleep(ms: number): Promise<void> {
    return sleep(ms);
  }

  fail(details: FailureDetails): never {
    throw new CheckFailure(details);
  }

  /** Fails unless actual deep-equals expected. */
  equal(actual: unknown, expected: unknown, details: Omit<FailureDetails, "expected" | "actual">): void {
    if (!isDeepStrictEqual(actual, expected)) throw new CheckFailure({ ...details, expected, actual });
  }

  /**
   * Polls until `condition` returns a truthy value and returns it; fails with `details` when the
   * deadline passes first.
   */
  async waitFor<T>(condition: () => Promise<T> | T, details: FailureDetails & { timeoutMs?: number; intervalMs?: number }): Promise<T> {
    const deadline = performance.now() + (details.timeoutMs ?? 5000);
    for (;;) {
      const value = await condition();
      if (value) return value;
      if (performance.now() > deadline) throw new CheckFailure(details);
      await sleep(details.intervalMs ?? 25);
    }
  }

  /**
   * What the run's Redis holds, read with the grader's own connection (lib/grader/redis-view.ts):
   * which of `wanted` occur anywhere in it, and how many members each type of key holds.
   * `ignore` skips keys the lab's read-only files write ("effects:*").
   */
  viewRedis(wanted: string[] = [], options: ViewOptions = {}): Promise<RedisView> {
    return viewRedis(this.redis, wanted, options);
  }

  /**
   * Fails unless every one of `values` (ids, payload fragments) is stored somewhere in Redis right
   * now: proof that the learner's system keeps its state in Redis rather than in its own memory.
   */
  async expectInRedis(values: string[], details: Omit<FailureDetails, "expected" | "actual"> & ViewOptions): Promise<void> {
    const { ignore, ...failure } = details;
    const { missing } = await this.viewRedis(values, { ignore });
    if (missing.length > 0) {
      const where = ignore?.length ? ` (apart from ${ignore.join(", ")})` : "";
      throw new CheckFailure({
        ...failure,
        expected: `all ${values.length} stored in your Redis${where}`,
        actual: `not found in Redis${where}: ${missing.slice(0, 8).join(", ")}${missing.length > 8 ? ` and ${missing.length - 8} more` : ""}`,
      });
    }
  }

  /**
   * Where the command log is now: `t.commands().filter((e) => e.seq > mark)` are then the
   * commands sent after this moment, e.g. by consumers once every enqueue has returned.
   */
  logPosition(): number {
    return this.proxy.log.at(-1)?.seq ?? 0;
  }

  /** Commands the learner's code sent during this check, optionally only those named. */
  commands(...names: string[]): CommandLogEntry[] {
    const wanted = new Set(names.map((n) => n.toUpperCase()));
    return this.proxy.log.filter((e) => e.seq > this.logAfterSeq && e.conn > 0 && e.args.length > 0 && (wanted.size === 0 || wanted.has(e.args[0]!)));
  }

  /** Ends every process this check started and undoes its faults, so the next check starts clean. */
  async cleanup(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.dispose()));
    await Promise.all([...this.dependencies.values()].map((d) => d.close()));
    this.dependencies.clear();
    this.proxy.reset();
  }
}
