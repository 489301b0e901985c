import { spawn } from "node:child_process";
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { sourceHash, stampFile } from "./build-stamp.ts";

/**
 * Runs `next build`. With verbose off (the launcher), Next's output goes to a log file and one
 * progress line with elapsed time is shown instead; on failure the log's tail is printed.
 */
export async function buildApp(root: string, { verbose }: { verbose: boolean }): Promise<boolean> {
  const logDir = path.join(root, ".data", "logs");
  mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, "build.log");
  const hash = sourceHash(root);
  const started = Date.now();
  const child = spawn(process.execPath, [path.join(root, "node_modules/next/dist/bin/next"), "build"], {
    cwd: root,
    env: { ...process.env, NODE_ENV: "production", NEXT_TELEMETRY_DISABLED: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const log = createWriteStream(logFile);
  let phase = "compiling";
  const onData = (chunk: Buffer) => {
    log.write(chunk);
    if (verbose) process.stdout.write(chunk);
    const text = chunk.toString();
    if (/Compiled|Creating an optimized/i.test(text)) phase = "compiling";
    if (/Collecting page data/i.test(text)) phase = "collecting page data";
    if (/Generating static pages/i.test(text)) phase = "generating pages";
    if (/Finalizing/i.test(text)) phase = "finalizing";
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  const tty = process.stdout.isTTY && !verbose;
  const progress = () => {
    const seconds = Math.round((Date.now() - started) / 1000);
    const line = `Building Faultline (first start, usually about a minute): ${phase}… ${seconds}s`;
    if (tty) process.stdout.write(`\r${line}\x1b[K`);
    else if (!verbose) console.log(line);
  };
  if (!verbose) progress();
  const timer = setInterval(progress, tty ? 1000 : 10_000);
  const code = await new Promise<number>((resolve) => child.on("close", (c) => resolve(c ?? 1)));
  clearInterval(timer);
  await new Promise((r) => log.end(r));
  if (tty) process.stdout.write("\n");
  if (code !== 0) {
    const tail = readFileSync(logFile, "utf8").split("\n").slice(-40).join("\n");
    console.error(`\nThe build failed (exit ${code}). Last lines of ${path.relative(root, logFile)}:\n${tail}`);
    return false;
  }
  writeFileSync(stampFile(root), hash);
  console.log(`Built in ${Math.round((Date.now() - started) / 1000)}s.`);
  return true;
}
