/**
 * Finds the strongest sandbox tier this host supports (docs/architecture.md "The sandbox") by running
 * a small program in each, exactly as runs start theirs (tiers.ts, the same uid drop), and
 * checking what it can see: not the runner's processes, network, TCP ports or Unix sockets; not
 * the host's /tmp, /run, /home or project directory; a private writable /tmp; working loopback;
 * a uid other than 0 with no capabilities; the socket directory it can connect to but not create
 * sockets in. A tier that creates its namespaces but shows any of that fails the probe too. The
 * runner reports the tier it got; it never pretends.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { dieWithOwner } from "../die-with-owner.ts";
import { findBinary, tierPaths, wrapInTier, type SandboxTier } from "./tiers.ts";
import { sandboxUser, shareDirWithSandbox, shareSocketWithSandbox } from "./user.ts";

export { bubblewrapArgs, type SandboxTier } from "./tiers.ts";

export interface ProbeResult {
  tier: SandboxTier;
  /** Why each stronger tier was not used; empty when bubblewrap works. */
  reasons: string[];
}

/** What the program inside reports; see `CHECK`. */
interface Seen {
  uid: string;
  caps: string;
  runnerVisible: string;
  hostTcp: string;
  hostSocket: string;
  proxySocket: string;
  listenInSocketDir: string;
  loopback: string;
  tmpWrite: string;
  visible: string[];
}

/**
 * The program run inside each tier (CommonJS, no permission model: this probes the tier alone).
 * argv[2] is JSON: CheckArgs.
 */
const CHECK = String.raw`
const fs = require("fs"), net = require("net");
const a = JSON.parse(process.argv[2]);
const code = (f) => { try { f(); return "ok"; } catch (e) { return e.code || e.message; } };
const connect = (...to) => new Promise((r) => { const s = net.connect(...to); s.setTimeout(1500, () => { s.destroy(); r("timeout"); }); s.on("connect", () => { s.destroy(); r("connected"); }); s.on("error", (e) => r(e.code)); });
const listen = (...at) => new Promise((r) => { const s = net.createServer(); s.on("error", (e) => r({ error: e.code })); s.listen(...at, () => r({ server: s })); });
(async () => {
  const status = fs.readFileSync("/proc/self/status", "utf8");
  const seen = {
    uid: /^Uid:\s+(.*)$/m.exec(status)[1].trim().split(/\s+/).join(","),
    caps: /^CapEff:\s+(\S+)/m.exec(status)[1],
    runnerVisible: code(() => process.kill(a.runner, 0)),
    hostTcp: await connect(a.port, "127.0.0.1"),
    hostSocket: await connect(a.hostSocket),
    proxySocket: await connect(a.proxySocket),
    tmpWrite: code(() => fs.writeFileSync("/tmp/" + a.tmpFile, "x")),
    visible: a.hostPaths.filter((p) => fs.existsSync(p)),
  };
  const inDir = await listen(a.socketDir + "/fl-probe.sock");
  seen.listenInSocketDir = inDir.error || "listening";
  inDir.server && inDir.server.close();
  const lo = await listen(0, "127.0.0.1");
  seen.loopback = lo.error || await connect(lo.server.address().port, "127.0.0.1");
  lo.server && lo.server.close();
  process.stdout.write(JSON.stringify(seen));
})();
`;

/** Everything wrong with what the program saw; empty when the tier isolates as it must. */
function judge(seen: Seen): string[] {
  const wrong: string[] = [];
  if (seen.uid.split(",").includes("0")) wrong.push(`the program runs as uid 0 (${seen.uid})`);
  if (!/^0+$/.test(seen.caps)) wrong.push(`the program has capabilities (${seen.caps})`);
  if (seen.runnerVisible !== "ESRCH") wrong.push(`the runner's process is visible (${seen.runnerVisible})`);
  if (seen.hostTcp === "connected") wrong.push("a TCP port on the host is reachable");
  if (seen.hostSocket === "connected") wrong.push("a Unix socket in the host's /tmp is reachable");
  if (seen.proxySocket !== "connected") wrong.push(`the run's proxy socket is unreachable (${seen.proxySocket})`);
  if (seen.listenInSocketDir === "listening") wrong.push("the program can create a socket in the socket directory");
  if (seen.loopback !== "connected") wrong.push(`loopback does not work (${seen.loopback})`);
  if (seen.tmpWrite !== "ok") wrong.push(`/tmp is not writable (${seen.tmpWrite})`);
  if (seen.visible.length > 0) wrong.push(`host paths are visible: ${seen.visible.join(", ")}`);
  return wrong;
}

interface CheckArgs {
  runner: number;
  port: number;
  hostSocket: string;
  proxySocket: string;
  socketDir: string;
  hostPaths: string[];
  tmpFile: string;
}

interface Fixture {
  labDir: string;
  socketDir: string;
  args: Omit<CheckArgs, "proxySocket" | "socketDir">;
  /** What the program writes in its /tmp; it must not appear in the host's. */
  leaked: () => boolean;
  close(): Promise<void>;
}

function serve(at: string | number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => socket.destroy());
    server.once("error", reject);
    if (typeof at === "number") server.listen(at, "127.0.0.1", () => resolve(server));
    else server.listen(at, () => resolve(server));
  });
}

/** A run directory like a pod's, plus things on the host that must stay out of reach. */
async function fixture(): Promise<Fixture> {
  const base = mkdtempSync(path.join(tmpdir(), "fl-probe-"));
  const labDir = path.join(base, "lab");
  const socketDir = path.join(base, "sock");
  mkdirSync(labDir, { mode: 0o755 });
  mkdirSync(socketDir, { mode: 0o750 });
  shareDirWithSandbox(base);
  shareDirWithSandbox(socketDir);
  writeFileSync(path.join(labDir, "check.cjs"), CHECK);
  const marker = path.join(base, "marker");
  writeFileSync(marker, "host");
  const hostSocket = path.join(base, "host.sock");
  const proxySocket = path.join(socketDir, "proxy.sock");
  const servers = await Promise.all([serve(0), serve(hostSocket), serve(proxySocket)]);
  for (const socket of [hostSocket, proxySocket]) shareSocketWithSandbox(socket);
  // Host places a learner must not see: this run's own host paths, the host's /run entries
  // (database and daemon sockets live there), home directories and the project.
  // (/run/faultline and / exist inside on purpose: they are the sandbox's own.)
  const run = existsSync("/run")
    ? readdirSync("/run")
        .filter((n) => n !== "faultline")
        .slice(0, 20)
        .map((n) => `/run/${n}`)
    : [];
  const hostPaths = [marker, base, "/home", "/root", "/var", "/etc", ...run, ...(process.cwd() === "/" ? [] : [process.cwd()])];
  const port = (servers[0]!.address() as net.AddressInfo).port;
  const tmpFile = `${path.basename(base)}-written-inside`;
  return {
    labDir,
    socketDir,
    args: { runner: process.pid, port, hostSocket, hostPaths, tmpFile },
    leaked: () => existsSync(path.join(tmpdir(), tmpFile)) || existsSync(path.join("/tmp", tmpFile)),
    close: async () => {
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
      rmSync(base, { recursive: true, force: true });
      // What a tier that leaks /tmp (process) wrote into the host's.
      for (const leaked of new Set([path.join(tmpdir(), tmpFile), path.join("/tmp", tmpFile)])) rmSync(leaked, { force: true });
    },
  };
}

function attempt(tier: SandboxTier, f: Fixture, node: string, timeoutMs = 5000): Promise<string | null> {
  const user = sandboxUser() ?? { uid: process.geteuid!(), gid: process.getegid!() };
  const { labPath, socketPath } = tierPaths(tier, f);
  const arg = JSON.stringify({ ...f.args, proxySocket: `${socketPath}/proxy.sock`, socketDir: socketPath } satisfies CheckArgs);
  const { command, args } = wrapInTier(
    tier,
    { labDir: f.labDir, socketDir: f.socketDir, tmpBytes: 1024 * 1024, ...user },
    ["/usr/bin/prlimit", "--nofile=64", "--", node, `${labPath}/check.cjs`, arg],
    node,
  );
  const [program, ...argv] = dieWithOwner([command, ...args], sandboxUser());
  return new Promise((resolve) => {
    let out = "";
    let err = "";
    const child = spawn(program!, argv, {
      env: {} as NodeJS.ProcessEnv /* Next types NODE_ENV as required; empty on purpose */,
      cwd: f.labDir,
      stdio: ["ignore", "pipe", "pipe"],
      timeout: timeoutMs,
    });
    child.stdout.on("data", (d: Buffer) => (out += d));
    child.stderr.on("data", (d: Buffer) => (err += d));
    child.on("error", (e) => resolve(`${tier}: ${e.message}`));
    child.on("close", (code) => {
      const firstLine = (err || out).trim().split("\n")[0] ?? "";
      if (code !== 0) return resolve(`${tier}: exited ${code}: ${firstLine}`);
      let seen: Seen;
      try {
        seen = JSON.parse(out) as Seen;
      } catch {
        return resolve(`${tier}: the check printed ${JSON.stringify(out.slice(0, 200))}`);
      }
      const wrong = judge(seen);
      if (f.leaked()) wrong.push("a file written in the sandbox's /tmp appeared in the host's");
      resolve(wrong.length === 0 ? null : `${tier}: ${wrong.join("; ")}`);
    });
  });
}

/** Why `tier` does not isolate a program as it must on this host, or null when it does. */
export async function probeTier(tier: SandboxTier, node = process.execPath): Promise<string | null> {
  const tool = { bubblewrap: "bwrap", unshare: "unshare", process: null }[tier];
  if (tool && !findBinary(tool)) return `${tier}: ${tool} is not on the runner's PATH (${process.env.PATH ?? ""})`;
  const f = await fixture();
  try {
    return await attempt(tier, f, node);
  } finally {
    await f.close();
  }
}

export async function probeSandbox(node = process.execPath): Promise<ProbeResult> {
  const reasons: string[] = [];
  for (const tier of ["bubblewrap", "unshare"] as const) {
    const failed = await probeTier(tier, node);
    if (failed === null) return { tier, reasons };
    reasons.push(failed);
  }
  return { tier: "process", reasons };
}
