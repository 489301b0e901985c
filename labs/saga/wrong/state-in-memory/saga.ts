import { sleep } from "@faultline/lab";
import { planFor, StepDeclined, type Operation, type Step, type Trip } from "./services.ts";

export type { Trip };

export interface SagaResult {
  id: string;
  status: "completed" | "compensated";
  /** The step that was declined, when the saga was compensated. */
  failedStep?: string;
}

export const CALL_TIMEOUT_MS = 500;
export const LEASE_MS = 1000;

interface SagaState {
  trip: Trip;
  steps: Step[];
  status: "running" | "compensating" | "completed" | "compensated";
  done: number;
  failed?: string;
}

// The orchestrator's saga log: fast, simple, and gone with the process. With no shared record
// there is nothing to lease either: each saga is driven by the process that holds it.
const sagas = new Map<string, SagaState>();

const keyOf = (trip: Trip, operation: string) => `${trip.id}:${operation}`;

function withTimeout(call: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms)));
  return Promise.race([call, timeout]).finally(() => clearTimeout(timer));
}

async function call(operation: Operation, trip: Trip, key: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await withTimeout(operation(trip, key), CALL_TIMEOUT_MS);
    } catch (error) {
      if (error instanceof StepDeclined) throw error;
      await sleep(Math.min(200, 25 * 2 ** attempt));
    }
  }
}

async function forward(state: SagaState): Promise<SagaResult> {
  const { trip } = state;
  for (let i = state.done; i < state.steps.length; i++) {
    const step = state.steps[i]!;
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
    const step = state.steps[i]!;
    if (step.compensate) await call(step.compensate, trip, keyOf(trip, `${step.name}:undo`));
    state.done = i;
  }
  state.status = "compensated";
  sagas.delete(trip.id);
  return { id: trip.id, status: "compensated", failedStep: state.failed };
}

export async function bookTrip(trip: Trip): Promise<SagaResult> {
  const state: SagaState = { trip, steps: planFor(trip), status: "running", done: 0 };
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
