/**
 * Turns a learner's files into runnable JavaScript with a warm esbuild transform (about 1 ms a
 * file, no bundler, no tsx per run). Names and sizes are checked first, so nothing a learner
 * sends can name a path outside the run's directory; syntax errors come back as diagnostics
 * with file, line and column for the editor's markers.
 */
import { transform, type Message } from "esbuild";

export interface Diagnostic {
  file: string;
  line: number;
  column: number;
  message: string;
}

export type BuildResult = { ok: true; files: Map<string, string>; ms: number } | { ok: false; diagnostics: Diagnostic[]; ms: number };

export const buildLimits = { maxFiles: 20, maxFileBytes: 100_000, maxTotalBytes: 400_000 };

// Plain relative paths only: letters, digits, dot, dash, underscore; no "..", no leading dot.
const safeName = /^(?:[A-Za-z0-9_][A-Za-z0-9_.-]*\/)*[A-Za-z0-9_][A-Za-z0-9_.-]*\.(?:ts|json)$/;

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
    if (!safeName.test(name) || name.split("/").some((part) => part === ".." || part.startsWith("."))) {
      at(name, `"${name}" is not an allowed file name: use a relative path of letters, digits, '-', '_' and '.', ending in .ts or .json.`);
    } else if (bytes > buildLimits.maxFileBytes) {
      at(name, `${name} is ${bytes} bytes; a file may be at most ${buildLimits.maxFileBytes}.`);
    }
  }
  if (total > buildLimits.maxTotalBytes) at("(files)", `The files add up to ${total} bytes; at most ${buildLimits.maxTotalBytes} are accepted.`);
  return problems;
}

/** Relative imports may name `./x`, `./x.ts` or `./x.js`; the built files are all `.js`. */
export function rewriteImports(code: string): string {
  return code.replace(/((?:from|import)\s*\(?\s*)(["'])(\.{1,2}\/[^"']+?)(\.ts|\.js)?\2/g, (_, lead: string, q: string, spec: string) => `${lead}${q}${spec}.js${q}`);
}

const toDiagnostic = (fallbackFile: string) => (m: Message): Diagnostic => ({
  file: m.location?.file || fallbackFile,
  line: m.location?.line ?? 1,
  column: (m.location?.column ?? 0) + 1,
  message: m.text,
});

export async function buildFiles(files: Record<string, string>): Promise<BuildResult> {
  const started = performance.now();
  const problems = checkFiles(files);
  if (problems.length > 0) return { ok: false, diagnostics: problems, ms: performance.now() - started };
  const out = new Map<string, string>();
  const diagnostics: Diagnostic[] = [];
  await Promise.all(
    Object.entries(files).map(async ([name, source]) => {
      if (name.endsWith(".json")) {
        try {
          JSON.parse(source);
          out.set(name, source);
        } catch (error) {
          diagnostics.push({ file: name, line: 1, column: 1, message: `Invalid JSON: ${(error as Error).message}` });
        }
        return;
      }
      try {
        const result = await transform(source, { loader: "ts", format: "esm", target: "node20", sourcefile: name, sourcemap: "inline", logLevel: "silent" });
        out.set(name.replace(/\.ts$/, ".js"), rewriteImports(result.code));
      } catch (error) {
        const errors = (error as { errors?: Message[] }).errors ?? [];
        diagnostics.push(...(errors.length > 0 ? errors.map(toDiagnostic(name)) : [{ file: name, line: 1, column: 1, message: String(error) }]));
      }
    }),
  );
  const ms = performance.now() - started;
  if (diagnostics.length > 0) return { ok: false, diagnostics: diagnostics.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line), ms };
  return { ok: true, files: out, ms };
}
