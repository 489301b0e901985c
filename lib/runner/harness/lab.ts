/**
 * `@faultline/lab`: the module learner code imports inside the sandbox. It hands out ioredis
 * clients already pointed at the run's chaos proxy, so lab code reads like ordinary Node:
 * `const redis = createRedis(); await redis.zadd("queue", 5, id)`. The environment is empty, so
 * the socket path comes from a config file the runner writes beside this module.
 */
import { readFileSync } from "node:fs";
import { dependencyClient, dependencySocketBeside, type DependencyClient } from "./dependency.ts";
import { Redis, type RedisOptions } from "./redis.ts";

interface HarnessConfig {
  socket: string;
}

// In a run's shared sandbox every instance is told its own socket (its check's proxy); a process
// of its own reads the run's from the config file beside this module.
const given = (globalThis as Record<symbol, unknown>)[Symbol.for("faultline.socket")];
const config: HarnessConfig =
  typeof given === "string" ? { socket: given } : (JSON.parse(readFileSync(new URL("./config.json", import.meta.url), "utf8")) as HarnessConfig);

/**
 * Where your Redis listens (a Unix socket), for labs that speak RESP themselves over
 * `net.connect(redisSocketPath)` instead of using ioredis.
 */
export const redisSocketPath: string = config.socket;

/** The name the grader gave this process ("worker-1"), or "main". */
export const workerName: string = ((globalThis as Record<symbol, unknown>)[Symbol.for("faultline.worker")] as string | undefined) ?? "main";

/**
 * A new connection to your run's Redis. Use one per blocking command (BZPOPMIN, BLMOVE, XREADGROUP
 * with BLOCK): a blocked connection cannot send anything else until it returns.
 */
export function createRedis(options: Omit<RedisOptions, "path" | "host" | "port" | "username" | "password"> = {}): Redis {
  // INFO is an admin command here, and CLIENT SETINFO would only clutter the command log.
  return new Redis({ enableReadyCheck: false, disableClientInfo: true, ...options, path: config.socket });
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export { Redis };

/**
 * Where the check's dependency `name` listens: `l<lane>-dep-<name>.sock` beside this program's own
 * proxy socket (`l<lane>-<n>.sock`, lib/runner/pod.ts), so each instance reaches its own check's.
 */
export const dependencySocketPath = (name: string): string => dependencySocketBeside(config.socket, name);

/**
 * A client for the check's dependency `name`, a real HTTP service the grader runs (and breaks):
 * `const pricing = dependency("pricing"); const res = await pricing.get("/price/sku-1", { signal: AbortSignal.timeout(200) })`.
 */
export const dependency = (name: string): DependencyClient => dependencyClient(name, dependencySocketPath(name));

export type { DependencyClient, DependencyRequestOptions, DependencyResponse } from "./dependency.ts";
