/**
 * The learner's side of the chaos dependency (lib/runner/chaos-dependency.ts): an HTTP client over
 * the Unix socket the grader's service listens on, re-exported by `@faultline/lab` as
 * `dependency(name)`. Kept apart from lab.ts, which only knows where this program's sockets are.
 */
import http from "node:http";
import net from "node:net";

/**
 * Where the check's dependency `name` listens: `l<lane>-dep-<name>.sock` beside this program's own
 * proxy socket (`l<lane>-<n>.sock`, lib/runner/pod.ts), so each instance reaches its own check's.
 */
export function dependencySocketBeside(proxySocket: string, name: string): string {
  const slash = proxySocket.lastIndexOf("/");
  const base = proxySocket.slice(slash + 1);
  const lane = /^l(\d+)-\d+\.sock$/.exec(base)?.[1] ?? /^redis-(\d+)\.sock$/.exec(base)?.[1] ?? "0";
  return `${proxySocket.slice(0, slash)}/l${lane}-dep-${name}.sock`;
}

export interface DependencyRequestOptions {
  method?: string;
  /** An object is sent as JSON; a string as it is. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Aborts the call: it rejects with `signal.reason` (a TimeoutError for `AbortSignal.timeout(ms)`), as fetch does. */
  signal?: AbortSignal;
}

export interface DependencyResponse {
  status: number;
  /** 200–299. */
  ok: boolean;
  /** Header names lower-cased. */
  headers: Record<string, string>;
  /** The body as text. */
  text: string;
  /** The body parsed as JSON (throws if it is not JSON). */
  json<T = unknown>(): T;
}

export interface DependencyClient {
  readonly name: string;
  /**
   * One HTTP call, on a connection of its own. Resolves with any complete response, whatever its
   * status (as fetch does: a 503 is a response, not an error). Rejects when there is no complete
   * response: the connection refused (code ECONNREFUSED) or reset (ECONNRESET, or "aborted" mid-
   * body), or `signal` aborted (with its reason).
   */
  request(path: string, options?: DependencyRequestOptions): Promise<DependencyResponse>;
  get(path: string, options?: Omit<DependencyRequestOptions, "method" | "body">): Promise<DependencyResponse>;
  post(path: string, body: unknown, options?: Omit<DependencyRequestOptions, "method" | "body">): Promise<DependencyResponse>;
}

function call(name: string, socketPath: string, target: string, options: DependencyRequestOptions): Promise<DependencyResponse> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  const payload = options.body === undefined ? undefined : typeof options.body === "string" ? options.body : JSON.stringify(options.body);
  const headers: Record<string, string> = { ...options.headers };
  if (payload !== undefined) {
    headers["content-length"] ??= String(Buffer.byteLength(payload));
    if (typeof options.body !== "string") headers["content-type"] ??= "application/json";
  }
  return new Promise<DependencyResponse>((resolve, reject) => {
    let settled = false;
    const settle = (error: unknown, value?: DependencyResponse) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener("abort", onAbort);
      if (error) reject(error);
      else resolve(value!);
    };
    const request = http.request({
      method: options.method ?? "GET",
      path: target,
      headers,
      // No agent: a connection per call, from this module's own net (in a shared sandbox, the
      // instance's), so the connection is the program's and ends with it.
      createConnection: () => {
        const socket = net.connect(socketPath);
        // A dependency that is down has no socket file; a TCP client would see a refused connect.
        socket.prependListener("error", (error: NodeJS.ErrnoException) => {
          if (error.code === "ENOENT")
            Object.assign(error, { code: "ECONNREFUSED", message: `connect ECONNREFUSED: the dependency '${name}' is not accepting connections` });
        });
        return socket;
      },
    });
    const onAbort = () => {
      settle(signal!.reason);
      request.destroy();
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    request.once("error", (error) => settle(error));
    request.once("response", (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.once("aborted", () => settle(Object.assign(new Error(`the dependency '${name}' reset the connection mid-response`), { code: "ECONNRESET" })));
      response.once("error", (error) => settle(error));
      response.once("end", () => {
        if (!response.complete) return settle(Object.assign(new Error(`the dependency '${name}' reset the connection mid-response`), { code: "ECONNRESET" }));
        const text = Buffer.concat(chunks).toString("utf8");
        const status = response.statusCode ?? 0;
        const flat: Record<string, string> = {};
        for (const [key, value] of Object.entries(response.headers)) if (value !== undefined) flat[key] = Array.isArray(value) ? value.join(", ") : value;
        settle(null, { status, ok: status >= 200 && status < 300, headers: flat, text, json: <T>() => JSON.parse(text) as T });
      });
    });
    request.end(payload);
  });
}

/**
 * A client for the check's dependency `name`, a real HTTP service the grader runs (and breaks):
 * `const pricing = dependency("pricing"); const res = await pricing.get("/price/sku-1", { signal: AbortSignal.timeout(200) })`.
 */
export function dependencyClient(name: string, socketPath: string): DependencyClient {
  return {
    name,
    request: (target, options = {}) => call(name, socketPath, target, options),
    get: (target, options = {}) => call(name, socketPath, target, { ...options, method: "GET" }),
    post: (target, body, options = {}) => call(name, socketPath, target, { ...options, method: "POST", body }),
  };
}
