// Your logger: one JSON object per line on stdout. See instructions.md for the exact format.
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

/** Runs fn with fields (correlationId, taskId) added to every line written inside it, after any await. */
export function withContext<T>(fields: { correlationId: string; taskId?: string }, fn: () => T): T {
  // TODO: remember `fields` for every line written while fn runs (AsyncLocalStorage).
  void fields;
  return fn();
}

export function createLogger(options: LoggerOptions, bound: Fields = {}): Logger {
  // TODO: a JSON line {ts, level, msg, service, ...fields}; levels below options.level skipped;
  // secrets redacted; errors with their cause; never throw.
  const log = (level: Level) => (msg: string, fields: Fields = {}) => {
    console.log(`${new Date().toISOString()} [${level}] ${options.service}: ${msg}`, { ...bound, ...fields });
  };
  return {
    debug: log("debug"),
    info: log("info"),
    warn: log("warn"),
    error: log("error"),
    child: (fields) => createLogger(options, { ...bound, ...fields }),
  };
}
