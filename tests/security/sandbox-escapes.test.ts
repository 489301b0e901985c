/**
 * Escape attempts against the sandbox layer (bubblewrap + permission model + limits), each a
 * learner program that tries to reach something it must not. Every one must be contained with
 * a clear outcome, and an ordinary program must still run right after it.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { probeSandbox, type SandboxTier } from "../../lib/runner/sandbox/probe.ts";
import { runInSandbox, type SandboxLimits } from "../../lib/runner/sandbox/spawn.ts";

let tier: SandboxTier;
const dirs: string[] = [];
beforeAll(async () => {
  tier = (await probeSandbox()).tier;
});
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function run(code: string, limits: Partial<SandboxLimits> = {}) {
  const root = mkdtempSync(path.join(tmpdir(), "fl-escape-"));
  dirs.push(root);
  for (const d of ["lab", "sock"]) mkdirSync(path.join(root, d));
  writeFileSync(path.join(root, "lab", "main.mjs"), code);
  const proc = runInSandbox({ tier, labDir: path.join(root, "lab"), socketDir: path.join(root, "sock"), entry: "main.mjs", limits: { wallMs: 5000, ...limits } });
  return { outcome: await proc.done, output: proc.output().trim() };
}

const attempt = (body: string) => `try { ${body} } catch (e) { console.log("blocked", e.code ?? e.message) }\nprocess.exit(0);`;

test.each([
  ["list host processes in /proc", attempt(`const fs = await import("node:fs"); console.log(fs.readdirSync("/proc").filter(n => /^\\d+$/.test(n)).length)`), /blocked ERR_ACCESS_DENIED|^[12]$/],
  ["read the runner's environment through /proc/1/environ", attempt(`(await import("node:fs")).readFileSync("/proc/1/environ", "utf8")`), /blocked ERR_ACCESS_DENIED/],
  ["read the project's database file", attempt(`(await import("node:fs")).readFileSync("${process.cwd()}/.data/faultline.db")`), /blocked ERR_ACCESS_DENIED/],
  ["reach PostgreSQL's Unix socket", `const s = (await import("node:net")).connect("/var/run/postgresql/.s.PGSQL.5432"); s.on("connect", () => console.log("CONNECTED")); s.on("error", (e) => console.log("blocked", e.code));`, /blocked (ENOENT|EACCES|ERR_ACCESS_DENIED)/],
  ["load a native addon", attempt(`(await import("node:module")).createRequire(import.meta.url)("${process.cwd()}/node_modules/better-sqlite3/build/Release/better_sqlite3.node")`), /blocked/],
  ["signal the process outside its namespace", attempt(`process.kill(1, "SIGKILL"); console.log("sent")`), /blocked|sent/],
  ["spawn a shell through process.binding", attempt(`process.binding("spawn_sync").spawn({ file: "/bin/sh", args: ["sh", "-c", "id"], stdio: [] }); console.log("spawned")`), /blocked/],
  ["follow a symlink out of /lab", attempt(`const fs = await import("node:fs"); fs.symlinkSync("/etc/passwd", "/tmp/p"); console.log(fs.readFileSync("/tmp/p", "utf8").length)`), /blocked ERR_ACCESS_DENIED/],
  ["open more connections than allowed", attempt(`const net = await import("node:net"); const srv = net.createServer().listen(4000, "127.0.0.1"); await new Promise(r => srv.on("listening", r)); const socks = []; for (let i = 0; i < 200; i++) socks.push(await new Promise((res, rej) => { const s = net.connect(4000, "127.0.0.1", () => res(s)); s.on("error", rej); })); console.log("opened", socks.length)`), /blocked EMFILE/],
])("a program that tries to %s is contained", async (_, code, expected) => {
  const { output } = await run(code);
  expect(output).toMatch(expected);
  // and the sandbox is intact for the next learner
  expect((await run(`console.log("ok")`)).output).toBe("ok");
});

test("on this machine the program runs in bubblewrap, starting in the read-only /lab", async () => {
  expect(tier).toBe("bubblewrap");
  expect((await run(`console.log(process.cwd(), process.pid)`)).output).toMatch(/^\/lab [12]$/);
});
