import { randomUUID } from "node:crypto";
import { createRedis, sleep } from "@faultline/lab";
import { planFor, StepDeclined, type Operation, type Step, type Trip } from "./services.ts";

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
/** The pause before a retry doubles from 50 ms up to this. */
const MAX_BACKOFF_MS = 200;

const redis = createRedis();

// The saga log. A hash per saga holds everything needed to finish it from another process:
//   trip    the input, as JSON
//   status  running | compensating | completed | compensated
//   done    how many steps, from the first, have taken effect and not yet been undone
//   failed  the declined step's name, once compensating
//   owner   the token of the orchestrator holding the lease; until: when the lease runs out (Redis time)
// and a set indexes the sagas that are not finished, so recovery can find them.
const sagaKey = (id: string) => `saga:${id}`;
const ACTIVE = "saga:active";

// Every lease is timed on Redis's clock, so no two orchestrators ever compare clocks of their own.
const NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)";

/** Records a new saga, leased to its booker. Sent again by that booker (a retried write), it changes nothing. */
const CREATE = `${NOW}
if redis.call('EXISTS', KEYS[1]) == 1 then
  if redis.call('HGET', KEYS[1], 'owner') == ARGV[2] then return 1 end
  return 0
end
redis.call('HSET', KEYS[1], 'trip', ARGV[1], 'status', 'running', 'done', 0, 'owner', ARGV[2], 'until', now + tonumber(ARGV[3]))
redis.call('SADD', KEYS[2], ARGV[4])
return 1`;

/**
 * The only way an orchestrator writes to a saga: only while it holds the lease, which the same
 * write renews. ARGV: token, lease ms, "final" or "", saga id, then field/value pairs.
 */
const SAVE = `${NOW}
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'until', now + tonumber(ARGV[2]), unpack(ARGV, 5))
if ARGV[3] == 'final' then
  redis.call('HSET', KEYS[1], 'until', 0)
  redis.call('SREM', KEYS[2], ARGV[4])
end
return 1`;

/** Takes an unfinished saga whose lease ran out (its orchestrator is dead or stuck), in one step. */
const TAKE = `${NOW}
local saga = redis.call('HMGET', KEYS[1], 'status', 'until')
if saga[1] ~= 'running' and saga[1] ~= 'compensating' then return false end
if tonumber(saga[2] or '0') > now then return false end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'until', now + tonumber(ARGV[2]))
return redis.call('HGETALL', KEYS[1])`;

/** Another orchestrator took the saga over: this one must stop driving it at once. */
class LeaseLost extends Error {
  override name = "LeaseLost";
}

class CallTimedOut extends Error {
  override name = "CallTimedOut";
}

/** One saga as the orchestrator driving it knows it: the trip, its plan, and this orchestrator's lease token. */
interface Saga {
  trip: Trip;
  steps: Step[];
  token: string;
}

/**
 * The idempotency key of one operation of one saga. It must be the same on every attempt, in
 * every process: that is what lets a retry, or a new orchestrator, call again without doing twice.
 */
const keyOf = (trip: Trip, operation: string) => `${trip.id}:${operation}`;

const backoff = (attempt: number) => Math.min(MAX_BACKOFF_MS, 25 * 2 ** attempt);

/**
 * Sends a command on the saga's own state until Redis answers. Every such write sets absolute
 * values, so sending it again is harmless; skipping a failed one would leave the record behind the
 * truth, and the next orchestrator would act on it.
 */
async function persist<T>(command: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await command();
    } catch (error) {
      console.error(`saga state: ${String(error)}, retrying`);
      await sleep(backoff(attempt));
    }
  }
}

/** Writes fields of the saga's record, and renews its lease, or throws LeaseLost if it is someone else's now. */
async function save(saga: Saga, fields: Record<string, string | number>, final = false): Promise<void> {
  const pairs = Object.entries(fields).flatMap(([field, value]) => [field, String(value)]);
  const ok = await persist(() => redis.eval(SAVE, 2, sagaKey(saga.trip.id), ACTIVE, saga.token, LEASE_MS, final ? "final" : "", saga.trip.id, ...pairs));
  if (ok !== 1) throw new LeaseLost(`saga ${saga.trip.id}: another orchestrator took it over`);
}

/**
 * Waits for the first answer from any attempt at a call: a success, or a decline. The newest
 * attempt failing, or CALL_TIMEOUT_MS passing, means no answer yet; an older attempt's failure is
 * old news. Older attempts are not cancelled: on a slow machine, a late answer is what keeps the
 * saga moving.
 */
function firstAnswer(attempts: Promise<void>[], what: string): Promise<void> {
  const newest = attempts.at(-1);
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new CallTimedOut(`${what}: no answer in ${CALL_TIMEOUT_MS} ms`)), CALL_TIMEOUT_MS);
    const end = (settle: () => void) => {
      clearTimeout(timer);
      settle();
    };
    for (const attempt of attempts) {
      attempt.then(
        () => end(resolve),
        (error: unknown) => {
          if (error instanceof StepDeclined || attempt === newest) end(() => reject(error as Error));
        },
      );
    }
  });
}

/**
 * Calls until the service answers. A StepDeclined is an answer ("no"); any other error, or no
 * answer in time, leaves us not knowing whether the effect happened, and only a retry with the
 * same key can tell us. Before each attempt the lease is renewed: an orchestrator that was paused
 * and lost its saga finds out here, before it calls anything.
 */
async function call(saga: Saga, operation: Operation, key: string): Promise<void> {
  const attempts: Promise<void>[] = [];
  for (let tries = 1; ; tries++) {
    await save(saga, {});
    const attempt = operation(saga.trip, key);
    attempt.catch(() => {}); // its outcome is read by firstAnswer, now or on a later try
    attempts.push(attempt);
    try {
      return await firstAnswer(attempts, key);
    } catch (error) {
      if (error instanceof StepDeclined) throw error;
      console.error(`trip ${saga.trip.id}: ${key} failed (${String(error)}), retrying`);
      await sleep(backoff(tries));
    }
  }
}

/** Runs forward from step `done`; on a decline, switches to compensating and rolls back. */
async function forward(saga: Saga, done: number): Promise<SagaResult> {
  for (let i = done; i < saga.steps.length; i++) {
    const step = saga.steps[i]!;
    try {
      await call(saga, step.run, keyOf(saga.trip, step.name));
    } catch (error) {
      if (!(error instanceof StepDeclined)) throw error;
      // Persist the change of direction before undoing anything: a crash from here on must
      // resume compensating, never retry the step that was declined.
      await save(saga, { status: "compensating", failed: step.name });
      return backward(saga, i, step.name);
    }
    // Written after the effect: a crash in between makes recovery call the step again, which the
    // idempotency key turns into a no-op. Written before, a crash would skip a step that never ran.
    await save(saga, { done: i + 1 });
  }
  await save(saga, { status: "completed" }, true);
  return { id: saga.trip.id, status: "completed" };
}

/** Undoes the steps that took effect, one by one. */
async function backward(saga: Saga, done: number, failed: string): Promise<SagaResult> {
  for (let i = 0; i < done; i++) {
    const step = saga.steps[i]!;
    if (step.compensate) await call(saga, step.compensate, keyOf(saga.trip, `${step.name}:undo`));
    await save(saga, { undone: i + 1 });
  }
  await save(saga, { status: "compensated" }, true);
  return { id: saga.trip.id, status: "compensated", failedStep: failed };
}

/** Books a trip: runs the saga to its end, completed or compensated. Throws if it lost the saga's lease. */
export async function bookTrip(trip: Trip): Promise<SagaResult> {
  const saga: Saga = { trip, steps: planFor(trip), token: randomUUID() };
  // The saga is on record, and leased, before its first step runs: a crash at any point leaves it findable.
  const created = await persist(() => redis.eval(CREATE, 2, sagaKey(trip.id), ACTIVE, JSON.stringify(trip), saga.token, LEASE_MS, trip.id));
  if (created !== 1) throw new Error(`trip ${trip.id} is already booked`);
  return forward(saga, 0);
}

/**
 * Finishes every unfinished saga whose lease ran out, in whichever direction it was going. A saga
 * whose orchestrator is alive (its lease renewed within LEASE_MS) is left to it, and when several
 * orchestrators recover at once, TAKE lets exactly one of them have each saga.
 */
export async function recover(): Promise<SagaResult[]> {
  const results: SagaResult[] = [];
  for (const id of await persist(() => redis.smembers(ACTIVE))) {
    const token = randomUUID();
    const taken = await persist(() => redis.eval(TAKE, 1, sagaKey(id), token, LEASE_MS));
    if (!Array.isArray(taken)) continue;
    const record: Record<string, string> = {};
    for (let i = 0; i + 1 < taken.length; i += 2) record[String(taken[i])] = String(taken[i + 1]);
    const trip = JSON.parse(record.trip!) as Trip;
    const saga: Saga = { trip, steps: planFor(trip), token };
    const done = Number(record.done ?? 0);
    console.log(`recovering trip ${id}: ${record.status} with ${done} step(s) in effect`);
    try {
      results.push(record.status === "compensating" ? await backward(saga, done, record.failed ?? "") : await forward(saga, done));
    } catch (error) {
      if (!(error instanceof LeaseLost)) throw error;
    }
  }
  return results;
}
