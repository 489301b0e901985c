/**
 * The process the grader starts in the sandbox. It starts "parked": Node is up and ioredis is
 * loaded, waiting on fd 3 for `{ load, mode, name }`, so a check does not wait for a process to
 * start. Then it imports the learner's module and either serves calls to its exports over fd 3
 * (`rpc`) or runs it as a worker, calling its exported `main(name)` or default function (`main`).
 * The grader trusts none of this process's output: an RPC reply is only the learner function's
 * return value, which checks verify against what the runner observes itself.
 */
import net from "node:net";
import { StringDecoder } from "node:string_decoder";
import { pathToFileURL } from "node:url";
import { types } from "node:util";
import { httpRequest } from "./http.ts";

type Exports = Record<string, unknown>;
type Send = (message: unknown) => void;

// Captured before any learner code runs. The learner's module shares this realm and may replace
// JSON.stringify, Object.keys, String.prototype.slice or Socket.prototype.write (on purpose or
// through a library); the harness's own replies must not change with them.
const { apply } = Reflect;
const { stringify, parse } = JSON;
const { keys: objectKeys } = Object;
const { indexOf: stringIndexOf, slice: stringSlice, startsWith } = String.prototype;
const split = String.prototype.split as (this: string, separator: string) => string[];
const { filter, join, slice: arraySlice } = Array.prototype;
// Chunks split multi-byte characters anywhere: a decoder keeps the partial bytes for the next one.
const decoderWrite = StringDecoder.prototype.write;
const bufferFrom = Buffer.from;
const { write: socketWrite, end: socketEnd, destroy: socketDestroy } = net.Socket.prototype;
const emit = net.Socket.prototype.emit as (this: net.Socket, event: string, data: Buffer) => boolean;
const exit = process.exit;
const ErrorClass = Error;
const StringOf = String;
const PromiseClass = Promise;
const { then } = Promise.prototype;
const consoleError = console.error;
// Cross-realm: an instance in the shared sandbox throws errors of its own context's Error.
const { isNativeError } = types;
const invoke = <T, A extends unknown[], R>(fn: (this: T, ...args: A) => R, self: T, ...args: A): R => apply(fn, self, args) as R;
const quit = (code: number): never => invoke(exit, process, code);

interface Load {
  load: string;
  mode: "rpc" | "main";
  name: string;
  /** The proxy socket this program's clients use, when not the run's default. */
  socket?: string;
}

/** The shared host's requests: an instance opened, a line for one, or its SIGKILL. */
type SharedRequest = { op: "open"; i: number; name: string; entry: string; socket: string } | { op: "line"; i: number; l: string } | { op: "kill"; i: number };

function describe(error: unknown): { name: string; message: string; stack?: string } {
  // A thrown value's getters and toString are learner code too, and may throw in turn.
  try {
    if (error instanceof ErrorClass || isNativeError(error)) {
      const stack = typeof error.stack === "string" ? invoke(join, invoke(arraySlice, invoke(split, error.stack, "\n"), 0, 8) as string[], "\n") : undefined;
      return { name: StringOf(error.name), message: StringOf(error.message), stack };
    }
    return { name: "Error", message: `threw a non-Error value: ${StringOf(error)}` };
  } catch {
    return { name: "Error", message: "threw a value that could not be described (its properties threw when read)" };
  }
}

const builtins: Exports = { $http: httpRequest };

function call(mod: Exports, send: Send, line: string, parseArgs: (text: string) => unknown = parse): void {
  const { id, fn, args } = parseArgs(line) as { id: number; fn: string; args: unknown[] };
  const target = invoke(startsWith, fn, "$") ? builtins[fn] : mod[fn];
  if (typeof target !== "function") {
    send({ id, ok: false, error: { name: "TypeError", message: `your module does not export a function named ${fn}` } });
    return;
  }
  const settled = new PromiseClass<unknown>((resolve) => resolve(apply(target as (...a: unknown[]) => unknown, undefined, args)));
  invoke(
    then,
    settled,
    (value: unknown) => send({ id, ok: true, value: value === undefined ? null : value, undefined: value === undefined }),
    (error: unknown) => send({ id, ok: false, error: describe(error) }),
  );
}

async function start(request: Load, send: Send, channel: net.Socket): Promise<Exports | null> {
  // Read by `workerName` and `createRedis` in @faultline/lab when the learner's module imports it.
  (globalThis as Record<symbol, unknown>)[Symbol.for("faultline.worker")] = request.name;
  if (request.socket) (globalThis as Record<symbol, unknown>)[Symbol.for("faultline.socket")] = request.socket;
  let mod: Exports;
  try {
    mod = (await import(pathToFileURL(request.load).href)) as Exports;
  } catch (error) {
    if (request.mode === "rpc") {
      invoke(socketEnd as (data: string, cb: () => void) => net.Socket, channel, `${stringify({ ready: false, error: describe(error) })}\n`, () => quit(1));
      return null;
    }
    throw error;
  }
  if (request.mode === "rpc") {
    send({ ready: true, exports: invoke(filter, objectKeys(mod), (k: string) => typeof mod[k] === "function") as string[] });
    return mod;
  }
  // A worker lives as long as its own work does; the channel must not keep it alive.
  invoke(socketDestroy, channel);
  const entry = mod.main ?? mod.default;
  if (typeof entry === "function") await (entry as (n?: string) => unknown)(request.name);
  return null;
}

/** A message as one JSON line; a value that cannot be one becomes the error reply the grader still needs. */
function serialise(message: unknown): string {
  try {
    const line = stringify(message, (_, v: unknown) => (typeof v === "bigint" ? StringOf(v) : v));
    // A toJSON that returns undefined leaves nothing to send.
    if (typeof line !== "string") throw new ErrorClass("it serialises to nothing");
    return line;
  } catch (error) {
    return stringify({
      id: (message as { id?: number }).id,
      ok: false,
      error: { name: "TypeError", message: `the return value is not JSON-serialisable (${describe(error).message})` },
    });
  }
}

function main(): void {
  const channel = new net.Socket({ fd: 3, readable: true, writable: true });
  const send: Send = (message) => {
    if (!channel.destroyed) invoke(socketWrite as (data: string) => boolean, channel, `${serialise(message)}\n`);
  };
  let mod: Exports | null = null;
  let loading = false;
  let buffered = "";
  const decoder = new StringDecoder("utf8");
  channel.on("data", (chunk: Buffer) => {
    buffered += invoke(decoderWrite, decoder, chunk);
    let newline: number;
    while ((newline = invoke(stringIndexOf, buffered, "\n")) >= 0) {
      const line = invoke(stringSlice, buffered, 0, newline);
      buffered = invoke(stringSlice, buffered, newline + 1);
      if (mod) call(mod, send, line);
      else if (!loading) {
        loading = true;
        invoke(
          then,
          start(parse(line) as Load, send, channel),
          (loaded: Exports | null) => {
            mod = loaded;
            // Calls that arrived while the module loaded.
            const pending = buffered;
            buffered = "";
            if (mod && pending) invoke(emit, channel, "data", bufferFrom(pending));
          },
          (error: unknown) => {
            const { stack, message } = describe(error);
            invoke(consoleError, console, stack ?? message);
            quit(1);
          },
        );
      }
    }
  });
  // The grader closing the channel ends an RPC process; nothing else should keep it alive.
  channel.on("end", () => {
    if (mod || !loading) quit(0);
  });
  channel.on("error", () => {});
}

/**
 * The run's shared sandbox (docs/architecture.md): each `t.load` is an instance in its own V8
 * context (instance.ts), multiplexed over fd 3 as `{ i, l | o | x }` lines.
 */
async function serveShared(labPath: string): Promise<void> {
  const { Instance, InstanceExit, running, warmUp } = await import("./instance.ts");
  const channel = new net.Socket({ fd: 3, readable: true, writable: true });
  channel.pause();
  channel.on("error", () => {});
  // Parked: compile the harness's modules now, so the first instance finds them in the code cache.
  warmUp(labPath);
  type Live = { instance: InstanceType<typeof Instance>; mod: Exports | null; queued: string[]; send: Send };
  const live = new Map<number, Live>();
  const write = (message: unknown) => {
    if (!channel.destroyed) invoke(socketWrite as (data: string) => boolean, channel, `${stringify(message)}\n`);
  };
  const owner = (value: unknown): InstanceType<typeof Instance> | undefined => {
    for (const { instance } of live.values()) {
      if (value instanceof instance.realm.Promise || value instanceof instance.realm.Error) return instance;
    }
    return undefined;
  };
  const fatal = (error: unknown) => {
    invoke(consoleError, console, describe(error).stack ?? describe(error).message);
    quit(70);
  };
  process.on("uncaughtException", (error) => {
    // The unwinding of an instance that already ended (process.exit, its output cap): nothing to report.
    if (error instanceof InstanceExit) return;
    const instance = running.getStore() ?? owner(error);
    if (instance) instance.crash(error);
    else fatal(error);
  });
  process.on("unhandledRejection", (reason, promise) => {
    if (reason instanceof InstanceExit) return;
    const instance = owner(promise) ?? running.getStore() ?? owner(reason);
    if (instance) instance.crash(reason, "Unhandled rejection:");
    else fatal(reason);
  });
  const open = (request: Extract<SharedRequest, { op: "open" }>) => {
    if (live.has(request.i)) return;
    const { i } = request;
    const send: Send = (message) => write({ i, l: serialise(message) });
    const instance = new Instance(
      { name: request.name, entry: request.entry, socket: request.socket, labPath },
      {
        output: (text, stream) => write({ i, o: text, s: stream }),
        ended: (end) => {
          live.delete(i);
          write({ i, x: end });
        },
      },
    );
    const entry: Live = { instance, mod: null, queued: [], send };
    live.set(i, entry);
    invoke(
      then,
      instance.load(),
      (mod: Exports) => {
        if (instance.ended) return;
        entry.mod = mod;
        send({ ready: true, exports: invoke(filter, objectKeys(mod), (k: string) => typeof mod[k] === "function") as string[] });
        for (const line of entry.queued) instance.run(() => call(mod, send, line, instance.parse));
        entry.queued = [];
      },
      (error: unknown) => {
        if (instance.ended) return;
        send({ ready: false, error: describe(error) });
        instance.kill();
        live.delete(i);
        write({ i, x: { kind: "exited", code: 1 } });
      },
    );
  };
  const handle = (line: string) => {
    const request = parse(line) as SharedRequest;
    if (request.op === "open") return open(request);
    const entry = live.get(request.i);
    if (request.op === "kill") {
      if (entry) {
        live.delete(request.i);
        entry.instance.kill();
      }
      return write({ i: request.i, x: { kind: "signalled", signal: "SIGKILL" } });
    }
    if (!entry) return;
    if (entry.mod) {
      const mod = entry.mod;
      entry.instance.run(() => call(mod, entry.send, request.l, entry.instance.parse));
    } else entry.queued.push(request.l);
  };
  let buffered = "";
  const take = (text: string) => {
    buffered += text;
    let newline: number;
    while ((newline = invoke(stringIndexOf, buffered, "\n")) >= 0) {
      const line = invoke(stringSlice, buffered, 0, newline);
      buffered = invoke(stringSlice, buffered, newline + 1);
      if (line) handle(line);
    }
  };
  const decoder = new StringDecoder("utf8");
  channel.on("data", (chunk: Buffer) => take(invoke(decoderWrite, decoder, chunk)));
  channel.on("end", () => quit(0));
  channel.resume();
}

const shared = process.argv.find((a) => a.startsWith("--shared="));
if (shared) await serveShared(shared.slice("--shared=".length));
else {
  // Loaded while parked, so the learner's first `createRedis()` costs nothing extra. (Instances of
  // the shared sandbox each evaluate their own copy in their own context instead.)
  await import("./redis.ts");
  main();
}
