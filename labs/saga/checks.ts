import { defineChecks, type CheckContext, type RpcModule } from "../../lib/grader/index.ts";

interface Trip {
  id: string;
  traveller: string;
  amount: number;
}

// The keys services.ts writes and reads (instructions.md names them); the grader reads nothing else.
const LOG = "trip:log";
const CALLS = "trip:calls";
const FAULTS = "faults";

const STEPS = ["reserveSeat", "bookHotel", "chargeCard", "sendTicket"] as const;
const UNDO: Record<string, string | undefined> = { reserveSeat: "releaseSeat", bookHotel: "cancelHotel", chargeCard: "refundCard" };

type Fault = "decline" | "lost-reply" | "hang";

// An orchestrator that waits on a hanging call outlives the default wall time.
const LIMITS = { wallMs: 30_000 };

const TRAVELLERS = ["ada", "grace", "edsger", "barbara", "leslie", "tony"];

/**
 * A trip learner code cannot know in advance, even knowing the seed: id, traveller and amount come
 * from the runner's CSPRNG, so a saga can only be finished from what was recorded about it.
 */
function newTrip(t: CheckContext, label: string): Trip {
  return { id: t.id(`trip-${label}`), traveller: t.id(TRAVELLERS[Math.floor(t.unpredictable() * TRAVELLERS.length)]!), amount: 10_000 + Math.floor(t.unpredictable() * 90_000) };
}

/** Keys services.ts writes (and the grader's faults): the saga's own record must be elsewhere. */
const SERVICE_KEYS = [LOG, CALLS, FAULTS, "idem:*"];

/**
 * A declined step said no, and the saga turned round: calling it again could now say yes, after
 * some compensations already ran. The services' call trace shows each call.
 */
async function assertDeclinedOnce(t: CheckContext, trip: Trip, step: string): Promise<void> {
  const seen = await calls(t, trip.id);
  const asked = seen.filter((c) => c.startsWith(`${step} `));
  if (asked.length <= 1) return;
  t.fail({
    message: `${step} was declined for trip ${trip.id}, and then called again: ${asked.length} calls in all.`,
    expected: `${step} called once: a declined step is never retried`,
    actual: `calls: ${seen.join(", ")}`,
    hint: "A saga that was compensating must go on compensating from where it stopped, never run forward again: record the change of direction (and the declined step) in Redis before the first compensation, and have recover() read it. Idempotency keys make a repeated call harmless only for a call that took effect; a declined one could now succeed.",
  });
}

/** The effects that took place for one trip, in order, as operation names. */
async function effects(t: CheckContext, id: string): Promise<string[]> {
  return (await t.redis.lrange(LOG, 0, -1)).filter((e) => e.startsWith(`${id} `)).map((e) => e.slice(id.length + 1));
}

async function calls(t: CheckContext, id: string): Promise<string[]> {
  return (await t.redis.lrange(CALLS, 0, -1)).filter((e) => e.startsWith(`${id} `)).map((e) => e.slice(id.length + 1));
}

async function inject(t: CheckContext, trip: Trip, operation: string, fault: Fault): Promise<void> {
  await t.redis.hset(FAULTS, `${trip.id} ${operation}`, fault);
}

/** The effects a saga whose step `failAt` is declined must leave: the steps before it, then their undos, last first. */
function expectedEffects(failAt: number | null): string[] {
  if (failAt === null) return [...STEPS];
  const done = STEPS.slice(0, failAt);
  return [...done, ...[...done].reverse().flatMap((s) => UNDO[s] ?? [])];
}

/** Names the mistake an effect sequence shows, so the hint points at it. */
function diagnose(expected: string[], actual: string[], failAt: number | null): string {
  const failed = failAt === null ? null : STEPS[failAt]!;
  const counts = new Map<string, number>();
  for (const op of actual) counts.set(op, (counts.get(op) ?? 0) + 1);
  const twice = [...counts].filter(([, n]) => n > 1).map(([op]) => op);
  if (twice.length > 0) {
    return `${twice.join(", ")} took effect more than once. Give each operation of a saga one idempotency key that stays the same on every attempt (for example \`\${trip.id}:\${operation}\`): the services apply a key only once, but a new key on a retry is a new request.`;
  }
  if (failed && UNDO[failed] && actual.includes(UNDO[failed])) {
    return `${UNDO[failed]} ran, but ${failed} was declined: it never took effect, so there is nothing to undo. Compensate only the steps before the one that failed.`;
  }
  if (failAt !== null && STEPS.slice(failAt + 1).some((s) => actual.includes(s))) {
    return `Steps after the declined ${failed} ran. Stop going forward at the first StepDeclined.`;
  }
  const sameSet = expected.length === actual.length && [...expected].sort().join() === [...actual].sort().join();
  if (sameSet) return "The right operations ran, in the wrong order. Undo the completed steps last first: the most recent step is compensated first, the first step last.";
  const missing = expected.filter((op) => !actual.includes(op));
  if (missing.length > 0 && failAt !== null && missing.every((op) => Object.values(UNDO).includes(op))) {
    return `${missing.join(", ")} never ran. When a step is declined, compensate every step that took effect before it, and retry a compensation that throws until it succeeds.`;
  }
  return "Run the steps in order; at the first StepDeclined, compensate the steps that took effect, last first.";
}

async function assertEffects(t: CheckContext, trip: Trip, failAt: number | null, what: string): Promise<void> {
  const expected = expectedEffects(failAt);
  const actual = await effects(t, trip.id);
  if (actual.join() === expected.join()) return;
  t.fail({
    message: `Trip ${trip.id} (${what}) left the wrong effects in trip:log.`,
    expected: expected.join(" → ") || "(no effects)",
    actual: `${actual.join(" → ") || "(no effects)"}\ncalls: ${(await calls(t, trip.id)).join(", ") || "(none)"}`,
    hint: diagnose(expected, actual, failAt),
  });
}

function book(orchestrator: RpcModule, trip: Trip): Promise<unknown> {
  return orchestrator.call("bookTrip", [trip], 10_000);
}

function assertResult(t: CheckContext, trip: Trip, result: unknown, failAt: number | null, fn = "bookTrip"): void {
  const expected = failAt === null ? { id: trip.id, status: "completed" } : { id: trip.id, status: "compensated", failedStep: STEPS[failAt] };
  // Only the fields the instructions fix are compared: a result may carry more.
  const fields = ["id", "status", "failedStep"];
  const got = typeof result === "object" && result !== null ? Object.fromEntries(Object.entries(result).filter(([k, v]) => fields.includes(k) && v !== undefined)) : result;
  t.equal(got, expected, {
    message: result === undefined ? `${fn}() returned no result for trip ${trip.id}.` : `${fn}() returned the wrong result for trip ${trip.id}.`,
    hint: 'Return { id, status: "completed" } when every step took effect, and { id, status: "compensated", failedStep } naming the declined step when the saga was rolled back; recover() returns one such result for each saga it finished.',
  });
}

/**
 * Starts bookTrip without waiting for it, and waits until its call of `operation` hangs in the
 * service, so that the kill that follows lands mid-saga, at a known step.
 */
async function bookUntilHanging(t: CheckContext, orchestrator: RpcModule, trip: Trip, operation: string): Promise<void> {
  let returned: string | null = null;
  // Never answers when all goes well: the process is killed in the middle of the call.
  orchestrator.call("bookTrip", [trip], 20_000).then(
    (value) => (returned = `returned ${JSON.stringify(value)}`),
    (error: unknown) => (returned = `threw: ${(error as Error).message}`),
  );
  await t.waitFor(async () => returned !== null || (await calls(t, trip.id)).includes(`${operation} hang`), {
    message: `bookTrip never called ${operation} for trip ${trip.id} within 8 s.`,
    expected: `the saga to reach ${operation}`,
    hint: "Run the steps in order; at the first StepDeclined, compensate the steps that took effect, last first.",
    timeoutMs: 8000,
  });
  if (returned !== null) {
    t.fail({
      message: `bookTrip for trip ${trip.id} ended before it called ${operation}: it ${returned}.`,
      expected: `the saga to reach ${operation} (the grader holds that call to kill the orchestrator during it)`,
      actual: `calls: ${(await calls(t, trip.id)).join(", ") || "(none)"}`,
      hint: "Run the steps in order; at the first StepDeclined, compensate the steps that took effect, last first.",
    });
  }
}

export default defineChecks({
  timeoutMs: 30_000,
  // The live view: one trip after another, some declined at a random step, some losing a refund's
  // reply; every fifth trip hangs mid-saga, its orchestrator is SIGKILLed, and a new one recovers it.
  // Watch each saga's record in Redis move forward, turn round, and finish.
  playground: async (t) => {
    const limits = { wallMs: 70_000, cpuSeconds: 30 };
    let generation = 1;
    let orchestrator = await t.load("saga.ts", { name: `orchestrator-${generation}`, limits });
    for (let i = 1; !t.signal.aborted; i++) {
      const trip = newTrip(t, String(i));
      const declined = t.random() < 0.5 ? Math.floor(t.random() * STEPS.length) : null;
      if (declined !== null) await inject(t, trip, STEPS[declined]!, "decline");
      if (declined === 3 && t.random() < 0.5) await inject(t, trip, "refundCard", "lost-reply");
      const what = declined === null ? "no faults" : `${STEPS[declined]} will be declined`;
      if (i % 5 === 0) {
        const hangAt = declined === null ? STEPS[Math.floor(t.random() * STEPS.length)]! : declined === 0 ? null : UNDO[STEPS[declined - 1]!]!;
        if (hangAt) {
          await inject(t, trip, hangAt, "hang");
          t.note(`booking ${trip.id} (${what}); ${hangAt} will hang, and its orchestrator will be killed during it`);
          orchestrator.call("bookTrip", [trip], 20_000).catch(() => {});
          const hung = await t
            .waitFor(async () => (await calls(t, trip.id)).includes(`${hangAt} hang`), { message: "", timeoutMs: 5000 })
            .catch(() => false);
          if (t.signal.aborted) break;
          t.note(hung ? `SIGKILL ${orchestrator.name} during ${hangAt}` : `${trip.id} never reached ${hangAt}; killing ${orchestrator.name} anyway`);
          await orchestrator.kill();
          await t.redis.hdel(FAULTS, `${trip.id} ${hangAt}`);
          generation += 1;
          orchestrator = await t.load("saga.ts", { name: `orchestrator-${generation}`, limits });
          const recovered = await orchestrator.call("recover", [], 15_000).catch((error: unknown) => `recover failed: ${(error as Error).message}`);
          t.note(`${orchestrator.name} recover() → ${JSON.stringify(recovered)}`);
          continue;
        }
      }
      t.note(`booking ${trip.id} (${what})`);
      const result = await book(orchestrator, trip).catch((error: unknown) => `failed: ${(error as Error).message}`);
      t.note(`${trip.id} → ${JSON.stringify(result)}: ${(await effects(t, trip.id)).join(" → ") || "(no effects)"}`);
      await t.sleep(700);
    }
  },
  checks: {
    "happy-path": async (t) => {
      const orchestrator = await t.load("saga.ts", { name: "orchestrator", limits: LIMITS });
      const trip = newTrip(t, "happy");
      t.note(`booking ${trip.id} with no faults`);
      const result = await book(orchestrator, trip);
      await assertEffects(t, trip, null, "no step declined");
      assertResult(t, trip, result, null);
    },

    "compensates-in-reverse": async (t) => {
      const orchestrator = await t.load("saga.ts", { name: "orchestrator", limits: LIMITS });
      const trip = newTrip(t, "late-failure");
      await inject(t, trip, "sendTicket", "decline");
      t.note(`booking ${trip.id}; sendTicket, the last step, will be declined`);
      const result = await book(orchestrator, trip);
      await assertEffects(t, trip, 3, "sendTicket declined");
      assertResult(t, trip, result, 3);
    },

    "failure-at-each-step": async (t) => {
      const orchestrator = await t.load("saga.ts", { name: "orchestrator", limits: LIMITS });
      for (let k = 0; k < STEPS.length; k++) {
        const trip = newTrip(t, `fail-${k + 1}`);
        await inject(t, trip, STEPS[k]!, "decline");
        t.note(`booking ${trip.id}; step ${k + 1}, ${STEPS[k]}, will be declined`);
        const result = await book(orchestrator, trip);
        await assertEffects(t, trip, k, `${STEPS[k]} declined`);
        assertResult(t, trip, result, k);
      }
    },

    "compensation-retried-once": async (t) => {
      const orchestrator = await t.load("saga.ts", { name: "orchestrator", limits: LIMITS });
      const trip = newTrip(t, "lost-refund");
      await inject(t, trip, "sendTicket", "decline");
      await inject(t, trip, "refundCard", "lost-reply");
      t.note(`booking ${trip.id}; sendTicket will be declined, and the reply to the first refundCard lost after the refund took effect`);
      const result = await book(orchestrator, trip);
      const seen = await calls(t, trip.id);
      if (seen.filter((c) => c.startsWith("refundCard ")).length < 2) {
        t.fail({
          message: "refundCard threw (its reply was lost) and was never called again.",
          expected: "refundCard retried until it answers",
          actual: `calls: ${seen.join(", ")}`,
          hint: "A compensation that throws may or may not have happened. Retry it, with the same idempotency key, until it succeeds; a saga that gives up halfway leaves the traveller charged for nothing.",
        });
      }
      await assertEffects(t, trip, 3, "sendTicket declined, first refund reply lost");
      assertResult(t, trip, result, 3);
    },

    "resumes-after-crash": async (t) => {
      // Saga A dies going forward, in the middle of chargeCard.
      const first = await t.load("saga.ts", { name: "orchestrator-1", limits: LIMITS });
      const a = newTrip(t, "crash-forward");
      await inject(t, a, "chargeCard", "hang");
      await bookUntilHanging(t, first, a, "chargeCard");
      t.note(`SIGKILL orchestrator-1 while chargeCard for ${a.id} is in flight`);
      await first.kill();

      // Saga B dies going backward: sendTicket declined, killed in the middle of cancelHotel.
      const second = await t.load("saga.ts", { name: "orchestrator-2", limits: LIMITS });
      const b = newTrip(t, "crash-backward");
      await inject(t, b, "sendTicket", "decline");
      await inject(t, b, "cancelHotel", "hang");
      await bookUntilHanging(t, second, b, "cancelHotel");
      t.note(`SIGKILL orchestrator-2 while cancelHotel for ${b.id} is in flight, after refundCard took effect`);
      await second.kill();

      // Both orchestrators are dead: whatever the next one learns about these trips must be in Redis.
      await t.expectInRedis([a.id, a.traveller, b.id, b.traveller], {
        ignore: SERVICE_KEYS,
        message: "Both orchestrators were SIGKILLed mid-saga, and Redis (apart from the services' keys) holds no record of those trips: the next orchestrator cannot know which trips were unfinished, or what they were.",
        hint: "Before a saga's first step, record it in Redis: the trip itself (JSON.stringify(trip)), its direction and how many steps are in effect, and index the unfinished ones (a set of ids). The services' own trace is theirs, not yours to recover from.",
      });
      await t.redis.hdel(FAULTS, `${a.id} chargeCard`, `${b.id} cancelHotel`);
      const third = await t.load("saga.ts", { name: "orchestrator-3", limits: LIMITS });
      t.note(`a new orchestrator calls recover(): ${a.id} must complete, ${b.id} must finish compensating`);
      const before = [await effects(t, a.id), await effects(t, b.id)];
      const results = await third.call("recover", [], 15_000);
      const [doneA, doneB] = [await effects(t, a.id), await effects(t, b.id)];
      if (doneA.join() === before[0]!.join() && doneB.join() === before[1]!.join()) {
        t.fail({
          message: "recover() found no unfinished saga: both trips stopped where their orchestrators died.",
          expected: `${a.id}: ${expectedEffects(null).join(" → ")}\n${b.id}: ${expectedEffects(3).join(" → ")}`,
          actual: `${a.id}: ${doneA.join(" → ")}\n${b.id}: ${doneB.join(" → ")}`,
          hint: "A saga's progress kept in the orchestrator's memory dies with it. Record each saga in Redis (its trip, its direction, how many steps are in effect) as it goes, and index the unfinished ones so recover() can find them.",
        });
      }
      await assertEffects(t, a, null, "orchestrator killed during chargeCard, then recovered");
      await assertEffects(t, b, 3, "sendTicket declined, orchestrator killed during cancelHotel, then recovered");
      await assertDeclinedOnce(t, b, "sendTicket");
      const byId = new Map((Array.isArray(results) ? results : []).map((r: { id?: string }) => [r?.id, r]));
      assertResult(t, a, byId.get(a.id), null, "recover");
      assertResult(t, b, byId.get(b.id), 3, "recover");
    },
  },
});
