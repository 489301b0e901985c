// A JSON-lines logger: one event per line on stdout, levels with a threshold, fields bound by
// child() and by the task context, and secrets redacted in the one place every line passes through.
import { AsyncLocalStorage } from "node:async_hooks";

export type Level = "debug" | "info" | "warn" | "error";
export type Fields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  child(fields: Fields): Logger;
}

export interface LoggerOptions {
  service: string;
  /** Lines below this level are not written. @default "info" */
  level?: Level;
}

const LEVELS: Record<Level, number> = { debug: 20, info: 30, warn: 40, error: 50 };

// The context follows the async call chain, so two tasks handled at once in one process never see
// each other's ids (a module-level `let current` would hold whichever task set it last).
const context = new AsyncLocalStorage<Fields>();

/** Runs fn with fields (correlationId, taskId) added to every line written inside it, after any await. */
export function withContext<T>(fields: { correlationId: string; taskId?: string }, fn: () => T): T {
  // Nested contexts add to the outer one rather than replacing it.
  context.enterWith({ ...context.getStore(), ...fields });
  return fn();
}

const SECRET_KEY = /passw(or)?d|secret|token|authorization|api[-_]?key|cookie/i;
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/)[^\s:@/]*:[^\s@/]*@/gi;
const MAX_STRING = 10_000;

function scrubString(value: string): string {
  const clean = value.replace(URL_CREDENTIALS, "$1[redacted]@");
  // Cut after scrubbing, so a cut can never leave half a credential behind the pattern's reach.
  return clean.length > MAX_STRING ? `${clean.slice(0, MAX_STRING)}…[truncated]` : clean;
}

// JSON.stringify(new Error("x")) is "{}": message, name and stack are not enumerable, and cause
// is not either. Copy them first, then the error's own properties (where config.headers hide).
function errorFields(error: Error): Fields {
  const out: Fields = { type: error.name, message: error.message, stack: error.stack };
  Object.assign(out, error);
  if ("cause" in error) out.cause = error.cause;
  return out;
}

/**
 * Turns anything into a value JSON.stringify writes without throwing: secrets by key at any depth,
 * credentials in URLs, errors with their own properties and causes, cycles, bigint, symbols.
 * `ancestors` holds the objects on the path from the root, so only a real cycle is cut.
 */
function clean(value: unknown, ancestors: object[]): unknown {
  switch (typeof value) {
    case "string":
      return scrubString(value);
    case "bigint":
      return value.toString();
    case "symbol":
      return value.toString();
    case "function":
      return undefined;
    case "number":
      return Number.isFinite(value) ? value : String(value);
    case "object":
      break;
    default:
      return value;
  }
  if (value === null) return null;
  if (ancestors.includes(value)) return "[circular]";
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? "Invalid Date" : value.toISOString();
  const path = [...ancestors, value];
  if (Array.isArray(value)) return value.map((item) => clean(item, path) ?? null);
  const source: Fields = value instanceof Error ? errorFields(value) : (value as Fields);
  const out: Fields = {};
  for (const [key, item] of Object.entries(source)) {
    if (SECRET_KEY.test(key)) out[key] = "[redacted]";
    else {
      const cleaned = clean(item, path);
      if (cleaned !== undefined) out[key] = cleaned;
    }
  }
  return out;
}

function write(line: Fields): void {
  let text: string;
  try {
    text = JSON.stringify(line);
  } catch {
    // clean() leaves nothing JSON.stringify rejects, but a getter that throws or a toJSON that
    // does must still not take the worker down with it: the event is written without its fields.
    text = JSON.stringify({ ts: line.ts, level: line.level, msg: line.msg, service: line.service, logError: "fields could not be serialised" });
  }
  // JSON.stringify escapes \n and \r inside strings, so one event is always one line.
  process.stdout.write(`${text}\n`);
}

export function createLogger(options: LoggerOptions, bound: Fields = {}): Logger {
  const threshold = LEVELS[options.level ?? "info"];
  const log = (level: Level) => (msg: string, fields: Fields = {}) => {
    if (LEVELS[level] < threshold) return;
    let extra: Fields;
    try {
      // Each source cleaned as it is, so a cycle back to the fields object itself is seen as one.
      extra = { ...(clean(bound, []) as Fields), ...(clean(context.getStore() ?? {}, []) as Fields), ...(clean(fields, []) as Fields) };
    } catch {
      extra = { logError: "fields could not be read" };
    }
    const line: Fields = { ts: new Date().toISOString(), level, msg: scrubString(String(msg)), service: options.service };
    // The four core fields come first and no field can replace them.
    for (const [key, value] of Object.entries(extra)) if (!Object.hasOwn(line, key)) line[key] = value;
    write(line);
  };
  return {
    debug: log("debug"),
    info: log("info"),
    warn: log("warn"),
    error: log("error"),
    child: (fields) => createLogger(options, { ...bound, ...fields }),
  };
}
