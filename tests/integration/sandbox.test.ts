/**
 * Learner programs in the real sandbox, on each tier that isolates them (bubblewrap, and unshare
 * where bubblewrap cannot run; both work on this machine): what they can and cannot reach, and
 * how each way of ending is reported. (The full escape suite of ~30 attacks runs through the runner.)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { runInSandbox, type SandboxLimits } from "../../lib/runner/sandbox/spawn.ts";
import type { SandboxTier } from "../../lib/runner/sandbox/tiers.ts";
import { shareDirWithSandbox, shareSocketWithSandbox } from "../../lib/runner/sandbox/user.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe.each<SandboxTier>(["bubblewrap", "unshare"])("the %s tier", (tier) => {
  async function run(code: string, limits: Partial<SandboxLimits> = {}) {
    const root = mkdtempSync(path.join(tmpdir(), "fl-sandbox-"));
    dirs.push(root);
    const labDir = path.join(root, "lab");
    const socketDir = path.join(root, "sock");
    for (const d of [labDir, socketDir]) mkdirSync(d);
    // As a pod does: learner code may run as another uid (a runner started as root drops it).
    shareDirWithSandbox(root);
    shareDirWithSandbox(socketDir);
    writeFileSync(path.join(labDir, "main.mjs"), code);
    const proc = runInSandbox({ tier, labDir, socketDir, entry: "main.mjs", limits: { wallMs: 5000, ...limits } });
    const outcome = await proc.done;
    return { outcome, output: proc.output(), socketDir, truncated: proc.truncated() };
  }

  test("a program runs with an empty environment and prints", async () => {
    const { outcome, output } = await run(`console.log("hello", JSON.stringify(Object.keys(process.env).filter((k) => k !== "PWD")))`);
    expect(outcome).toEqual({ kind: "exited", code: 0 });
    expect(output.trim()).toBe("hello []");
  });

  test.each([
    ["read /etc/passwd", `import fs from "node:fs"; fs.readFileSync("/etc/passwd")`],
    ["write a file", `import fs from "node:fs"; fs.writeFileSync("/lab/x", "x")`],
    ["spawn a child process", `import cp from "node:child_process"; cp.spawnSync("/bin/sh", ["-c", "id"])`],
    ["start a worker", `import { Worker } from "node:worker_threads"; new Worker("1", { eval: true })`],
  ])("it cannot %s", async (_, code) => {
    const { outcome, output } = await run(code);
    expect(outcome).toMatchObject({ kind: "exited" });
    expect(output).toMatch(/ERR_ACCESS_DENIED/);
  });

  test.each([
    ["PostgreSQL", 5432],
    ["the platform Redis", 6379],
  ])("it cannot reach %s over TCP", async (_, port) => {
    const { output } = await run(
      `import net from "node:net"; const s = net.connect(${port}, "127.0.0.1"); s.on("connect", () => console.log("CONNECTED")); s.on("error", (e) => console.log(e.code));`,
    );
    expect(output.trim()).toBe("ECONNREFUSED");
  });

  test("it can reach the run's socket directory, and nothing else is mounted", async () => {
    const root = mkdtempSync(path.join(tmpdir(), "fl-sandbox-sock-"));
    dirs.push(root);
    const server = net.createServer((c) => c.end("pong\n"));
    const sockDir = path.join(root, "sock");
    mkdirSync(sockDir);
    shareDirWithSandbox(root);
    shareDirWithSandbox(sockDir);
    await new Promise<void>((r) => server.listen(path.join(sockDir, "proxy.sock"), r));
    shareSocketWithSandbox(path.join(sockDir, "proxy.sock"));
    const labDir = path.join(root, "lab");
    mkdirSync(labDir);
    writeFileSync(
      path.join(labDir, "main.mjs"),
      `import net from "node:net"; const s = net.connect(process.argv[2]); s.on("data", (d) => process.stdout.write(d)); s.on("error", (e) => console.log(e.code));`,
    );
    const probe = runInSandbox({ tier, labDir, socketDir: sockDir, entry: "main.mjs", limits: { wallMs: 5000 } });
    const proc = runInSandbox({ tier, labDir, socketDir: sockDir, entry: "main.mjs", args: [`${probe.socketPath}/proxy.sock`], limits: { wallMs: 5000 } });
    probe.kill();
    await proc.done;
    server.close();
    expect(proc.output().trim()).toBe("pong");
  });

  test("a busy loop is stopped by the wall-clock deadline with a clear message", async () => {
    const { outcome } = await run(`while (true) {}`, { wallMs: 1500, cpuSeconds: 30 });
    expect(outcome).toMatchObject({ kind: "timeout", message: expect.stringContaining("still running after 1.5 s") });
  });

  test("a CPU hog is stopped by the CPU limit", async () => {
    const { outcome } = await run(`while (true) {}`, { wallMs: 8000, cpuSeconds: 1 });
    expect(outcome).toMatchObject({ kind: "cpu" });
  });

  test("a heap bomb reports the heap limit", async () => {
    const { outcome } = await run(`const a = []; while (true) a.push({ x: Math.random(), y: "y".repeat(100) });`, { heapMb: 32, wallMs: 8000 });
    expect(outcome).toMatchObject({ kind: "heap", message: expect.stringContaining("32 MiB heap") });
  });

  test("a Buffer bomb fails to allocate instead of taking the machine's memory", async () => {
    const { outcome, output } = await run(`const keep = []; while (true) keep.push(Buffer.alloc(16 * 1024 * 1024, 1));`, {
      dataBytes: 128 * 1024 * 1024,
      wallMs: 8000,
    });
    // Which allocator gives up first depends on timing; each way must end in a memory message.
    expect(["memory", "heap", "crashed"], `outcome ${JSON.stringify(outcome)}, output: ${output.slice(0, 400)}`).toContain(outcome.kind);
    expect("message" in outcome ? outcome.message : "").toMatch(/memory|heap|allocat/);
  });

  test("an output flood is capped and stopped", async () => {
    const { outcome, output, truncated } = await run(`while (true) console.log("x".repeat(1000));`, { outputBytes: 8192 });
    expect(outcome).toMatchObject({ kind: "output" });
    expect(truncated).toBe(true);
    expect(output.length).toBeLessThanOrEqual(8192);
  });

  test("a signal reaches the program itself, which ends as it would outside (no handler: it dies)", async () => {
    const root = mkdtempSync(path.join(tmpdir(), "fl-sandbox-sig-"));
    dirs.push(root);
    const labDir = path.join(root, "lab");
    const socketDir = path.join(root, "sock");
    for (const d of [labDir, socketDir]) mkdirSync(d);
    shareDirWithSandbox(root);
    shareDirWithSandbox(socketDir);
    writeFileSync(path.join(labDir, "main.mjs"), `console.log("up"); setInterval(() => {}, 1000);`);
    const proc = runInSandbox({ tier, labDir, socketDir, entry: "main.mjs", limits: { wallMs: 5000 } });
    while (!proc.output().includes("up")) await new Promise((r) => setTimeout(r, 20));
    expect(proc.signal("SIGTERM")).toBe(true);
    // Through the tier's pid-1 process a fatal signal shows as 128 + its number, as in bubblewrap.
    expect(await proc.done).toEqual({ kind: "exited", code: 143 });
  });
});
