import { createRedis, sleep } from "@faultline/lab";
import * as services from "./services.ts";
import { StepDeclined, type Operation, type Trip } from "./services.ts";

export type { Trip };

export interface SagaResult {
  id: string;
  status: "completed" | "compensated";
  /** The step that was declined, when the saga was compensated. */
  failedStep?: string;
}

interface Step {
  name: string;
  run: Operation;
  /** The last step needs none: once it succeeds, nothing after it can fail. */
  compensate?: Operation;
}

/** The saga's steps, in order. A failure at step i undoes steps i-1 … 0, in that order. */
export const STEPS: Step[] = [
  { name: "reserveSeat", run: services.reserveSeat, compensate: services.releaseSeat },
  { name: "bookHotel", run: services.bookHotel, compensate: services.cancelHotel },
  { name: "chargeCard", run: services.chargeCard, compensate: services.refundCard },
  { name: "sendTicket", run: services.sendTicket },
];

// Suggested keys (the grader does not read them): a hash per saga holding its trip (JSON), its
// status (running | compensating | completed | compensated) and how many steps are in effect,
// and a set of the ids of sagas that are not finished yet.
const sagaKey = (id: string) => `saga:${id}`;
const ACTIVE = "saga:active";

const redis = createRedis();

// Delete this line once your code uses them all.
void [sagaKey, ACTIVE, redis, sleep, StepDeclined];

/**
 * The idempotency key of one operation of one saga. The services apply each key once, so a key
 * that is the same on every attempt, in every process, makes calling again safe.
 */
const keyOf = (trip: Trip, operation: string) => `${trip.id}:${operation}`;

/** Books a trip: runs the saga to its end, completed or compensated. */
export async function bookTrip(trip: Trip): Promise<SagaResult> {
  // TODO: record the saga in Redis before its first step, and its progress after each step, so
  // that another process can finish it if this one dies.
  for (const step of STEPS) {
    // TODO: a StepDeclined means the step did not happen: stop, and compensate the steps that
    // did, last first. Any other error means "no answer": retry with the same key.
    await step.run(trip, keyOf(trip, step.name));
  }
  return { id: trip.id, status: "completed" };
}

/**
 * TODO: finish every saga an orchestrator left unfinished when it died, forward or compensating,
 * from where it was. Called by the grader in a new process, after the old one was SIGKILLed.
 */
export async function recover(): Promise<SagaResult[]> {
  return [];
}
