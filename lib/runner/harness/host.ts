/**
 * The process the grader starts in the sandbox. It starts "parked": Node is up and ioredis is
 * loaded, waiting on fd 3 for `{ load, mode, name }`, so a check does not wait for a process to
 * start. Then it imports the learner's module and either serves calls to its exports over fd 3
 * (`rpc`) or runs it as a worker, calling its exported `main(name)` or default function (`main`).
 * The grader trusts none of this process's output: an RPC reply is only the learner function's
 * return value, which checks verify against what the runner observes itself.
 */
import http from "node:http";
import net from "node:net";
import { pathToFileURL } from "node:url";

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
const bufferToString = Buffer.prototype.toString;
const bufferFrom = Buffer.from;
const { write: socketWrite, end: socketEnd, destroy: socketDestroy } = net.Socket.prototype;
const emit = net.Socket.prototype.emit as (this: net.Socket, event: string, data: Buffer) => boolean;
const exit = process.exit;
const ErrorClass = Error;
const StringOf = String;
const PromiseClass = Promise;
const { then } = Promise.prototype;
const consoleError = console.error;
const invoke = <T, A extends unknown[], R>(fn: (this: T, ...args: A) => R, self: T, ...args: A): R => apply(fn, self, args) as R;
const quit = (code: number): never => invoke(exit, process, code);

interface Load {
  load: string;
  mode: "rpc" | "main";
  name: string;
}

function describe(error: unknown): { name: string; message: string; stack?: string } {
  // A thrown value's getters and toString are learner code too, and may throw in turn.
  try {
    if (error instanceof ErrorClass) {
      const stack = typeof error.stack === "string" ? invoke(join, invoke(arraySlice, invoke(split, error.stack, "\n"), 0, 8) as string[], "\n") : undefined;
      return { name: StringOf(error.name), message: StringOf(error.message), stack };
    }
    return { name: "Error", message: `threw a non-Error value: ${StringOf(error)}` };
  } catch {
    return { name: "Error", message: "threw a value that could not be described (its properties threw when read)" };
  }
}

/**
 * The grader's HTTP client for server labs. Each sandbox has its own network namespace, so a
 * learner's server on 127.0.0.1 is reachable only from inside its own process's sandbox.
 */
function httpRequest(port: number, path: string, method = "GET", timeoutMs = 2000): Promise<{ status: number; body: string; headers: Record<string, string> }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, method, timeout: timeoutMs, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body = (body + d).slice(0, 65_536)));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k, String(v)])) }));
    });
    req.on("timeout", () => req.destroy(new Error(`no response within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}

const builtins: Exports = { $http: httpRequest };

function call(mod: Exports, send: Send, line: string): void {
  const { id, fn, args } = parse(line) as { id: number; fn: string; args: unknown[] };
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
  // Read by `workerName` in @faultline/lab when the learner's module imports it.
  (globalThis as Record<symbol, unknown>)[Symbol.for("faultline.worker")] = request.name;
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

function main(): void {
  const channel = new net.Socket({ fd: 3, readable: true, writable: true });
  const send: Send = (message) => {
    let line: string;
    try {
      line = stringify(message, (_, v: unknown) => (typeof v === "bigint" ? StringOf(v) : v));
      // A toJSON that returns undefined leaves nothing to send; the grader still needs a reply.
      if (typeof line !== "string") throw new ErrorClass("it serialises to nothing");
    } catch (error) {
      line = stringify({ id: (message as { id?: number }).id, ok: false, error: { name: "TypeError", message: `the return value is not JSON-serialisable (${describe(error).message})` } });
    }
    if (!channel.destroyed) invoke(socketWrite as (data: string) => boolean, channel, `${line}\n`);
  };
  let mod: Exports | null = null;
  let loading = false;
  let buffered = "";
  channel.on("data", (chunk: Buffer) => {
    buffered += invoke(bufferToString as (encoding: string) => string, chunk, "utf8");
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

// Loaded while parked, so the learner's first `createRedis()` costs nothing extra.
await import("./redis.ts");
main();
