// Read-only: the travel services a booking saga calls. Each one is a remote service in real life;
// here each leaves a trace in Redis that the grader reads, and obeys the faults the grader injects.
import { createRedis, sleep } from "@faultline/lab";

export interface Trip {
  /** The saga's id: one booking, one saga. */
  id: string;
  traveller: string;
  /** Price in cents. */
  amount: number;
}

/** Thrown by a forward step that said no (no seat left, card declined): it did not happen. */
export class StepDeclined extends Error {
  override name = "StepDeclined";
}

/** Thrown by a call whose effect happened but whose reply was lost, like a network timeout. */
export class ReplyLost extends Error {
  override name = "ReplyLost";
}

/**
 * A service operation. `key` is its idempotency key: the first call with a key takes effect,
 * later calls with the same key are answered without doing it again, as a payment API does.
 */
export type Operation = (trip: Trip, key: string) => Promise<void>;

const redis = createRedis();

// The keys the grader reads (and, for faults, writes). Your code must not write to them.
const LOG = "trip:log"; // list of "<trip id> <operation>", one entry per effect that took place
const CALLS = "trip:calls"; // list of "<trip id> <operation> <outcome>", one entry per call
const FAULTS = "faults"; // hash "<trip id> <operation>" → decline | lost-reply | hang

// Apply an effect at most once per idempotency key: the marker and the log entry in one step.
const APPLY_ONCE = `
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', 86400) then
  redis.call('RPUSH', KEYS[2], ARGV[1])
  return 1
end
return 0`;

function operation(name: string): Operation {
  return async (trip, key) => {
    const fault = await redis.hget(FAULTS, `${trip.id} ${name}`);
    if (fault === "decline") {
      await redis.rpush(CALLS, `${trip.id} ${name} declined`);
      throw new StepDeclined(`${name} declined for trip ${trip.id}`);
    }
    if (fault === "hang") {
      await redis.rpush(CALLS, `${trip.id} ${name} hang`);
      await new Promise<never>(() => {}); // never answers; the grader kills the process meanwhile
    }
    await sleep(10); // a remote call takes a moment
    const applied = (await redis.eval(APPLY_ONCE, 2, `idem:${name}:${key}`, LOG, `${trip.id} ${name}`)) === 1;
    if (fault === "lost-reply") {
      await redis.hdel(FAULTS, `${trip.id} ${name}`); // only the first reply is lost
      await redis.rpush(CALLS, `${trip.id} ${name} ${applied ? "applied" : "duplicate"}, reply lost`);
      throw new ReplyLost(`${name} for trip ${trip.id}: no reply (timed out)`);
    }
    await redis.rpush(CALLS, `${trip.id} ${name} ${applied ? "applied" : "duplicate"}`);
  };
}

export const reserveSeat = operation("reserveSeat");
export const releaseSeat = operation("releaseSeat");
export const bookHotel = operation("bookHotel");
export const cancelHotel = operation("cancelHotel");
export const chargeCard = operation("chargeCard");
export const refundCard = operation("refundCard");
export const sendTicket = operation("sendTicket");
