// Read-only: the grader's side of your sandbox. You never need to call it; it only shows exactly
// what the grader does with your logger.ts. Each function builds the values a case describes
// (JSON cannot carry a bigint, a Date, a cycle or an Error, so the case describes them), logs
// them through createLogger, and the grader reads what your logger printed.
import { createLogger, withContext, type Fields, type Level, type Logger } from "./logger.ts";

/** A value, described in JSON. */
export type Desc =
  | { t: "str"; v: string }
  | { t: "num"; v: number }
  | { t: "bool"; v: boolean }
  | { t: "null" }
  | { t: "nonfinite"; v: "NaN" | "Infinity" | "-Infinity" }
  | { t: "bigint"; v: string }
  | { t: "undef" }
  | { t: "symbol"; v: string }
  | { t: "date"; v: number | null }
  | { t: "fn" }
  | { t: "arr"; v: Desc[] }
  | { t: "obj"; v: [string, Desc][] }
  /** The object or array `up` levels above this one (0: the one holding it): a cycle. */
  | { t: "cycle"; up: number }
  | { t: "error"; name: string; message: string; props: [string, Desc][]; cause?: Desc };

export function build(d: Desc, ancestors: object[] = []): unknown {
  switch (d.t) {
    case "str": case "num": case "bool": return d.v;
    case "null": return null;
    case "nonfinite": return Number(d.v);
    case "bigint": return BigInt(d.v);
    case "undef": return undefined;
    case "symbol": return Symbol(d.v);
    case "date": return new Date(d.v ?? Number.NaN);
    case "fn": return () => d;
    case "cycle": return ancestors[Math.max(0, ancestors.length - 1 - d.up)] ?? null;
    case "arr": {
      const out: unknown[] = [];
      for (const item of d.v) out.push(build(item, [...ancestors, out]));
      return out;
    }
    case "obj": {
      const out: Record<string, unknown> = {};
      for (const [key, item] of d.v) Object.defineProperty(out, key, { value: build(item, [...ancestors, out]), enumerable: true, writable: true, configurable: true });
      return out;
    }
    case "error": {
      const Ctor = d.name === "TypeError" ? TypeError : d.name === "RangeError" ? RangeError : Error;
      const error: Error = d.cause === undefined ? new Ctor(d.message) : new Ctor(d.message, { cause: build(d.cause, ancestors) });
      if (Ctor === Error && d.name !== "Error") error.name = d.name;
      for (const [key, item] of d.props) (error as unknown as Record<string, unknown>)[key] = build(item, [...ancestors, error]);
      return error;
    }
  }
}

export interface Call {
  method: Level;
  msg: string;
  /** Built with build(); an "obj" becomes the fields argument. */
  fields?: Desc;
  /** Each one a child() of the logger before, in order. */
  children?: Fields[];
  /** The call runs inside withContext(context, …), after an await when `later`. */
  context?: { correlationId: string; taskId?: string };
  later?: boolean;
}

export interface Case {
  service: string;
  level?: Level;
  calls: Call[];
}

const decode = (base64: string) => JSON.parse(Buffer.from(base64, "base64").toString("utf8")) as Case;

/** Runs the case's calls one after another; returns, per call, what it threw (null: nothing). */
export async function logCalls(base64: string): Promise<(string | null)[]> {
  const c = decode(base64);
  const root = createLogger(c.level === undefined ? { service: c.service } : { service: c.service, level: c.level });
  const threw: (string | null)[] = [];
  for (const call of c.calls) {
    try {
      let logger: Logger = root;
      for (const fields of call.children ?? []) logger = logger.child(fields);
      const fields = call.fields === undefined ? undefined : (build(call.fields) as Fields);
      const write = () => (fields === undefined ? logger[call.method](call.msg) : logger[call.method](call.msg, fields));
      if (call.context === undefined) write();
      else if (call.later) await withContext(call.context, async () => { await new Promise((resolve) => setTimeout(resolve, 1)); write(); });
      else withContext(call.context, write);
      threw.push(null);
    } catch (error) {
      threw.push(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
    }
  }
  return threw;
}
