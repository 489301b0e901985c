// Read-only: the grader's side of your sandbox. The grader speaks JSON, which has no Date, no
// bigint, no NaN, no undefined and no classes, so it sends descriptions ("shapes") of the values
// it means; this file builds the real values, calls your task.ts, and describes what comes back
// the same way. You never need to call it: it only shows exactly what the grader does with your
// exports.
import * as model from "./task.ts";

/** A value, described in plain JSON. Object entries are sorted by key, so key order never matters. */
export type Shape =
  | null
  | boolean
  | number
  | string
  | Shape[]
  | { $object: [string, Shape][] }
  | { $date: string | null } // null: an invalid Date
  | { $bigint: string }
  | { $number: string } // "NaN", "Infinity", "-Infinity", "-0"
  | { $undefined: true }
  | { $map: [Shape, Shape][] }
  | { $instance: [string, [string, Shape][]] } // new (class Name {})(), with these own fields
  | { $make: Made }
  | { $other: string };

/** Values that are not payloads, built as they are named. */
export type Made = "set" | "regexp" | "error" | "bytes" | "boxed-number" | "boxed-string" | "function" | "symbol";

const MADE: Record<Made, () => unknown> = {
  set: () => new Set([1]),
  regexp: () => /x/g,
  error: () => new Error("x"),
  bytes: () => new Uint8Array([1, 2]),
  "boxed-number": () => Object(1),
  "boxed-string": () => Object("x"),
  function: () => () => null,
  symbol: () => Symbol("x"),
};

export type Outcome =
  | { ok: true; value: Shape }
  | { ok: false; error: { name: string; message: string; field: string | null; isTaskValidationError: boolean } };

const has = <K extends string>(shape: object, key: K): shape is Record<K, unknown> => Object.hasOwn(shape, key);

function build(shape: Shape): unknown {
  if (shape === null || typeof shape !== "object") return shape;
  if (Array.isArray(shape)) return shape.map(build);
  // Object.fromEntries makes every key an own property, "__proto__" included.
  if (has(shape, "$object")) return Object.fromEntries(shape.$object.map(([key, item]) => [key, build(item)]));
  if (has(shape, "$date")) return new Date(shape.$date === null ? Number.NaN : (shape.$date as string));
  if (has(shape, "$bigint")) return BigInt(shape.$bigint as string);
  if (has(shape, "$number")) return Number(shape.$number);
  if (has(shape, "$map")) return new Map((shape.$map as [Shape, Shape][]).map(([k, v]) => [build(k), build(v)]));
  if (has(shape, "$instance")) {
    const [name, fields] = shape.$instance as [string, [string, Shape][]];
    const Class = { [name]: class {} }[name]!;
    return Object.assign(new Class(), Object.fromEntries(fields.map(([key, item]) => [key, build(item)])));
  }
  if (has(shape, "$make")) return MADE[shape.$make as Made]();
  return undefined;
}

function describe(value: unknown): Shape {
  if (value === undefined) return { $undefined: true };
  if (value === null || typeof value === "boolean" || typeof value === "string") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : { $number: String(value) };
  if (typeof value === "bigint") return { $bigint: value.toString() };
  if (value instanceof Date) return { $date: Number.isNaN(value.getTime()) ? null : value.toISOString() };
  if (Array.isArray(value)) return value.map(describe);
  if (value instanceof Map) return { $map: [...value].map(([k, v]) => [describe(k), describe(v)] as [Shape, Shape]) };
  if (typeof value === "object") {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return { $other: Object.prototype.toString.call(value) };
    const entries = Object.entries(value).map(([key, item]): [string, Shape] => [key, describe(item)]);
    return { $object: entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) };
  }
  return { $other: typeof value };
}

function fn(name: string): (...args: unknown[]) => unknown {
  const f = (model as Record<string, unknown>)[name];
  if (typeof f !== "function") throw new Error(`task.ts does not export a function named ${name}`);
  return f as (...args: unknown[]) => unknown;
}

function failure(error: unknown): Outcome {
  const TaskValidationError = (model as Record<string, unknown>).TaskValidationError;
  const isTaskValidationError = typeof TaskValidationError === "function" && error instanceof TaskValidationError;
  if (error instanceof Error) {
    const field = (error as { field?: unknown }).field;
    return { ok: false, error: { name: error.name, message: error.message, field: typeof field === "string" ? field : null, isTaskValidationError } };
  }
  return { ok: false, error: { name: typeof error, message: String(error), field: null, isTaskValidationError } };
}

async function attempt(run: () => unknown): Promise<Outcome> {
  try {
    return { ok: true, value: describe(await run()) };
  } catch (error) {
    return failure(error);
  }
}

// The grader sends a list of inputs as base64 of its JSON text, so the bytes that carry it can be
// cut anywhere without splitting a character. Each input is tried in turn, and each outcome
// described.
async function each(base64: string, run: (input: Shape) => unknown): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const input of JSON.parse(Buffer.from(base64, "base64").toString("utf8")) as Shape[]) outcomes.push(await attempt(() => run(input)));
  return outcomes;
}

/** validateTask(value) for each value. */
export const tryValidate = (base64: string) => each(base64, (value) => fn("validateTask")(build(value)));
/** serialize(task) for each task: the text comes back as a string shape, or whatever else serialize returned. */
export const trySerialize = (base64: string) => each(base64, (task) => fn("serialize")(build(task)));
/** deserialize(text) for each text (sent as a plain string). */
export const tryDeserialize = (base64: string) => each(base64, (text) => fn("deserialize")(text));
/** saveTask(task) for each task, one after the other. */
export const trySave = (base64: string) => each(base64, (task) => fn("saveTask")(build(task)));
/** loadTask(id) for each id (sent as a plain string). */
export const tryLoad = (base64: string) => each(base64, (id) => fn("loadTask")(id));
