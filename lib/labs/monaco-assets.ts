import "server-only";
import { readFileSync } from "node:fs";
import path from "node:path";

/** Where the installed monaco-editor keeps its AMD build (min/vs/…); the workspace loads the editor from here. */
export function monacoMinDir(): string {
  return path.join(process.cwd(), "node_modules", "monaco-editor", "min");
}

let version: string | undefined;

/** The installed monaco-editor version; part of every editor asset URL, so those can be cached forever. */
export function monacoVersion(): string {
  version ??= (JSON.parse(readFileSync(path.join(process.cwd(), "node_modules", "monaco-editor", "package.json"), "utf8")) as { version: string }).version;
  return version;
}

/** The `vs` base URL for `loader.config({ paths: { vs } })`. */
export function monacoVsUrl(): string {
  return `/vendor/monaco/${monacoVersion()}/vs`;
}
