/**
 * The limits on what a learner may send as files, checked by the web before a run is queued and
 * again by the runner before it builds. No esbuild here, so the web can import it cheaply.
 */
import { z } from "zod";

export const DiagnosticSchema = z.object({ file: z.string(), line: z.number(), column: z.number(), message: z.string() });
export type Diagnostic = z.output<typeof DiagnosticSchema>;

export const buildLimits = { maxFiles: 20, maxFileBytes: 100_000, maxTotalBytes: 400_000 };

/**
 * A lab file's name: a plain relative path (letters, digits, dot, dash, underscore; no "..", no
 * leading dot) to a TypeScript module (.ts), JSON (.json), or a file that is only ever read, never
 * run: YAML (.yml, .yaml) and Dockerfiles (`Dockerfile`, `Dockerfile.<name>`), which the build
 * passes through verbatim for checks to read with `t.source(path)`.
 */
export const labFileName = /^(?:[A-Za-z0-9_][A-Za-z0-9_.-]*\/)*(?:[A-Za-z0-9_][A-Za-z0-9_.-]*\.(?:ts|json|ya?ml)|Dockerfile(?:\.[A-Za-z0-9_][A-Za-z0-9_-]*)?)$/;

export type FileLanguage = "typescript" | "json" | "yaml" | "dockerfile";

/** The editor language (Monaco's id, also a Markdown fence's) of a lab file, from its name. */
export function languageOf(file: string): FileLanguage {
  const base = file.slice(file.lastIndexOf("/") + 1);
  if (/^Dockerfile(?:\.|$)/.test(base)) return "dockerfile";
  if (/\.ya?ml$/.test(base)) return "yaml";
  return base.endsWith(".json") ? "json" : "typescript";
}

/** A file the build transpiles into a module the sandbox can import (as opposed to data it only reads). */
export const isModule = (file: string): boolean => languageOf(file) === "typescript";

export function checkFiles(files: Record<string, string>): Diagnostic[] {
  const names = Object.keys(files);
  const problems: Diagnostic[] = [];
  const at = (file: string, message: string) => problems.push({ file, line: 1, column: 1, message });
  if (names.length === 0) at("(files)", "No files were sent. Send at least the lab's entry file.");
  if (names.length > buildLimits.maxFiles) at("(files)", `Too many files (${names.length}); a lab accepts at most ${buildLimits.maxFiles}.`);
  let total = 0;
  for (const name of names) {
    const content = files[name] ?? "";
    const bytes = Buffer.byteLength(content);
    total += bytes;
    if (!labFileName.test(name) || name.split("/").some((part) => part === ".." || part.startsWith("."))) {
      at(
        name,
        `"${name}" is not an allowed file name: use a relative path of letters, digits, '-', '_' and '.', ending in .ts, .json, .yml or .yaml, or a Dockerfile.`,
      );
    } else if (bytes > buildLimits.maxFileBytes) {
      at(name, `${name} is ${bytes} bytes; a file may be at most ${buildLimits.maxFileBytes}.`);
    }
  }
  if (total > buildLimits.maxTotalBytes) at("(files)", `The files add up to ${total} bytes; at most ${buildLimits.maxTotalBytes} are accepted.`);
  return problems;
}
