/**
 * A private redis-server for one lane of a run (docs/architecture.md "Lanes" and "The
 * sandbox", layer 4): a Unix socket in its own directory, no TCP port, 64 MiB with noeviction,
 * DEBUG and MODULE disabled, the `default` user off, an admin user for the grader and a learner
 * user without @admin, @dangerous or keyspace-wide commands. One learner's Lua loop or memory bomb
 * hurts only their own run. Servers are discarded after a run, never reused, so nothing leaks
 * between learners.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { waitForRedis } from "../redis/ping.ts";
import { dieWithOwner } from "./die-with-owner.ts";

export interface PrivateRedisOptions {
  /** @default 64 */
  maxMemoryMb?: number;
  /** How long a script may run before others get BUSY and the grader may SCRIPT KILL it. @default 200 */
  busyReplyThresholdMs?: number;
  /** @default 64 */
  maxClients?: number;
  /**
   * Address space of the whole server (prlimit --as). maxmemory leaves out what Lua scripts build
   * and client buffers, so this is what bounds them; past it a script fails with "not enough
   * memory", or the server stops with "Out Of Memory" (the grader then replaces it). Redis 7 at a
   * full 64 MiB of data maps about 150 MiB. 0 sets no limit. @default 256
   */
  addressSpaceMb?: number;
  /** Parent of the instance's directory. @default os.tmpdir() */
  baseDir?: string;
  /** @default "redis-server" */
  binary?: string;
}

export interface PrivateRedis {
  socketPath: string;
  dir: string;
  admin: { user: string; password: string };
  learner: { user: string; password: string };
  pid: number;
  /** Milliseconds from spawn to the first answered PING. */
  startMs: number;
  /**
   * A connection as the admin user (the grader's own view of the namespace). Open it before
   * learner code runs: while a script is busy, Redis refuses even AUTH on new connections.
   */
  adminClient(): Redis;
  /** How the server ended, with the tail of its log, or null while it runs. */
  ended(): { code: number | null; signal: NodeJS.Signals | null; log: string } | null;
  stop(): Promise<void>;
}

// Keyspace-wide reads a learner does not need and the live view does with the admin user.
const learnerDenied = [
  "-@admin",
  "-@dangerous",
  "-scan",
  "-randomkey",
  "-keys",
  "-select",
  "-swapdb",
  "-move",
  "-wait",
  "-failover",
  "-script|flush",
  "-function|flush",
  "-function|restore",
];

const START_TIMEOUT_MS = 10_000;

export function redisConfig(
  socketPath: string,
  dir: string,
  admin: string,
  learner: string,
  o: Required<Omit<PrivateRedisOptions, "baseDir" | "binary" | "addressSpaceMb">>,
): string {
  return [
    "port 0",
    `unixsocket ${socketPath}`,
    "unixsocketperm 700",
    `dir ${dir}`,
    'save ""',
    "appendonly no",
    `maxmemory ${o.maxMemoryMb}mb`,
    // maxmemory is checked before a command, so one SETRANGE/APPEND could still allocate far
    // past it; Redis refuses strings over proto-max-bulk-len (1 MiB is its minimum).
    "proto-max-bulk-len 8mb",
    // Replies a client leaves unread wait here (the proxy stops reading Redis for a learner that
    // stops reading), and normal clients have no output limit by default: cap them.
    "client-output-buffer-limit normal 32mb 0 0",
    "maxmemory-policy noeviction",
    `busy-reply-threshold ${o.busyReplyThresholdMs}`,
    `maxclients ${o.maxClients}`,
    "enable-debug-command no",
    "enable-module-command no",
    "protected-mode yes",
    "daemonize no",
    "loglevel warning",
    "user default off resetchannels -@all",
    `user admin on >${admin} ~* &* +@all`,
    `user learner on >${learner} ~* &* +@all ${learnerDenied.join(" ")}`,
  ].join("\n");
}

let prlimit: boolean | undefined;
function hasPrlimit(): boolean {
  prlimit ??= spawnSync("prlimit", ["--version"], { stdio: "ignore" }).status === 0;
  return prlimit;
}

export async function startPrivateRedis(options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  const o = { maxMemoryMb: options.maxMemoryMb ?? 64, busyReplyThresholdMs: options.busyReplyThresholdMs ?? 200, maxClients: options.maxClients ?? 64 };
  const dir = mkdtempSync(path.join(options.baseDir ?? tmpdir(), "fl-run-redis-"));
  const socketPath = path.join(dir, "redis.sock");
  const admin = { user: "admin", password: randomBytes(16).toString("hex") };
  const learner = { user: "learner", password: randomBytes(16).toString("hex") };
  const started = performance.now();
  // Config on stdin keeps the passwords out of argv and off the disk.
  // setpriv --pdeathsig: if the runner is SIGKILLed, its runs' Redis servers die with it.
  const binary = options.binary ?? "redis-server";
  const addressSpaceMb = options.addressSpaceMb ?? 256;
  const limit = addressSpaceMb > 0 && hasPrlimit() ? ["prlimit", `--as=${addressSpaceMb * 1024 * 1024}`, "--"] : [];
  const argv = dieWithOwner([...limit, binary, "-"]);
  const child: ChildProcess = spawn(argv[0]!, argv.slice(1), { stdio: ["pipe", "pipe", "pipe"] });
  // redis-server reports config errors on stdout; keep the tail of both for the error message,
  // and the line saying why it stopped, which a crash report after it would push out of the tail.
  let stderr = "";
  let cause = "";
  const keep = (d: Buffer) => {
    const text = d.toString();
    cause ||= /^.*Out Of Memory allocating.*$/m.exec(text)?.[0] ?? "";
    stderr = (stderr + text).slice(-2000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  child.stdin?.end(redisConfig(socketPath, dir, admin.password, learner.password, o) + "\n");

  const exited = new Promise<never>((_, reject) => {
    child.once("error", (e) => reject(new Error(`Could not start redis-server for the run: ${e.message}`)));
    child.once("exit", (code) => reject(new Error(`redis-server for the run exited at start (code ${code}): ${stderr.trim()}`)));
  });
  exited.catch(() => {});
  const adminClient = () => {
    const client = new Redis({ path: socketPath, username: admin.user, password: admin.password, maxRetriesPerRequest: 1, lazyConnect: false });
    // A server that died (and is about to be replaced) fails the grader's commands, which say so;
    // its reconnect attempts need no "Unhandled error event" line in the runner's log as well.
    client.on("error", () => {});
    return client;
  };

  const ready = (async () => {
    // Usually ready in ~20 ms; a loaded machine (a runner grading many runs at once) can stall a
    // fresh process for seconds, and a run that fails for that helps nobody.
    if (await waitForRedis({ path: socketPath, username: admin.user, password: admin.password }, START_TIMEOUT_MS, 5)) return;
    throw new Error(`redis-server for the run did not answer within ${START_TIMEOUT_MS / 1000} s`);
  })();
  try {
    await Promise.race([ready, exited]);
  } catch (error) {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const startMs = performance.now() - started;

  let stopped: Promise<void> | undefined;
  return {
    socketPath,
    dir,
    admin,
    learner,
    pid: child.pid ?? -1,
    startMs,
    adminClient,
    ended: () =>
      child.exitCode !== null || child.signalCode !== null
        ? { code: child.exitCode, signal: child.signalCode, log: `${cause && !stderr.includes(cause) ? `${cause}\n…\n` : ""}${stderr.trim()}` }
        : null,
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        const done = () => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        };
        if (child.exitCode !== null || child.signalCode !== null) return done();
        child.once("exit", done);
        // Nothing in it is worth saving, and SIGTERM would wait out a busy Lua script.
        child.kill("SIGKILL");
      });
      return stopped;
    },
  };
}

/**
 * Keeps a few instances started ahead of demand, so a run does not wait for process start-up.
 * Each acquired instance belongs to one run and is stopped after it; the pool refills itself.
 */
export class PrivateRedisPool {
  private warm: Promise<PrivateRedis>[] = [];
  private closed = false;

  constructor(
    private readonly size = 2,
    private readonly options: PrivateRedisOptions = {},
  ) {
    for (let i = 0; i < size; i++) this.refill();
  }

  private refill(): void {
    const next = startPrivateRedis(this.options);
    next.catch(() => {}); // surfaced to whoever acquires it
    this.warm.push(next);
  }

  async acquire(): Promise<PrivateRedis> {
    if (this.closed) throw new Error("The private Redis pool is closed.");
    const next = this.warm.shift() ?? startPrivateRedis(this.options);
    if (this.warm.length < this.size) this.refill();
    return next;
  }

  async close(): Promise<void> {
    this.closed = true;
    const pending = this.warm.splice(0);
    await Promise.all(
      pending.map((p) =>
        p.then(
          (r) => r.stop(),
          () => undefined,
        ),
      ),
    );
  }
}
