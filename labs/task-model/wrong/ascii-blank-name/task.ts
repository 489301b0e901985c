import { createRedis } from "@faultline/lab";

/** What a payload may hold: JSON's values, plus the two types a task queue most often needs. */
export type Payload = null | boolean | number | string | bigint | Date | Payload[] | { [key: string]: Payload };

export interface Task {
  /** Any characters; id.length (UTF-16 code units) from 1 to 128. */
  id: string;
  /** The handler the task is for; not empty, not only whitespace (what name.trim() removes). */
  name: string;
  /** Required; null when the task needs no data. */
  payload: Payload;
  /** A whole number from 0 (most urgent) to 1,000,000. */
  priority: number;
  /** How many times the task has been tried: a whole number from 0 to Number.MAX_SAFE_INTEGER. */
  attempts: number;
}

export const MAX_PRIORITY = 1_000_000;

/** Thrown for any value that is not a valid task; `field` names the first field at fault. */
export class TaskValidationError extends Error {
  override name = "TaskValidationError";
  constructor(
    readonly field: "task" | "id" | "name" | "payload" | "priority" | "attempts",
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (!isRecord(value) || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Why `value` cannot be a payload, or null when it can. The path makes the error findable. */
function payloadProblem(value: unknown, path: string): string | null {
  if (value === null || typeof value === "boolean" || typeof value === "string" || typeof value === "bigint") return null;
  // JSON writes NaN and ±Infinity as null and -0 as 0: refuse them rather than change them.
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return `${path} is ${value}, which JSON cannot carry`;
    return Object.is(value, -0) ? `${path} is -0, which JSON writes as 0` : null;
  }
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? `${path} is an invalid Date` : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = payloadProblem(value[i], `${path}[${i}]`);
      if (problem) return problem;
    }
    return null;
  }
  if (isPlainObject(value)) {
    for (const [key, item] of Object.entries(value)) {
      // An own "__proto__" key becomes the prototype of whatever assigns it (obj[key] = …).
      if (key === "__proto__") return `${path} has a key "__proto__", which is not allowed`;
      const problem = payloadProblem(item, `${path}.${key}`);
      if (problem) return problem;
    }
    return null;
  }
  // undefined, functions, symbols, Maps, class instances: JSON would drop or flatten them.
  const what = value === undefined ? "undefined" : isRecord(value) ? Object.prototype.toString.call(value) : `a ${typeof value}`;
  return `${path} is ${what}, which is not a payload value`;
}

// Number.isInteger is false for NaN, ±Infinity and fractions, so one test covers all three.
const isWholeNumber = (value: unknown, max: number): value is number => typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= max;

/** Returns `value` as a Task, or throws a TaskValidationError naming the first field at fault. */
export function validateTask(value: unknown): Task {
  if (!isPlainObject(value)) throw new TaskValidationError("task", "a task must be a plain object");
  const { id, name, payload, priority, attempts } = value;
  if (typeof id !== "string" || id.length === 0 || id.length > 128) throw new TaskValidationError("id", "must be a string whose length is 1 to 128");
  // Blank: nothing but spaces, tabs and line breaks.
  if (typeof name !== "string" || /^[ \t\r\n]*$/.test(name)) throw new TaskValidationError("name", "must be a non-empty string");
  // `in` and not truthiness: null, 0, "" and false are all valid payloads.
  if (!("payload" in value)) throw new TaskValidationError("payload", "is required (use null for none)");
  const problem = payloadProblem(payload, "payload");
  if (problem) throw new TaskValidationError("payload", problem);
  if (!isWholeNumber(priority, MAX_PRIORITY)) throw new TaskValidationError("priority", `must be a whole number from 0 to ${MAX_PRIORITY}, not ${String(priority)}`);
  if (!isWholeNumber(attempts, Number.MAX_SAFE_INTEGER)) throw new TaskValidationError("attempts", `must be a whole number from 0 to ${Number.MAX_SAFE_INTEGER}, not ${String(attempts)}`);
  return { id, name, payload: payload as Payload, priority, attempts };
}

// Dates and bigints travel as one-key tag objects: {"$date": "<ISO>"} and {"$bigint": "<digits>"}.
// A payload may hold objects with keys of its own that start with "$", so every such key gains one
// more "$" on the way out and loses it on the way in: a single-"$" key is then always one of ours.
const escapeKey = (key: string) => (key.startsWith("$") ? `$${key}` : key);
const unescapeKey = (key: string) => (key.startsWith("$$") ? key.slice(1) : key);

function encode(value: Payload): unknown {
  if (value instanceof Date) return { $date: value.toISOString() };
  // A bigint is kept as its digits: Number() would round anything past 2^53.
  if (typeof value === "bigint") return { $bigint: value.toString() };
  if (Array.isArray(value)) return value.map(encode);
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([key, item]) => [escapeKey(key), encode(item)]));
  return value;
}

function decode(value: unknown): Payload {
  if (Array.isArray(value)) return value.map(decode);
  if (isRecord(value)) {
    const entries = Object.entries(value);
    if (entries.length === 1) {
      const [key, item] = entries[0]!;
      // A broken tag in stored text (BigInt("1x") throws a SyntaxError) is an invalid task too;
      // an unreadable date becomes an invalid Date, which validateTask refuses.
      if (key === "$date" && typeof item === "string") return new Date(item);
      if (key === "$bigint" && typeof item === "string") {
        if (!/^-?\d+$/.test(item)) throw new TaskValidationError("payload", `a bigint tag holds ${JSON.stringify(item.slice(0, 40))}, not digits`);
        return BigInt(item);
      }
    }
    return Object.fromEntries(entries.map(([key, item]) => [unescapeKey(key), decode(item)]));
  }
  // Strings stay strings, however much they look like a date or a number: only tags become types.
  return value as Payload;
}

/** A JSON text that deserialize turns back into an equal task. */
export function serialize(task: Task): string {
  return JSON.stringify({ ...task, payload: encode(task.payload) });
}

/** The task in `text`, validated: text from Redis or the network is input like any other. */
export function deserialize(text: string): Task {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new TaskValidationError("task", "not JSON text");
  }
  if (!isPlainObject(parsed)) throw new TaskValidationError("task", "the JSON is not an object");
  return validateTask("payload" in parsed ? { ...parsed, payload: decode(parsed.payload) } : parsed);
}

const redis = createRedis();
const key = (id: string) => `task:${id}`;

/** Validates and stores a task under task:{id}, replacing any task stored with that id. */
export async function saveTask(task: Task): Promise<void> {
  // Validate before writing: an invalid task must never reach Redis, where every reader trusts it.
  const valid = validateTask(task);
  await redis.set(key(valid.id), serialize(valid));
}

/** The task stored under task:{id}, or null when there is none. */
export async function loadTask(id: string): Promise<Task | null> {
  const text = await redis.get(key(id));
  return text === null ? null : deserialize(text);
}
