/**
 * Type-checks labs as `labs:verify` runs them (issue 16: an author's checks.ts was only found
 * broken once a sandbox ran it): checks.ts, the solution, the starter and every wrong/ variant,
 * with the repository's compiler options (strict), reporting each error by file, line and column.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { OTEL_PACKAGES } from "../runner/harness/otel-packages.ts";

function tsFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((entry) => {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) return tsFiles(full);
    return /\.tsx?$/.test(entry) && !entry.endsWith(".d.ts") ? [full] : [];
  });
}

/** Problems (one per type error, with file:line:col) in the labs under `labDirs`; empty when all type-check. */
export function typecheckLabs(labDirs: string[], root = process.cwd()): string[] {
  const configPath = ts.findConfigFile(root, ts.sys.fileExists, "tsconfig.json");
  if (!configPath) return [`No tsconfig.json found above ${root}, so the labs cannot be type-checked.`];
  const config = ts.readConfigFile(configPath, ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, path.dirname(configPath));
  const files = labDirs
    .flatMap((dir) => [path.join(dir, "checks.ts"), ...["solution", "starter", "wrong"].flatMap((sub) => tsFiles(path.join(dir, sub)))])
    .filter((f) => existsSync(f));
  // A wrong/ variant holds only the files it changes: its imports of a sibling resolve to the
  // variant's folder, where the sibling may be missing. Those are not the author's errors.
  // The packages lab code may import (harness/otel-packages.ts) resolve from this repository's
  // node_modules, like @faultline/lab, wherever the course keeps its labs: a course directory
  // outside the repository has no node_modules of its own, and every OTel type would be `any`.
  const modules = path.join(root, "node_modules");
  const paths = {
    ...parsed.options.paths,
    ioredis: [path.join(modules, "ioredis")],
    ...Object.fromEntries(OTEL_PACKAGES.map((name) => [`@opentelemetry/${name}`, [path.join(modules, "@opentelemetry", name)]])),
  };
  const options: ts.CompilerOptions = { ...parsed.options, paths, noEmit: true, incremental: false, tsBuildInfoFile: undefined, plugins: [] };
  const program = ts.createProgram(files, options);
  const ours = new Set(files.map((f) => path.resolve(f)));
  const problems: string[] = [];
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const file = diagnostic.file;
    if (!file || !ours.has(path.resolve(file.fileName))) continue;
    const text = ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n");
    if (diagnostic.code === 2307 && file.fileName.includes(`${path.sep}wrong${path.sep}`)) continue;
    const { line, character } = file.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
    problems.push(`${path.relative(root, file.fileName)}:${line + 1}:${character + 1}: ${text} (TS${diagnostic.code})`);
  }
  return problems;
}
