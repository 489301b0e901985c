// Read-only: the travel services a booking saga calls, and the plan of a trip's steps. Each
// service is a remote one in real life; here each leaves a trace in Redis that the grader reads,
// and obeys the faults the grader injects.
import { randomBytes } from "node:crypto";
import { createRedis, sleep } from "@faultline/lab";

export interface Trip {
  /** The saga's id: one booking, one saga. */
  id: string;
  traveller: string;
  /** Price in cents. */
  amount: number;
  /** Flight numbers ("LH4821"), one seat reserved on each, in order. */
  flights: string[];
}

/** Thrown by a forward step that said no (no seat left, card declined): it did not happen. */
export class StepDeclined extends Error {
  override name = "StepDeclined";
}

/** Thrown by a call whose effect happened but whose reply was lost, like a network timeout. */
export class ReplyLost extends Error {
  override name = "ReplyLost";
}

/** Thrown by a service that could not take the call (overloaded, restarting): nothing happened. */
export class ServiceUnavailable extends Error {
  override name = "ServiceUnavailable";
}

/**
 * A service operation. `key` is its idempotency key: the first call with a key takes effect,
 * later calls with the same key are answered without doing it again, as a payment API does.
 * A call may also throw ReplyLost or ServiceUnavailable, fail with a Redis error, run slow, or
 * never answer at all.
 */
export type Operation = (trip: Trip, key: string) => Promise<void>;

export interface Step {
  /** Unique within the trip's plan: "reserveSeat:LH4821", "bookHotel", "chargeCard", "sendTicket". */
  name: string;
  run: Operation;
  /** The last step needs none: once it succeeds, nothing after it can fail. */
  compensate?: Operation;
}

const redis = createRedis();

// The keys the grader reads (and, for faults, writes). Your code must not write to them.
const LOG = "trip:log"; // list of "<trip id> <operation>", one entry per effect that took place
const CALLS = "trip:calls"; // list of "<trip id> <operation> <outcome> <call id>", one entry per call
const BALANCE = "trip:balance"; // hash <trip id> → cents charged and not refunded
const CLOCK = "trip:clock"; // list of "<trip id> <operation> <call id>": when a stalled call should have been made again
const FAULTS = "faults"; // hash "<trip id> <operation>" → decline | lost-reply | unavailable | stall | hang | slow <ms>

// Apply an effect at most once per idempotency key: the marker, the log entry and the money in one step.
const APPLY_ONCE = `
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', 86400) then
  redis.call('RPUSH', KEYS[2], ARGV[1])
  if ARGV[3] ~= '0' then redis.call('HINCRBY', KEYS[3], ARGV[2], ARGV[3]) end
  return 1
end
return 0`;

/** A caller abandons a call after this long, then pauses at most RETRY_PAUSE_MS before calling again. */
const CALL_TIMEOUT_MS = 500;
const RETRY_PAUSE_MS = 200;

/** Faults that strike only the first call after the grader sets them. */
const FIRST_CALL_ONLY = new Set(["lost-reply", "unavailable", "stall"]);

const never = () => new Promise<never>(() => {});

function operation(name: string, money: -1 | 0 | 1 = 0): Operation {
  return async (trip, key) => {
    const began = performance.now();
    if (money !== 0 && !Number.isSafeInteger(trip.amount)) throw new TypeError(`${name} for trip ${trip.id}: amount must be an integer number of cents, got ${JSON.stringify(trip.amount)}`);
    const call = randomBytes(4).toString("hex"); // tells a call apart from a resent copy of its trace
    const trace = (outcome: string) => redis.rpush(CALLS, `${trip.id} ${name} ${outcome} ${call}`);
    const field = `${trip.id} ${name}`;
    let fault = await redis.hget(FAULTS, field);
    // A first-call fault belongs to the call that deletes it; a call at the same time runs normally.
    if (fault !== null && FIRST_CALL_ONLY.has(fault) && (await redis.hdel(FAULTS, field)) === 0) fault = null;
    if (fault === "decline") {
      await trace("declined");
      throw new StepDeclined(`${name} declined for trip ${trip.id}`);
    }
    if (fault === "unavailable") {
      await trace("unavailable");
      throw new ServiceUnavailable(`${name} for trip ${trip.id}: service unavailable, nothing done`);
    }
    if (fault === "hang") {
      await trace("hang");
      return never(); // no effect, no answer
    }
    await sleep(fault?.startsWith("slow ") ? Number(fault.slice(5)) : 10); // a remote call takes a moment
    const applied = (await redis.eval(APPLY_ONCE, 3, `idem:${name}:${key}`, LOG, BALANCE, `${trip.id} ${name}`, trip.id, String(money * trip.amount || 0))) === 1;
    const outcome = applied ? "applied" : "duplicate";
    if (fault === "stall") {
      await trace(`${outcome}+stalled`);
      // Notes when the caller should have called again, on this process's own clock: its timeout
      // from when the call began, then its longest pause. A loaded machine delays these timers as
      // much as the caller's, so the grader judges the retry against the note.
      const note = () => void redis.rpush(CLOCK, `${trip.id} ${name} ${call}`).catch(() => {});
      setTimeout(() => setTimeout(note, RETRY_PAUSE_MS), Math.max(0, began + CALL_TIMEOUT_MS - performance.now()));
      return never(); // the effect happened, and the answer never comes
    }
    if (fault === "lost-reply") {
      await trace(`${outcome}+lost`);
      throw new ReplyLost(`${name} for trip ${trip.id}: no reply (timed out)`);
    }
    await trace(outcome);
  };
}

export const bookHotel = operation("bookHotel");
export const cancelHotel = operation("cancelHotel");
export const chargeCard = operation("chargeCard", 1);
export const refundCard = operation("refundCard", -1);
export const sendTicket = operation("sendTicket");

/**
 * The saga's steps for one trip, in order: a seat on each flight, the hotel, the card, the ticket.
 * A failure at step i undoes steps i-1 … 0, in that order. The same trip always gets the same plan.
 */
export function planFor(trip: Trip): Step[] {
  return [
    ...trip.flights.map((flight) => ({ name: `reserveSeat:${flight}`, run: operation(`reserveSeat:${flight}`), compensate: operation(`releaseSeat:${flight}`) })),
    { name: "bookHotel", run: bookHotel, compensate: cancelHotel },
    { name: "chargeCard", run: chargeCard, compensate: refundCard },
    { name: "sendTicket", run: sendTicket },
  ];
}
