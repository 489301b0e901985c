import { readFileSync } from "node:fs";

export type Env = Record<string, string | undefined>;
export type LogLevel = "debug" | "info" | "warn" | "error";

export interface Config {
  redisUrl: string;
  redisPassword: string | undefined;
  concurrency: number;
  leaseMs: number;
  heartbeatMs: number;
  shutdownDeadlineMs: number;
  logLevel: LogLevel;
  metricsEnabled: boolean;
}

/** Thrown once, with every problem found. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly problems: string[]) {
    super(`The worker cannot start: ${problems.length} configuration problem(s).\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

/** Reads a file as UTF-8 text; the grader passes its own. */
export type ReadFile = (path: string) => string;

export function loadConfig(env: Env, readFile: ReadFile = (path) => readFileSync(path, "utf8")): Config {
  // TODO: read each variable from env (never process.env); empty or blank counts as unset.
  // TODO: whole numbers are digits only, then a range; collect every problem, then throw one ConfigError.
  // TODO: REDIS_PASSWORD, or REDIS_PASSWORD_FILE read with readFile(path); never put a password in a message.
  void readFile;
  // TODO: HEARTBEAT_MS at most a third of LEASE_MS; return a frozen object.
  return {
    redisUrl: env.REDIS_URL ?? "",
    redisPassword: undefined,
    concurrency: Number(env.WORKER_CONCURRENCY) || 4,
    leaseMs: 30_000,
    heartbeatMs: 10_000,
    shutdownDeadlineMs: 8_000,
    logLevel: "info",
    metricsEnabled: false,
  };
}
