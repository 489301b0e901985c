// Read-only: the work a task does. The grader decides, per task, how long it takes and how it
// ends, through the task's payload; your worker only runs it and measures what happened.

export interface Task {
  id: string;
  /** A task type, for logs. Not a metric label: the grader makes up new ones all the time. */
  name: string;
  /** How long the work takes, in milliseconds (0: it settles at once). */
  ms: number;
  /**
   * How it ends. "ok": resolves after `ms`. "reject": rejects after `ms` with an error whose
   * message names the task. "throw": throws at once, synchronously, before returning a promise.
   */
  outcome: "ok" | "reject" | "throw";
}

export class TaskFailed extends Error {
  override name = "TaskFailed";
}

/** Parses a task as the grader enqueued it (JSON). */
export function parseTask(raw: string): Task {
  return JSON.parse(raw) as Task;
}

/** Runs one task. Not an async function: with outcome "throw" it throws before returning anything. */
export function handle(task: Task): Promise<void> {
  if (task.outcome === "throw") throw new TaskFailed(`task ${task.id} (${task.name}) threw at once`);
  if (task.ms <= 0) return task.outcome === "reject" ? Promise.reject(new TaskFailed(`task ${task.id} failed`)) : Promise.resolve();
  return new Promise((resolve, reject) => {
    setTimeout(() => (task.outcome === "reject" ? reject(new TaskFailed(`task ${task.id} (${task.name}) failed after ${task.ms} ms`)) : resolve()), task.ms);
  });
}
