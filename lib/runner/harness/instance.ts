/**
 * One learner *instance* inside a run's shared sandbox process (docs/architecture.md, "One sandbox
 * per run"): the module a check loads with `t.load`, in a V8 context of its own (its own globals
 * and intrinsics) with a fresh module graph — the learner's files, `@faultline/lab`, ioredis and
 * the OpenTelemetry packages all evaluated anew (the API's global tracer provider included) — so
 * nothing of one instance reaches another except through Redis.
 *
 * What a process would give it, it gets per instance: timers, sockets and servers it owns, a
 * `process` whose `exit` ends only this instance, a console whose output is tagged with its name.
 * `kill()` is the grader's SIGKILL: every socket closed at once, every timer gone, nothing it
 * does afterwards reaches anything. Node's own classes (Buffer, net.Socket…) are shared with the
 * host; a program that deliberately hangs state on their prototypes could share it between its
 * own instances, which the checks' reads of Redis and the command log still see through.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { readFileSync } from "node:fs";
import { EventEmitter } from "node:events";
import { builtinModules, createRequire } from "node:module";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import path from "node:path";
import { Writable } from "node:stream";
import * as timersPromises from "node:timers/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import { formatWithOptions, inspect, types } from "node:util";
import vm from "node:vm";
import { OTEL_PACKAGES } from "./otel-packages.ts";

const { isNativeError } = types;

export type InstanceEnd = { kind: "exited"; code: number } | { kind: "signalled"; signal: "SIGKILL" } | { kind: "output"; bytes: number };

/** What one instance may print: a process's own cap (spawn.ts defaultLimits.outputBytes). */
const OUTPUT_BYTES = 256 * 1024;

export interface InstanceSpec {
  name: string;
  /** Absolute path (as the sandbox sees it) of the module to load. */
  entry: string;
  /** The proxy socket this instance's clients connect to. */
  socket: string;
  /** /lab as the sandbox sees it: the only place modules load from. */
  labPath: string;
}

export interface InstanceSink {
  output(text: string, stream: "stdout" | "stderr"): void;
  /** Called once, when the instance ends by itself (exit, crash); never after kill(). */
  ended(end: InstanceEnd): void;
}

/** Which instance the running code belongs to: timers, promises and sockets carry it along. */
export const running = new AsyncLocalStorage<Instance>();

const builtins = new Set(builtinModules);
const isBuiltin = (spec: string) => spec.startsWith("node:") || builtins.has(spec);
const bare = (spec: string) => (spec.startsWith("node:") ? spec.slice(5) : spec);
const hostRequire = createRequire(import.meta.url);

/** Code caches of the harness's modules (identical in every instance), made on first compile. */
const codeCache = new Map<string, Buffer>();

// A timer handed to code of an instance that has ended: it never fires and holds nothing.
const inert = Object.freeze({
  ref: () => inert,
  unref: () => inert,
  hasRef: () => false,
  refresh: () => inert,
  close: () => inert,
  [Symbol.toPrimitive]: () => 0,
});

/** Thrown to unwind an instance's code where a process would have died (process.exit, the output cap). */
export class InstanceExit extends Error {}

function refuseFd(args: unknown[]): void {
  for (const a of args) {
    if (a && typeof a === "object" && "fd" in a)
      throw Object.assign(new Error("sockets on raw file descriptors are not available in the lab sandbox"), { code: "ERR_ACCESS_DENIED" });
  }
}

export class Instance {
  readonly context: vm.Context;
  private readonly timers = new Set<NodeJS.Timeout | NodeJS.Immediate>();
  private readonly handles = new Set<net.Socket | net.Server>();
  private readonly modules = new Map<string, Promise<vm.Module>>();
  private readonly facades = new Map<string, Record<string, unknown>>();
  private readonly events = new EventEmitter();
  private over = false;
  private printed = 0;
  /** The context's own Promise and Error, to tell whose a rejected promise or thrown error is. */
  readonly realm: { Promise: PromiseConstructor; Error: ErrorConstructor };
  /** JSON.parse of the instance's realm: the grader's arguments become its own objects, so `value.constructor === Object` holds there. */
  readonly parse: (text: string) => unknown;

  constructor(
    readonly spec: InstanceSpec,
    private readonly sink: InstanceSink,
  ) {
    this.events.on("error", () => {});
    this.context = vm.createContext({}, { name: spec.name });
    const global = vm.runInContext("globalThis", this.context) as Record<string | symbol, unknown>;
    this.realm = vm.runInContext("({ Promise, Error })", this.context) as Instance["realm"];
    this.parse = vm.runInContext("JSON.parse", this.context) as Instance["parse"];
    const timers = this.timerApi();
    const stdout = this.stream("stdout");
    const stderr = this.stream("stderr");
    Object.assign(global, {
      ...timers,
      global,
      console: this.consoleApi(),
      process: this.processFacade(stdout, stderr),
      queueMicrotask,
      structuredClone,
      Buffer,
      URL,
      URLSearchParams,
      TextEncoder,
      TextDecoder,
      AbortController,
      AbortSignal,
      EventTarget,
      Event,
      atob,
      btoa,
      performance,
      crypto: globalThis.crypto,
      fetch,
      Headers,
      Request,
      Response,
      FormData,
      Blob,
      DOMException,
      MessageChannel,
      MessagePort,
      MessageEvent,
      // BroadcastChannel is left out on purpose: two instances of one process could talk through it.
    });
    // Read by @faultline/lab when this instance imports it.
    global[Symbol.for("faultline.worker")] = spec.name;
    global[Symbol.for("faultline.socket")] = spec.socket;
  }

  get ended(): boolean {
    return this.over;
  }

  /** Imports the entry module and returns its namespace. */
  async load(): Promise<Record<string, unknown>> {
    return running.run(this, async () => {
      const mod = await this.module(pathToFileURL(this.spec.entry).href);
      await this.instantiate(mod);
      return mod.namespace as Record<string, unknown>;
    });
  }

  /** Compiles these files (their code cache is then made) without linking or running anything. */
  compile(files: string[]): void {
    for (const file of files) this.create(pathToFileURL(file).href);
  }

  /** Runs `work` as this instance's code: what it throws asynchronously is this instance's. */
  run<T>(work: () => T): T {
    return running.run(this, work);
  }

  /** The grader's SIGKILL: nothing of this instance runs or reaches anything afterwards. */
  kill(): void {
    this.stop();
  }

  /** An error nobody caught in this instance's code: printed as Node would, then it exits 1. */
  crash(error: unknown, origin = "Uncaught"): void {
    if (this.over) return;
    if (error instanceof InstanceExit) return;
    let text: string;
    try {
      text = isNativeError(error) ? String(error.stack ?? error) : `${origin} ${String(error)}`;
    } catch {
      text = `${origin} exception (its value could not be printed)`;
    }
    this.sink.output(`${text}\n`, "stderr");
    this.end({ kind: "exited", code: 1 });
  }

  private end(end: InstanceEnd): void {
    if (this.over) return;
    this.stop();
    this.sink.ended(end);
  }

  private stop(): void {
    if (this.over) return;
    this.over = true;
    for (const timer of this.timers) {
      clearTimeout(timer as NodeJS.Timeout);
      clearImmediate(timer as NodeJS.Immediate);
    }
    this.timers.clear();
    for (const handle of this.handles) {
      if (handle instanceof net.Server) handle.close();
      else handle.destroy();
    }
    this.handles.clear();
    this.events.removeAllListeners();
  }

  /**
   * What the instance prints, counted here in the host: a loop that prints without yielding never
   * lets the runner count. Past the cap the instance ends, and this throws (as a process dies
   * mid-write), so such a loop stops instead of filling the heap.
   */
  private print(text: string, name: "stdout" | "stderr"): void {
    if (this.over) return;
    this.printed += text.length;
    if (this.printed > OUTPUT_BYTES) {
      this.sink.output(text.slice(0, Math.max(0, text.length - (this.printed - OUTPUT_BYTES))), name);
      this.end({ kind: "output", bytes: OUTPUT_BYTES });
      throw new InstanceExit();
    }
    this.sink.output(text, name);
  }

  private stream(name: "stdout" | "stderr"): Writable {
    const stream = new Writable({ decodeStrings: false, write: (chunk: Buffer | string, _encoding, done) => (this.print(String(chunk), name), done()) });
    // Synchronous, so the cap's throw reaches the code that printed (Writable would defer it).
    const write = (chunk: unknown, encoding?: unknown, callback?: unknown) => {
      this.print(String(chunk), name);
      const done = typeof encoding === "function" ? encoding : callback;
      if (typeof done === "function") queueMicrotask(() => (done as () => void)());
      return true;
    };
    return Object.assign(stream, { write, isTTY: false, fd: name === "stdout" ? 1 : 2 });
  }

  /**
   * console, writing straight to the instance's output. Node's Console swallows what its stream
   * throws, which would let a printing loop run on past the output cap.
   */
  private consoleApi(): Record<string, unknown> {
    const counts = new Map<string, number>();
    const timers = new Map<string, number>();
    let indent = "";
    const line =
      (name: "stdout" | "stderr") =>
      (...args: unknown[]) =>
        this.print(`${indent}${formatWithOptions({ colors: false }, ...args).replaceAll("\n", `\n${indent}`)}\n`, name);
    const log = line("stdout");
    const error = line("stderr");
    return {
      log,
      info: log,
      debug: log,
      error,
      warn: error,
      trace: (...args: unknown[]) =>
        error(`Trace: ${formatWithOptions({ colors: false }, ...args)}\n${new Error().stack?.split("\n").slice(2).join("\n") ?? ""}`),
      dir: (value: unknown) => log(inspect(value)),
      table: (value: unknown) => log(inspect(value)),
      assert: (ok: unknown, ...args: unknown[]) => void (ok || error("Assertion failed", ...args)),
      count: (label = "default") => (counts.set(label, (counts.get(label) ?? 0) + 1), log(`${label}: ${counts.get(label)}`)),
      countReset: (label = "default") => void counts.delete(label),
      time: (label = "default") => void timers.set(label, performance.now()),
      timeLog: (label = "default", ...args: unknown[]) =>
        log(`${label}: ${(performance.now() - (timers.get(label) ?? performance.now())).toFixed(3)}ms`, ...args),
      timeEnd: (label = "default") => (log(`${label}: ${(performance.now() - (timers.get(label) ?? performance.now())).toFixed(3)}ms`), timers.delete(label)),
      group: (...args: unknown[]) => (args.length > 0 && log(...args), (indent += "  ")),
      groupCollapsed: (...args: unknown[]) => (args.length > 0 && log(...args), (indent += "  ")),
      groupEnd: () => void (indent = indent.slice(2)),
    };
  }

  private timerApi() {
    const own = <H extends NodeJS.Timeout | NodeJS.Immediate>(
      make: (fire: () => void) => H,
      fn: unknown,
      args: unknown[],
      repeat: boolean,
    ): H | typeof inert => {
      if (typeof fn !== "function")
        throw Object.assign(new TypeError(`The "callback" argument must be of type function. Received ${typeof fn}`), { code: "ERR_INVALID_ARG_TYPE" });
      if (this.over) return inert;
      const handle: H = make(() => {
        if (!repeat) this.timers.delete(handle);
        try {
          (fn as (...a: unknown[]) => void)(...args);
        } catch (error) {
          this.crash(error);
        }
      });
      this.timers.add(handle);
      return handle;
    };
    const clear = (handle: unknown) => {
      if (handle === inert || handle === undefined || handle === null) return;
      this.timers.delete(handle as NodeJS.Timeout);
      clearTimeout(handle as NodeJS.Timeout);
      clearImmediate(handle as NodeJS.Immediate);
    };
    return {
      setTimeout: (fn: unknown, ms?: number, ...args: unknown[]) => own((fire) => setTimeout(fire, ms), fn, args, false),
      setInterval: (fn: unknown, ms?: number, ...args: unknown[]) => own((fire) => setInterval(fire, ms), fn, args, true),
      setImmediate: (fn: unknown, ...args: unknown[]) => own((fire) => setImmediate(fire), fn, args, false),
      clearTimeout: clear,
      clearInterval: clear,
      clearImmediate: clear,
    };
  }

  private processFacade(stdout: Writable, stderr: Writable): unknown {
    const overlay: Record<string | symbol, unknown> = Object.create(null);
    const events = this.events;
    const exit = (code?: number | string) => {
      const status = Number(code ?? overlay.exitCode ?? 0) || 0;
      this.end({ kind: "exited", code: status });
      // Like process.exit, nothing after it runs.
      throw new InstanceExit();
    };
    const own: Record<string | symbol, unknown> = {
      env: {},
      argv: [process.execPath, this.spec.entry],
      execArgv: [...process.execArgv],
      stdout,
      stderr,
      exit,
      reallyExit: exit,
      abort: () => exit(134),
      on: (e: string, l: (...a: unknown[]) => void) => (events.on(e, l), proxy),
      addListener: (e: string, l: (...a: unknown[]) => void) => (events.on(e, l), proxy),
      once: (e: string, l: (...a: unknown[]) => void) => (events.once(e, l), proxy),
      prependListener: (e: string, l: (...a: unknown[]) => void) => (events.prependListener(e, l), proxy),
      off: (e: string, l: (...a: unknown[]) => void) => (events.off(e, l), proxy),
      removeListener: (e: string, l: (...a: unknown[]) => void) => (events.off(e, l), proxy),
      removeAllListeners: (e?: string) => (events.removeAllListeners(e), proxy),
      emit: (e: string, ...a: unknown[]) => events.emit(e, ...a),
      listeners: (e: string) => events.listeners(e),
      listenerCount: (e: string) => events.listenerCount(e),
    };
    const bound = new Map<string | symbol, unknown>();
    const proxy: object = new Proxy(process, {
      get(target, key) {
        if (key in overlay) return overlay[key];
        if (key in own) return own[key];
        const value = Reflect.get(target, key) as unknown;
        if (typeof value !== "function") return value;
        if (!bound.has(key)) bound.set(key, (value as (...a: unknown[]) => unknown).bind(target));
        return bound.get(key);
      },
      set(_, key, value) {
        overlay[key] = value;
        return true;
      },
      has: (target, key) => key in overlay || key in own || key in target,
      defineProperty(_, key, descriptor) {
        overlay[key] = descriptor.value;
        return true;
      },
      deleteProperty(_, key) {
        delete overlay[key];
        return true;
      },
    });
    return proxy;
  }

  /** A per-instance copy of a Node module: the parts that own handles are this instance's. */
  private builtin(name: string): Record<string, unknown> & { default: unknown } {
    const cached = this.facades.get(name);
    if (cached) return cached as Record<string, unknown> & { default: unknown };
    let facade: Record<string, unknown>;
    const track = <H extends net.Socket | net.Server>(handle: H): H => {
      if (this.over) {
        if (handle instanceof net.Server) handle.close();
        else handle.destroy();
        return handle;
      }
      this.handles.add(handle);
      handle.once("close", () => this.handles.delete(handle));
      if (handle instanceof net.Server) handle.prependListener("connection", (s: net.Socket) => track(s));
      return handle;
    };
    const global = vm.runInContext("globalThis", this.context) as Record<string, unknown>;
    switch (name) {
      case "net": {
        const Socket = class extends net.Socket {
          constructor(...args: ConstructorParameters<typeof net.Socket>) {
            refuseFd(args);
            super(...args);
            track(this);
          }
        };
        facade = {
          ...net,
          Socket,
          Stream: Socket,
          connect: (...args: unknown[]) => (refuseFd(args), track((net.connect as (...a: unknown[]) => net.Socket)(...args))),
          createConnection: (...args: unknown[]) => (refuseFd(args), track((net.createConnection as (...a: unknown[]) => net.Socket)(...args))),
          createServer: (...args: unknown[]) => track((net.createServer as (...a: unknown[]) => net.Server)(...args)),
        };
        break;
      }
      case "http":
      case "https": {
        const mod = name === "http" ? http : https;
        facade = { ...mod, createServer: (...args: unknown[]) => track((mod.createServer as (...a: unknown[]) => net.Server)(...args)) };
        break;
      }
      case "timers":
        // The instance's own timers, the same functions as its globals.
        facade = {
          ...hostRequire("node:timers"),
          setTimeout: global.setTimeout,
          setInterval: global.setInterval,
          setImmediate: global.setImmediate,
          clearTimeout: global.clearTimeout,
          clearInterval: global.clearInterval,
          clearImmediate: global.clearImmediate,
        };
        break;
      case "timers/promises":
        facade = {
          ...timersPromises,
          setTimeout: (ms?: number, value?: unknown, options?: { signal?: AbortSignal }) =>
            new Promise((resolve, reject) => {
              if (options?.signal?.aborted) return reject(options.signal.reason);
              const timer = (global.setTimeout as typeof setTimeout)(() => resolve(value), ms);
              options?.signal?.addEventListener("abort", () => ((global.clearTimeout as typeof clearTimeout)(timer), reject(options.signal?.reason)), {
                once: true,
              });
            }),
          setImmediate: (value?: unknown) => new Promise((resolve) => (global.setImmediate as typeof setImmediate)(() => resolve(value))),
        };
        break;
      case "process":
        facade = { ...(global.process as Record<string, unknown>) };
        break;
      case "console":
        facade = { ...(global.console as Record<string, unknown>) };
        break;
      case "module":
        facade = { ...hostRequire("node:module"), createRequire: () => this.require };
        break;
      default:
        facade = { ...(hostRequire(`node:${name}`) as Record<string, unknown>) };
    }
    // `import net from "node:net"` is the module object itself; process and console are the globals.
    const whole = name === "process" ? global.process : name === "console" ? global.console : facade;
    facade = { ...facade, default: whole };
    this.facades.set(name, facade);
    return facade as Record<string, unknown> & { default: unknown };
  }

  /** `require` for CommonJS code bundled into ESM (ioredis): Node's modules only. */
  private readonly require = (spec: string): unknown => {
    if (!isBuiltin(spec)) throw Object.assign(new Error(`Cannot require '${spec}' here: use import`), { code: "MODULE_NOT_FOUND" });
    return this.builtin(bare(spec)).default;
  };

  private resolve(specifier: string, parent: string): string {
    if (isBuiltin(specifier)) return `node:${bare(specifier)}`;
    const modules = path.join(this.spec.labPath, "node_modules");
    if (specifier === "@faultline/lab") return pathToFileURL(path.join(modules, "@faultline", "lab", "index.js")).href;
    if (specifier === "ioredis") return pathToFileURL(path.join(modules, "ioredis", "index.js")).href;
    // Resolved to files under /lab/node_modules, which this.modules holds per instance: every
    // instance evaluates its own copy, so the API's global tracer provider is never shared.
    const otel = /^@opentelemetry\/([a-z-]+)$/.exec(specifier);
    if (otel && (OTEL_PACKAGES as readonly string[]).includes(otel[1]!)) return pathToFileURL(path.join(modules, "@opentelemetry", otel[1]!, "index.js")).href;
    if (!specifier.startsWith("./") && !specifier.startsWith("../") && !specifier.startsWith("/") && !specifier.startsWith("file:")) {
      throw Object.assign(
        new Error(
          `Cannot find package '${specifier}' imported from ${fileURLToPath(parent)} (a lab can import its own files, @faultline/lab, ioredis, ${OTEL_PACKAGES.map((name) => `@opentelemetry/${name}`).join(", ")} and Node's built-in modules)`,
        ),
        { code: "ERR_MODULE_NOT_FOUND" },
      );
    }
    const url = new URL(specifier, parent);
    const file = fileURLToPath(url);
    if (file !== this.spec.labPath && !file.startsWith(`${this.spec.labPath}/`)) {
      throw Object.assign(new Error(`Cannot import ${file} from ${fileURLToPath(parent)}: only the lab's own files can be imported`), {
        code: "ERR_MODULE_NOT_FOUND",
      });
    }
    return url.href.replace(/[?#].*$/, "");
  }

  private module(url: string): Promise<vm.Module> {
    let pending = this.modules.get(url);
    if (!pending) {
      pending = Promise.resolve().then(() => this.create(url));
      this.modules.set(url, pending);
    }
    return pending;
  }

  private create(url: string): vm.Module {
    const context = this.context;
    if (url.startsWith("node:")) {
      const facade = this.builtin(url.slice(5));
      const names = Object.keys(facade);
      return new vm.SyntheticModule(
        names,
        function (this: vm.SyntheticModule) {
          for (const key of names) this.setExport(key, facade[key]);
        },
        { context, identifier: url },
      );
    }
    const file = fileURLToPath(url);
    let source: string;
    try {
      source = readFileSync(file, "utf8");
    } catch {
      throw Object.assign(new Error(`Cannot find module '${file}'`), { code: "ERR_MODULE_NOT_FOUND" });
    }
    if (file.endsWith(".json")) {
      const value = JSON.parse(source) as unknown;
      return new vm.SyntheticModule(
        ["default"],
        function (this: vm.SyntheticModule) {
          this.setExport("default", value);
        },
        { context, identifier: url },
      );
    }
    const shared = file.includes("/node_modules/");
    const cached = shared ? codeCache.get(url) : undefined;
    const mod = new vm.SourceTextModule(source, {
      context,
      identifier: url,
      cachedData: cached,
      initializeImportMeta: (meta) => {
        Object.assign(meta, { url, filename: file, dirname: path.dirname(file) });
      },
      importModuleDynamically: (async (specifier: string, referrer: vm.Module) => {
        const target = await this.module(this.resolve(specifier, referrer.identifier));
        await this.instantiate(target);
        return target;
      }) as unknown as vm.SourceTextModuleOptions["importModuleDynamically"],
    });
    // createCachedData is missing from @types/node's SourceTextModule, though Node 20 has it.
    if (shared && !cached) codeCache.set(url, (mod as unknown as { createCachedData(): Buffer }).createCachedData());
    return mod;
  }

  private async instantiate(mod: vm.Module): Promise<void> {
    if (mod.status === "unlinked") await mod.link((specifier, referrer) => this.module(this.resolve(specifier, referrer.identifier)));
    if (mod.status === "linked") await mod.evaluate();
    else if (mod.status === "evaluating") return;
    if (mod.status === "errored") throw mod.error;
  }
}

/**
 * Compiles the harness's modules (without running them) while the host is parked, so the first
 * real instance finds them in the code cache.
 */
export function warmUp(labPath: string): void {
  const scratch = new Instance(
    { name: "warm-up", entry: path.join(labPath, "node_modules", "@faultline", "lab", "index.js"), socket: "/nonexistent", labPath },
    { output: () => {}, ended: () => {} },
  );
  scratch.compile([path.join(labPath, "node_modules", "@faultline", "lab", "index.js"), path.join(labPath, "node_modules", "@faultline", "lab", "redis.js")]);
  scratch.kill();
}
