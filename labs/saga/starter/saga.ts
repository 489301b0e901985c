import { createRedis, sleep } from "@faultline/lab";
import { planFor, StepDeclined, type Trip } from "./services.ts";

export type { Trip };

export interface SagaResult {
  id: string;
  status: "completed" | "compensated";
  /** The step that was declined, when the saga was compensated. */
  failedStep?: string;
}

/** A call that has not answered by then is abandoned: no answer, so call again with the same key. */
export const CALL_TIMEOUT_MS = 500;
/** A saga's lease runs out this long after its last renewal; then another orchestrator may take it. */
export const LEASE_MS = 1000;

// Suggested keys (the grader does not read them): a hash per saga holding its trip (JSON), its
// status (running | compensating | completed | compensated), how many steps are in effect, and
// its lease (who drives it, and until when); and a set of the ids of sagas that are not finished.
const sagaKey = (id: string) => `saga:${id}`;
const ACTIVE = "saga:active";

const redis = createRedis();

// Delete this line once your code uses them all.
void [sagaKey, ACTIVE, redis, sleep, StepDeclined, CALL_TIMEOUT_MS, LEASE_MS];

/**
 * The idempotency key of one operation of one saga. The services apply each key once, so a key
 * that is the same on every attempt, in every process, makes calling again safe.
 */
const keyOf = (trip: Trip, operation: string) => `${trip.id}:${operation}`;

/** Books a trip: runs the saga to its end, completed or compensated. */
export async function bookTrip(trip: Trip): Promise<SagaResult> {
  // TODO: record the saga in Redis, leased to this orchestrator, before its first step, and its
  // progress after each step, so that another process can finish it if this one dies.
  for (const step of planFor(trip)) {
    // TODO: a StepDeclined means the step did not happen: stop, and compensate the steps that
    // did, last first. Any other error, or no answer within CALL_TIMEOUT_MS, means "no answer":
    // call again with the same key. Renew the lease before each call; stop if it was lost.
    await step.run(trip, keyOf(trip, step.name));
  }
  return { id: trip.id, status: "completed" };
}

/**
 * TODO: finish every unfinished saga whose lease has run out (its orchestrator died, or stopped for
 * longer than LEASE_MS), forward or compensating, from where it was. Several orchestrators may call
 * this at once: each saga must be taken by exactly one of them.
 */
export async function recover(): Promise<SagaResult[]> {
  return [];
}
