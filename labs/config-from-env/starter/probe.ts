// Read-only: the grader's side of your sandbox. You never need to call it: it only shows exactly
// what the grader does with your config.ts. For each case it sets process.env to the case's decoy values (which your code
// must never read), calls loadConfig(env, readFile) with the case's env and a readFile that serves
// the case's files (the sandbox lets no program read or write files of its own), and describes
// what came back.
import * as config from "./config.ts";

export interface Case {
  env: Record<string, string>;
  /** What process.env holds during the call: decoys that differ from env. */
  processEnv: Record<string, string>;
  /** The files readFile serves during the call: [path, content]. Any other path: ENOENT. */
  files: [string, string][];
  /** Files readFile fails to read, as a mounted secret can: [path, error code, or "" for an error without one]. */
  unreadable?: [string, string][];
}

export type Outcome =
  | { ok: true; config: Record<string, unknown>; frozen: boolean; mutable: string[] }
  | { ok: false; name: string; isConfigError: boolean; message: string; problems: string[] | null };

function describe(value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== "object") return { $notAnObject: String(value) };
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = item === undefined ? { $undefined: true } : typeof item === "object" && item !== null ? { $object: String(item) } : item;
  return out;
}

function run(c: Case): Outcome {
  const files = new Map(c.files);
  const unreadable = new Map(c.unreadable ?? []);
  const readFile = (path: string): string => {
    const code = typeof path === "string" ? unreadable.get(path) : undefined;
    if (code !== undefined) throw Object.assign(new Error(`${code || "read failed"}: cannot read '${path}'`), code ? { code, path } : {});
    const content = typeof path === "string" ? files.get(path) : undefined;
    if (content === undefined) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${String(path)}'`), { code: "ENOENT", path });
    return content;
  };
  const saved = { ...process.env };
  for (const key of Object.keys(process.env)) delete process.env[key];
  Object.assign(process.env, c.processEnv);
  try {
    const value: unknown = config.loadConfig({ ...c.env }, readFile);
    const mutable: string[] = [];
    if (value !== null && typeof value === "object") {
      for (const key of Object.keys(value)) {
        const before = (value as Record<string, unknown>)[key];
        try {
          (value as Record<string, unknown>)[key] = typeof before === "number" ? before + 1 : "changed";
        } catch {
          // a frozen object throws in strict mode
        }
        if ((value as Record<string, unknown>)[key] !== before) mutable.push(key);
        try {
          (value as Record<string, unknown>)[key] = before;
        } catch {
          // frozen
        }
      }
    }
    return { ok: true, config: describe(value), frozen: Object.isFrozen(value), mutable };
  } catch (error) {
    const ConfigError = (config as Record<string, unknown>).ConfigError;
    const isConfigError = typeof ConfigError === "function" && error instanceof ConfigError;
    const problems = (error as { problems?: unknown } | null)?.problems;
    return {
      ok: false,
      name: error instanceof Error ? error.name : typeof error,
      isConfigError,
      message: error instanceof Error ? error.message : String(error),
      problems: Array.isArray(problems) && problems.every((p) => typeof p === "string") ? (problems as string[]) : null,
    };
  } finally {
    for (const key of Object.keys(process.env)) delete process.env[key];
    Object.assign(process.env, saved);
  }
}

/** loadConfig for each case (base64 of their JSON), one after another in this one module instance. */
export function tryLoad(base64: string): Outcome[] {
  return (JSON.parse(Buffer.from(base64, "base64").toString("utf8")) as Case[]).map(run);
}
