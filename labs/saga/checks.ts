import { defineChecks, type CheckContext, type RpcModule } from "../../lib/grader/index.ts";

interface Trip {
  id: string;
  traveller: string;
  amount: number;
  flights: string[];
}

interface SagaResult {
  id?: string;
  status?: string;
  failedStep?: string;
}

type Entry = ReturnType<CheckContext["commands"]>[number];

// The keys services.ts writes and reads (instructions.md names them); the grader reads nothing else by name.
const LOG = "trip:log";
const CALLS = "trip:calls";
const BALANCE = "trip:balance";
const CLOCK = "trip:clock";
const FAULTS = "faults";
/** Keys services.ts writes (and the grader's faults): the saga's own record must be elsewhere. */
const SERVICE_KEYS = [LOG, CALLS, BALANCE, CLOCK, FAULTS, "idem:*"];

// The timing rules instructions.md states, and the windows the checks hold them to.
const CALL_TIMEOUT_MS = 500;
const MAX_BACKOFF_MS = 200;
const LEASE_MS = 1000;
/** recover() is called this long after an orchestrator's last sign of life: its lease has surely run out. */
const TAKEOVER_AFTER_MS = LEASE_MS + 150;
/** An orchestrator paused this long still holds its saga: its lease is live. */
const SHORT_PAUSE_MS = 650;
/**
 * When a stalled call must be called again: not before `min` ms after it began (a timer never
 * fires early), and at most `slack` ms after the stalled service's own timers in the caller's
 * process (CALL_TIMEOUT_MS from when the call began, then MAX_BACKOFF_MS) mark it in trip:clock.
 * On an idle machine that is 850 ms after the call began; a loaded machine delays both alike.
 */
const RETRY_WINDOW_MS = { min: CALL_TIMEOUT_MS - 150, slack: 150 };
/**
 * A call made again sooner than this after the last one began was abandoned before the timeout.
 * 150 ms less than the timeout: the grader's clock reads when each call reaches the proxy, and a
 * loaded runner may read the first late.
 */
const ABANDONED_BEFORE_MS = CALL_TIMEOUT_MS - 150;
/** How long a slow service takes to answer: well inside the call timeout, so it must be waited for. */
const SLOW_MS = { min: 200, max: 300 };

type Fault = "decline" | "lost-reply" | "unavailable" | "stall" | "hang" | `slow ${number}`;

// An orchestrator that waits on a hanging call outlives the default wall time.
const LIMITS = { wallMs: 30_000 };

const TRAVELLERS = ["ada", "grace", "edsger", "barbara", "leslie", "tony"];
const AIRLINES = ["LH", "AF", "KL", "BA", "IB", "AZ", "SK", "LX", "OS", "TP"];

/**
 * A trip learner code cannot know in advance, even knowing the seed: id, traveller, amount and
 * flight numbers come from the runner's CSPRNG. The number of flights (so of steps) is the check's
 * shape, from the seed, unless the check needs a given one.
 */
function newTrip(t: CheckContext, label: string, legs = 1 + Math.floor(t.random() * 3)): Trip {
  const flights = new Set<string>();
  while (flights.size < legs) flights.add(`${AIRLINES[Math.floor(t.unpredictable() * AIRLINES.length)]}${100 + Math.floor(t.unpredictable() * 9900)}`);
  // From a cent to a hundred million euros, every order of magnitude as likely as the next.
  const amount = 1 + Math.floor(t.unpredictable() * 10 ** (1 + Math.floor(t.unpredictable() * 10)));
  return { id: t.id(`trip-${label}`), traveller: t.id(TRAVELLERS[Math.floor(t.unpredictable() * TRAVELLERS.length)]!), amount, flights: [...flights] };
}

interface PlannedStep {
  name: string;
  undo?: string;
}

/** services.ts planFor, by name: a seat per flight, the hotel, the card, the ticket. */
function planOf(trip: Trip): PlannedStep[] {
  return [
    ...trip.flights.map((flight) => ({ name: `reserveSeat:${flight}`, undo: `releaseSeat:${flight}` })),
    { name: "bookHotel", undo: "cancelHotel" },
    { name: "chargeCard", undo: "refundCard" },
    { name: "sendTicket" },
  ];
}

/** The effects a saga whose step `failAt` is declined must leave: the steps before it, then their undos, last first. */
function expectedEffects(trip: Trip, failAt: number | null): string[] {
  const plan = planOf(trip);
  if (failAt === null) return plan.map((s) => s.name);
  const done = plan.slice(0, failAt);
  return [...done.map((s) => s.name), ...[...done].reverse().flatMap((s) => s.undo ?? [])];
}

const pick = <T>(t: CheckContext, items: readonly T[]): T => items[Math.floor(t.random() * items.length)]!;
/** An integer in [min, max], from the seed. */
const between = (t: CheckContext, min: number, max: number) => min + Math.floor(t.random() * (max - min + 1));

function shuffled<T>(t: CheckContext, items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(t.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// What the services recorded, read with the grader's own connection.

/** The effects that took place for one trip, in order, as operation names. */
async function effects(t: CheckContext, id: string): Promise<string[]> {
  return (await t.redis.lrange(LOG, 0, -1)).filter((e) => e.startsWith(`${id} `)).map((e) => e.slice(id.length + 1));
}

interface Call {
  op: string;
  outcome: string;
}

/** Every call a service traced for one trip, once each (a trace resent after a cut connection carries the same call id). */
async function calls(t: CheckContext, id: string): Promise<Call[]> {
  const seen = new Set<string>();
  const out: Call[] = [];
  for (const entry of await t.redis.lrange(CALLS, 0, -1)) {
    if (!entry.startsWith(`${id} `)) continue;
    const [, op = "", outcome = "", call = ""] = entry.split(" ");
    if (seen.has(call)) continue;
    seen.add(call);
    out.push({ op, outcome });
  }
  return out;
}

const showCalls = (all: Call[]) => all.map((c) => `${c.op} ${c.outcome}`).join(", ") || "(none)";

/**
 * The start of every call a service received for one trip, from the command log: a call's first
 * command reads its fault from the faults hash, even a call whose trace a fault later lost. Each
 * entry names the program that made the call and when it reached the proxy.
 */
function starts(t: CheckContext, id: string, since = 0): Entry[] {
  return t.commands("HGET").filter((e) => e.seq > since && e.args[1] === FAULTS && (e.args[2]?.startsWith(`${id} `) ?? false));
}
const opOf = (e: Entry) => e.args[2]?.split(" ")[1] ?? "?";

/** The services' own commands, sent on an orchestrator's connection; everything else it sends is its own. */
function isServiceCommand(e: Entry): boolean {
  const [name, key] = e.args;
  return (
    ((name === "HGET" || name === "HDEL") && key === FAULTS) || (name === "RPUSH" && (key === CALLS || key === CLOCK)) || (name === "EVAL" && e.args[4] === LOG)
  );
}

/** When `owner` last sent a command of its own (a lease renewal, a progress write) before `at`, on the grader's clock. */
function lastOwnCommand(t: CheckContext, owner: string, at: number): number | null {
  let last: number | null = null;
  for (const e of t.commands()) if (e.owner === owner && e.at < at && !isServiceCommand(e)) last = e.at;
  return last;
}

interface Takeover {
  from: string;
  to: string;
  op: string;
  /** How long the program that had been driving the saga had sent nothing of its own when the next one took it. */
  silentMs: number;
}

/**
 * Every time the program calling the services for a trip changed, and whether the lease could
 * have run out by then. The new driver took the saga with its first command of its own about the
 * trip since the old one's last call (or, failing one, with that call). A correct orchestrator
 * renews its lease with its own commands, so one silent less than LEASE_MS before that still held
 * it: the saga was taken from under it. (One silent longer, on a machine too loaded to keep time,
 * may lawfully be replaced; its own late commands after the take do not count.)
 */
function takeovers(t: CheckContext, id: string): Takeover[] {
  const made = starts(t, id);
  const out: Takeover[] = [];
  for (let i = 1; i < made.length; i++) {
    const [prev, cur] = [made[i - 1]!, made[i]!];
    if (prev.owner === cur.owner) continue;
    const took =
      t.commands().find((e) => e.owner === cur.owner && e.at > prev.at && e.at <= cur.at && !isServiceCommand(e) && e.args.some((a) => a.includes(id)))?.at ??
      cur.at;
    const silentSince = Math.max(lastOwnCommand(t, prev.owner ?? "", took) ?? prev.at, prev.at);
    out.push({ from: prev.owner ?? "?", to: cur.owner ?? "?", op: opOf(cur), silentMs: Math.round(took - silentSince) });
  }
  return out;
}
/** A takeover the lease forbids: the previous orchestrator had shown signs of life less than a lease ago. */
const unlawful = (x: Takeover) => x.silentMs < LEASE_MS - 50;
const showTakeover = (x: Takeover) => `${x.to} took it (then called ${x.op}) ${x.silentMs} ms after ${x.from}'s last command`;

async function inject(t: CheckContext, trip: Trip, operation: string, fault: Fault): Promise<void> {
  await t.redis.hset(FAULTS, `${trip.id} ${operation}`, fault);
  const what: Record<string, string> = {
    decline: "declines",
    "lost-reply": "loses its first reply after taking effect",
    unavailable: "throws ServiceUnavailable on its first call, before any effect",
    stall: "takes effect on its first call and then never answers",
    hang: "never answers",
  };
  t.fault(`handler ${operation} for ${trip.id} ${what[fault] ?? `answers only after ${fault.slice(5)} ms`}`);
}

async function clearFaults(t: CheckContext, trip: Trip, ...operations: string[]): Promise<void> {
  if (operations.length > 0) await t.redis.hdel(FAULTS, ...operations.map((op) => `${trip.id} ${op}`));
}

// ---------------------------------------------------------------------------------------------
// Judging what a saga left behind.

/** Names the mistake an effect sequence shows, so the hint points at it. */
function diagnose(trip: Trip, expected: string[], actual: string[], failAt: number | null): string {
  const plan = planOf(trip);
  const failed = failAt === null ? null : plan[failAt]!;
  const counts = new Map<string, number>();
  for (const op of actual) counts.set(op, (counts.get(op) ?? 0) + 1);
  const twice = [...counts].filter(([, n]) => n > 1).map(([op]) => op);
  if (twice.length > 0) {
    return `${twice.join(", ")} took effect more than once. Give each operation of a saga one idempotency key that stays the same on every attempt and in every process (for example \`\${trip.id}:\${step.name}\`): the services apply a key only once, but a new key on a retry is a new request.`;
  }
  if (failed?.undo && actual.includes(failed.undo)) {
    return `${failed.undo} ran, but ${failed.name} was declined: it never took effect, so there is nothing to undo. Compensate only the steps before the one that failed.`;
  }
  if (failAt !== null && plan.slice(failAt + 1).some((s) => actual.includes(s.name))) {
    return `Steps after the declined ${failed!.name} ran. Stop going forward at the first StepDeclined.`;
  }
  const sameSet = expected.length === actual.length && [...expected].sort().join() === [...actual].sort().join();
  if (sameSet)
    return "The right operations ran, in the wrong order. Undo the completed steps last first: the most recent step is compensated first, the first step last.";
  const missing = expected.filter((op) => !actual.includes(op));
  if (missing.length > 0 && missing.every((op) => plan.some((s) => s.undo === op))) {
    return `${missing.join(", ")} never ran. When a step is declined, compensate every step that took effect before it, and retry a compensation that fails or does not answer until it succeeds; a record that says a compensation is done before it ran makes the next orchestrator skip it.`;
  }
  if (missing.length > 0) {
    return `${missing.join(", ")} never took effect. A call that throws anything but StepDeclined, or does not answer, may not have happened: call it again with the same key until it answers. And record a step as done only after it answered, never before: a record written ahead of the effect makes the next orchestrator skip a step that never ran.`;
  }
  return "Run the steps in order; at the first StepDeclined, compensate the steps that took effect, last first.";
}

/** The saga's effects, in order, and the money: charged once when completed, nothing left when compensated. */
async function assertOutcome(t: CheckContext, trip: Trip, failAt: number | null, what: string): Promise<void> {
  const expected = expectedEffects(trip, failAt);
  const actual = await effects(t, trip.id);
  if (actual.join() !== expected.join()) {
    t.fail({
      message: `Trip ${trip.id} (${what}) left the wrong effects in trip:log.`,
      expected: expected.join(" → ") || "(no effects)",
      actual: `${actual.join(" → ") || "(no effects)"}\ncalls: ${showCalls(await calls(t, trip.id))}`,
      hint: diagnose(trip, expected, actual, failAt),
    });
  }
  const balance = Number((await t.redis.hget(BALANCE, trip.id)) ?? 0);
  const owed = failAt === null ? trip.amount : 0;
  if (balance !== owed) {
    t.fail({
      message: `Trip ${trip.id} (${what}): the card's balance for it is ${balance} cents, but the trip costs ${trip.amount} cents and ${failAt === null ? "was completed" : "was compensated"}.`,
      expected: `${owed} cents charged and not refunded`,
      actual: `${balance} cents`,
      hint: "chargeCard and refundCard take the amount from the trip you pass them. Store the trip whole (JSON.stringify) and give every step, in every process, the trip exactly as it was booked.",
    });
  }
}

/**
 * A declined step said no, and the saga turned round: calling it again could now say yes, after
 * some compensations already ran. The services' call trace shows each call.
 */
async function assertDeclinedOnce(t: CheckContext, trip: Trip, step: string, context: string): Promise<void> {
  // Called again before any compensation (its answer was late, or its orchestrator died before it
  // heard it) is just a retry; called again once a compensation began is going forward again.
  const undos = new Set(planOf(trip).flatMap((s) => s.undo ?? []));
  const made = starts(t, trip.id);
  const turned = made.find((e) => undos.has(opOf(e)));
  const again = turned ? made.filter((e) => e.seq > turned.seq && opOf(e) === step) : [];
  if (again.length === 0) return;
  t.fail({
    message: `${step} was declined for trip ${trip.id}, and called again by ${again.map((e) => e.owner).join(", ")} after ${opOf(turned!)} had begun compensating (${context}).`,
    expected: `${step} never called again once compensation began`,
    actual: `calls: ${showCalls(await calls(t, trip.id))}`,
    hint: "A saga that was compensating must go on compensating from where it stopped, never run forward again: record the change of direction (and the declined step) in Redis before the first compensation, retry that write until Redis takes it, and have recover() read it. Idempotency keys make a repeated call harmless only for a call that took effect; a declined one could now succeed.",
  });
}

function assertResult(t: CheckContext, trip: Trip, result: unknown, failAt: number | null, fn = "bookTrip"): void {
  const plan = planOf(trip);
  const expected = failAt === null ? { id: trip.id, status: "completed" } : { id: trip.id, status: "compensated", failedStep: plan[failAt]!.name };
  // Only the fields the instructions fix are compared: a result may carry more.
  const r = (result ?? {}) as SagaResult;
  const got = failAt === null ? { id: r.id, status: r.status } : { id: r.id, status: r.status, failedStep: r.failedStep };
  t.equal(got, expected, {
    message: `${fn}() did not report trip ${trip.id} as it ended.`,
    hint: 'Return { id, status: "completed" } when every step succeeded, or { id, status: "compensated", failedStep } naming the declined step once the compensations ran.',
  });
}

function book(orchestrator: RpcModule, trip: Trip, timeoutMs = 10_000): Promise<unknown> {
  return orchestrator.call("bookTrip", [trip], timeoutMs);
}

type Settled = { ok: true; value: unknown } | { ok: false; error: string };
const settle = (p: Promise<unknown>): Promise<Settled> =>
  p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error: (error as Error).message }),
  );
const showSettled = (s: Settled) => (s.ok ? `returned ${JSON.stringify(s.value)}` : `failed: ${s.error}`);

/**
 * Loads one orchestrator per name, one after another: loaded all at once on a busy machine, the
 * last ones can outlast the harness's 5 s limit for a module to load.
 */
async function loadEach(t: CheckContext, names: string[]): Promise<RpcModule[]> {
  const loaded: RpcModule[] = [];
  for (const name of names) loaded.push(await t.load("saga.ts", { name, limits: LIMITS }));
  return loaded;
}

async function sleepUntil(t: CheckContext, at: number): Promise<void> {
  const wait = at - performance.now();
  if (wait > 0) await t.sleep(wait);
}

// ---------------------------------------------------------------------------------------------
// Faults at a given command of a given call: the grader watches the command log and acts the
// moment an orchestrator's service call reaches a point, before that program can send anything else.

/**
 * Listens to the proxy's command log for the check's duration. An action runs synchronously when
 * the command it waits for has been answered, so a crash point or an injected failure it sets is in
 * place before the program's next command reaches the proxy.
 */
class Watcher {
  private readonly listeners = new Set<(entry: Entry) => void>();
  constructor(private readonly t: CheckContext) {}

  on<T>(when: (entry: Entry) => boolean, action: (entry: Entry) => T): Promise<Awaited<T>> {
    return new Promise<Awaited<T>>((resolve, reject) => {
      const listener = (entry: Entry) => {
        if (!when(entry)) return;
        this.listeners.delete(listener);
        this.t.proxy.off("command", listener);
        try {
          resolve(action(entry) as Awaited<T>);
        } catch (error) {
          reject(error as Error);
        }
      };
      this.listeners.add(listener);
      this.t.proxy.on("command", listener);
    });
  }

  dispose(): void {
    for (const listener of this.listeners) this.t.proxy.off("command", listener);
    this.listeners.clear();
  }
}

/** A check with a Watcher that is removed however the check ends (the proxy outlives the check). */
const watched = (body: (t: CheckContext, w: Watcher) => Promise<void>) => async (t: CheckContext) => {
  const w = new Watcher(t);
  try {
    await body(t, w);
  } finally {
    w.dispose();
  }
};

/** `owner`'s call of `op` for `trip` has read its fault: the call is under way, its effect not yet applied. */
const callStarted = (owner: string, trip: Trip, op: string) => (e: Entry) =>
  e.owner === owner && e.args[0] === "HGET" && e.args[1] === FAULTS && e.args[2] === `${trip.id} ${op}` && e.reply !== undefined;
/** `owner`'s call of `op` has traced its outcome, its last command: the answer is on its way to the orchestrator. */
const callTraced =
  (owner: string, trip: Trip, op: string, outcome = "") =>
  (e: Entry) =>
    e.owner === owner &&
    e.args[0] === "RPUSH" &&
    e.args[1] === CALLS &&
    (e.args[2]?.startsWith(`${trip.id} ${op} ${outcome}`) ?? false) &&
    e.reply !== undefined;

/** Where in a service call an orchestrator dies: its effect is applied by the EVAL, its trace by the RPUSH that ends it. */
type CallPoint = "before-effect" | "after-effect" | "after-answer";
const CRASH_AT = {
  "before-effect": { match: "EVAL", when: "before" },
  "after-effect": { match: "EVAL", when: "after" },
  "after-answer": { match: "RPUSH", when: "after" },
} as const;
const describePoint = (op: string, at: CallPoint) =>
  at === "before-effect"
    ? `just before ${op} took effect`
    : at === "after-effect"
      ? `right after ${op} took effect, before its answer`
      : `after ${op} took effect and answered, before the answer reached it`;

/** Arms a crash point in `orchestrator`'s call of `op`; resolves with the command it died at once it has died. */
function crashInCall(t: CheckContext, w: Watcher, orchestrator: RpcModule, trip: Trip, op: string, at: CallPoint): Promise<Entry | null> {
  return w.on(callStarted(orchestrator.name, trip, op), () => t.crashAt(orchestrator, CRASH_AT[at]));
}

/** Waits for a crash point to fire; fails naming the point when the orchestrator never reached it. */
async function awaitCrash(
  t: CheckContext,
  crash: Promise<Entry | null>,
  orchestrator: RpcModule,
  trip: Trip,
  point: string,
  booking: Promise<Settled>,
): Promise<void> {
  const fired = await Promise.race([crash, t.sleep(10_000).then(() => undefined)]);
  if (fired) return;
  const ended = await Promise.race([booking, t.sleep(0).then(() => null)]);
  t.fail({
    message: `${orchestrator.name} never got to the moment the grader was waiting for (${point}) in trip ${trip.id}${ended ? `: bookTrip ${showSettled(ended)}` : " within 10 s"}.`,
    actual: `effects: ${(await effects(t, trip.id)).join(" → ") || "(none)"}\ncalls: ${showCalls(await calls(t, trip.id))}`,
    hint: "Run the steps in order, calling each service with the trip and its key; at the first StepDeclined, compensate the steps that took effect, last first.",
  });
}

/**
 * Books a trip that a crash point will end. A bookTrip that throws first, because Redis refused a
 * write to the saga's record, is also honest: the saga is left to recover(), as after a crash.
 */
async function crashOrGiveUp(t: CheckContext, crash: Promise<Entry | null>, orchestrator: RpcModule, trip: Trip, point: string): Promise<void> {
  const booking = settle(book(orchestrator, trip));
  const first = await Promise.race([crash.then(() => "crash" as const), booking.then((s) => (s.ok ? null : s))]);
  if (first === "crash") return;
  // A call to a process being killed fails a moment before the crash point reports it.
  if (first !== null && (await Promise.race([crash, t.sleep(300).then(() => null)]))) return;
  if (first !== null) {
    t.note(`bookTrip for ${trip.id} gave up before ${orchestrator.name} got to be killed (${first.error}): the saga is left to recover()`);
    await orchestrator.kill();
    return;
  }
  await awaitCrash(t, crash, orchestrator, trip, point, booking);
}

/**
 * Starts bookTrip without waiting for it, and waits until its call of `operation` hangs in the
 * service, so that the kill that follows lands mid-saga, at a known step.
 */
async function bookUntilHanging(t: CheckContext, orchestrator: RpcModule, trip: Trip, operation: string): Promise<void> {
  let ended: Settled | null = null;
  // Never answers when all goes well: the process is killed in the middle of the call.
  void settle(orchestrator.call("bookTrip", [trip], 20_000)).then((s) => (ended = s));
  await t.waitFor(async () => ended !== null || (await calls(t, trip.id)).some((c) => c.op === operation && c.outcome === "hang"), {
    message: `bookTrip never called ${operation} for trip ${trip.id} within 12 s.`,
    expected: `the saga to reach ${operation}`,
    hint: "Run the steps in order; at the first StepDeclined, compensate the steps that took effect, last first.",
    timeoutMs: 12_000,
  });
  if (ended !== null) {
    t.fail({
      message: `bookTrip for trip ${trip.id} ended before it called ${operation}: it ${showSettled(ended)}.`,
      expected: `the saga to reach ${operation} (the grader holds that call to kill the orchestrator during it)`,
      actual: `calls: ${showCalls(await calls(t, trip.id))}`,
      hint: "Run the steps in order; at the first StepDeclined, compensate the steps that took effect, last first.",
    });
  }
}

/**
 * When a stalled call's caller should have called again at the latest, on the grader's clock: the
 * stalled service's own timers, in the caller's process, mark CALL_TIMEOUT_MS and then
 * MAX_BACKOFF_MS after the call began (trip:clock), as late as that process's timers are.
 */
async function retryDue(t: CheckContext, trip: Trip, op: string, began: Entry): Promise<{ at: number; lateMs: number }> {
  const idle = began.at + CALL_TIMEOUT_MS + MAX_BACKOFF_MS;
  const mark = () => t.commands("RPUSH").find((e) => e.args[1] === CLOCK && (e.args[2]?.startsWith(`${trip.id} ${op} `) ?? false));
  // The retry came late, so the mark is due already; it may still be on its way.
  const found = mark() ?? (await t.sleep(300).then(mark));
  const at = Math.max(idle, found?.at ?? idle);
  return { at, lateMs: Math.round(at - idle) };
}

/** When `owner` last sent a command of its own mentioning the trip between `after` and `before`, or `before`. */
function reactionTo(t: CheckContext, owner: string, trip: Trip, after: number, before: number): number {
  let last = before;
  for (const e of t.commands())
    if (e.owner === owner && e.at > after && e.at < before && !isServiceCommand(e) && e.args.some((a) => a.includes(trip.id))) last = e.at;
  return last;
}

const resultsById = (results: unknown): Map<string | undefined, SagaResult> =>
  new Map((Array.isArray(results) ? (results as SagaResult[]) : []).map((r) => [r?.id, r]));

const leaseHint =
  "Lease each saga: its record names the orchestrator driving it and when its lease runs out (1 s after its last renewal, on one clock: Redis's TIME or PX expiry). Renew it before every service call, make every write to the saga conditional on still holding it (one Lua script: check the owner, then write), and have recover() take a saga, in one atomic step, only when its lease has run out.";

// ---------------------------------------------------------------------------------------------
// A snapshot of what orchestrators keep about one trip, to see who writes to it and when.

/** Every entry of every key outside the services' keys that mentions the trip (or whose name does). */
async function recordOf(t: CheckContext, id: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const mine = (...texts: string[]) => texts.some((s) => s.includes(id));
  let cursor = "0";
  do {
    const [next, keys] = await t.redis.scan(cursor, "COUNT", 1000);
    cursor = next;
    for (const key of keys) {
      if ([LOG, CALLS, BALANCE, CLOCK, FAULTS].includes(key) || key.startsWith("idem:")) continue;
      const all = key.includes(id);
      const type = await t.redis.type(key);
      if (type === "string") {
        const value = (await t.redis.get(key)) ?? "";
        if (all || mine(value)) out.set(key, value);
      } else if (type === "hash") {
        for (const [field, value] of Object.entries(await t.redis.hgetall(key))) if (all || mine(field, value)) out.set(`${key} ${field}`, value);
      } else if (type === "set") {
        for (const member of await t.redis.smembers(key)) if (all || mine(member)) out.set(`${key} ∋ ${member}`, "");
      } else if (type === "zset") {
        const flat = await t.redis.zrange(key, 0, -1, "WITHSCORES");
        for (let i = 0; i + 1 < flat.length; i += 2) if (all || mine(flat[i]!)) out.set(`${key} ∋ ${flat[i]}`, flat[i + 1]!);
      } else if (type === "list") {
        for (const [i, value] of (await t.redis.lrange(key, 0, -1)).entries()) if (all || mine(value)) out.set(`${key}[${i}]`, value);
      }
    }
  } while (cursor !== "0");
  return out;
}

/** What changed between two snapshots; a key that vanished entirely (an expiry) is not counted. */
function changes(before: Map<string, string>, after: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [entry, value] of after) if (before.get(entry) !== value) out.push(`${entry}: ${before.has(entry) ? `${before.get(entry)} → ` : "new, "}${value}`);
  const liveKeys = new Set([...after.keys()].map((e) => e.split(/[ [∋]/)[0]));
  for (const [entry] of before) if (!after.has(entry) && liveKeys.has(entry.split(/[ [∋]/)[0])) out.push(`${entry}: removed`);
  return out;
}

export default defineChecks({
  timeoutMs: 30_000,
  // The live view: one trip after another, some declined at a random step, some losing a
  // compensation's reply or stalling; every fifth trip hangs mid-saga, its orchestrator is
  // SIGKILLed, and a new one recovers it once the lease has run out. Watch each saga's record in
  // Redis move forward, turn round, and finish.
  playground: async (t) => {
    const limits = { wallMs: 70_000, cpuSeconds: 30 };
    let generation = 1;
    let orchestrator = await t.load("saga.ts", { name: `orchestrator-${generation}`, limits });
    for (let i = 1; !t.signal.aborted; i++) {
      const trip = newTrip(t, String(i));
      const plan = planOf(trip);
      const declined = t.random() < 0.5 ? Math.floor(t.random() * plan.length) : null;
      if (declined !== null) await inject(t, trip, plan[declined]!.name, "decline");
      if (declined !== null && declined > 0 && t.random() < 0.5)
        await inject(t, trip, pick(t, plan.slice(0, declined)).undo!, pick(t, ["lost-reply", "stall"] as const));
      const what = declined === null ? "no step declined" : `${plan[declined]!.name} will be declined`;
      if (i % 5 === 0) {
        const hangAt = declined === null ? pick(t, plan).name : declined === 0 ? null : plan[declined - 1]!.undo!;
        if (hangAt) {
          await inject(t, trip, hangAt, "hang");
          t.note(`booking ${trip.id} (${what}); ${hangAt} will hang, and its orchestrator will be killed during it`);
          orchestrator.call("bookTrip", [trip], 20_000).catch(() => {});
          const hung = await t
            .waitFor(async () => (await calls(t, trip.id)).some((c) => c.op === hangAt && c.outcome === "hang"), { message: "", timeoutMs: 5000 })
            .catch(() => false);
          if (t.signal.aborted) break;
          t.note(hung ? `SIGKILL ${orchestrator.name} during ${hangAt}` : `${trip.id} never reached ${hangAt}; killing ${orchestrator.name} anyway`);
          await orchestrator.kill();
          await clearFaults(t, trip, hangAt);
          generation += 1;
          orchestrator = await t.load("saga.ts", { name: `orchestrator-${generation}`, limits });
          await t.sleep(TAKEOVER_AFTER_MS);
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
      // Two trips at once, one of them with several flights: a seat per flight, each its own step.
      const trips = [newTrip(t, "happy"), newTrip(t, "happy", between(t, 2, 3))];
      t.note(
        `booking ${trips.map((trip) => `${trip.id} (${trip.flights.length} flight(s), ${trip.amount} cents)`).join(" and ")} at the same time, with no faults`,
      );
      const results = await Promise.all(trips.map((trip) => book(orchestrator, trip)));
      for (const [i, trip] of trips.entries()) {
        await assertOutcome(t, trip, null, "no step declined");
        assertResult(t, trip, results[i], null);
      }
    },

    "compensates-in-reverse": async (t) => {
      const orchestrator = await t.load("saga.ts", { name: "orchestrator", limits: LIMITS });
      const trip = newTrip(t, "late-failure");
      await inject(t, trip, "sendTicket", "decline");
      t.note(`booking ${trip.id} (${trip.flights.length} flight(s)); sendTicket, the last step, will be declined`);
      const result = await book(orchestrator, trip);
      await assertOutcome(t, trip, planOf(trip).length - 1, "sendTicket declined");
      assertResult(t, trip, result, planOf(trip).length - 1);
    },

    "failure-at-each-step": async (t) => {
      const orchestrator = await t.load("saga.ts", { name: "orchestrator", limits: LIMITS });
      // A plan of 4 to 6 steps, and one trip declined at each of them, all booked at once.
      const legs = between(t, 1, 3);
      const trips = Array.from({ length: legs + 3 }, (_, k) => ({ k, trip: newTrip(t, `fail-${k + 1}`, legs) }));
      for (const { k, trip } of trips) await inject(t, trip, planOf(trip)[k]!.name, "decline");
      t.note(`booking ${trips.length} trips of ${legs} flight(s) at once, each declined at a different step`);
      const results = await Promise.all(trips.map(({ trip }) => book(orchestrator, trip)));
      for (const { k, trip } of trips) {
        await assertOutcome(t, trip, k, `${planOf(trip)[k]!.name}, step ${k + 1} of ${planOf(trip).length}, declined`);
        assertResult(t, trip, results[k], k);
      }
      // One orchestrator, many sagas: its connections must not grow with them.
      const open = t.proxy.stats().connectionsOpen;
      if (open > 4) {
        t.fail({
          message: `After ${trips.length} bookings, the orchestrator holds ${open} open connections to Redis.`,
          expected: "a few connections, created once when the module loads (services.ts holds one of them)",
          actual: `${open} open connections`,
          hint: "Create the Redis connection once, at the top of saga.ts, and share it between sagas; a connection made per booking (or per call) and never closed leaks until the connection budget runs out.",
        });
      }
    },

    "compensation-retried-once": async (t) => {
      const orchestrator = await t.load("saga.ts", { name: "orchestrator", limits: LIMITS });
      const trip = newTrip(t, "lost-undo");
      const plan = planOf(trip);
      const failAt = between(t, 2, plan.length - 1);
      // One or two of the compensations lose their first reply after they took effect.
      const lost = shuffled(t, plan.slice(0, failAt))
        .slice(0, between(t, 1, 2))
        .map((s) => s.undo!);
      await inject(t, trip, plan[failAt]!.name, "decline");
      for (const undo of lost) await inject(t, trip, undo, "lost-reply");
      t.note(
        `booking ${trip.id}; ${plan[failAt]!.name} will be declined, and the reply to the first ${lost.join(" and the first ")} lost after it took effect`,
      );
      const result = await book(orchestrator, trip);
      const seen = await calls(t, trip.id);
      for (const undo of lost) {
        if (seen.filter((c) => c.op === undo).length < 2) {
          t.fail({
            message: `${undo} threw ReplyLost (its reply was lost) and was never called again.`,
            expected: `${undo} retried until it answers`,
            actual: `calls: ${showCalls(seen)}`,
            hint: "A compensation that throws may or may not have happened. Retry it, with the same idempotency key, until it succeeds; a saga that gives up halfway leaves the traveller charged for nothing.",
          });
        }
      }
      await assertOutcome(t, trip, failAt, `${plan[failAt]!.name} declined, first reply of ${lost.join(", ")} lost`);
      assertResult(t, trip, result, failAt);
    },

    "resumes-after-crash": async (t) => {
      // Saga A dies going forward, in the middle of a step the seed picks.
      const first = await t.load("saga.ts", { name: "orchestrator-1", limits: LIMITS });
      const a = newTrip(t, "crash-forward");
      const hangA = pick(t, planOf(a)).name;
      await inject(t, a, hangA, "hang");
      await bookUntilHanging(t, first, a, hangA);
      t.note(`SIGKILL orchestrator-1 while ${hangA} for ${a.id} is in flight`);
      await first.kill();

      // Saga B dies going backward: declined at step d, killed during a compensation after another took effect.
      const second = await t.load("saga.ts", { name: "orchestrator-2", limits: LIMITS });
      const b = newTrip(t, "crash-backward");
      const planB = planOf(b);
      const failB = between(t, 2, planB.length - 1);
      const hangB = planB[between(t, 0, failB - 2)]!.undo!;
      await inject(t, b, planB[failB]!.name, "decline");
      await inject(t, b, hangB, "hang");
      await bookUntilHanging(t, second, b, hangB);
      t.note(`SIGKILL orchestrator-2 while ${hangB} for ${b.id} is in flight, after ${planB[failB - 1]!.undo} took effect`);
      await second.kill();
      const killedAt = performance.now();

      // Both orchestrators are dead: whatever the next one learns about these trips must be in Redis.
      await t.expectInRedis([a.id, a.traveller, b.id, b.traveller], {
        ignore: SERVICE_KEYS,
        message:
          "Both orchestrators were SIGKILLed mid-saga, and Redis (apart from the services' keys) holds no record of those trips: the next orchestrator cannot know which trips were unfinished, or what they were.",
        hint: "Before a saga's first step, record it in Redis: the trip itself (JSON.stringify(trip)), its direction and how many steps are in effect, and index the unfinished ones (a set of ids). The services' own trace is theirs, not yours to recover from.",
      });
      await clearFaults(t, a, hangA);
      await clearFaults(t, b, hangB);
      const third = await t.load("saga.ts", { name: "orchestrator-3", limits: LIMITS });
      await sleepUntil(t, killedAt + TAKEOVER_AFTER_MS);
      t.note(
        `${TAKEOVER_AFTER_MS} ms after the last kill (every lease has run out), a new orchestrator calls recover(): ${a.id} must complete, ${b.id} must finish compensating`,
      );
      const before = [await effects(t, a.id), await effects(t, b.id)];
      const results = await third.call("recover", [], 15_000);
      const [doneA, doneB] = [await effects(t, a.id), await effects(t, b.id)];
      if (doneA.join() === before[0]!.join() && doneB.join() === before[1]!.join()) {
        t.fail({
          message: `recover(), called ${TAKEOVER_AFTER_MS} ms after both orchestrators were SIGKILLed, finished no saga: both trips stopped where their orchestrators died.`,
          expected: `${a.id}: ${expectedEffects(a, null).join(" → ")}\n${b.id}: ${expectedEffects(b, failB).join(" → ")}`,
          actual: `${a.id}: ${doneA.join(" → ")}\n${b.id}: ${doneB.join(" → ")}\nrecover() returned ${JSON.stringify(results)}`,
          hint: `A saga's progress kept in the orchestrator's memory dies with it: record each saga in Redis as it goes, and index the unfinished ones so recover() can find them. And a dead orchestrator's lease must run out ${LEASE_MS} ms after its last renewal, no later: recover() then takes the saga over.`,
        });
      }
      await assertOutcome(t, a, null, `orchestrator killed during ${hangA}, then recovered`);
      await assertOutcome(t, b, failB, `${planB[failB]!.name} declined, orchestrator killed during ${hangB}, then recovered`);
      await assertDeclinedOnce(t, b, planB[failB]!.name, `recover() took over after orchestrator-2 died during ${hangB}`);
      const byId = resultsById(results);
      assertResult(t, a, byId.get(a.id), null, "recover");
      assertResult(t, b, byId.get(b.id), failB, "recover");
    },

    "crash-between-effect-and-record": watched(async (t, w) => {
      // Five orchestrators, one saga each, each killed at a command boundary the seed picks: between
      // a service's effect and the orchestrator's record of it, forward and compensating, and
      // between an answer and the writes that follow it.
      interface Victim {
        trip: Trip;
        failAt: number | null;
        point: string;
        orchestrator: RpcModule;
        crash: Promise<Entry | null>;
      }
      const orchestrators = await loadEach(
        t,
        [1, 2, 3, 4, 5].map((i) => `orchestrator-${i}`),
      );
      const victims: Victim[] = [];
      const add = async (orchestrator: RpcModule, trip: Trip, failAt: number | null, point: string, crash: Promise<Entry | null>) => {
        if (failAt !== null) await inject(t, trip, planOf(trip)[failAt]!.name, "decline");
        victims.push({ trip, failAt, point, orchestrator, crash });
      };
      const [o1, o2, o3, o4, o5] = orchestrators as [RpcModule, RpcModule, RpcModule, RpcModule, RpcModule];

      // Going forward: dies before a step's effect (a record written ahead of it would skip it)…
      const t1 = newTrip(t, "before-effect");
      const k1 = pick(t, planOf(t1)).name;
      await add(o1, t1, null, describePoint(k1, "before-effect"), crashInCall(t, w, o1, t1, k1, "before-effect"));
      // …and after one, before recording it.
      const t2 = newTrip(t, "after-effect");
      const k2 = pick(t, planOf(t2)).name;
      const at2 = pick(t, ["after-effect", "after-answer"] as const);
      await add(o2, t2, null, describePoint(k2, at2), crashInCall(t, w, o2, t2, k2, at2));
      // Compensating: dies as the first compensation took effect, before it is recorded.
      const t3 = newTrip(t, "first-undo");
      const f3 = between(t, 1, planOf(t3).length - 1);
      const u3 = planOf(t3)[f3 - 1]!.undo!;
      const at3 = pick(t, ["after-effect", "after-answer"] as const);
      await add(o3, t3, f3, describePoint(u3, at3), crashInCall(t, w, o3, t3, u3, at3));
      // Compensating: dies before some compensation took effect.
      const t4 = newTrip(t, "before-undo");
      const f4 = between(t, 1, planOf(t4).length - 1);
      const u4 = planOf(t4)[between(t, 0, f4 - 1)]!.undo!;
      await add(o4, t4, f4, describePoint(u4, "before-effect"), crashInCall(t, w, o4, t4, u4, "before-effect"));
      // Anywhere in the orchestrator's own writes after some call answered: its nth command after
      // that. Never after the saga's last call, whose next writes may finish it before the crash.
      const t5 = newTrip(t, "after-answer");
      const plan5 = planOf(t5);
      const f5 = t.random() < 0.5 ? null : between(t, 1, plan5.length - 1);
      const path5 =
        f5 === null
          ? plan5.map((s) => s.name)
          : [
              ...plan5.slice(0, f5 + 1).map((s) => s.name),
              ...plan5
                .slice(0, f5)
                .reverse()
                .map((s) => s.undo!),
            ];
      const c5 = pick(t, path5.slice(0, -1));
      const nth = between(t, 1, 3);
      const when5 = pick(t, ["before", "after"] as const);
      await add(
        o5,
        t5,
        f5,
        `${when5} its command #${nth} after ${c5} answered`,
        w.on(callTraced(o5.name, t5, c5), () => t.crashAt(o5, { match: "*", nth, when: when5 })),
      );

      for (const v of victims)
        t.note(
          `${v.orchestrator.name} books ${v.trip.id} (${v.trip.flights.length} flight(s)${v.failAt === null ? "" : `, ${planOf(v.trip)[v.failAt]!.name} declined`}) and dies ${v.point}`,
        );
      await Promise.all(victims.map((v) => awaitCrash(t, v.crash, v.orchestrator, v.trip, v.point, settle(book(v.orchestrator, v.trip)))));
      const lastCrash = performance.now();
      const recoverer = await t.load("saga.ts", { name: "recoverer", limits: LIMITS });
      await sleepUntil(t, lastCrash + TAKEOVER_AFTER_MS);
      t.note(`every orchestrator is dead and every lease has run out; recoverer calls recover()`);
      const results = resultsById(await recoverer.call("recover", [], 15_000));
      for (const v of victims) {
        const what = `${v.orchestrator.name} killed ${v.point}, then recovered`;
        await assertOutcome(t, v.trip, v.failAt, what);
        if (v.failAt !== null) await assertDeclinedOnce(t, v.trip, planOf(v.trip)[v.failAt]!.name, what);
        assertResult(t, v.trip, results.get(v.trip.id), v.failAt, "recover");
      }
    }),

    "recover-twice-at-once": async (t) => {
      // Several orchestrators die mid-saga; then three recover() at the same moment, while another
      // orchestrator is alive and driving a slow saga of its own.
      const deadCount = between(t, 3, 4);
      const dead = await loadEach(
        t,
        Array.from({ length: deadCount }, (_, i) => `orchestrator-${i + 1}`),
      );
      const live = await t.load("saga.ts", { name: "orchestrator-live", limits: LIMITS });

      const sagas = dead.map((orchestrator, i) => {
        const trip = newTrip(t, `dead-${i + 1}`);
        const plan = planOf(trip);
        const failAt = t.random() < 0.5 ? null : between(t, 1, plan.length - 1);
        const hangAt = failAt === null ? pick(t, plan).name : plan[between(t, 0, failAt - 1)]!.undo!;
        return { orchestrator, trip, failAt, hangAt };
      });
      // Slow enough to outlive the recovery: 5 steps and 4 compensations, each answering in about 250 ms.
      const liveTrip = newTrip(t, "live", 2);
      const livePlan = planOf(liveTrip);
      const slow = between(t, 240, 260);
      for (const s of livePlan.slice(0, -1)) {
        await inject(t, liveTrip, s.name, `slow ${slow}`);
        await inject(t, liveTrip, s.undo!, `slow ${slow}`);
      }
      await inject(t, liveTrip, "sendTicket", "decline");
      for (const s of sagas) {
        if (s.failAt !== null) await inject(t, s.trip, planOf(s.trip)[s.failAt]!.name, "decline");
        await inject(t, s.trip, s.hangAt, "hang");
      }
      t.note(`${deadCount} orchestrators each book a trip and are killed mid-call; orchestrator-live books ${liveTrip.id}, whose every call takes ${slow} ms`);
      const liveBooking = settle(book(live, liveTrip, 15_000));
      await Promise.all(
        sagas.map(async (s) => {
          await bookUntilHanging(t, s.orchestrator, s.trip, s.hangAt);
          await s.orchestrator.kill();
        }),
      );
      const lastKill = performance.now();
      for (const s of sagas) await clearFaults(t, s.trip, s.hangAt);
      const recoverers = await loadEach(t, ["recoverer-1", "recoverer-2", "recoverer-3"]);
      await sleepUntil(t, lastKill + TAKEOVER_AFTER_MS);

      const mark = t.logPosition();
      const liveUnfinished = (await effects(t, liveTrip.id)).length < expectedEffects(liveTrip, livePlan.length - 1).length;
      t.note(`three recoverers call recover() at the same moment${liveUnfinished ? `, while orchestrator-live is still driving ${liveTrip.id}` : ""}`);
      const results = await Promise.all(recoverers.map((r) => r.call("recover", [], 15_000)));
      const liveResult = await liveBooking;

      // Each dead saga: resumed by one of them (another may step in only if that one went silent
      // for a whole lease), and reported once.
      for (const s of sagas) {
        const taken = takeovers(t, s.trip.id).filter(unlawful);
        if (taken.length > 0) {
          const after = starts(t, s.trip.id, mark);
          t.fail({
            message: `Trip ${s.trip.id}, whose orchestrator died during ${s.hangAt}, was resumed by ${[...new Set(after.map((e) => e.owner))].join(" and ")} at once: ${taken.map(showTakeover).join("; ")}.`,
            expected: `one recoverer takes each saga; the others leave it alone while that one's ${LEASE_MS} ms lease is live`,
            actual: `calls after recover() began: ${after.map((e) => `${e.owner}: ${opOf(e)}`).join(", ")}`,
            hint: leaseHint,
          });
        }
        const reported = results.flatMap((r, i) => (Array.isArray(r) && (r as SagaResult[]).some((x) => x?.id === s.trip.id) ? [`recoverer-${i + 1}`] : []));
        if (reported.length !== 1) {
          t.fail({
            message: `Trip ${s.trip.id} was reported as finished by ${reported.length === 0 ? "no recover() call" : reported.join(" and ")}.`,
            expected: "exactly one of the three recover() calls returns it",
            actual: JSON.stringify(results),
            hint: leaseHint,
          });
        }
        await assertOutcome(t, s.trip, s.failAt, `orchestrator killed during ${s.hangAt}, then recovered by three orchestrators at once`);
        const result = results.flatMap((r) => (Array.isArray(r) ? (r as SagaResult[]) : [])).find((x) => x?.id === s.trip.id);
        assertResult(t, s.trip, result, s.failAt, "recover");
      }

      // The live saga stays with its own, living orchestrator.
      const moves = takeovers(t, liveTrip.id);
      const intruders = moves.filter(unlawful);
      if (intruders.length > 0) {
        t.fail({
          message: `${[...new Set(intruders.map((x) => x.to))].join(" and ")} took over ${liveTrip.id} while orchestrator-live was alive and driving it (every call about ${slow} ms): ${intruders.map(showTakeover).join("; ")}.`,
          expected: `orchestrator-live, renewing its ${LEASE_MS} ms lease before every call, keeps its saga; recover() leaves it alone`,
          actual: `calls: ${starts(t, liveTrip.id)
            .map((e) => `${e.owner}: ${opOf(e)}`)
            .join(", ")}`,
          hint: leaseHint,
        });
      }
      await assertOutcome(t, liveTrip, livePlan.length - 1, "slow calls, sendTicket declined, recover() running meanwhile");
      // Replaced lawfully (silent past its lease on a loaded machine), it may have stopped with an error.
      if (moves.length > 0)
        return t.note(
          `orchestrator-live went silent for ${Math.max(...moves.map((x) => x.silentMs))} ms and was replaced; its bookTrip ${showSettled(liveResult)}`,
        );
      if (!liveResult.ok) return t.fail({ message: `bookTrip for ${liveTrip.id} on orchestrator-live ${showSettled(liveResult)}.`, hint: leaseHint });
      assertResult(t, liveTrip, liveResult.value, livePlan.length - 1);
    },

    "paused-orchestrator": watched(async (t, w) => {
      const orchestrator = await t.load("saga.ts", { name: "orchestrator-a", process: true, limits: LIMITS });
      const recoverer = await t.load("saga.ts", { name: "recoverer", limits: LIMITS });
      const slow = between(t, SLOW_MS.min, SLOW_MS.max);
      const pauseDuring = (trip: Trip, op: string) =>
        w.on(callStarted(orchestrator.name, trip, op), () => {
          orchestrator.pause();
          return performance.now();
        });

      // A pause shorter than the lease: the orchestrator still owns its saga.
      const p1 = newTrip(t, "short-pause");
      const s1 = pick(t, planOf(p1)).name;
      await inject(t, p1, s1, `slow ${slow}`);
      const paused1 = pauseDuring(p1, s1);
      const booking1 = settle(book(orchestrator, p1, 15_000));
      const at1 = await Promise.race([paused1, t.sleep(10_000).then(() => null)]);
      if (at1 === null) return awaitCrash(t, Promise.resolve(null), orchestrator, p1, `paused during ${s1}`, booking1);
      t.note(
        `orchestrator-a is paused (SIGSTOP) during ${s1} for ${p1.id}; ${SHORT_PAUSE_MS} ms later, within its ${LEASE_MS} ms lease, recoverer calls recover()`,
      );
      await sleepUntil(t, at1 + SHORT_PAUSE_MS);
      const early = await recoverer.call("recover", [], 8000);
      const moves = takeovers(t, p1.id);
      const intruders = moves.filter(unlawful);
      if (intruders.length > 0 || (moves.length === 0 && resultsById(early).has(p1.id))) {
        t.fail({
          message: `recover() took over ${p1.id} although its orchestrator had been paused only ${SHORT_PAUSE_MS} ms, within its ${LEASE_MS} ms lease${intruders.length > 0 ? `: ${intruders.map(showTakeover).join("; ")}` : ""}.`,
          expected: "recover() leaves a saga whose lease is live to its orchestrator",
          actual: `recover() returned ${JSON.stringify(early)}`,
          hint: `${leaseHint} A lease shorter than ${LEASE_MS} ms hands a saga over while its orchestrator is merely slow.`,
        });
      }
      await clearFaults(t, p1, s1);
      orchestrator.resume();
      const result1 = await booking1;
      await assertOutcome(t, p1, null, `orchestrator paused ${SHORT_PAUSE_MS} ms during ${s1}`);
      // On a machine so loaded that the recoverer only acted after a whole lease, the saga was lawfully its.
      if (moves.length > 0)
        t.note(`the recoverer acted ${moves[0]!.silentMs} ms after orchestrator-a's last command (the machine is loaded): its takeover was lawful`);
      else if (!result1.ok)
        return t.fail({
          message: `After a ${SHORT_PAUSE_MS} ms pause within its lease, orchestrator-a's bookTrip for ${p1.id} ${showSettled(result1)}.`,
          hint: leaseHint,
        });
      else assertResult(t, p1, result1.value, null);

      // A pause longer than the lease: another orchestrator takes over and finishes the saga; the
      // paused one, resumed, must notice before it calls or writes anything.
      const p2 = newTrip(t, "long-pause");
      const plan2 = planOf(p2);
      const k = between(t, 0, plan2.length - 2);
      const s2 = plan2[k]!.name;
      const declined = plan2[k + 1]!.name;
      await inject(t, p2, s2, `slow ${slow}`);
      await inject(t, p2, declined, "decline");
      const paused2 = pauseDuring(p2, s2);
      const booking2 = settle(book(orchestrator, p2, 20_000));
      const at2 = await Promise.race([paused2, t.sleep(10_000).then(() => null)]);
      if (at2 === null) return awaitCrash(t, Promise.resolve(null), orchestrator, p2, `paused during ${s2}`, booking2);
      await sleepUntil(t, at2 + TAKEOVER_AFTER_MS);
      await clearFaults(t, p2, s2);
      t.note(`orchestrator-a has been paused ${TAKEOVER_AFTER_MS} ms during ${s2} for ${p2.id}, past its lease: recoverer calls recover()`);
      const taken = resultsById(await recoverer.call("recover", [], 10_000));
      if (!taken.has(p2.id)) {
        t.fail({
          message: `recover(), ${TAKEOVER_AFTER_MS} ms after orchestrator-a stopped (paused during ${s2}), did not take over ${p2.id}.`,
          expected: `the saga taken over and finished: its lease ran out ${LEASE_MS} ms after its last renewal`,
          actual: `recover() returned ${JSON.stringify([...taken.values()])}; effects: ${(await effects(t, p2.id)).join(" → ") || "(none)"}`,
          hint: leaseHint,
        });
      }
      assertResult(t, p2, taken.get(p2.id), k + 1, "recover");
      await assertOutcome(t, p2, k + 1, `${declined} declined, finished by recover() while orchestrator-a was paused`);

      // The declined step would now succeed: a resumed orchestrator that carries on shows at once.
      await clearFaults(t, p2, declined);
      const before = await recordOf(t, p2.id);
      const mark2 = t.logPosition();
      t.note(`${declined} would now succeed; orchestrator-a resumes, after recoverer finished ${p2.id}`);
      orchestrator.resume();
      const outcome = await Promise.race([booking2, t.sleep(CALL_TIMEOUT_MS + 1500).then(() => null)]);
      const resumedCalls = starts(t, p2.id, mark2).filter((e) => e.owner === orchestrator.name);
      if (resumedCalls.length > 0) {
        t.fail({
          message: `orchestrator-a, paused during ${s2} past its lease and resumed after recoverer had taken over and compensated ${p2.id}, went on to call ${resumedCalls.map(opOf).join(", ")}.`,
          expected: `nothing more from orchestrator-a for ${p2.id}: it lost the lease, so it stops before its next call`,
          actual: `effects now: ${(await effects(t, p2.id)).join(" → ")}`,
          hint: `${leaseHint} A process can be paused at any instant (GC, SIGSTOP, a slow VM) and wake up believing it still owns the saga: only a check against Redis, before each call, tells it otherwise.`,
        });
      }
      const written = changes(before, await recordOf(t, p2.id));
      if (written.length > 0) {
        t.fail({
          message: `orchestrator-a, resumed after it lost ${p2.id}'s lease, wrote to the saga's record in Redis.`,
          expected: "no write from an orchestrator that no longer holds the lease",
          actual: written.slice(0, 6).join("\n"),
          hint: `${leaseHint} Make each write one script that checks the owner first, so a stale orchestrator's write changes nothing.`,
        });
      }
      await assertOutcome(t, p2, k + 1, `finished by recover(); orchestrator-a resumed afterwards`);
      const claimed = outcome?.ok ? ((outcome.value ?? {}) as SagaResult) : null;
      if (claimed?.status === "completed") {
        t.fail({
          message: `orchestrator-a's bookTrip returned "completed" for ${p2.id}, which recoverer had compensated while orchestrator-a was paused.`,
          expected: `bookTrip throws (it lost the saga), or reports the saga as it ended: compensated at ${declined}`,
          actual: JSON.stringify(outcome?.ok ? outcome.value : null),
          hint: leaseHint,
        });
      }
    }),

    "handler-faults": async (t) => {
      const orchestrator = await t.load("saga.ts", { name: "orchestrator", limits: LIMITS });
      // Trip 1 goes forward through four faulty services: one unavailable once, one that stalls
      // once after taking effect, one slow, one whose reply is lost. Which step gets which: the seed.
      const one = newTrip(t, "forward-faults");
      const plan1 = planOf(one);
      const [u1, s1, w1, l1] = shuffled(
        t,
        plan1.map((s) => s.name),
      );
      const slow1 = between(t, SLOW_MS.min, SLOW_MS.max);
      await inject(t, one, u1!, "unavailable");
      await inject(t, one, s1!, "stall");
      await inject(t, one, w1!, `slow ${slow1}`);
      await inject(t, one, l1!, "lost-reply");
      // Trip 2 is declined late, and its compensations meet the same faults.
      const two = newTrip(t, "undo-faults", between(t, 2, 3));
      const plan2 = planOf(two);
      const failAt = between(t, 3, plan2.length - 1);
      const [u2, s2, w2] = shuffled(
        t,
        plan2.slice(0, failAt).map((s) => s.undo!),
      );
      const slow2 = between(t, SLOW_MS.min, SLOW_MS.max);
      await inject(t, two, plan2[failAt]!.name, "decline");
      await inject(t, two, u2!, "unavailable");
      await inject(t, two, s2!, "stall");
      await inject(t, two, w2!, `slow ${slow2}`);
      t.note(`booking ${one.id} and ${two.id} at once`);
      const outcomes = await Promise.all([settle(book(orchestrator, one, 8000)), settle(book(orchestrator, two, 8000))]);

      const stalled: [Trip, string][] = [
        [one, s1!],
        [two, s2!],
      ];
      const slowed: [Trip, string, number][] = [
        [one, w1!, slow1],
        [two, w2!, slow2],
      ];
      // A slow call abandoned too soon is called again, and again: name that first, it explains a
      // hang. A timer never fires early, so a call made again sooner than the timeout after the
      // last one began was abandoned too soon, however loaded the machine.
      for (const [trip, op, ms] of slowed) {
        const made = starts(t, trip.id).filter((e) => opOf(e) === op);
        if (made.some((e, i) => i > 0 && e.at - made[i - 1]!.at < ABANDONED_BEFORE_MS)) {
          t.fail({
            message: `${op} for ${trip.id} answers in ${ms} ms, and was called ${made.length} times, called again sooner than ${CALL_TIMEOUT_MS} ms after a call began: it was abandoned before it could answer.`,
            expected: `one call: a call that answers within ${CALL_TIMEOUT_MS} ms is waited for`,
            actual: `calls began at ${made.map((e) => `+${Math.round(e.at - made[0]!.at)} ms`).join(", ")}`,
            hint: `Give each call ${CALL_TIMEOUT_MS} ms before you abandon it. A shorter timeout abandons services that are merely slow, and one that is always slow never gets to answer.`,
          });
        }
      }
      for (const [trip, op] of stalled) {
        const made = starts(t, trip.id).filter((e) => opOf(e) === op);
        if (made.length === 0) continue; // never reached: the effects below say why
        if (made.length < 2) {
          t.fail({
            message: `${op} for ${trip.id} took effect on its first call and then never answered, and it was never called again.`,
            expected: `the stalled call abandoned ${CALL_TIMEOUT_MS} ms after it began, and ${op} called again with the same key`,
            actual: `calls of ${op}: ${made.length}; bookTrip ${showSettled(outcomes[trip === one ? 0 : 1]!)}`,
            hint: `Race every service call against a ${CALL_TIMEOUT_MS} ms timer (Promise.race). A call that loses the race has no answer: treat it like ReplyLost and call again with the same key.`,
          });
        }
        const gap = made[1]!.at - made[0]!.at;
        // Only a retry later than on an idle machine needs the caller's own clock to judge it, and
        // then by when the orchestrator reacted: its last command of its own about the trip before
        // calling again (a lease renewal, say), as a round trip through a loaded runner is slow.
        const idle = gap <= CALL_TIMEOUT_MS + MAX_BACKOFF_MS + RETRY_WINDOW_MS.slack;
        const due = idle ? { at: 0, lateMs: 0 } : await retryDue(t, trip, op, made[0]!);
        const reacted = idle ? 0 : reactionTo(t, orchestrator.name, trip, made[0]!.at, made[1]!.at);
        if (gap < RETRY_WINDOW_MS.min || (!idle && reacted > due.at + RETRY_WINDOW_MS.slack)) {
          t.fail({
            message: `${op} for ${trip.id} stalled, and was called again ${Math.round(gap)} ms after the stalled call began.`,
            expected: `called again ${RETRY_WINDOW_MS.min}–${CALL_TIMEOUT_MS + MAX_BACKOFF_MS + RETRY_WINDOW_MS.slack} ms after it began: abandoned at ${CALL_TIMEOUT_MS} ms, called again after a pause of at most ${MAX_BACKOFF_MS} ms${due.lateMs > 50 ? ` (the upper bound moved ${due.lateMs} ms later: your process's timers ran that late)` : ""}`,
            actual: `${Math.round(gap)} ms`,
            hint: `Abandon a call ${CALL_TIMEOUT_MS} ms after it began, not sooner and not much later, and pause at most ${MAX_BACKOFF_MS} ms before calling again.`,
          });
        }
      }
      for (const [i, trip] of [one, two].entries()) {
        const outcome = outcomes[i]!;
        if (!outcome.ok)
          t.fail({
            message: `bookTrip for ${trip.id} ${showSettled(outcome)}.`,
            actual: `calls: ${showCalls(await calls(t, trip.id))}`,
            hint: "Every error but StepDeclined, and every call with no answer in time, means: call again, with the same key, until it answers.",
          });
      }
      for (const [trip, op] of [
        [one, u1!],
        [two, u2!],
        [one, l1!],
      ] as const) {
        const made = starts(t, trip.id).filter((e) => opOf(e) === op).length;
        if (made === 1) {
          t.fail({
            message: `${op} for ${trip.id} threw ${op === l1 ? "ReplyLost" : "ServiceUnavailable"} on its first call and was never called again.`,
            expected: `${op} called again, with the same key, until it answers`,
            actual: `calls: ${showCalls(await calls(t, trip.id))}`,
            hint: "Only StepDeclined is an answer. Any other error says nothing about whether the effect happened: ServiceUnavailable means it did not, ReplyLost that it did, and a Redis error could mean either. Call again with the same key; the service sorts it out.",
          });
        }
      }
      await assertOutcome(t, one, null, `${u1} unavailable once, ${s1} stalled once, ${w1} slow (${slow1} ms), ${l1} lost its first reply`);
      assertResult(t, one, outcomes[0]!.ok ? outcomes[0].value : null, null);
      await assertOutcome(t, two, failAt, `${plan2[failAt]!.name} declined; ${u2} unavailable once, ${s2} stalled once, ${w2} slow (${slow2} ms)`);
      assertResult(t, two, outcomes[1]!.ok ? outcomes[1].value : null, failAt);
    },

    "redis-faults": watched(async (t, w) => {
      const [o1, o2, o3, recoverer] = (await loadEach(t, ["orchestrator-1", "orchestrator-2", "orchestrator-3", "recoverer"])) as [
        RpcModule,
        RpcModule,
        RpcModule,
        RpcModule,
      ];
      const latency = between(t, 5, 15);
      t.proxy.setLatency({ ms: latency, jitterMs: latency });

      // The saga's own writes: the write that follows a decline fails, then the orchestrator dies as
      // its first compensation takes effect.
      const two = newTrip(t, "direction-write");
      const plan2 = planOf(two);
      const f2 = between(t, 1, plan2.length - 1);
      const u2 = plan2[f2 - 1]!.undo!;
      await inject(t, two, plan2[f2]!.name, "decline");
      void w.on(callTraced(o2.name, two, plan2[f2]!.name, "declined"), () => {
        t.proxy.failNext(1);
        t.note(`${plan2[f2]!.name} was declined for ${two.id}: Redis fails orchestrator-2's next command`);
      });
      const at2 = pick(t, ["after-effect", "after-answer"] as const);
      const crash2 = crashInCall(t, w, o2, two, u2, at2);
      t.note(`orchestrator-2 books ${two.id}, which it will not survive: it dies ${describePoint(u2, at2)}`);
      await crashOrGiveUp(t, crash2, o2, two, describePoint(u2, at2));

      // Progress writes: one fails, the next is delivered twice, then the orchestrator dies before a
      // later step takes effect.
      const three = newTrip(t, "progress-writes");
      const plan3 = planOf(three);
      const c = between(t, 0, plan3.length - 3);
      void w.on(callTraced(o3.name, three, plan3[c]!.name, "applied"), () => {
        t.proxy.failNext(1);
        t.note(`${plan3[c]!.name} took effect for ${three.id}: Redis fails orchestrator-3's next command`);
      });
      void w.on(callTraced(o3.name, three, plan3[c + 1]!.name, "applied"), () => {
        t.proxy.duplicateNext(1);
        t.note(`${plan3[c + 1]!.name} took effect for ${three.id}: orchestrator-3's next command reaches Redis twice`);
      });
      const crash3 = crashInCall(t, w, o3, three, plan3[c + 2]!.name, "before-effect");
      t.note(`orchestrator-3 books ${three.id}, and dies ${describePoint(plan3[c + 2]!.name, "before-effect")}`);
      await crashOrGiveUp(t, crash3, o3, three, describePoint(plan3[c + 2]!.name, "before-effect"));
      const lastCrash = performance.now();

      // While those leases run out, the services' own commands fail: one before its effect, one
      // after; and during a third call, while its commands are under way, every connection is cut.
      const one = newTrip(t, "service-commands");
      const [a, b, cut] = shuffled(
        t,
        planOf(one).map((s) => s.name),
      );
      void w.on(callStarted(o1.name, one, a!), () => t.proxy.failNext(1, { match: "EVAL" }));
      void w.on(callStarted(o1.name, one, b!), () => t.proxy.failNext(1, { match: "RPUSH" }));
      const cutAfter = between(t, 1, 2 * latency);
      void w.on(callStarted(o1.name, one, cut!), () => t.sleep(cutAfter).then(() => t.proxy.cutAll()));
      t.note(
        `orchestrator-1 books ${one.id}: Redis fails the EVAL that applies ${a} (before its effect) and the RPUSH that traces ${b} (after it); every connection is cut ${cutAfter} ms into ${cut}`,
      );
      const result1 = await settle(book(o1, one));
      if (!result1.ok) {
        t.fail({
          message: `bookTrip for ${one.id} ${showSettled(result1)}, after Redis failed a command inside ${a} (before its effect) and inside ${b} (after it), and every connection was cut ${cutAfter} ms into ${cut}.`,
          actual: `calls: ${showCalls(await calls(t, one.id))}`,
          hint: "A Redis error inside a service call is just another error from the call: no answer, so call again with the same key. A cut connection is reopened by ioredis; never let one failed command end the saga.",
        });
      }
      for (const op of [a!, b!]) {
        if (starts(t, one.id).filter((e) => opOf(e) === op).length < 2) {
          t.fail({
            message: `${op} for ${one.id} failed with a Redis error (${op === a ? "before" : "after"} its effect) and was never called again.`,
            expected: `${op} called again with the same key`,
            actual: `calls: ${showCalls(await calls(t, one.id))}`,
            hint: "Only StepDeclined is an answer; any other error, a Redis one included, means: call again with the same key.",
          });
        }
      }
      await assertOutcome(t, one, null, `Redis failed a command inside ${a} and inside ${b}, every connection cut ${cutAfter} ms into ${cut}`);
      assertResult(t, one, result1.ok ? result1.value : null, null);

      await sleepUntil(t, lastCrash + TAKEOVER_AFTER_MS);
      t.note(`recoverer calls recover() (Redis still ${latency}±${latency} ms slow)`);
      const results = resultsById(await recoverer.call("recover", [], 15_000));
      const what2 = `${plan2[f2]!.name} declined, Redis failed orchestrator-2's next write, orchestrator-2 killed ${describePoint(u2, at2)}, then recovered`;
      await assertDeclinedOnce(t, two, plan2[f2]!.name, what2);
      await assertOutcome(t, two, f2, what2);
      assertResult(t, two, results.get(two.id), f2, "recover");
      const what3 = `Redis failed orchestrator-3's write after ${plan3[c]!.name} and delivered its write after ${plan3[c + 1]!.name} twice; killed ${describePoint(plan3[c + 2]!.name, "before-effect")}, then recovered`;
      await assertOutcome(t, three, null, what3);
      assertResult(t, three, results.get(three.id), null, "recover");
    }),
  },
});
