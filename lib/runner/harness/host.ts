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

interface Load {
  load: string;
  mode: "rpc" | "main";
  name: string;
}

function describe(error: unknown): { name: string; message: string; stack?: string } {
  if (error instanceof Error) return { name: error.name, message: error.message, stack: error.stack?.split("\n").slice(0, 8).join("\n") };
  return { name: "Error", message: `threw a non-Error value: ${String(error)}` };
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
  const { id, fn, args } = JSON.parse(line) as { id: number; fn: string; args: unknown[] };
  const target = fn.startsWith("$") ? builtins[fn] : mod[fn];
  if (typeof target !== "function") {
    send({ id, ok: false, error: { name: "TypeError", message: `your module does not export a function named ${fn}` } });
    return;
  }
  Promise.resolve()
    .then(() => (target as (...a: unknown[]) => unknown)(...args))
    .then(
      (value) => send({ id, ok: true, value: value === undefined ? null : value, undefined: value === undefined }),
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
      channel.end(`${JSON.stringify({ ready: false, error: describe(error) })}\n`, () => process.exit(1));
      return null;
    }
    throw error;
  }
  if (request.mode === "rpc") {
    send({ ready: true, exports: Object.keys(mod).filter((k) => typeof mod[k] === "function") });
    return mod;
  }
  // A worker lives as long as its own work does; the channel must not keep it alive.
  channel.destroy();
  const entry = mod.main ?? mod.default;
  if (typeof entry === "function") await (entry as (n?: string) => unknown)(request.name);
  return null;
}

function main(): void {
  const channel = new net.Socket({ fd: 3, readable: true, writable: true });
  const send: Send = (message) => {
    let line: string;
    try {
      line = JSON.stringify(message, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
    } catch (error) {
      line = JSON.stringify({ id: (message as { id?: number }).id, ok: false, error: { name: "TypeError", message: `the return value is not JSON-serialisable (${(error as Error).message})` } });
    }
    if (!channel.destroyed) channel.write(`${line}\n`);
  };
  let mod: Exports | null = null;
  let loading = false;
  let buffered = "";
  channel.on("data", (chunk: Buffer) => {
    buffered += chunk.toString("utf8");
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (mod) call(mod, send, line);
      else if (!loading) {
        loading = true;
        start(JSON.parse(line) as Load, send, channel).then(
          (loaded) => {
            mod = loaded;
            // Calls that arrived while the module loaded.
            const pending = buffered;
            buffered = "";
            if (mod && pending) channel.emit("data", Buffer.from(pending));
          },
          (error: unknown) => {
            console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
            process.exit(1);
          },
        );
      }
    }
  });
  // The grader closing the channel ends an RPC process; nothing else should keep it alive.
  channel.on("end", () => {
    if (mod || !loading) process.exit(0);
  });
  channel.on("error", () => {});
}

// Loaded while parked, so the learner's first `createRedis()` costs nothing extra.
await import("./redis.ts");
main();
