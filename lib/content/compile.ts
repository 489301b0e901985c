/**
 * Lesson MDX → a function body for mdx-bundler's `getMDXComponent`, highlighted at compile time
 * (shiki, light and dark). esbuild is memory hungry, so compiles go through a queue of one, and
 * results are cached by content hash in memory and under the data directory, so a restart or a
 * second replica compiles nothing that is already compiled (STYLE.md "Compile MDX through a
 * queue with a cache").
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import GithubSlugger from "github-slugger";
import { bundleMDX } from "mdx-bundler";
import rehypePrettyCode from "rehype-pretty-code";
import rehypeSlug from "rehype-slug";
import remarkGfm from "remark-gfm";

/** Bump when the pipeline's output changes, so cached results are not reused. */
const PIPELINE_VERSION = "3";

export interface Heading {
  depth: 2 | 3;
  text: string;
  id: string;
}

export class MdxCompileError extends Error {
  override name = "MdxCompileError";
}

const memory = new Map<string, Promise<string>>();
let queue: Promise<unknown> = Promise.resolve();

function enqueue<T>(work: () => Promise<T>): Promise<T> {
  const next = queue.then(work, work);
  queue = next.catch(() => {});
  return next;
}

async function compile(body: string, file: string): Promise<string> {
  const result = await bundleMDX({
    source: body,
    mdxOptions(options) {
      options.remarkPlugins = [...(options.remarkPlugins ?? []), remarkGfm];
      options.rehypePlugins = [...(options.rehypePlugins ?? []), rehypeSlug, [rehypePrettyCode, { theme: { light: "github-light-high-contrast", dark: "github-dark-high-contrast" }, keepBackground: false, defaultLang: "text" }]];
      return options;
    },
  }).catch((error: unknown) => {
    const first = (error as { errors?: { text: string; location?: { line: number; column: number } }[] }).errors?.[0];
    const where = first?.location ? `:${first.location.line}:${first.location.column}` : "";
    throw new MdxCompileError(`${file}${where}: ${first?.text ?? (error as Error).message}`);
  });
  return result.code;
}

/** Compiled code for a lesson body; `cacheDir` keeps results across restarts. */
export function compileLesson(body: string, file: string, cacheDir?: string): Promise<string> {
  const hash = createHash("sha256").update(PIPELINE_VERSION).update("\0").update(body).digest("hex");
  const cached = memory.get(hash);
  if (cached) return cached;
  const onDisk = cacheDir ? path.join(cacheDir, `${hash}.js`) : null;
  const job = (async () => {
    if (onDisk) {
      try {
        return readFileSync(onDisk, "utf8");
      } catch {
        // not compiled yet
      }
    }
    const code = await enqueue(() => compile(body, file));
    if (onDisk) {
      mkdirSync(path.dirname(onDisk), { recursive: true });
      writeFileSync(`${onDisk}.tmp`, code);
      renameSync(`${onDisk}.tmp`, onDisk);
    }
    return code;
  })();
  memory.set(hash, job);
  job.catch(() => memory.delete(hash));
  return job;
}

/** The ## and ### headings of a lesson, with the ids rehype-slug gives them. */
export function headings(body: string): Heading[] {
  const slugger = new GithubSlugger();
  const out: Heading[] = [];
  let fenced = false;
  for (const line of body.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const match = !fenced && /^(##|###)\s+(.+?)\s*#*\s*$/.exec(line);
    if (!match) continue;
    const text = match[2]!.replace(/`([^`]*)`/g, "$1").replace(/[*_]{1,2}([^*_]+)[*_]{1,2}/g, "$1").replace(/\[([^\]]*)\]\([^)]*\)/g, "$1");
    out.push({ depth: match[1] === "##" ? 2 : 3, text, id: slugger.slug(text) });
  }
  return out;
}
