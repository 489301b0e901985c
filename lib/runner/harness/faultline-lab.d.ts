/**
 * Types of `@faultline/lab` for the lab workspace's editor (Monaco loads this as an extra lib,
 * beside ioredis's own types). Kept by hand; lab.test.ts fails if it drifts from lab.ts.
 */
declare module "@faultline/lab" {
  import type { Redis, RedisOptions } from "ioredis";

  /**
   * A new connection to your run's own Redis, through the lab's chaos proxy. Use one per
   * blocking command (BZPOPMIN, BLMOVE, XREADGROUP … BLOCK): a blocked connection cannot send
   * anything else until it returns.
   */
  export function createRedis(options?: Omit<RedisOptions, "path" | "host" | "port" | "username" | "password">): Redis;

  /** Where your Redis listens (a Unix socket), for labs that speak RESP over `net.connect(redisSocketPath)`. */
  export const redisSocketPath: string;

  /** The name the grader gave this process ("worker-1"), or "main". */
  export const workerName: string;

  /** Resolves after `ms` milliseconds. */
  export function sleep(ms: number): Promise<void>;

  /** Where the check's dependency `name` listens (a Unix socket), for `http.request({ socketPath })`. */
  export function dependencySocketPath(name: string): string;

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
     * One HTTP call. Resolves with any complete response, whatever its status (a 503 is a
     * response, not an error, as with fetch). Rejects when there is none: connection refused
     * (code ECONNREFUSED) or reset (ECONNRESET), or `signal` aborted (with its reason).
     */
    request(path: string, options?: DependencyRequestOptions): Promise<DependencyResponse>;
    get(path: string, options?: Omit<DependencyRequestOptions, "method" | "body">): Promise<DependencyResponse>;
    post(path: string, body: unknown, options?: Omit<DependencyRequestOptions, "method" | "body">): Promise<DependencyResponse>;
  }

  /**
   * A client for the check's dependency `name`, a real HTTP service the grader runs and breaks:
   * `await dependency("pricing").get("/price/sku-1", { signal: AbortSignal.timeout(200) })`.
   */
  export function dependency(name: string): DependencyClient;

  export { Redis };
}
