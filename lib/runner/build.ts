/**
 * Turns a learner's files into runnable JavaScript with a warm esbuild transform (about 1 ms a
 * file, no bundler, no tsx per run). Names and sizes are checked first, so nothing a learner
 * sends can name a path outside the run's directory; syntax errors come back as diagnostics
 * with file, line and column for the editor's markers.
 */
import { transform, type Message } from "esbuild";
import { checkFiles, languageOf, type Diagnostic } from "./files.ts";

export { buildLimits, checkFiles, type Diagnostic } from "./files.ts";

export type BuildResult = { ok: true; files: Map<string, string>; ms: number } | { ok: false; diagnostics: Diagnostic[]; ms: number };

/** Relative imports may name `./x`, `./x.ts` or `./x.js`; the built files are all `.js`. */
export function rewriteImports(code: string): string {
  return code.replace(
    /((?:from|import)\s*\(?\s*)(["'])(\.{1,2}\/[^"']+?)(\.ts|\.js)?\2/g,
    (_, lead: string, q: string, spec: string) => `${lead}${q}${spec}.js${q}`,
  );
}

const toDiagnostic =
  (fallbackFile: string) =>
  (m: Message): Diagnostic => ({
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
      const language = languageOf(name);
      // YAML and Dockerfiles are never run: they are copied as written, for checks to read.
      if (language === "yaml" || language === "dockerfile") {
        out.set(name, source);
        return;
      }
      if (language === "json") {
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
