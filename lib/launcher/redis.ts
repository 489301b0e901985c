/**
 * Finds the platform Redis as docs/architecture.md "The processes" (the launcher) says: REDIS_URL
 * if set; otherwise a local Redis on 6379 if one answers; otherwise a private redis-server from
 * PATH, started under the data directory; otherwise a clear error saying how to get one.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { ping, waitForRedis } from "../redis/ping.ts";
import { freePort } from "./free-port.ts";

export class RedisUnavailableError extends Error {
  override name = "RedisUnavailableError";
}

export interface ResolvedRedis {
  url: string;
  source: "REDIS_URL" | "local" | "private";
  /** Set when we started redis-server ourselves; the launcher stops it last. */
  process?: ChildProcess;
}

export interface ResolveOptions {
  redisUrl?: string;
  dataDir: string;
  /** Where to look for an already-running Redis. @default redis://127.0.0.1:6379 */
  localUrl?: string;
  /** The redis-server binary; looked up on PATH. @default redis-server */
  serverBinary?: string;
}

const redact = (url: string) => url.replace(/\/\/([^@/]*)@/, "//***@");

export async function resolveRedis(options: ResolveOptions): Promise<ResolvedRedis> {
  if (options.redisUrl) {
    const problem = await ping(options.redisUrl, 3000);
    if (problem) {
      throw new RedisUnavailableError(
        `REDIS_URL is set to ${redact(options.redisUrl)}, but that Redis does not answer (${problem}).\nFix: start that Redis, correct REDIS_URL, or unset REDIS_URL to let Faultline find or start one itself.`,
      );
    }
    return { url: options.redisUrl, source: "REDIS_URL" };
  }
  const localUrl = options.localUrl ?? "redis://127.0.0.1:6379";
  if ((await ping(localUrl)) === null) return { url: localUrl, source: "local" };
  return startPrivateRedis(options.dataDir, options.serverBinary ?? "redis-server");
}

async function startPrivateRedis(dataDir: string, binary: string): Promise<ResolvedRedis> {
  const dir = path.join(dataDir, "redis");
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const password = randomBytes(18).toString("hex");
  const args = [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--dir",
    dir,
    "--appendonly",
    "yes",
    "--save",
    "",
    "--daemonize",
    "no",
    "--logfile",
    path.join(dir, "redis.log"),
  ];
  // The password goes in on stdin, not argv, so `ps` does not show it.
  const child = spawn(binary, ["-", ...args], { stdio: ["pipe", "ignore", "pipe"] });
  child.stdin?.end(`requirepass ${password}\n`);
  const failed = new Promise<never>((_, reject) => {
    child.once("error", (error: NodeJS.ErrnoException) => {
      reject(
        new RedisUnavailableError(
          error.code === "ENOENT"
            ? "No Redis found: nothing answers on 127.0.0.1:6379 and redis-server is not on PATH.\nFix: install Redis 7 (Debian/Ubuntu: `sudo apt-get install redis-server`; macOS: `brew install redis`), or set REDIS_URL to a Redis you run elsewhere, e.g. REDIS_URL=redis://127.0.0.1:6379."
            : `Could not start redis-server: ${error.message}`,
        ),
      );
    });
    child.once("exit", (code) => reject(new RedisUnavailableError(`redis-server exited with code ${code} at start; see ${path.join(dir, "redis.log")}.`)));
  });
  const url = `redis://:${password}@127.0.0.1:${port}`;
  const ready = (async () => {
    if (await waitForRedis(url, 5000, 50)) return;
    throw new RedisUnavailableError(`redis-server started but did not answer within 5 s; see ${path.join(dir, "redis.log")}.`);
  })();
  try {
    await Promise.race([ready, failed]);
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  failed.catch(() => {}); // later exits are the launcher's to report
  return { url, source: "private", process: child };
}
