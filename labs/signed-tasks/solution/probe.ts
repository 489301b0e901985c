// Read-only: the grader's side of your sandbox. You never need to call it: it shows exactly what
// the grader does with your sign.ts. It receives a batch of cases (base64 of their JSON), puts in
// the values JSON cannot carry (NaN, undefined, -0, a bigint, a Date, a Map) where a case asks for
// them, calls canonicalize, sign or verify once per case, one after another, and describes what
// came back or what was thrown.
import { canonicalize, sign, verify } from "./sign.ts";

/** A value JSON cannot carry, put at `path` inside the case's value before the call. */
export type Special = "NaN" | "Infinity" | "-Infinity" | "-0" | "undefined" | "bigint" | "Date" | "Map" | "function" | "null-prototype";
export interface Placed { path: (string | number)[]; special: Special }

export type Outcome = { ok: true; value: unknown } | { ok: false; threw: string; message: string };

function specialValue(s: Special): unknown {
  switch (s) {
    case "NaN": return Number.NaN;
    case "Infinity": return Number.POSITIVE_INFINITY;
    case "-Infinity": return Number.NEGATIVE_INFINITY;
    case "-0": return -0;
    case "undefined": return undefined;
    case "bigint": return 10n ** 20n;
    case "Date": return new Date(0);
    case "Map": return new Map([["a", 1]]);
    case "function": return () => 1;
    case "null-prototype": return Object.assign(Object.create(null) as object, { a: 1 });
  }
}

function place(value: unknown, placed: Placed | undefined): unknown {
  if (!placed) return value;
  if (placed.path.length === 0) return specialValue(placed.special);
  let at = value as Record<string | number, unknown>;
  for (const step of placed.path.slice(0, -1)) at = at[step] as Record<string | number, unknown>;
  at[placed.path[placed.path.length - 1]!] = specialValue(placed.special);
  return value;
}

function run(fn: () => unknown): Outcome {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    return { ok: false, threw: error instanceof Error ? error.name : typeof error, message: error instanceof Error ? error.message : String(error) };
  }
}

const decode = <T>(base64: string): T => JSON.parse(Buffer.from(base64, "base64").toString("utf8")) as T;

export function canonicalizeMany(base64: string): Outcome[] {
  return decode<{ value: unknown; placed?: Placed }[]>(base64).map((c) => run(() => canonicalize(place(c.value, c.placed))));
}

export function signMany(base64: string): Outcome[] {
  return decode<{ payload: unknown; placed?: Placed; key: { kid: string; secret: string }; now: number }[]>(base64).map((c) =>
    run(() => sign(place(c.payload, c.placed) as never, c.key, c.now)),
  );
}

export function verifyMany(base64: string): Outcome[] {
  return decode<{ envelope: unknown; keys: Record<string, string>; now: number }[]>(base64).map((c) => run(() => verify(c.envelope, c.keys, c.now)));
}
