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

// The saga log: a hash per saga with the trip, and a set of the unfinished ones. Progress is not
// recorded: every operation has an idempotency key, so running a saga again from the start
// repeats nothing that took effect, and recovery is just "book it again".
const sagaKey = (id: string) => `saga:${id}`;
const ACTIVE = "saga:active";

const keyOf = (trip: Trip, operation: string) => `${trip.id}:${operation}`;

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

/** Runs the saga from its first step; a repeat of a step that took effect is a no-op. */
async function run(trip: Trip): Promise<SagaResult> {
  for (let i = 0; i < STEPS.length; i++) {
    const step = STEPS[i]!;
    try {
      await call(step.run, trip, keyOf(trip, step.name));
    } catch (error) {
      if (!(error instanceof StepDeclined)) throw error;
      for (let j = i - 1; j >= 0; j--) {
        const done = STEPS[j]!;
        if (done.compensate) await call(done.compensate, trip, keyOf(trip, `${done.name}:undo`));
      }
      await finish(trip.id);
      return { id: trip.id, status: "compensated", failedStep: step.name };
    }
  }
  await finish(trip.id);
  return { id: trip.id, status: "completed" };
}

async function finish(id: string): Promise<void> {
  await redis.multi().del(sagaKey(id)).srem(ACTIVE, id).exec();
}

/** Books a trip: runs the saga to its end, completed or compensated. */
export async function bookTrip(trip: Trip): Promise<SagaResult> {
  await redis.multi().hset(sagaKey(trip.id), "trip", JSON.stringify(trip)).sadd(ACTIVE, trip.id).exec();
  return run(trip);
}

/** Finishes every saga left unfinished: runs each again from the start. */
export async function recover(): Promise<SagaResult[]> {
  const results: SagaResult[] = [];
  for (const id of await redis.smembers(ACTIVE)) {
    const json = await redis.hget(sagaKey(id), "trip");
    if (json) results.push(await run(JSON.parse(json) as Trip));
  }
  return results;
}
