/**
 * What the grader calls (read-only): it opens clients with createClients and makes calls through
 * them, each outcome reported as data. Several clients can be open in one program at once.
 */
import { createClients, type Clients } from "./bulkhead.ts";
import type { ClientPolicy } from "./policy.ts";

export interface Outcome {
  ok: boolean;
  value?: unknown;
  name?: string;
  message?: string;
  status?: number;
  /** How long the call took, measured here. */
  ms: number;
}

const clients: Clients[] = [];

/** Opens a client (its two bulkheads) and returns its handle. */
export function open(policy: ClientPolicy): number {
  clients.push(createClients(policy));
  return clients.length - 1;
}

async function outcome(call: () => Promise<unknown>): Promise<Outcome> {
  const started = performance.now();
  try {
    const value = await call();
    return { ok: true, value, ms: performance.now() - started };
  } catch (error) {
    const e = (error ?? {}) as {
      name?: unknown;
      message?: unknown;
      status?: unknown;
    };
    return {
      ok: false,
      name: typeof e.name === "string" ? e.name : typeof error,
      message: typeof e.message === "string" ? e.message : String(error),
      status: typeof e.status === "number" ? e.status : undefined,
      ms: performance.now() - started,
    };
  }
}

export function search(handle: number, q: string): Promise<Outcome> {
  return outcome(() => clients[handle]!.search(q));
}

export function recommend(handle: number, user: string): Promise<Outcome> {
  return outcome(() => clients[handle]!.recommend(user));
}
