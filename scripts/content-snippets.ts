/**
 * `npm run content:snippets [--all] [lesson-file…]`: runs the code a lesson tells learners to run,
 * so a lesson cannot quietly rot. A TypeScript block whose fence says `run` (```ts run) is saved
 * as a file in a scratch ES-module folder, as the lessons' set-up has learners do, and run with
 * tsx; it must exit 0 within its time. Every block gets a fresh private redis-server: the runner
 * points the snippet's 127.0.0.1:6379 at it, so nothing touches a Redis it did not start.
 * `--all` also tries the complete programs (blocks that start with `import`) not marked `run`,
 * to find the ones worth marking.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { ContentError, loadCourse } from "../lib/content/loader.ts";
import { env } from "../lib/env.ts";
import { freePort } from "../lib/launcher/free-port.ts";
import { LabError, labsDirFor, loadLabs } from "../lib/labs/loader.ts";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { all: { type: "boolean", default: false } } });
/** Far above any snippet's own waits (the longest sleeps a few seconds). */
const TIMEOUT_MS = 30_000;

interface Snippet {
  file: string;
  line: number;
  code: string;
  marked: boolean;
}

function snippets(file: string, body: string, bodyLine: number): Snippet[] {
  const found: Snippet[] = [];
  for (const m of body.matchAll(/^```(?:ts|typescript)([^\n]*)\n([\s\S]*?)^```/gm)) {
    const marked = /(^|\s)run(\s|$)/.test(m[1]!);
    const code = m[2]!;
    if (!marked && !(values.all && /^\s*import\s/.test(code))) continue;
    found.push({ file, line: bodyLine + body.slice(0, m.index).split("\n").length, code, marked });
  }
  return found;
}

async function startRedis(dir: string): Promise<{ port: number; stop: () => void }> {
  const port = await freePort();
  const server = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir], { stdio: "ignore" });
  const client = new Redis({ port, host: "127.0.0.1", lazyConnect: true, retryStrategy: () => 50, maxRetriesPerRequest: null });
  client.on("error", () => {});
  await client.connect().catch(() => {});
  // The one answering must be the one we started, never a Redis someone else runs on that port.
  const info = await client.info("server");
  client.disconnect();
  if (!info.includes(`process_id:${server.pid}`)) throw new Error(`redis-server on ${port} is not the one this runner started`);
  return { port, stop: () => server.kill("SIGKILL") };
}

function run(dir: string, snippet: Snippet, port: number): Promise<{ ok: boolean; ms: number; output: string }> {
  const name = `${path.basename(snippet.file, ".mdx")}-${snippet.line}.ts`;
  writeFileSync(path.join(dir, name), snippet.code.replaceAll("6379", String(port)));
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", name], {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: process.env.HOME } as Record<string, string> as NodeJS.ProcessEnv,
      /* Next types NODE_ENV as required; snippets run without it */ stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d));
    child.stderr.on("data", (d: Buffer) => (output += d));
    const timer = setTimeout(() => {
      output += `\n(still running after ${TIMEOUT_MS / 1000} s; stopped)`;
      child.kill("SIGKILL");
    }, TIMEOUT_MS);
    // "close", not "exit": the output pipes may still hold the last lines when the process exits.
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ ok: code === 0, ms: performance.now() - started, output });
    });
  });
}

let all: Snippet[];
try {
  const courseDir = env().courseDir;
  const course = loadCourse(courseDir, loadLabs(labsDirFor(courseDir)));
  all = course.milestones
    .flatMap((m) => m.lessons)
    .filter((l) => positionals.length === 0 || positionals.some((p) => l.file.endsWith(p)))
    .flatMap((l) => {
      // Line numbers as in the file, where the body follows the frontmatter.
      const text = readFileSync(l.file, "utf8");
      const before = text.slice(0, Math.max(0, text.indexOf(l.body)));
      return snippets(l.file, l.body, before.split("\n").length - 1);
    });
} catch (error) {
  console.error(error instanceof ContentError || error instanceof LabError ? error.message : String(error));
  process.exit(1);
}

const dir = mkdtempSync(path.join(tmpdir(), "fl-snippets-"));
writeFileSync(path.join(dir, "package.json"), JSON.stringify({ type: "module", private: true }));
symlinkSync(path.resolve("node_modules"), path.join(dir, "node_modules"));
const failures: string[] = [];
const started = performance.now();
/** Snippets at once: most wait on timers and Redis, not the CPU. */
const JOBS = 3;
let next = 0;
async function worker(): Promise<void> {
  while (next < all.length) {
    const snippet = all[next++]!;
    const redis = await startRedis(dir);
    try {
      const { ok, ms, output } = await run(dir, snippet, redis.port);
      // A snippet that catches its own connection error and exits 0 never reached its Redis.
      const unreached = /ECONNREFUSED/.test(output);
      console.log(`${ok && !unreached ? "ok  " : "FAIL"} ${snippet.file}:${snippet.line}${snippet.marked ? "" : " (not marked run)"} ${Math.round(ms)} ms`);
      if (!ok || unreached)
        failures.push(
          `${snippet.file}:${snippet.line}: the snippet did not run to completion${unreached ? " (it could not reach Redis)" : ""}:\n    ${output.trim().split("\n").slice(-12).join("\n    ")}`,
        );
    } finally {
      redis.stop();
    }
  }
}
try {
  await Promise.all(Array.from({ length: JOBS }, worker));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const seconds = ((performance.now() - started) / 1000).toFixed(1);
if (failures.length > 0) {
  console.error(`\n${failures.join("\n\n")}\n\ncontent:snippets: ${failures.length} of ${all.length} snippet(s) failed (${seconds} s)`);
  process.exit(1);
}
console.log(`content:snippets: ${all.length} snippet(s) ran to completion in ${seconds} s`);
