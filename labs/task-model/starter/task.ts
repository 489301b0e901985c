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

/** Returns `value` as a Task, or throws a TaskValidationError naming the first field at fault. */
export function validateTask(value: unknown): Task {
  // TODO: check that value is a plain object, then each field's type and range (instructions.md).
  // Careful: 0, null, "" and false are real values here, and NaN fails every comparison.
  // Walk the payload too, at every depth: JSON cannot carry NaN, Infinity, -0, undefined, a Map
  // or a class instance, and a "__proto__" key is refused.
  throw new TaskValidationError("task", `validateTask is not implemented yet (got ${typeof value})`);
}

/** A JSON text that deserialize turns back into an equal task. */
export function serialize(task: Task): string {
  // TODO: JSON.stringify alone throws on a bigint and turns a Date into a plain string.
  return JSON.stringify(task);
}

/** The task in `text`, validated. Throws a TaskValidationError for text that is not a valid task. */
export function deserialize(text: string): Task {
  // TODO: undo what serialize did, then validate. Whatever is wrong with the text (not JSON, a
  // broken tag), the error is a TaskValidationError.
  return JSON.parse(text) as Task;
}

const redis = createRedis();

/** Validates and stores a task under task:{id}, replacing any task stored with that id. */
export async function saveTask(task: Task): Promise<void> {
  // TODO: validate first, then SET task:{id} to serialize(task): one command, no expiry, and let
  // Redis's errors reach the caller.
  await redis.ping();
  throw new Error(`saveTask is not implemented yet (task ${task.id})`);
}

/** The task stored under task:{id}, or null when there is none. */
export async function loadTask(id: string): Promise<Task | null> {
  // TODO: GET task:{id} on every call; null when missing, deserialize(text) when not.
  throw new Error(`loadTask is not implemented yet (id ${id})`);
}
