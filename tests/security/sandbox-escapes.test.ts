/**
 * Escape attempts against the sandbox layer (a namespace tier + permission model + limits), each
 * a learner program that tries to reach something it must not. Every one must be contained with a
 * clear outcome, and an ordinary program must still run right after it. Each tier that isolates
 * learner code runs the whole suite: bubblewrap, and unshare (used where bubblewrap cannot run);
 * both work on this machine. The process tier is refused for runs (sandbox/policy.ts), and the
 * probe must say why.
 *
 * Some attacks go around Node's permission model on purpose: it does not cover Unix-socket
 * connect or listen, so `net.connect(path)` tells whether a path exists (ECONNREFUSED for a file,
 * ENOENT for nothing) and `listen(path)` creates a file. Only the tier can stop those.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { programPids } from "../../lib/runner/sandbox/pids.ts";
import { probeSandbox, probeTier } from "../../lib/runner/sandbox/probe.ts";
import { runInSandbox, type SandboxLimits } from "../../lib/runner/sandbox/spawn.ts";
import type { SandboxTier } from "../../lib/runner/sandbox/tiers.ts";
import { sandboxUser, shareDirWithSandbox } from "../../lib/runner/sandbox/user.ts";

const root = path.resolve(import.meta.dirname, "../..");
const dirs: string[] = [];
/** In the host's /tmp, outside any run: a learner must neither see it nor write beside it. */
const hostMarker = path.join(tmpdir(), `fl-escape-marker-${process.pid}`);
const learnerWrites = `fl-escape-written-${process.pid}`;

beforeAll(() => writeFileSync(hostMarker, "host"));
afterAll(() => {
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  rmSync(hostMarker, { force: true });
});

function runDir() {
  const base = mkdtempSync(path.join(tmpdir(), "fl-escape-"));
  dirs.push(base);
  const labDir = path.join(base, "lab");
  const socketDir = path.join(base, "sock");
  for (const d of [labDir, socketDir]) mkdirSync(d);
  // As a pod does: the learner's uid reaches these directories through their group, nobody else.
  shareDirWithSandbox(base);
  shareDirWithSandbox(socketDir);
  return { labDir, socketDir };
}

function start(tier: SandboxTier, code: string, limits: Partial<SandboxLimits> = {}) {
  const { labDir, socketDir } = runDir();
  writeFileSync(path.join(labDir, "main.mjs"), code);
  return runInSandbox({ tier, labDir, socketDir, entry: "main.mjs", limits: { wallMs: 5000, ...limits } });
}

async function run(tier: SandboxTier, code: string, limits: Partial<SandboxLimits> = {}) {
  const proc = start(tier, code, limits);
  return { outcome: await proc.done, output: proc.output().trim() };
}

const attempt = (body: string) => `try { ${body} } catch (e) { console.log("blocked", e.code ?? e.message) }\nprocess.exit(0);`;
/** Connects to a Unix socket path; prints CONNECTED or the error code. */
const connect = (to: string) =>
  `const s = (await import("node:net")).connect(${JSON.stringify(to)}); s.on("connect", () => { console.log("CONNECTED"); process.exit(0); }); s.on("error", (e) => console.log("blocked", e.code));`;
/** Listens on a Unix socket path (which creates a file there); prints LISTENING or the error code. */
const listen = (at: string) =>
  `const srv = (await import("node:net")).createServer(); srv.on("error", (e) => console.log("blocked", e.code)); srv.listen(${JSON.stringify(at)}, () => { console.log("LISTENING"); srv.close(); });`;

test("on this machine the probe picks bubblewrap, and unshare is proven as the fallback", async () => {
  expect(await probeSandbox()).toEqual({ tier: "bubblewrap", reasons: [] });
  expect(await probeTier("unshare")).toBeNull();
});

test("the probe fails the process tier and says what learner code could reach", async () => {
  const reason = await probeTier("process");
  expect(reason).toMatch(/^process: /);
  expect(reason).toMatch(/the runner's process is visible/);
  expect(reason).toMatch(/a Unix socket in the host's \/tmp is reachable/);
  expect(reason).toMatch(/host paths are visible: /);
});

describe.each<SandboxTier>(["bubblewrap", "unshare"])("the %s tier", (tier) => {
  test.each([
    [
      "list host processes in /proc",
      attempt(`const fs = await import("node:fs"); console.log(fs.readdirSync("/proc").filter(n => /^\\d+$/.test(n)).length)`),
      /blocked ERR_ACCESS_DENIED|^[12]$/,
    ],
    [
      "read the runner's environment through /proc/1/environ",
      attempt(`(await import("node:fs")).readFileSync("/proc/1/environ", "utf8")`),
      /blocked ERR_ACCESS_DENIED/,
    ],
    ["read the project's database file", attempt(`(await import("node:fs")).readFileSync("${root}/.data/faultline.db")`), /blocked ERR_ACCESS_DENIED/],
    ["reach PostgreSQL's Unix socket", connect("/var/run/postgresql/.s.PGSQL.5432"), /^blocked ENOENT$/],
    ["reach MariaDB's Unix socket (where root logs in without a password)", connect("/run/mysqld/mysqld.sock"), /^blocked ENOENT$/],
    ["find a file the host put in its /tmp (connect tells a file from nothing)", connect(hostMarker), /^blocked ENOENT$/],
    ["find the project directory the same way", connect(path.join(root, "package.json")), /^blocked ENOENT$/],
    ["create a socket file in the socket directory, a channel the proxy never sees", listen("/run/faultline/side.sock"), /^blocked (EROFS|EACCES)$/],
    [
      "load a native addon",
      attempt(`(await import("node:module")).createRequire(import.meta.url)("${root}/node_modules/better-sqlite3/build/Release/better_sqlite3.node")`),
      /blocked/,
    ],
    ["signal the process outside its namespace", attempt(`process.kill(1, "SIGKILL"); console.log("sent")`), /blocked|sent/],
    [
      "spawn a shell through process.binding",
      attempt(`process.binding("spawn_sync").spawn({ file: "/bin/sh", args: ["sh", "-c", "id"], stdio: [] }); console.log("spawned")`),
      /blocked/,
    ],
    [
      "follow a symlink out of /lab",
      attempt(`const fs = await import("node:fs"); fs.symlinkSync("/etc/passwd", "/tmp/p"); console.log(fs.readFileSync("/tmp/p", "utf8").length)`),
      /blocked ERR_ACCESS_DENIED/,
    ],
    [
      "open more connections than allowed",
      attempt(
        `const net = await import("node:net"); const srv = net.createServer().listen(4000, "127.0.0.1"); await new Promise(r => srv.on("listening", r)); const socks = []; for (let i = 0; i < 200; i++) socks.push(await new Promise((res, rej) => { const s = net.connect(4000, "127.0.0.1", () => res(s)); s.on("error", rej); })); console.log("opened", socks.length)`,
      ),
      /blocked EMFILE/,
    ],
  ])("a program that tries to %s is contained", async (_, code, expected) => {
    const { output } = await run(tier, code);
    expect(output).toMatch(expected);
    // and the sandbox is intact for the next learner
    expect((await run(tier, `console.log("ok")`)).output).toBe("ok");
  });

  test("what the program writes in its /tmp stays in the sandbox, and the host's /tmp is unseen", async () => {
    // listen() creates a file even where the permission model forbids writing one.
    const { output } = await run(tier, listen(`/tmp/${learnerWrites}`));
    expect(output).toBe("LISTENING"); // the file was made, in the sandbox's own /tmp
    expect(existsSync(path.join(tmpdir(), learnerWrites))).toBe(false);
    expect(existsSync(path.join("/tmp", learnerWrites))).toBe(false);
    expect(readdirSync(tmpdir())).toContain(path.basename(hostMarker)); // there all along, unseen (above)
  });

  test("the program's uid is not 0, inside or as the host sees it, and it has no capabilities", async () => {
    const proc = start(
      tier,
      `console.log(JSON.stringify({ uid: process.getuid(), gid: process.getgid(), groups: process.getgroups() })); setInterval(() => {}, 1000);`,
    );
    while (!proc.output().includes("}")) await new Promise((r) => setTimeout(r, 20));
    const inside = JSON.parse(proc.output()) as { uid: number; gid: number; groups: number[] };
    const [pid] = programPids(proc.child.pid!);
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    proc.kill();
    await proc.done;
    const expected = sandboxUser() ?? { uid: process.geteuid!(), gid: process.getegid!() };
    expect(inside.uid).not.toBe(0);
    // Node lists the effective gid among the groups; there is no other.
    expect(inside).toEqual({ uid: expected.uid, gid: expected.gid, groups: [expected.gid] });
    // From the host: every uid and gid of the learner's process, and no supplementary group.
    expect(/^Uid:\s+(.*)$/m.exec(status)?.[1]?.split(/\s+/).map(Number)).toEqual(Array(4).fill(expected.uid));
    expect(/^Gid:\s+(.*)$/m.exec(status)?.[1]?.split(/\s+/).map(Number)).toEqual(Array(4).fill(expected.gid));
    expect(/^Groups:[ \t]*(.*)$/m.exec(status)?.[1]?.trim()).toBe("");
    expect(/^CapEff:\s+(\S+)/m.exec(status)?.[1]).toMatch(/^0+$/);
    if (process.geteuid!() === 0) expect(expected).toEqual({ uid: 65534, gid: 65534 }); // FAULTLINE_SANDBOX_USER's default
  });

  test("the program starts in the read-only /lab, in its own PID namespace", async () => {
    expect((await run(tier, `console.log(process.cwd(), process.pid)`)).output).toMatch(/^\/lab 2$/);
  });

  test("a sandbox dies with its runner, even when the runner is SIGKILLed", async () => {
    const { labDir, socketDir } = runDir();
    writeFileSync(path.join(labDir, "main.mjs"), `console.log("up"); setInterval(() => {}, 1000);`);
    const owner = spawn(process.execPath, ["--import", "tsx", path.join(root, "tests/fixtures/sandbox-owner.ts"), tier, labDir, socketDir], {
      cwd: root,
      stdio: ["ignore", "pipe", "inherit"],
    });
    const started = await new Promise<{ root: number; program: number[] }>((resolve, reject) => {
      let out = "";
      owner.stdout.on("data", (d: Buffer) => {
        out += d;
        const line = out.split("\n").find((l) => l.startsWith('{"root"'));
        if (line) resolve(JSON.parse(line) as { root: number; program: number[] });
      });
      owner.on("exit", () => reject(new Error(`the runner stand-in exited first: ${out}`)));
    });
    const sandbox = [started.root, ...started.program];
    expect(started.program).toHaveLength(1);
    const running = (pid: number) => {
      try {
        return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8")); // a zombie is dead, only not yet reaped
      } catch {
        return false;
      }
    };
    expect(sandbox.filter(running)).toEqual(sandbox);
    owner.kill("SIGKILL");
    const deadline = Date.now() + 3000;
    while (sandbox.some(running) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(sandbox.filter(running), "sandbox processes still running after their runner was SIGKILLed").toEqual([]);
  });
});
