/**
 * What the grader calls (read-only): your CircuitBreaker, its outcomes reported as data. Each
 * breaker is made here by name, so one program can hold several (one per service).
 */
import { CircuitBreaker } from "./breaker.ts";
import type { BreakerPolicy, BreakerState } from "./policy.ts";

export interface Outcome {
  ok: boolean;
  stock?: unknown;
  name?: string;
  message?: string;
  status?: number;
  /** How long getStock took, measured here. */
  ms: number;
  /**
   * The longest this program's event loop was held up meanwhile (a loaded machine that stalls it
   * makes every timer late, yours too): lateness it explains is not held against you.
   */
  lagMs: number;
}

/** One call of a trickle: when it started (ms after the trickle began) and the state read just before. */
export interface Tick extends Outcome {
  startedMs: number;
  stateBefore: BreakerState;
}

const breakers = new Map<string, CircuitBreaker>();

const breaker = (name: string): CircuitBreaker => {
  const found = breakers.get(name);
  if (!found) throw new Error(`no breaker named ${name}: call create first`);
  return found;
};

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A 5 ms heartbeat: stop() says how late the latest-firing beat was. */
function heartbeat(): { stop: () => number } {
  let last = performance.now();
  let worst = 0;
  const beat = () => {
    const now = performance.now();
    worst = Math.max(worst, now - last - 5);
    last = now;
  };
  const timer = setInterval(beat, 5);
  return {
    stop: () => {
      beat();
      clearInterval(timer);
      return Math.max(0, worst);
    },
  };
}

async function run(b: CircuitBreaker, sku: string): Promise<Outcome> {
  const started = performance.now();
  const lag = heartbeat();
  try {
    const stock = await b.getStock(sku);
    return { ok: true, stock, ms: performance.now() - started, lagMs: lag.stop() };
  } catch (error) {
    const e = (error ?? {}) as { name?: unknown; message?: unknown; status?: unknown };
    return {
      ok: false,
      name: typeof e.name === "string" ? e.name : typeof error,
      message: typeof e.message === "string" ? e.message : String(error),
      status: typeof e.status === "number" ? e.status : undefined,
      ms: performance.now() - started,
      lagMs: lag.stop(),
    };
  }
}

export function create(name: string, service: string, policy: BreakerPolicy): void {
  breakers.set(name, new CircuitBreaker(service, policy));
}

export function state(name: string): BreakerState {
  return breaker(name).state;
}

/** One call. */
export function get(name: string, sku: string): Promise<Outcome> {
  return run(breaker(name), sku);
}

/** The skus one after another, `gapMs` between the end of one call and the start of the next, and the state after each. */
export async function sequence(name: string, skus: string[], gapMs = 0): Promise<(Outcome & { stateAfter: BreakerState })[]> {
  const b = breaker(name);
  const outcomes: (Outcome & { stateAfter: BreakerState })[] = [];
  for (const [i, sku] of skus.entries()) {
    if (i > 0 && gapMs > 0) await sleep(gapMs);
    const outcome = await run(b, sku);
    outcomes.push({ ...outcome, stateAfter: b.state });
  }
  return outcomes;
}

/** The skus all at once. */
export function all(name: string, skus: string[]): Promise<Outcome[]> {
  const b = breaker(name);
  return Promise.all(skus.map((sku) => run(b, sku)));
}

/**
 * A steady stream of callers: `perTick` calls for `sku` at once every `everyMs` (without waiting
 * for the ones in flight) for `forMs`, or, with `untilAnswered`, until the service has answered one
 * (stock or a RequestError).
 */
export async function trickle(name: string, sku: string, everyMs: number, forMs: number, untilAnswered = false, perTick = 1): Promise<Tick[]> {
  const b = breaker(name);
  const started = performance.now();
  const ticks: Promise<Tick>[] = [];
  let done = false;
  while (!done && performance.now() - started < forMs) {
    const stateBefore = b.state;
    const startedMs = performance.now() - started;
    for (let i = 0; i < perTick; i++) {
      ticks.push(
        run(b, sku).then((outcome) => {
          if (untilAnswered && (outcome.ok || outcome.name === "RequestError")) done = true;
          return { ...outcome, startedMs, stateBefore };
        }),
      );
    }
    await sleep(everyMs);
  }
  return Promise.all(ticks);
}
