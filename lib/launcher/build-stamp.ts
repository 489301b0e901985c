/**
 * Decides whether the production build in .next is current: a hash over everything that goes
 * into it (sources, config, lockfile) is written beside it after a build and compared at start.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";

const inputs = ["app", "components", "lib", "content", "public", "next.config.mjs", "postcss.config.mjs", "tsconfig.json", "package-lock.json"];
const skip = new Set(["node_modules", ".next", "generated"]);

function walk(root: string, rel: string, out: string[]): void {
  const full = path.join(root, rel);
  if (!existsSync(full)) return;
  if (statSync(full).isFile()) {
    out.push(rel);
    return;
  }
  for (const name of readdirSync(full).sort()) {
    if (skip.has(name) || /\.test\.tsx?$/.test(name)) continue;
    walk(root, path.join(rel, name), out);
  }
}

export function sourceHash(root: string): string {
  const files: string[] = [];
  for (const input of inputs) walk(root, input, files);
  const hash = createHash("sha256");
  for (const file of files) {
    hash
      .update(file)
      .update("\0")
      .update(readFileSync(path.join(root, file)))
      .update("\0");
  }
  return hash.digest("hex");
}

export const stampFile = (root: string) => path.join(root, ".next", "faultline-build-stamp");

export function buildIsCurrent(root: string): boolean {
  const stamp = stampFile(root);
  return existsSync(path.join(root, ".next", "BUILD_ID")) && existsSync(stamp) && readFileSync(stamp, "utf8").trim() === sourceHash(root);
}
