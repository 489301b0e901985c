import { sleep } from "@faultline/lab";
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

export const STEPS: Step[] = [
  { name: "reserveSeat", run: services.reserveSeat, compensate: services.releaseSeat },
  { name: "bookHotel", run: services.bookHotel, compensate: services.cancelHotel },
  { name: "chargeCard", run: services.chargeCard, compensate: services.refundCard },
  { name: "sendTicket", run: services.sendTicket },
];

interface SagaState {
  trip: Trip;
  status: "running" | "compensating" | "completed" | "compensated";
  done: number;
  failed?: string;
}

// The orchestrator's saga log: fast, simple, and gone with the process.
const sagas = new Map<string, SagaState>();

const keyOf = (trip: Trip, operation: string) => `${trip.id}:${operation}`;

async function call(operation: Operation, trip: Trip, key: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(trip, key);
    } catch (error) {
      if (error instanceof StepDeclined) throw error;
      await sleep(Math.min(1000, 25 * 2 ** attempt));
    }
  }
}

async function forward(state: SagaState): Promise<SagaResult> {
  const { trip } = state;
  for (let i = state.done; i < STEPS.length; i++) {
    const step = STEPS[i]!;
    try {
      await call(step.run, trip, keyOf(trip, step.name));
    } catch (error) {
      if (!(error instanceof StepDeclined)) throw error;
      state.status = "compensating";
      state.failed = step.name;
      return backward(state);
    }
    state.done = i + 1;
  }
  state.status = "completed";
  sagas.delete(trip.id);
  return { id: trip.id, status: "completed" };
}

async function backward(state: SagaState): Promise<SagaResult> {
  const { trip } = state;
  for (let i = state.done - 1; i >= 0; i--) {
    const step = STEPS[i]!;
    if (step.compensate) await call(step.compensate, trip, keyOf(trip, `${step.name}:undo`));
    state.done = i;
  }
  state.status = "compensated";
  sagas.delete(trip.id);
  return { id: trip.id, status: "compensated", failedStep: state.failed };
}

export async function bookTrip(trip: Trip): Promise<SagaResult> {
  const state: SagaState = { trip, status: "running", done: 0 };
  sagas.set(trip.id, state);
  return forward(state);
}

export async function recover(): Promise<SagaResult[]> {
  const results: SagaResult[] = [];
  for (const state of [...sagas.values()]) {
    results.push(state.status === "compensating" ? await backward(state) : await forward(state));
  }
  return results;
}
