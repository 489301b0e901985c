/**
 * The escape suite through the real run engine (docs/architecture.md "The sandbox"): each case is a
 * learner program, tests/fixtures/labs/escape/attack.ts, that attacks from inside a run:
 * `executeRun` builds it, takes a pod (private Redis, chaos proxy, read-only /lab), and the
 * fixture's check loads it in bubblewrap and calls its `attack()`. The check judges containment
 * from outside with the grader's own means; this file adds what only the host can see: the
 * platform Redis and its canary, a marker file outside the run, listeners on the host that must
 * never be reached, and this process's (the runner's) own memory. Then an ordinary run passes.
 * The whole suite runs on both tiers that isolate learner code: bubblewrap, and unshare (used
 * where bubblewrap cannot run); both work on this machine. The process tier cannot hide the
 * host, so a run on it is refused unless the operator allows it (lib/runner/sandbox/policy.ts).
 *
 * A case marked `hole` is a real weakness this suite found: it asserts the contained behaviour,
 * so it is `test.fails` until the hole is closed (then drop the mark).
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { LoadedLab } from "../../lib/labs/loader.ts";
import { LabSchema } from "../../lib/labs/schema.ts";
import { executeRun, type RunOutcome } from "../../lib/runs/execute.ts";
import { PrivateRedisPool, type PrivateRedis } from "../../lib/runner/private-redis.ts";
import { WEAK_REFUSAL, type SandboxPolicy } from "../../lib/runner/sandbox/policy.ts";
import { probeSandbox, type SandboxTier } from "../../lib/runner/sandbox/probe.ts";
import { sandboxUser } from "../../lib/runner/sandbox/user.ts";
import type { RunEvent } from "../../lib/runs/events.ts";

const root = path.resolve(import.meta.dirname, "../..");
const labDir = path.join(root, "tests/fixtures/labs/escape");
const loadLab = (dir: string): LoadedLab => ({ lab: LabSchema.parse(JSON.parse(readFileSync(path.join(dir, "lab.json"), "utf8"))), dir });
const lab = loadLab(labDir);
/** The same check with attack.ts as an instance in the run's shared sandbox instead of a process of its own. */
const sharedLab = loadLab(path.join(root, "tests/fixtures/labs/escape-shared"));
const PLATFORM_REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const MIB = 1024 * 1024;

const id = randomBytes(5).toString("hex");
/** On the host, outside any run: attacks try to write the marker and reach the listeners. */
const hostDir = path.join(tmpdir(), `fl-escape-${id}`);
const marker = path.join(hostDir, "marker");
const hostSocket = path.join(hostDir, "host.sock");
const abstractSocket = `\0fl-escape-${id}`;
const canary = { key: `fl-escape:${id}:canary`, value: `alive-${id}` };

let probedTier: SandboxTier;
let pool: PrivateRedisPool;
let platform: Redis;
let hostPort = 0;
const reached: string[] = [];
const listeners: net.Server[] = [];

/** A run's Redis chosen ahead, so an attack can be told its real socket path on the host. */
class PinnedPool extends PrivateRedisPool {
  constructor(private readonly instance: PrivateRedis) {
    super(0);
  }
  override async acquire(): Promise<PrivateRedis> {
    return this.instance;
  }
}

function listen(server: net.Server, ...at: unknown[]): Promise<void> {
  listeners.push(server);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    (server.listen as (...a: unknown[]) => void)(...at, () => resolve());
  });
}

beforeAll(async () => {
  probedTier = (await probeSandbox()).tier;
  pool = new PrivateRedisPool(2);
  platform = new Redis(PLATFORM_REDIS_URL, { maxRetriesPerRequest: 1 });
  await platform.set(canary.key, canary.value, "EX", 600);
  mkdirSync(hostDir, { recursive: true });
  const detector = (where: string) => net.createServer((socket) => (reached.push(where), socket.destroy()));
  const tcp = detector("host TCP port");
  await listen(tcp, 0, "127.0.0.1");
  hostPort = (tcp.address() as net.AddressInfo).port;
  await listen(detector("host Unix socket"), hostSocket);
  await listen(detector("host abstract socket"), abstractSocket);
  // The services attacks aim at are up: a refusal from inside means isolation, not a dead service.
  await new Promise<void>((resolve, reject) =>
    net
      .connect(5432, "127.0.0.1")
      .on("connect", function (this: net.Socket) {
        this.destroy();
        resolve();
      })
      .on("error", reject),
  );
  expect(await platform.ping()).toBe("PONG");
});

afterAll(async () => {
  await platform?.del(canary.key);
  platform?.disconnect();
  await pool?.close();
  for (const server of listeners) server.close();
  rmSync(hostDir, { recursive: true, force: true });
});

interface Ran {
  result: RunOutcome;
  events: RunEvent[];
  notes: string[];
  /** What attack() returned, as the check reported it (undefined when it returned nothing). */
  got: unknown;
  /** The same for every check of the run, in order. */
  gotEach: unknown[];
  /** Peak growth of this process's heap and buffers during the run. */
  runnerGrowthMib: number;
}

const memory = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

interface RunOptions {
  tier: SandboxTier;
  pool?: PrivateRedisPool;
  lab?: LoadedLab;
  mode?: "run" | "check";
  /** @default no weak tier allowed */
  sandboxPolicy?: SandboxPolicy;
  playgroundMs?: number;
}

const run = (source: string, o: RunOptions) => runAttack(source, o);

async function runAttack(source: string, o: RunOptions): Promise<Ran> {
  const events: RunEvent[] = [];
  const base = memory();
  let peak = base;
  const sampler = setInterval(() => (peak = Math.max(peak, memory())), 20);
  let result: RunOutcome;
  try {
    const deps = {
      pool: o.pool ?? pool,
      tier: o.tier,
      emit: (e: RunEvent) => events.push(e),
      sandboxPolicy: o.sandboxPolicy ?? { allowWeak: false, local: false },
      playgroundMs: o.playgroundMs,
    };
    result = await executeRun({ lab: o.lab ?? lab, mode: o.mode ?? "check", files: { "attack.ts": source }, seed: 1 }, deps);
  } finally {
    clearInterval(sampler);
  }
  peak = Math.max(peak, memory());
  const notes = events.flatMap((e) => (e.type === "log" && e.stream === "grader" ? [e.text] : []));
  const gotEach = notes.flatMap((n) => {
    if (!n.startsWith("attack() returned ")) return [];
    const returned = n.slice("attack() returned ".length);
    try {
      return [JSON.parse(returned) as unknown];
    } catch {
      return [returned]; // truncated by the check: keep the text
    }
  });
  return { result, events, notes, got: gotEach[0], gotEach, runnerGrowthMib: Math.round((peak - base) / MIB) };
}

/** An ordinary program: what a learner writes on a good day. */
const BENIGN = `
import { createRedis } from "@faultline/lab";
const redis = createRedis();
export async function attack() {
  await redis.zadd("queue", 1, "task-1");
  return { popped: await redis.zpopmin("queue") };
}
`;

// ---- attack sources --------------------------------------------------------------------------

const PRELUDE = `
import fs from "node:fs";
import net from "node:net";
import { createRequire } from "node:module";
import { createRedis, redisSocketPath } from "@faultline/lab";
const require = createRequire(import.meta.url);
void [fs, require, redisSocketPath];
/** "CONNECTED", or the socket's error. */
function connect(...to: unknown[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = (net.connect as (...a: unknown[]) => net.Socket)(...to);
    s.setTimeout(2000, () => { s.destroy(); reject(new Error("no answer within 2 s")); });
    s.on("connect", () => { s.destroy(); resolve("CONNECTED"); });
    s.on("error", reject);
  });
}
/** One command on a fresh connection through the proxy; the reply, JSON-encoded. */
async function redisCall(...args: (string | number)[]): Promise<string> {
  const redis = createRedis({ maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on("error", () => {});
  try {
    return JSON.stringify(await redis.call(String(args[0]), ...args.slice(1)));
  } finally {
    redis.disconnect();
  }
}
`;

/** attack() tries each body in turn and returns { name: "ok <value>" | "<code> <message>" }. */
function attempts(tries: Record<string, string>): string {
  const body = Object.entries(tries)
    .map(([name, code]) => `  ${JSON.stringify(name)}: async () => { ${code} },`)
    .join("\n");
  return `${PRELUDE}
const tries: Record<string, () => Promise<unknown>> = {
${body}
};
export async function attack() {
  const out: Record<string, string> = {};
  for (const [name, attempt] of Object.entries(tries)) {
    try {
      out[name] = "ok " + String(await attempt()).slice(0, 300);
    } catch (error: any) {
      out[name] = String(error?.code ?? error?.name ?? "Error") + " " + String(error?.message ?? error).slice(0, 300);
    }
  }
  return out;
}
`;
}

/** Each command on its own fresh connection through the proxy. */
const commands = (list: (string | number)[][]) =>
  attempts(Object.fromEntries(list.map((args) => [args.join(" "), `return redisCall(${args.map((a) => JSON.stringify(a)).join(", ")})`])));

/** attack() sends raw bytes on one connection to the proxy and returns everything it got back. */
const raw = (bytes: string, waitMs = 400) => `${PRELUDE}
export async function attack() {
  const s = net.connect(redisSocketPath);
  let got = "";
  s.on("data", (d) => (got += d));
  await new Promise((r) => s.on("connect", r));
  s.write(${JSON.stringify(bytes)});
  await new Promise((r) => setTimeout(r, ${waitMs}));
  s.destroy();
  return got;
}
`;

const read = (file: string) => `return fs.readFileSync(${JSON.stringify(file)}, "utf8")`;
const list = (dir: string) => `return fs.readdirSync(${JSON.stringify(dir)})`;

interface Expectation {
  status: "pass" | "fail";
  /** The check's message, for a run that fails. */
  message?: RegExp;
  /** Every value of what attack() returned (an attempts() report) matches. */
  each?: RegExp;
  /** What attack() returned, JSON-encoded, matches. */
  got?: RegExp;
  /** Anything else about what attack() returned. */
  verify?: (got: unknown) => void;
  /**
   * The attack left the run's Redis stuck, so the check could not look inside it; instead the run
   * must have replaced it (and the ordinary run after it, `heavy`, shows nothing carried over).
   */
  replaced?: boolean;
}

interface Attack {
  name: string;
  source: string | ((pinned: PrivateRedis) => string);
  expect: Expectation;
  /** What differs when attack.ts is an instance in the run's shared sandbox (the run's limits, not its own). */
  shared?: Partial<Expectation>;
  /** An ordinary run must pass right after it. */
  heavy?: boolean;
  /** A real weakness: the case asserts containment and is expected to fail until it is fixed. */
  hole?: string;
  /** Too dangerous to run in-process until fixed (it takes this very process down). */
  skip?: string;
}

const DENIED = /^ERR_ACCESS_DENIED /;
const NOPERM = /^ReplyError NOPERM /;

const attacks: Attack[] = [
  // ---- what the process can see and touch ----
  {
    name: "reads process.env for secrets",
    source: `export async function attack() { return { env: process.env, argv: process.argv, execArgv: process.execArgv }; }`,
    expect: {
      status: "pass",
      verify: (got) => {
        const { env, execArgv } = got as { env: Record<string, string>; execArgv: string[] };
        expect(Object.keys(env).filter((k) => k !== "PWD")).toEqual([]);
        expect(execArgv).toContain("--allow-fs-read=/lab/");
      },
    },
  },
  {
    name: "reads /etc/passwd, /etc/shadow, /root and lists /",
    source: attempts({
      "/etc/passwd": read("/etc/passwd"),
      "/etc/shadow": read("/etc/shadow"),
      "/root": list("/root"),
      "/": list("/"),
      "/home": list("/home"),
    }),
    expect: { status: "pass", each: DENIED },
  },
  {
    name: "reads /proc: the runner's environment, mounts, other processes",
    source: attempts({
      "/proc/1/environ": read("/proc/1/environ"),
      "/proc/self/environ": read("/proc/self/environ"),
      "/proc/self/mountinfo": read("/proc/self/mountinfo"),
      "/proc/<runner>/environ": read(`/proc/${process.pid}/environ`),
      "/proc/1/root/etc/passwd": read("/proc/1/root/etc/passwd"),
      "/proc": list("/proc"),
    }),
    expect: { status: "pass", each: DENIED },
  },
  {
    name: "reads the repository: .env, package.json, the database, the runner's code",
    source: attempts({
      ".env": read(path.join(root, ".env")),
      "package.json": read(path.join(root, "package.json")),
      ".data/faultline.db": read(path.join(root, ".data/faultline.db")),
      "lib/runner/private-redis.ts": read(path.join(root, "lib/runner/private-redis.ts")),
      "the lab's checks.ts": read(path.join(labDir, "checks.ts")),
      "the node binary": `return fs.readFileSync(process.execPath).length`,
    }),
    expect: { status: "pass", each: DENIED },
  },
  {
    name: "looks for the run's own directory, the private Redis and the proxy socket on disk",
    source: attempts({
      "the host's tmpdir": list(tmpdir()),
      "/tmp": list("/tmp"),
      "/lab/..": list("/lab/.."),
      "/lab/../etc/passwd": read("/lab/../etc/passwd"),
      "/lab/node_modules/../../etc/passwd": read("/lab/node_modules/../../etc/passwd"),
      "/run/faultline": list("/run/faultline"),
    }),
    expect: { status: "pass", each: DENIED },
  },
  {
    name: "writes into /lab: its own code, the harness, its config",
    source: attempts({
      "replace attack.js": `fs.writeFileSync("/lab/attack.js", "export const attack = () => 'pwned'")`,
      "harness config": `fs.writeFileSync("/lab/node_modules/@faultline/lab/config.json", "{}")`,
      "delete package.json": `fs.rmSync("/lab/package.json")`,
      mkdir: `fs.mkdirSync("/lab/x")`,
      chmod: `fs.chmodSync("/lab/attack.js", 0o777)`,
    }),
    expect: { status: "pass", each: DENIED },
  },
  {
    name: "writes a marker file outside the run, every way Node offers",
    source: attempts({
      writeFileSync: `fs.writeFileSync(${JSON.stringify(marker)}, "escaped")`,
      appendFileSync: `fs.appendFileSync(${JSON.stringify(marker)}, "escaped")`,
      "promises.writeFile": `await fs.promises.writeFile(${JSON.stringify(marker)}, "escaped")`,
      createWriteStream: `await new Promise((resolve, reject) => fs.createWriteStream(${JSON.stringify(marker)}).on("error", reject).on("open", resolve))`,
      copyFileSync: `fs.copyFileSync("/lab/package.json", ${JSON.stringify(marker)})`,
      mkdirSync: `fs.mkdirSync(${JSON.stringify(`${marker}.d`)})`,
      "its own /tmp": `fs.writeFileSync("/tmp/x", "x")`,
    }),
    expect: { status: "pass", each: DENIED },
  },
  {
    name: "uses symlinks and hard links toward host files",
    source: attempts({
      "symlink /etc/passwd": `fs.symlinkSync("/etc/passwd", "/tmp/passwd"); return fs.readFileSync("/tmp/passwd", "utf8")`,
      "symlink the marker": `fs.symlinkSync(${JSON.stringify(marker)}, "/tmp/marker"); fs.writeFileSync("/tmp/marker", "escaped")`,
      "symlink / into /lab": `fs.symlinkSync("/", "/lab/root")`,
      "hard link": `fs.linkSync("/etc/passwd", "/tmp/hard")`,
      "readlink /proc/self/root": `return fs.readlinkSync("/proc/self/root")`,
      "realpath /proc/self/cwd/..": `return fs.realpathSync("/proc/self/cwd/..")`,
    }),
    expect: { status: "pass", each: DENIED },
  },
  // ---- processes, threads, native code ----
  {
    name: "starts child processes: spawn, exec, execFile, fork, spawnSync",
    source: attempts({
      spawn: `return require("node:child_process").spawn("/bin/sh", ["-c", "id"]).pid`,
      exec: `return require("node:child_process").exec("id").pid`,
      execFile: `return require("node:child_process").execFile("/usr/bin/id").pid`,
      fork: `return require("node:child_process").fork("/lab/attack.js").pid`,
      spawnSync: `return String(require("node:child_process").spawnSync("/usr/bin/id").stdout)`,
      execSync: `return String(require("node:child_process").execSync("id"))`,
    }),
    expect: { status: "pass", each: DENIED },
  },
  {
    name: "starts worker threads",
    source: attempts({
      eval: `return new (require("node:worker_threads").Worker)("1", { eval: true }).threadId`,
      file: `return new (require("node:worker_threads").Worker)("/lab/attack.js").threadId`,
    }),
    expect: { status: "pass", each: DENIED },
  },
  {
    name: "loads native code: process.dlopen, an addon, WASI",
    source: attempts({
      "dlopen libc": `process.dlopen({ exports: {} } as any, "/usr/lib/x86_64-linux-gnu/libc.so.6")`,
      "better-sqlite3 addon": `return require(${JSON.stringify(path.join(root, "node_modules/better-sqlite3/build/Release/better_sqlite3.node"))})`,
      "WASI preopening /": `const { WASI } = require("node:wasi"); return new WASI({ version: "preview1", preopens: { "/": "/" } })`,
    }),
    // The repository is not mounted, so the addon is not even found; were it, dlopen is denied.
    expect: { status: "pass", each: /^(ERR_DLOPEN_DISABLED|ERR_ACCESS_DENIED|MODULE_NOT_FOUND) / },
  },
  {
    name: "reaches under the permission model: process.binding, internalBinding, the inspector",
    source: attempts({
      "binding fs": `return Object.keys((process as any).binding("fs"))`,
      "binding spawn_sync": `return (process as any).binding("spawn_sync").spawn({ file: "/bin/sh", args: ["sh", "-c", "id"], stdio: [] })`,
      "binding process_wrap": `return Object.keys((process as any).binding("process_wrap"))`,
      internalBinding: `return (globalThis as any).internalBinding("fs")`,
      "inspector.open": `const inspector = require("node:inspector"); inspector.open(0); return inspector.url()`,
      "permission.has fs.write": `if ((process as any).permission.has("fs.write", "/tmp")) return "may write"; throw Object.assign(new Error("no fs.write"), { code: "ERR_ACCESS_DENIED" })`,
    }),
    expect: { status: "pass", each: /^(ERR_ACCESS_DENIED|TypeError) / },
  },
  {
    name: "tries a fork bomb",
    source: `
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
export async function attack() {
  const cp = require("node:child_process");
  const { Worker } = require("node:worker_threads");
  const tally: Record<string, number> = {};
  const ways = [() => cp.fork("/lab/attack.js"), () => cp.spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"]), () => new Worker("setInterval(() => {}, 1000)", { eval: true })];
  for (let i = 0; i < 200; i++) {
    for (const start of ways) {
      try { start(); tally.started = (tally.started ?? 0) + 1; } catch (error: any) { tally[error.code] = (tally[error.code] ?? 0) + 1; }
    }
  }
  return tally;
}`,
    expect: { status: "pass", verify: (got) => expect(got).toEqual({ ERR_ACCESS_DENIED: 600 }) },
  },
  {
    name: "signals other processes: pid 1, -1, its parent, the runner's pid",
    source: `
export async function attack() {
  const visible: number[] = [];
  for (let pid = 1; pid <= 4096; pid++) {
    try { process.kill(pid, 0); visible.push(pid); } catch {}
  }
  const tried: Record<string, string> = {};
  const send = (label: string, pid: number, signal: NodeJS.Signals) => {
    try { process.kill(pid, signal); tried[label] = "sent"; } catch (error: any) { tried[label] = error.code; }
  };
  send("SIGTERM 1", 1, "SIGTERM");
  send("SIGKILL 1", 1, "SIGKILL");
  send("SIGKILL -1", -1, "SIGKILL");
  send("SIGKILL ppid", process.ppid, "SIGKILL");
  send("SIGKILL runner", ${process.pid}, "SIGKILL");
  send("SIGSTOP runner group", -${process.pid}, "SIGSTOP");
  await new Promise((r) => setTimeout(r, 100));
  return { pid: process.pid, ppid: process.ppid, visible, tried };
}`,
    expect: {
      status: "pass",
      verify: (got) => {
        const { visible, tried, pid } = got as { visible: number[]; tried: Record<string, string>; pid: number };
        // Its own PID namespace: only its own init, itself and its threads.
        expect(pid).toBeLessThan(10);
        expect(Math.max(...visible)).toBeLessThan(64);
        expect(tried["SIGKILL runner"]).toBe("ESRCH");
        expect(tried["SIGSTOP runner group"]).toBe("ESRCH");
      },
    },
    heavy: true,
  },
  // ---- the network ----
  {
    name: "connects to PostgreSQL over TCP and its Unix socket",
    source: attempts({
      "127.0.0.1:5432": `return connect(5432, "127.0.0.1")`,
      "[::1]:5432": `return connect(5432, "::1")`,
      "localhost:5432": `return connect(5432, "localhost")`,
      "/var/run/postgresql/.s.PGSQL.5432": `return connect("/var/run/postgresql/.s.PGSQL.5432")`,
      "/tmp/.s.PGSQL.5432": `return connect("/tmp/.s.PGSQL.5432")`,
    }),
    expect: { status: "pass", each: /^(ECONNREFUSED|ENOENT|EADDRNOTAVAIL|ENETUNREACH|EAI_AGAIN|ENOTFOUND) /, got: /127\.0\.0\.1:5432":"ECONNREFUSED/ },
  },
  {
    name: "connects to the platform Redis at 127.0.0.1:6379 and sends FLUSHALL blindly",
    source: attempts({
      "net 127.0.0.1:6379": `return connect(6379, "127.0.0.1")`,
      "ioredis 127.0.0.1:6379": `const { Redis } = await import("ioredis"); const r = new (Redis as any)(6379, "127.0.0.1", { maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true }); try { await r.connect(); return await r.flushall(); } finally { r.disconnect(); }`,
      "raw FLUSHALL": `const s = net.connect(6379, "127.0.0.1"); await new Promise((resolve, reject) => { s.on("connect", resolve); s.on("error", reject); }); s.end("AUTH default x\\r\\nFLUSHALL\\r\\n"); return "sent"`,
    }),
    // ioredis with no retries reports the refusal as a closed connection.
    expect: { status: "pass", each: /^(ECONNREFUSED|Error connect ECONNREFUSED|Error Connection is closed)/ },
  },
  {
    name: "connects to a TCP port the runner's host listens on",
    source: () => attempts({ "127.0.0.1": `return connect(${hostPort}, "127.0.0.1")`, "0.0.0.0": `return connect(${hostPort}, "0.0.0.0")` }),
    expect: { status: "pass", each: /^ECONNREFUSED / },
  },
  {
    name: "reaches the internet: TCP, DNS, UDP, fetch",
    source: attempts({
      "tcp 1.1.1.1:443": `return connect(443, "1.1.1.1")`,
      "dns example.com": `return (await import("node:dns")).promises.lookup("example.com").then((a) => a.address)`,
      "udp 8.8.8.8:53": `const s = (await import("node:dgram")).createSocket("udp4"); try { await new Promise<void>((resolve, reject) => s.send("x", 53, "8.8.8.8", (e) => (e ? reject(e) : resolve()))); return "sent"; } finally { s.close(); }`,
      "fetch http://1.1.1.1": `return (await fetch("http://1.1.1.1", { signal: AbortSignal.timeout(2000) })).status`,
    }),
    expect: { status: "pass", each: /^(ENETUNREACH|EAI_AGAIN|ENOTFOUND|TypeError fetch failed)/ },
  },
  {
    name: "connects to other Unix sockets: MySQL, D-Bus, systemd, a host socket, an abstract socket",
    source: attempts({
      "/run/mysqld/mysqld.sock": `return connect("/run/mysqld/mysqld.sock")`,
      "/run/dbus/system_bus_socket": `return connect("/run/dbus/system_bus_socket")`,
      "/run/systemd/private": `return connect("/run/systemd/private")`,
      "/var/run/redis/redis-server.sock": `return connect("/var/run/redis/redis-server.sock")`,
      "a socket the host opened": `return connect(${JSON.stringify(hostSocket)})`,
      "an abstract socket the host opened": `return connect(${JSON.stringify(abstractSocket)})`,
    }),
    expect: { status: "pass", each: /^(ENOENT|ECONNREFUSED) / },
  },
  {
    name: "connects to the run's private Redis socket directly, around the proxy",
    source: (pinned) => attempts({ "the private Redis socket": `return connect(${JSON.stringify(pinned.socketPath)})`, "its directory": list(pinned.dir) }),
    expect: { status: "pass", each: /^(ENOENT|ERR_ACCESS_DENIED) / },
  },
  {
    // Node's permission model does not cover Unix-socket connect: an error code tells a file
    // (ECONNREFUSED) from nothing (ENOENT), whatever fs calls are denied. Only the tier hides them.
    name: "finds host files by connecting to them: the project, the host's /tmp, /etc",
    source: attempts({
      "package.json": `return connect(${JSON.stringify(path.join(root, "package.json"))})`,
      "a socket the host opened": `return connect(${JSON.stringify(hostSocket)})`,
      "the directory this test made in the host's /tmp": `return connect(${JSON.stringify(hostDir)})`,
      "/etc/passwd": `return connect("/etc/passwd")`,
      "/home": `return connect("/home")`,
    }),
    expect: { status: "pass", each: /^ENOENT / },
  },
  {
    // listen() creates a socket file where the permission model forbids writing one.
    name: "creates socket files outside the run: beside the host's marker, in the socket directory, in /tmp",
    source: attempts({
      "the host's directory": `return await new Promise((resolve, reject) => net.createServer().on("error", reject).listen(${JSON.stringify(path.join(hostDir, "side.sock"))}, () => resolve("listening")))`,
      "the socket directory": `return await new Promise((resolve, reject) => net.createServer().on("error", reject).listen(redisSocketPath.replace(/[^/]+$/, "side.sock"), () => resolve("listening")))`,
      "its own /tmp": `return await new Promise((resolve, reject) => net.createServer().on("error", reject).listen("/tmp/fl-escape-${id}.sock", () => resolve("listening")))`,
    }),
    expect: {
      status: "pass",
      verify: (got) => {
        // Node reports a missing directory on listen as EACCES; the host's listing below is the proof.
        expect(got).toMatchObject({
          "the host's directory": expect.stringMatching(/^(ENOENT|EACCES) /),
          "the socket directory": expect.stringMatching(/^(EROFS|EACCES) /),
          "its own /tmp": "ok listening",
        });
        // The /tmp it wrote in was its own (and hostDir still holds only host.sock: checked for every attack).
        expect(existsSync(path.join(tmpdir(), `fl-escape-${id}.sock`))).toBe(false);
      },
    },
  },
  // ---- through the proxy, at the run's private Redis ----
  {
    name: "authenticates as someone else: AUTH default, AUTH admin with guessed passwords",
    source: commands([
      ["AUTH", "default", "x"],
      ["AUTH", "admin", "admin"],
      ["AUTH", "admin", "password"],
      ["AUTH", "learner", "learner"],
      ["AUTH", "x"],
    ]),
    expect: { status: "pass", each: /^ReplyError ERR Faultline: authentication is handled by the lab harness/ },
  },
  {
    name: "authenticates with HELLO 3 AUTH, switches protocol, RESETs the connection",
    source: attempts({
      "HELLO 3 AUTH default x": `return redisCall("HELLO", "3", "AUTH", "default", "x")`,
      "HELLO 2 AUTH admin admin": `return redisCall("HELLO", "2", "AUTH", "admin", "admin")`,
      "HELLO 3": `return redisCall("HELLO", "3")`,
      "RESET, then ACL WHOAMI": `const r = createRedis({ maxRetriesPerRequest: 0, retryStrategy: () => null }); r.on("error", () => {}); try { await r.call("RESET"); return await r.call("ACL", "WHOAMI"); } finally { r.disconnect(); }`,
    }),
    expect: { status: "pass", each: /^ReplyError (ERR Faultline: authentication|NOPROTO Faultline|NOAUTH)/ },
  },
  {
    name: "FLUSHALL and FLUSHDB",
    source: commands([["FLUSHALL"], ["FLUSHALL", "ASYNC"], ["FLUSHDB"]]),
    expect: { status: "pass", each: NOPERM },
  },
  {
    name: "CONFIG SET and CONFIG GET requirepass",
    source: commands([
      ["CONFIG", "SET", "maxmemory", "0"],
      ["CONFIG", "SET", "requirepass", "x"],
      ["CONFIG", "GET", "requirepass"],
      ["CONFIG", "GET", "*"],
      ["CONFIG", "REWRITE"],
    ]),
    expect: { status: "pass", each: NOPERM },
  },
  {
    name: "ACL LIST, SETUSER, GETUSER, DELUSER",
    source: commands([
      ["ACL", "LIST"],
      ["ACL", "SETUSER", "learner", "+@all"],
      ["ACL", "SETUSER", "default", "on", "nopass", "+@all"],
      ["ACL", "GETUSER", "admin"],
      ["ACL", "DELUSER", "admin"],
      ["ACL", "LOG"],
    ]),
    expect: { status: "pass", each: NOPERM },
  },
  {
    name: "SCRIPT FLUSH, FUNCTION FLUSH, FUNCTION RESTORE",
    source: commands([
      ["SCRIPT", "FLUSH"],
      ["FUNCTION", "FLUSH"],
      ["FUNCTION", "RESTORE", "x"],
    ]),
    expect: { status: "pass", each: NOPERM },
  },
  {
    name: "lists the keyspace: SCAN, KEYS *, RANDOMKEY, SELECT another database",
    source: commands([["SCAN", "0"], ["KEYS", "*"], ["RANDOMKEY"], ["SELECT", "1"], ["SWAPDB", "0", "1"]]),
    expect: { status: "pass", each: NOPERM },
  },
  {
    name: "admin commands: DEBUG, MODULE LOAD, SHUTDOWN, MONITOR, CLIENT, REPLICAOF, MIGRATE, SAVE, INFO",
    source: commands([
      ["DEBUG", "SLEEP", "5"],
      ["DEBUG", "SEGFAULT"],
      ["MODULE", "LOAD", "/usr/lib/redis/modules/x.so"],
      ["SHUTDOWN", "NOSAVE"],
      ["MONITOR"],
      ["CLIENT", "KILL", "TYPE", "normal"],
      ["CLIENT", "PAUSE", "10000"],
      ["CLIENT", "LIST"],
      ["REPLICAOF", "127.0.0.1", "6379"],
      ["MIGRATE", "127.0.0.1", "6379", "k", "0", "1000"],
      ["SAVE"],
      ["BGSAVE"],
      ["INFO"],
    ]),
    // DEBUG and MODULE are disabled in the server's config as well as by the ACL; either refusal is containment.
    expect: { status: "pass", each: /^ReplyError (NOPERM |ERR (DEBUG|MODULE) command not allowed)/ },
  },
  {
    name: "escapes from Lua: forbidden commands, os, io, require, dofile",
    source: attempts({
      "redis.call FLUSHALL": `return redisCall("EVAL", "return redis.call('FLUSHALL')", 0)`,
      "redis.call CONFIG SET": `return redisCall("EVAL", "return redis.call('CONFIG', 'SET', 'maxmemory', '0')", 0)`,
      "redis.call AUTH": `return redisCall("EVAL", "return redis.call('AUTH', 'admin', 'admin')", 0)`,
      "os.execute": `return redisCall("EVAL", "return os.execute('id')", 0)`,
      "io.open": `return redisCall("EVAL", "return io.open('/etc/passwd'):read('*a')", 0)`,
      require: `return redisCall("EVAL", "return require('os')", 0)`,
      dofile: `return redisCall("EVAL", "return dofile('/etc/passwd')", 0)`,
      "global redefinition": `return redisCall("EVAL", "redis = nil return 1", 0)`,
    }),
    expect: { status: "pass", each: /^ReplyError / },
  },
  {
    name: "runs a Lua busy loop: EVAL 'while true do end'",
    source: `${PRELUDE}
export async function attack() {
  return redisCall("EVAL", "while true do end", 0);
}`,
    expect: {
      status: "fail",
      message: /^Your Lua script was still running after 1 s, blocking every other client of your Redis, and the grader stopped it \(SCRIPT KILL: OK\)/,
    },
    heavy: true,
  },
  {
    name: "runs a Lua busy loop that writes first, so SCRIPT KILL cannot stop it",
    source: `${PRELUDE}
export async function attack() {
  return redisCall("EVAL", "redis.call('SET', KEYS[1], 'x') while true do end", 1, "k");
}`,
    expect: { status: "fail", message: /^Your Lua script wrote to Redis and then kept running/, replaced: true },
    heavy: true,
  },
  {
    name: "starts a Lua loop that writes first and returns before the check can notice",
    source: `${PRELUDE}
export async function attack() {
  const redis = createRedis({ maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on("error", () => {});
  void redis.eval("redis.call('SET', KEYS[1], 'x') while true do end", 1, "k").catch(() => {});
  await new Promise((r) => setTimeout(r, 300));
  return "started";
}`,
    // The check's own reads meet a Redis that answers BUSY to everyone; the reset after the check
    // finds the script unkillable, replaces the Redis and says whose script it was.
    expect: {
      status: "fail",
      message:
        /^Your Lua script wrote to Redis and then kept running; Redis cannot stop such a script \(UNKILLABLE Sorry the script already executed write commands against the dataset\), so the grader replaced your run's Redis with an empty one\.$/,
      replaced: true,
    },
    heavy: true,
  },
  {
    name: "builds 300 MiB of strings inside Lua, outside maxmemory",
    source: `${PRELUDE}
export async function attack() {
  return redisCall("EVAL", "local mib = string.rep('x', 1048576) local t = {} for i = 1, 300 do t[i] = mib .. i end return #t", 0);
}`,
    // The server's address space is capped, so the script runs out of memory inside Lua, and the learner reads why.
    expect: { status: "fail", message: /^attack\(\) threw ReplyError: ERR Error running script \S+, not enough memory/ },
    heavy: true,
  },
  {
    name: "builds one 400 MiB string inside Lua",
    source: `${PRELUDE}
export async function attack() {
  return redisCall("EVAL", "return #string.rep('x', 400 * 1048576)", 0);
}`,
    expect: { status: "fail", message: /^attack\(\) threw ReplyError: ERR Error running script \S+, not enough memory/ },
    heavy: true,
  },
  {
    name: "fills Lua's heap, then fills Redis to maxmemory while Lua still holds it",
    source: `${PRELUDE}
export async function attack() {
  const out: string[] = [];
  out.push(await redisCall("EVAL", "local mib = string.rep('x', 1048576) local t = {} for i = 1, 300 do t[i] = mib .. i end return #t", 0).catch((e) => e.message));
  for (let i = 0; i < 40; i++) out.push(await redisCall("SETRANGE", "fill:" + i, 2 * 1048576, "x").catch((e) => e.message));
  return out;
}`,
    // Whichever gives first: the write is refused past maxmemory, or the server stops for want of
    // memory and the grader replaces it, telling the learner their Redis ran out of memory.
    expect: { status: "fail", message: /^Your run's Redis ran out of memory and stopped, so the grader replaced it with an empty one\.$/, replaced: true },
    heavy: true,
  },
  {
    name: "SETRANGE at a 300 MiB offset and APPENDs past the bulk limit",
    source: attempts({
      "SETRANGE 300 MiB": `return redisCall("SETRANGE", "bomb", ${300 * MIB}, "x")`,
      "SETRANGE 4 GiB": `return redisCall("SETRANGE", "bomb", ${4096 * MIB}, "x")`,
      "APPEND to 8 MiB": `const chunk = "x".repeat(${4 * MIB}); for (let i = 0; i < 3; i++) await redisCall("APPEND", "grow", chunk); return "appended"`,
    }),
    expect: { status: "pass", each: /^ReplyError ERR string exceeds maximum allowed size/ },
    heavy: true,
  },
  {
    name: "SETs a 10 MiB value, over proto-max-bulk-len",
    source: attempts({ "SET 10 MiB": `return redisCall("SET", "big", "x".repeat(${10 * MIB}))` }),
    expect: { status: "pass", each: /^(ReplyError ERR Protocol error|Error Connection is closed)/ },
    heavy: true,
  },
  {
    name: "floods the proxy with 200 connections",
    source: `${PRELUDE}
export async function attack() {
  const outcomes = await Promise.all(Array.from({ length: 200 }, () => new Promise<string>((resolve) => {
    let reply = "";
    const s = net.connect(redisSocketPath);
    s.on("connect", () => s.write("PING\\r\\n"));
    s.on("data", (d) => (reply += d));
    s.on("error", (error: any) => resolve(error.code));
    s.on("close", () => resolve(reply.trim() || "closed"));
    setTimeout(() => s.destroy(), 1500);
  })));
  const tally: Record<string, number> = {};
  for (const outcome of outcomes) tally[outcome] = (tally[outcome] ?? 0) + 1;
  return tally;
}`,
    expect: {
      status: "pass",
      verify: (got) => {
        const tally = got as Record<string, number>;
        expect(tally["+PONG"] ?? 0).toBeLessThanOrEqual(40);
        // Past the budget a connection is refused, or closed before its PING is answered.
        const refusals = new Set(["-ERR Faultline: connection budget of 40 open connections exceeded", "EMFILE", "closed", "ECONNRESET", "EPIPE"]);
        for (const outcome of Object.keys(tally)) if (outcome !== "+PONG") expect(refusals, outcome).toContain(outcome);
      },
    },
    heavy: true,
  },
  {
    name: "pipelines GETs of a 7 MiB value and never reads the replies",
    source: `${PRELUDE}
export async function attack() {
  await redisCall("SET", "big", "x".repeat(${7 * MIB}));
  const s = net.connect(redisSocketPath);
  // Redis may cut a client that lets replies pile up (its output buffer limit), and the proxy
  // then cuts this socket: the write that follows fails with EPIPE, which is containment too.
  s.on("error", () => {});
  await new Promise((r) => s.on("connect", r));
  s.pause();
  for (let i = 0; i < 30; i++) s.write("GET big\\r\\n");
  await new Promise((r) => setTimeout(r, 1500));
  return "30 replies of 7 MiB left unread";
}`,
    expect: { status: "pass" },
    heavy: true,
  },
  {
    name: "smuggles commands past the proxy as quoted inline commands",
    source: raw(`"AUTH" default x\r\n'auth' admin admin\r\nA"UTH" default x\r\n"\\x41UTH" default x\r\n"FLUSHALL"\r\nPING\r\n`),
    expect: { status: "pass", got: /^"(-ERR Faultline: authentication is handled by the lab harness\\r\\n){4}-NOPERM [^"]*\\r\\n\+PONG\\r\\n"$/ },
  },
  {
    name: "sends inline commands Redis and a naive proxy would read differently: a NUL byte, unbalanced quotes",
    source: raw(`PING\r\nAUTH\0 default x\r\n`),
    expect: { status: "pass", got: /^"\+PONG\\r\\n-ERR Protocol error: NUL byte in an inline request\\r\\n"$/ },
  },
  {
    name: "sends an inline command with unbalanced quotes",
    source: raw(`"AUTH default x\r\nPING\r\n`),
    expect: { status: "pass", got: /^"-ERR Protocol error: unbalanced quotes in request\\r\\n"$/ },
  },
  // ---- limits ----
  {
    name: "spins the CPU in attack()",
    source: `export async function attack() { for (;;) {} }`,
    shared: { message: /kept the CPU busy without ever yielding, so the grader stopped it/ },
    expect: { status: "fail", message: /^attack\(\) never returned, because the process running attack\.ts used more than 2 s of CPU time and was stopped \(/ },
    heavy: true,
  },
  {
    name: "spins the CPU as soon as it is imported",
    source: `let n = 0; for (;;) n++;\nexport async function attack() { return n; }`,
    shared: { message: /attack\.ts did not finish loading within 5 s/ },
    expect: { status: "fail", message: /^the process running attack\.ts used more than 2 s of CPU time and was stopped \(/ },
    heavy: true,
  },
  {
    name: "never returns, holding a blocking command",
    source: `${PRELUDE}
export async function attack() {
  const redis = createRedis();
  await redis.blpop("never", 0);
  return "unreachable";
}`,
    expect: { status: "fail", message: /^attack\(\) never returned, because the process running attack\.ts was still running after 6 s and was stopped\.$/ },
  },
  {
    name: "grows the heap without bound",
    source: `export async function attack() { const keep: unknown[] = []; for (let i = 0; ; i++) keep.push({ i, text: "y".repeat(100) + i }); }`,
    // The loop never yields, so in the shared host whichever limit it meets first stops it: the
    // heap, or (on a loaded machine, before 384 MiB fill up) the wall clock, which finds it stuck.
    shared: { message: /ran out of its 384 MiB heap|kept the CPU busy without ever yielding/ },
    expect: { status: "fail", message: /ran out of its 64 MiB heap|more than 2 s of CPU time/ },
    heavy: true,
  },
  {
    name: "allocates Buffers without bound",
    source: `export async function attack() { const keep: Buffer[] = []; for (;;) keep.push(Buffer.alloc(16 * 1024 * 1024, 1)); }`,
    expect: { status: "fail", message: /Array buffer allocation failed|allocate more than 256 MiB|ran out of its 64 MiB heap|crashed .*out of memory/ },
    // The shared sandbox has the run's 1 GiB for all its instances: writing that much on a loaded
    // two-core machine can outlast the instance's 6 s, and then the grader stops a loop that never
    // yields. Both messages tell the learner the truth about this code.
    shared: {
      message: /Array buffer allocation failed|allocate more than|ran out of its \d+ MiB heap|crashed .*out of memory|kept the CPU busy without ever yielding/,
    },
    heavy: true,
  },
  {
    name: "floods its output",
    source: `for (;;) console.log("x".repeat(1000));\nexport async function attack() { return 1; }`,
    // A synchronous loop never lets Node flush stdout: past the kernel's socket buffer (which may
    // be under 256 KiB) its writes queue in the heap, so any of three limits can stop it: output,
    // heap, or (when the garbage collector struggles with that heap) its CPU seconds.
    shared: { message: /printed more than 256 KiB and was stopped/ },
    expect: {
      status: "fail",
      message:
        /^the process running attack\.ts (printed more than 256 KiB and was stopped \(print less|ran out of its 64 MiB heap|used more than 2 s of CPU time)/,
    },
    heavy: true,
  },
  {
    name: "schedules a huge number of timers",
    source: `export async function attack() {
  for (let i = 0; i < 200_000; i++) setTimeout(() => {}, 1e9 + i);
  for (let i = 0; i < 10_000; i++) setInterval(() => {}, 1);
  return "scheduled";
}`,
    // 210,000 live timers do not fit a 64 MiB heap: the learner is told, and the runner is untouched.
    // On a loaded machine the garbage collector's struggle may use up the CPU seconds first.
    // An instance's timers are its own and end with it; the run's 384 MiB holds them.
    shared: { status: "pass", message: undefined },
    expect: { status: "fail", message: /ran out of its 64 MiB heap|more than 2 s of CPU time/ },
    heavy: true,
  },
  // ---- the grader itself ----
  {
    name: "pollutes prototypes and returns a __proto__ payload",
    source: `
(Object.prototype as any).polluted = "yes";
(Object.prototype as any).ok = false;
(Object.prototype as any).ready = false;
export async function attack() {
  return JSON.parse('{"__proto__": {"isAdmin": true}, "constructor": {"prototype": {"isAdmin": true}}}');
}`,
    expect: {
      status: "pass",
      verify: () => {
        const probe: Record<string, unknown> = {};
        expect([probe.isAdmin, probe.polluted, probe.ready]).toEqual([undefined, undefined, undefined]);
      },
    },
  },
  {
    name: "renames itself with process.title so the grader cannot find it",
    source: `export async function attack() { process.title = "hidden"; return process.title; }`,
    expect: { status: "pass", got: /hidden/ },
  },
  {
    name: 'renames itself "bwrap" so the grader takes it for the sandbox',
    source: `export async function attack() { process.title = "bwrap"; return process.title; }`,
    expect: { status: "pass", got: /bwrap/ },
  },
  {
    name: "writes 160 MiB without a newline to the grader's RPC channel (fd 3)",
    source: `
import fs from "node:fs";
export async function attack() {
  const chunk = Buffer.alloc(1024 * 1024, 120);
  let sent = 0;
  while (sent < 160 * 1024 * 1024) {
    try { sent += fs.writeSync(3, chunk); } catch (error: any) { if (error.code !== "EAGAIN") return error.code; await new Promise((r) => setImmediate(r)); }
  }
  process.exit(0);
}`,
    shared: { message: /wrote more than 4 MiB without a newline to the grader's channel \(file descriptor 3\), so the grader stopped the run's sandbox/ },
    expect: {
      status: "fail",
      message: /^Your process wrote more than 1 MiB without a newline to the grader's channel \(file descriptor 3\), so the grader stopped it\./,
    },
    heavy: true,
  },
  {
    name: "writes a forged JSON `null` to the grader's RPC channel (fd 3)",
    source: `import fs from "node:fs";\nexport async function attack() { fs.writeSync(3, "null\\n42\\n"); return "sent"; }`,
    shared: { message: /wrote "null" to the grader's channel \(file descriptor 3\), which is not a message from the lab harness/ },
    expect: {
      status: "fail",
      message: /^Your process wrote "null" to the grader's channel \(file descriptor 3\), which is not a message from the lab harness/,
    },
  },
  {
    name: "forges a reply with a throwing shape on the grader's RPC channel (fd 3)",
    source: `import fs from "node:fs";\nexport async function attack() { fs.writeSync(3, JSON.stringify({ id: 1, ok: false, error: null }) + "\\n"); return "sent"; }`,
    shared: { message: /to the grader's channel \(file descriptor 3\), which is not a message from the lab harness/ },
    expect: { status: "fail", message: /^Your process wrote .* to the grader's channel \(file descriptor 3\)/ },
  },
  {
    name: "replaces JSON.stringify, Object.keys and Socket.prototype.write that the harness uses",
    source: `
import net from "node:net";
export async function attack() {
  JSON.stringify = () => "null";
  Object.keys = () => [];
  String.prototype.slice = () => "";
  (net.Socket.prototype as any).write = function () { return true; };
  return { returned: "intact" };
}`,
    expect: { status: "pass", got: /^\{"returned":"intact"\}$/ },
  },
];

/** The parent of a host process, or 0 once it has gone. */
function parentOf(pid: number): number {
  try {
    // The command in /proc/<pid>/stat is in parentheses and may hold spaces; the ppid follows it.
    return Number(
      readFileSync(`/proc/${pid}/stat`, "utf8")
        .replace(/^.*\) /s, "")
        .split(" ")[1],
    );
  } catch {
    return 0;
  }
}

/** Whether a host process was started by this test process: the other escape files run beside it. */
function ours(pid: number): boolean {
  for (let at = pid; at > 1; at = parentOf(at)) if (at === process.pid) return true;
  return false;
}

/** Host processes running the lab harness (learner code) for this file, with their uids, gids and groups as the host sees them. */
function learnerProcesses(): { pid: number; ids: string }[] {
  return readdirSync("/proc").flatMap((entry) => {
    if (!/^\d+$/.test(entry)) return [];
    try {
      if (!readFileSync(`/proc/${entry}/cmdline`, "utf8").includes("@faultline/lab/host.js") || !ours(Number(entry))) return [];
      const status = readFileSync(`/proc/${entry}/status`, "utf8");
      const ids = ["Uid", "Gid", "Groups"].map((k) => `${k}:${(new RegExp(`^${k}:[ \\t]*(.*)$`, "m").exec(status)?.[1] ?? "?").trim().replace(/\s+/g, ",")}`);
      return [{ pid: Number(entry), ids: ids.join(" ") }];
    } catch {
      return []; // exited meanwhile
    }
  });
}

/**
 * The attacks on one configuration: a tier, and whether attack.ts is an instance in the run's
 * shared sandbox or a process of its own. Each configuration is a test file of its own
 * (escapes-*.test.ts), so vitest runs them side by side, each measuring its own runner's memory.
 */
export function escapeSuite(tier: "bubblewrap" | "unshare", shared: boolean) {
  describe(`on the ${tier} tier, ${shared ? "as an instance in the run's shared sandbox" : "as a process of its own"}`, () => {
    const run = (source: string, o: RunOptions) => runAttack(source, { lab: shared ? sharedLab : undefined, ...o });
    test("an ordinary program passes before any attack", async () => {
      const { result, got } = await run(BENIGN, { tier });
      expect(result.status, JSON.stringify(result.checks)).toBe("pass");
      expect(got).toEqual({ popped: ["task-1", "1"] });
    });

    for (const attack of attacks) {
      const define = attack.skip ? test.skip : attack.hole ? test.fails : test;
      define(`an attack that ${attack.name} is contained`, async () => {
        const expected = { ...attack.expect, ...(shared ? attack.shared : undefined) };
        let runPool = pool;
        let pinned: PrivateRedis | undefined;
        if (typeof attack.source === "function") {
          pinned = await pool.acquire();
          runPool = new PinnedPool(pinned);
        }
        const source = typeof attack.source === "function" ? attack.source(pinned!) : attack.source;
        const { result, events, notes, got, runnerGrowthMib } = await run(source, { tier, pool: runPool });
        const check = result.checks[0];
        const evidence = JSON.stringify({ status: result.status, message: check?.message, actual: check?.actual, notes }, null, 1).slice(0, 3000);

        // The verdict a learner would read: never `error` for what their code did.
        expect(result.status, evidence).toBe(expected.status);
        if (expected.message) expect(check?.message, evidence).toMatch(expected.message);
        // The live view's last batch of commands may follow the end event (lib/runs/command-feed.ts).
        const end = events.at(-1);
        expect(end).toMatchObject({ type: "end", status: result.status });
        expect(events.filter((e) => e.type === "check-end")).toHaveLength(1);
        // The check's own outside view: its Redis answers, its canary is intact.
        if (expected.replaced)
          expect(
            notes.some((n) => n.startsWith("The run's Redis was replaced after this check: ")),
            evidence,
          ).toBe(true);
        else
          expect(
            notes.some((n) => n.startsWith("contained: grader PING ok, canary intact")),
            evidence,
          ).toBe(true);
        if (expected.each) {
          expect(got, evidence).toBeTypeOf("object");
          for (const [attempt, outcome] of Object.entries(got as Record<string, string>)) expect(outcome, attempt).toMatch(expected.each);
        }
        if (expected.got) expect(JSON.stringify(got), evidence).toMatch(expected.got);
        expected.verify?.(got);

        // What only the host sees: the platform Redis, the marker, the listeners, the runner itself.
        expect(await platform.get(canary.key)).toBe(canary.value);
        expect(existsSync(marker)).toBe(false);
        expect(readdirSync(hostDir)).toEqual(["host.sock"]);
        expect(reached).toEqual([]);
        expect(runnerGrowthMib, "the runner's own memory grew during the attack").toBeLessThan(96);

        if (attack.heavy) {
          const after = await run(BENIGN, { tier });
          expect(after.result.status, `the next ordinary run: ${JSON.stringify(after.result.checks)}`).toBe("pass");
        }
      });
    }

    test("learner processes never run as root: not as they see themselves, not as the host sees them", async () => {
      const seen = new Map<number, string>();
      const scan = setInterval(() => learnerProcesses().forEach((p) => seen.set(p.pid, p.ids)), 50);
      let ran: Ran;
      try {
        ran = await run(
          `export async function attack() { await new Promise((r) => setTimeout(r, 600)); return { uid: process.getuid!(), gid: process.getgid!(), groups: process.getgroups!() }; }`,
          { tier },
        );
      } finally {
        clearInterval(scan);
      }
      const user = sandboxUser() ?? { uid: process.geteuid!(), gid: process.getegid!() };
      expect(user.uid).not.toBe(0);
      if (process.geteuid!() === 0) expect(user).toEqual({ uid: 65534, gid: 65534 }); // FAULTLINE_SANDBOX_USER's default
      expect(ran.result.status, JSON.stringify(ran.result.checks)).toBe("pass");
      // Node lists the effective gid among the groups; there is no other.
      expect(ran.got).toEqual({ uid: user.uid, gid: user.gid, groups: [user.gid] });
      // The pod starts learner processes ahead of need: every one of them, not only the one used.
      expect(seen.size).toBeGreaterThan(0);
      for (const ids of seen.values()) expect(ids).toBe(`Uid:${Array(4).fill(user.uid).join(",")} Gid:${Array(4).fill(user.gid).join(",")} Groups:`);
    });

    test("a function loaded with FUNCTION LOAD in one check is gone in the next", async () => {
      const twoChecks: LoadedLab = { ...lab, lab: { ...lab.lab, checks: [lab.lab.checks[0]!, lab.lab.checks[0]!] } };
      const source = `${PRELUDE}
export async function attack() {
  const before = await redisCall("FCALL", "fl_escape_kept", 0).catch((e) => "gone: " + e.message);
  const loaded = await redisCall("FUNCTION", "LOAD", "#!lua name=fl_escape\\nredis.register_function('fl_escape_kept', function() return 'kept' end)").catch((e) => "not loaded: " + e.message);
  const after = await redisCall("FCALL", "fl_escape_kept", 0).catch((e) => "gone: " + e.message);
  return { before, loaded, after };
}`;
      const { result, gotEach } = await run(source, { tier, lab: twoChecks });
      expect(result.status, JSON.stringify(result.checks)).toBe("pass");
      const fresh = { before: "gone: ERR Function not found", loaded: '"fl_escape"', after: '"kept"' };
      // The second check starts from an empty Redis: no data, and no function either.
      expect(gotEach).toEqual([fresh, fresh]);
    });

    test("an ordinary program still passes after every attack", async () => {
      const { result, got } = await run(BENIGN, { tier });
      expect(result.status, JSON.stringify(result.checks)).toBe("pass");
      expect(got).toEqual({ popped: ["task-1", "1"] });
      expect(await platform.get(canary.key)).toBe(canary.value);
    });
  });
}

/** What concerns the host rather than one configuration: the probe's choice, the process tier, the playground's memory limit. */
export function hostSuite() {
  test("on this machine the probe picks bubblewrap (the suite forces unshare too)", () => {
    expect(probedTier).toBe("bubblewrap");
  });

  describe("a tier that cannot hide the host (process)", () => {
    test.each(["check", "run"] as const)("is refused for a %s run without the operator's override, as the platform's error", async (mode) => {
      const { result, events } = await run(BENIGN, { tier: "process", mode });
      expect(result.status).toBe("error");
      expect(result.message).toBe(WEAK_REFUSAL);
      expect(result.message).toMatch(/sandbox is unavailable.*This is not a problem with your code/);
      // Nothing was built or started: the end is the only event.
      expect(events.map((e) => e.type)).toEqual(["end"]);
    });

    test.each([
      ["FAULTLINE_ALLOW_WEAK_SANDBOX=1", { allowWeak: true, local: false }, /the operator allowed it \(FAULTLINE_ALLOW_WEAK_SANDBOX=1\)/],
      ["FAULTLINE_AUTH=local", { allowWeak: false, local: true }, /Faultline runs for you alone here \(FAULTLINE_AUTH=local\)/],
    ])("runs with %s, and the run says it used a weak tier", async (_, sandboxPolicy, notice) => {
      const { result, got, notes } = await run(BENIGN, { tier: "process", sandboxPolicy });
      expect(result.status, JSON.stringify(result.checks)).toBe("pass");
      expect(got).toEqual({ popped: ["task-1", "1"] });
      expect(notes[0]).toMatch(/^This run used the weak 'process' sandbox tier/);
      expect(notes[0]).toMatch(notice);
    });
  });

  test("a playground program that runs out of memory is told so once", async () => {
    const heapBomb = `const keep: unknown[] = [];\nfor (let i = 0; ; i++) keep.push({ i, text: "y".repeat(100) + i });\nexport async function attack() {}`;
    const { result } = await run(heapBomb, { tier: "bubblewrap", mode: "run", playgroundMs: 20_000 });
    expect(result.status).toBe("fail");
    // Which limit gives first depends on timing; each reads as one sentence about "Your program".
    expect(result.message).toMatch(
      /^Your program (ran out of its 128 MiB heap \(look for data that grows without bound\)|tried to allocate more than 256 MiB and the allocation failed|crashed \(exit \d+\) without an error of its own, which under these limits usually means it ran out of memory)\.$/,
    );
    expect(result.message).not.toMatch(/Your program.*Your program/);
  });
}
