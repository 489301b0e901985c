/**
 * How a lab's checks.ts is written:
 *
 *   export default defineChecks({
 *     checks: {
 *       "fifo-among-equals": async (t) => {
 *         const queue = await t.load("queue.ts");
 *         ...
 *         t.equal(order, expected, { message: "...", hint: "..." });
 *       },
 *     },
 *   });
 *
 * Each key is a check id from lab.json. Checks run at the same time, each against a Redis and a
 * chaos proxy of its own, and their results are reported in lab.json's order; `concurrency: 1`
 * runs them one after another in that order. Checks are trusted code: they run in the runner,
 * never in the sandbox.
 */
import type { CheckContext } from "./context.ts";

export type CheckFn = (t: CheckContext) => Promise<void>;

export interface PlaygroundContext extends CheckContext {
  /** Aborted when the playground's time is up or the learner cancels. */
  signal: AbortSignal;
}

export interface LabChecks {
  checks: Record<string, CheckFn>;
  /** A check still running after this long fails. @default 15000 */
  timeoutMs?: number;
  /**
   * How many checks may run at once, each with its own Redis and proxy. Lower it for checks whose
   * timing would suffer from sharing two cores with the others. @default 4
   */
  concurrency?: number;
  /**
   * `mode: "run"`: start the learner's program and the lab's background traffic; it ends when
   * `t.signal` aborts. Without one, the lab's first file runs as a worker.
   */
  playground?: (t: PlaygroundContext) => Promise<void>;
}

export function defineChecks(definition: LabChecks): LabChecks {
  return definition;
}

export function isLabChecks(value: unknown): value is LabChecks {
  return typeof value === "object" && value !== null && typeof (value as LabChecks).checks === "object";
}
