import { defineChecks, type CheckContext, type LearnerProcess, type RpcModule } from "../../lib/grader/index.ts";
import type { CommandLogEntry } from "../../lib/runner/chaos-proxy.ts";

interface Order {
  id: string;
  item: string;
  qty: number;
}

// The keys and the lease types.ts fixes (instructions.md names them); the grader reads nothing else.
const ORDERS = "orders";
const OUTBOX = "outbox";
const EVENTS = "events";
const LEASE = "relay:lease";
const LEASE_MS = 1000;

// The timing windows instructions.md states, held from the proxy's log and Redis's own clock.
// A relay waits 100 ms between looks, so it publishes a new entry at its next look. The grader
// holds the wait itself (looks counted over a second, from the command log) rather than each
// order's latency in ms: on this runner's shared cores a correct relay's latency was seen at up to
// 1.4 s at a load average of 25, while its look count stayed well inside the window.
/** A standby publishes within this long of the dead holder's lease expiring (its 100 ms wait plus slack). */
const TAKEOVER_WITHIN_MS = 1000;
/** An idle relay waits about 100 ms between looks: more commands than this a second is a hot loop. */
const IDLE_COMMANDS_PER_S = 50;
/** …and fewer looks than this in IDLE_WINDOW_MS is a wait far longer than 100 ms. */
const IDLE_MIN_LOOKS = 5;
// Two seconds, not one: a relay starved for a few hundred ms on a loaded machine still looks
// often enough, while one that polls once a second cannot.
const IDLE_WINDOW_MS = 2000;
/** Silence between two of a relay's commands that marks a new look, longer than any pause inside one. */
const LOOK_GAP_MS = 50;
/** Redis's expiry and the proxy's clock are read at slightly different instants. */
const CLOCK_SLACK_MS = 25;

// Processes outlive a single RPC call, so they get more wall time than the sandbox's default.
const LIMITS = { wallMs: 40_000 };

const ITEMS = ["kettle", "lamp", "chair", "rug", "mug", "desk"];

/** An order learner code cannot know in advance, even knowing the seed: all of it from the runner's CSPRNG. */
function makeOrder(t: CheckContext): Order {
  return { id: t.id("order"), item: ITEMS[Math.floor(t.unpredictable() * ITEMS.length)]!, qty: 1 + Math.floor(t.unpredictable() * 5) };
}

/** A whole number in [lo, hi] from the seed: the shape of a check, which a replay reproduces. */
const between = (t: CheckContext, lo: number, hi: number) => lo + Math.floor(t.random() * (hi - lo + 1));

function shuffled<T>(t: CheckContext, items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(t.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Polls `get` until it gives a value, for at most `ms`; null when it never did (no failure, unlike t.waitFor). */
async function within<T>(t: CheckContext, ms: number, get: () => T | null | undefined | false | Promise<T | null | undefined | false>): Promise<T | null> {
  const deadline = performance.now() + ms;
  for (;;) {
    const value = await get();
    if (value) return value;
    if (performance.now() > deadline) return null;
    await t.sleep(20);
  }
}

const ordinal = (n: number) => `${n}${n % 100 >= 11 && n % 100 <= 13 ? "th" : (["th", "st", "nd", "rd"][n % 10] ?? "th")}`;

/** True when a call rejected because the learner's function threw (not a hang or a dead process). */
const threw = (error: unknown, fn: string) => error instanceof Error && error.message.startsWith(`${fn}() threw `);

// ---------------------------------------------------------------------------------------------
// The command log

/** Commands that run Lua: what they write cannot be read from the log, and Redis runs each as one step. */
const SCRIPTS = new Set(["EVAL", "EVALSHA", "FCALL"]);

/** Commands that change nothing. */
const READS = new Set([
  "LRANGE",
  "LINDEX",
  "LLEN",
  "LPOS",
  "XRANGE",
  "XREVRANGE",
  "XLEN",
  "XINFO",
  "HGET",
  "HGETALL",
  "HMGET",
  "HEXISTS",
  "HLEN",
  "HKEYS",
  "HVALS",
  "GET",
  "MGET",
  "EXISTS",
  "TYPE",
  "TTL",
  "PTTL",
  "ZRANGE",
  "ZRANGEBYSCORE",
  "ZCARD",
  "ZSCORE",
  "SCAN",
  "KEYS",
  "PING",
  "ECHO",
  "SELECT",
  "CLIENT",
  "HELLO",
  "INFO",
  "TIME",
  "WATCH",
  "UNWATCH",
  "SCRIPT",
  "EVAL_RO",
  "EVALSHA_RO",
  "COMMAND",
  "OBJECT",
  "DBSIZE",
]);

/** Writes Redis applied as one step: a script, a MULTI … EXEC, or a single command. */
interface WriteUnit {
  kind: "script" | "transaction" | "command";
  commands: string[][];
  /** The log entry that made it take effect: the command, the script call, or EXEC. */
  entry: CommandLogEntry;
}

/**
 * Groups the write commands of `entries` into what Redis applied atomically. Reads, WATCH, a
 * DISCARDed or aborted transaction (EXEC answered nil or an error) write nothing.
 */
function writeUnits(entries: CommandLogEntry[]): WriteUnit[] {
  const queued = new Map<number, string[][]>();
  const units: WriteUnit[] = [];
  for (const e of entries) {
    const name = e.args[0]!;
    if (name === "MULTI") queued.set(e.conn, []);
    else if (name === "DISCARD") queued.delete(e.conn);
    else if (name === "EXEC") {
      const commands = queued.get(e.conn) ?? [];
      queued.delete(e.conn);
      if (commands.length > 0 && e.reply?.type === "array" && e.reply.summary !== "(nil)") units.push({ kind: "transaction", commands, entry: e });
    } else if (queued.has(e.conn)) {
      if (e.reply?.summary === "QUEUED") queued.get(e.conn)!.push(e.args);
    } else if (SCRIPTS.has(name)) units.push({ kind: "script", commands: [e.args], entry: e });
    else if (!READS.has(name)) units.push({ kind: "command", commands: [e.args], entry: e });
  }
  return units;
}

const showUnit = (u: WriteUnit) => (u.kind === "transaction" ? `MULTI, ${u.commands.map((c) => c[0]).join(", ")}, EXEC` : u.commands[0]!.slice(0, 2).join(" "));

/** The commands `owner` (a process or instance name) sent, after log position `after`. */
function commandsOf(t: CheckContext, owner: string, after = 0): CommandLogEntry[] {
  return t.commands().filter((e) => e.owner === owner && e.seq > after);
}

/** XADDs to the stream, whoever sent them, after log position `after`. */
function xadds(t: CheckContext, after = 0): CommandLogEntry[] {
  return t.commands("XADD").filter((e) => e.args[1] === EVENTS && e.seq > after);
}

/**
 * Whether Redis applied a command: it answered without an error, or a crash point let it through
 * and swallowed the answer. A command stopped by a crash point `before` it never reached Redis.
 */
const applied = (e: CommandLogEntry) => (e.reply ? e.reply.type !== "error" : (e.fault?.includes("stops after") ?? false));

/** The order an XADD published, from its `orderId` field. */
function orderIdOf(e: CommandLogEntry): string | undefined {
  const at = e.args.indexOf("orderId", 3);
  return at === -1 ? undefined : e.args[at + 1];
}

/** The connections `owner` opened: one client per process is what the instructions ask for. */
const connectionsOf = (t: CheckContext, owner: string) => new Set(commandsOf(t, owner).map((e) => e.conn)).size;

/**
 * Puts `note` on the command log's timeline and returns when that was on the log's clock (entries'
 * `at`, ms since the run started), so that what the grader sees (a PTTL, placeOrder returning)
 * can be set against when commands reached Redis. The proxy runs in this process: one clock.
 */
function logNow(t: CheckContext, note: string): number {
  t.proxy.mark(note);
  return t.proxy.log.at(-1)!.at;
}

// ---------------------------------------------------------------------------------------------
// Redis as the grader reads it

/**
 * From the proxy's log of one placeOrder call: the order and its outbox entry must have reached
 * Redis in one atomic step. Whatever the crash points happen to hit, a pipeline or two plain
 * commands show here as two steps. A script counts as one step whatever it writes.
 */
function assertOneStep(t: CheckContext, order: Order, entries: CommandLogEntry[]): void {
  const units = writeUnits(entries);
  const touches = (u: WriteUnit, key: string) => u.commands.some((c) => c.slice(1).includes(key));
  const split = units.filter((u) => u.kind !== "script" && touches(u, ORDERS) !== touches(u, OUTBOX));
  if (split.length === 0) return;
  // Sent before the reply to the write before it came back: a pipeline, not awaited commands.
  const pipelined = units.some((u, i) => i > 0 && u.entry.at < units[i - 1]!.entry.at + (units[i - 1]!.entry.durationMs ?? Infinity));
  t.fail({
    message: `placeOrder(${order.id}) wrote the order and its outbox entry in separate steps, so a crash between them leaves one without the other.`,
    expected: `one atomic step writing both '${ORDERS}' and '${OUTBOX}': MULTI … EXEC, or one Lua script`,
    actual: `what reached Redis: ${units.map(showUnit).join(" → ") || "(no writes)"}`,
    hint: pipelined
      ? "A pipeline (redis.pipeline()) only sends commands together; Redis still runs them one by one, and a crash can stop it between them. redis.multi() wraps them in MULTI … EXEC, which Redis applies all together or not at all."
      : "Queue the HSET and the RPUSH in one MULTI … EXEC (redis.multi().hset(…).rpush(…).exec()), or write both in one Lua script.",
  });
}

/** placeOrder only stores; the relay alone publishes. */
async function assertNothingPublished(t: CheckContext, when: string): Promise<void> {
  const published = await t.redis.exists(EVENTS);
  if (published === 0 && xadds(t).length === 0) return;
  t.fail({
    message: `${when}, with no relay running, something was published: placeOrder wrote to the stream itself.`,
    expected: `nothing in '${EVENTS}' until a relay runs`,
    actual: published
      ? `'${EVENTS}' holds ${await t.redis.xlen(EVENTS).catch(() => "some")} entries`
      : `XADD sent: ${xadds(t)
          .map((e) => e.args.slice(0, 2).join(" "))
          .join(", ")}`,
    hint: 'placeOrder stores the order and its outbox entry, and nothing else. Publishing from placeOrder too ("for speed") sends every event twice, or, if the relay only cleans up, loses the guarantee the outbox gives: the relay publishes, then removes.',
  });
}

interface OutboxEntry {
  raw: string;
  id?: unknown;
  type?: unknown;
  orderId?: unknown;
}

async function readOutbox(t: CheckContext): Promise<OutboxEntry[]> {
  const raws = await t.redis.lrange(OUTBOX, 0, -1);
  return raws.map((raw) => {
    try {
      const parsed = JSON.parse(raw) as unknown;
      if (typeof parsed === "object" && parsed !== null) return { raw, ...(parsed as Record<string, unknown>) };
    } catch {
      // shown to the learner below
    }
    t.fail({
      message: `The outbox holds an entry that is not a JSON object: ${raw.slice(0, 120)}`,
      expected: 'JSON.stringify({ id, type: "order-placed", orderId })',
      actual: raw.slice(0, 200),
      hint: "RPUSH each OrderPlaced event to the `outbox` list as JSON.stringify(event).",
    });
  });
}

interface Published {
  streamId: string;
  fields: Record<string, string>;
}

async function readEvents(t: CheckContext): Promise<Published[]> {
  const type = await t.redis.type(EVENTS);
  if (type === "none") return [];
  if (type !== "stream") {
    t.fail({
      message: `The key '${EVENTS}' is a ${type}, not a stream.`,
      expected: "a stream written with XADD",
      actual: type,
      hint: `Publish with XADD ${EVENTS} * id <event id> type order-placed orderId <order id>.`,
    });
  }
  const entries = await t.redis.xrange(EVENTS, "-", "+");
  return entries.map(([streamId, flat]) => {
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
    return { streamId, fields };
  });
}

const countBy = (items: string[]) => items.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map<string, number>());

/** Every order is stored as its JSON, with exactly one well-formed outbox entry. */
async function assertStoredWithEntry(t: CheckContext, orders: Order[], outbox: OutboxEntry[]): Promise<void> {
  for (const order of orders) {
    const json = await t.redis.hget(ORDERS, order.id);
    let stored: unknown = null;
    try {
      stored = json === null ? null : JSON.parse(json);
    } catch {
      stored = json;
    }
    const s = stored as Partial<Order> | null;
    if (!s || s.id !== order.id || s.item !== order.item || s.qty !== order.qty) {
      t.fail({
        message: `placeOrder(${JSON.stringify(order)}) returned, but the \`${ORDERS}\` hash does not hold that order under '${order.id}'.`,
        expected: JSON.stringify(order),
        actual: json ?? "(no field)",
        hint: `HSET ${ORDERS} <order.id> JSON.stringify(order), in the same transaction as the outbox entry, and let placeOrder throw if that transaction fails.`,
      });
    }
    const entries = outbox.filter((e) => e.orderId === order.id);
    if (entries.length !== 1) {
      t.fail({
        message: `Order ${order.id} has ${entries.length} entries in the outbox, right after placeOrder returned (no relay is running).`,
        expected: `one entry: {"id":"<uuid>","type":"order-placed","orderId":"${order.id}"}`,
        actual: outbox.map((e) => e.raw).join("\n") || "(outbox empty)",
        hint: `placeOrder should RPUSH exactly one OrderPlaced event per order to \`${OUTBOX}\`, in the same MULTI/EXEC as the HSET.`,
      });
    }
    const entry = entries[0]!;
    if (typeof entry.id !== "string" || entry.id === "" || entry.type !== "order-placed") {
      t.fail({
        message: `The outbox entry for ${order.id} is not a complete OrderPlaced event.`,
        expected: `{"id":"<a unique id>","type":"order-placed","orderId":"${order.id}"}`,
        actual: entry.raw,
        hint: "Give every event its own id (randomUUID()) when you create it: it is how consumers recognise a duplicate.",
      });
    }
  }
  const ids = outbox.map((e) => String(e.id));
  const twice = [...countBy(ids)].filter(([, n]) => n > 1);
  if (twice.length > 0) {
    t.fail({
      message: `Outbox entries share an event id: ${twice.map(([id]) => id).join(", ")}.`,
      expected: "a different id for every event",
      hint: "Make the id per event (randomUUID()), not per process or per order item.",
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Placing orders and watching the relays

/** One placeOrder call, with when it was made and when it returned (grader clock). */
interface Placement {
  order: Order;
  calledAt: number;
  returnedAt: number;
}

async function place(shop: RpcModule, order: Order): Promise<Placement> {
  const calledAt = performance.now();
  await shop.call("placeOrder", [order], 8000);
  return { order, calledAt, returnedAt: performance.now() };
}

async function placeAll(t: CheckContext, shop: RpcModule, n: number): Promise<Placement[]> {
  const out: Placement[] = [];
  for (let i = 0; i < n; i++) out.push(await place(shop, makeOrder(t)));
  return out;
}

const ordersOf = (placements: Placement[]) => placements.map((p) => p.order);

/** Starts a relay and waits until it has spoken to Redis, so what follows happens while it runs. */
async function startRelay(t: CheckContext, name: string): Promise<LearnerProcess> {
  const from = t.logPosition();
  const relay = t.spawn("relay.ts", { name, limits: LIMITS });
  await t.waitFor(() => commandsOf(t, name, from).length > 0 || !relay.alive, {
    message: `${name} sent no command to Redis within 5 s of starting.`,
    hint: "main(workerName) should loop for as long as the process lives: hold the lease, read the outbox, publish, remove, and wait about 100 ms when there is nothing to do.",
    timeoutMs: 5000,
  });
  await t.sleep(200);
  return relay;
}

function describe(relay: LearnerProcess): string {
  const o = relay.outcome;
  if (!o) return `${relay.name} is still running`;
  const how = o.kind === "exited" ? `exited with code ${o.code}` : o.kind === "signalled" ? `was stopped by ${o.signal}` : o.message;
  return `${relay.name} ${how}${relay.output() ? `; its last output:\n${relay.output().slice(-500)}` : ""}`;
}

/** Waits until every order has at least one event in the stream; fails naming the missing ones. */
async function untilPublished(
  t: CheckContext,
  orders: Order[],
  relay: LearnerProcess,
  timeoutMs: number,
  why: (missing: string[], quiet: boolean) => { message: string; hint: string },
): Promise<Published[]> {
  let events: Published[] = [];
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    events = await readEvents(t);
    const seen = new Set(events.map((e) => e.fields.orderId));
    const missing = orders.map((o) => o.id).filter((id) => !seen.has(id));
    if (missing.length === 0) return events;
    if (performance.now() > deadline) {
      const outbox = await t.redis.lrange(OUTBOX, 0, -1);
      // Nothing else talks to Redis now: a relay that sends nothing for half a second has stopped looking.
      const sent = t.commands().length;
      await t.sleep(500);
      const quiet = relay.alive && t.commands().length === sent;
      const { message, hint } = why(missing, quiet);
      t.fail({
        message,
        expected: `an event in '${EVENTS}' for each of ${orders.map((o) => o.id).join(", ")}`,
        actual: [
          `missing: ${missing.join(", ")}`,
          `outbox: ${outbox.length} entr${outbox.length === 1 ? "y" : "ies"} left`,
          quiet ? `${relay.name} is alive but has sent no command for 0.5 s` : describe(relay),
        ].join("\n"),
        hint,
      });
    }
    await t.sleep(20);
  }
}

/**
 * A relay loaded as a process of its own and already imported, whose main the grader starts when
 * it chooses: two of them begin within a millisecond of each other, which two freshly spawned
 * processes (each starting Node under load) never do reliably.
 */
interface HeldRelay {
  proc: RpcModule;
  /** Why its main() is no longer running (it returned, threw, or the process died), or null. */
  ended: string | null;
}

async function loadRelays(t: CheckContext, names: string[]): Promise<HeldRelay[]> {
  const procs = await Promise.all(names.map((name) => t.load("relay.ts", { name, process: true, limits: LIMITS })));
  return procs.map((proc) => ({ proc, ended: null }));
}

function startMain(relay: HeldRelay): void {
  // main never returns; the call outlives the check, whose end kills the process.
  relay.proc.call("main", [relay.proc.name], 120_000).then(
    () => (relay.ended = "its main() returned"),
    (error: unknown) => (relay.ended = `its main() ended: ${error instanceof Error ? error.message : String(error)}`),
  );
}

const running = (r: HeldRelay) => r.proc.alive && r.ended === null;
const describeRelay = (r: HeldRelay) => (r.ended && r.proc.alive ? `${r.proc.name}: ${r.ended}` : describe(r.proc));

const relayHint =
  "The relay's main loops forever: hold the lease, LRANGE the oldest outbox entries, and for each one renew the lease, XADD it to `events` and LREM it only once XADD has succeeded; sleep about 100 ms when the outbox is empty or another relay holds the lease.";

/**
 * Each order's events in the stream: no more copies than `extra` allows (a crash or a failed
 * removal may repeat the one event it interrupted), and every copy with the same event id.
 */
function assertCopies(t: CheckContext, orders: Order[], events: Published[], extra: Map<string, number>, fault: string, hint: string): void {
  for (const order of orders) {
    const copies = events.filter((e) => e.fields.orderId === order.id);
    const ids = new Set(copies.map((e) => e.fields.id));
    if (ids.size > 1) {
      t.fail({
        message: `Order ${order.id} was published ${copies.length} times with ${ids.size} different event ids, so a consumer cannot tell they are the same event.`,
        expected: "every copy of an event carries the id it was given in the outbox",
        actual: [...ids].join(", "),
        hint: "Create the event id once, in placeOrder, and have the relay copy it into the stream entry; never make a new one when publishing.",
      });
    }
  }
  const over = orders
    .map((o) => ({ id: o.id, n: events.filter((e) => e.fields.orderId === o.id).length, allowed: 1 + (extra.get(o.id) ?? 0) }))
    .filter((c) => c.n > c.allowed);
  if (over.length > 0) {
    t.fail({
      message: `${over.length} event(s) were published more often than ${fault} can explain.`,
      expected:
        extra.size > 0
          ? `each event once, apart from ${[...extra.keys()].join(", ")} (the event${extra.size > 1 ? "s" : ""} the fault interrupted), which may come twice`
          : "each event exactly once",
      actual: over.map((c) => `${c.id} ×${c.n}`).join(", "),
      hint,
    });
  }
}

/**
 * The stream's order: if placeOrder(x) returned before placeOrder(y) was called, x's event is in
 * the outbox before y's, and its first copy must be in the stream first too.
 */
function assertInOrder(t: CheckContext, placements: Placement[], events: Published[], when: string): void {
  const first = new Map<string, number>();
  events.forEach((e, i) => {
    if (e.fields.orderId && !first.has(e.fields.orderId)) first.set(e.fields.orderId, i);
  });
  for (const x of placements) {
    for (const y of placements) {
      if (x.returnedAt >= y.calledAt) continue;
      const [ix, iy] = [first.get(x.order.id), first.get(y.order.id)];
      if (ix === undefined || iy === undefined || ix < iy) continue;
      t.fail({
        message: `${when}, events reached the stream out of order: ${y.order.id} was published before ${x.order.id}, although ${x.order.id} was placed first.`,
        expected: "the outbox's order: oldest first, and never an older event after a newer one (a repeat of one already published does not count)",
        actual: events.map((e) => e.fields.orderId).join(", "),
        hint: "Publish the outbox from its head (LRANGE outbox 0 …), one entry after another, and let only the lease holder publish: two relays publishing at once, or a stale one publishing what it read before it was paused, mix the order.",
      });
    }
  }
}

/**
 * Waits until the outbox is empty: an entry is in the stream before its removal is sent, so a
 * fault armed any earlier could hit the removal of an entry the grader already counted.
 */
async function drained(t: CheckContext, relay?: LearnerProcess): Promise<void> {
  if (await within(t, 3000, async () => (await t.redis.llen(OUTBOX)) === 0)) return;
  if (relay && !relay.alive) {
    t.fail({
      message: `The relay died with entries still in the outbox: ${describe(relay)}`,
      hint: "Every command can fail, not only XADD: catch errors around the whole pass of the loop, wait 100 ms and go round again.",
    });
  }
  t.fail({
    message: "Every event was published, but its entry stayed in the outbox.",
    actual: `${await t.redis.llen(OUTBOX)} entries left${relay ? `; ${describe(relay)}` : ""}`,
    hint: "After each successful XADD, remove that entry from the outbox (LREM outbox 1 <the entry>).",
  });
}

/** The outbox drains, and nothing is left in Redis that would pile up forever. */
async function assertNoLeaks(t: CheckContext): Promise<void> {
  await t.waitFor(async () => (await t.redis.llen(OUTBOX)) === 0, {
    message: "Every event was published, but entries stayed in the outbox.",
    hint: "After each successful XADD, remove that entry from the outbox (LREM outbox 1 <the entry>); entries never removed are published again by every relay that takes over, and the outbox grows forever.",
    timeoutMs: 2000,
  });
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await t.redis.scan(cursor, "COUNT", 500);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== "0");
  const forever: string[] = [];
  for (const key of keys) {
    if (key === ORDERS || key === OUTBOX || key === EVENTS) continue;
    const pttl = await t.redis.pttl(key);
    if (key === LEASE) await assertLeaseTtl(t, pttl, "at the end of the check");
    else if (pttl === -1) forever.push(key);
  }
  if (forever.length > 0) {
    t.fail({
      message: `${forever.length} key(s) your code created have no expiry, so they pile up for as long as the shop runs.`,
      expected: `only '${ORDERS}', '${OUTBOX}', '${EVENTS}' kept for good; '${LEASE}' and anything else with an expiry`,
      actual: forever.slice(0, 8).join(", ") + (forever.length > 8 ? ` and ${forever.length - 8} more` : ""),
      hint: 'The outbox is the only record the relay needs: an entry in it is not yet published, and LREM removes it once it is. A marker per published event ("sent:<id>") is one key per order forever; if you keep one, give it an expiry.',
    });
  }
}

async function assertLeaseTtl(t: CheckContext, pttl: number, when: string): Promise<void> {
  if (pttl === -1) {
    t.fail({
      message: `The lease '${LEASE}' has no expiry (${when}): if its holder dies, it is held forever and no standby ever takes over.`,
      expected: `the lease set with PX ${LEASE_MS}`,
      actual: `PTTL ${LEASE} = -1 (holder ${await t.redis.get(LEASE)})`,
      hint: `Take it with SET ${LEASE} <token> NX PX ${LEASE_MS}, and renew it with the same PX.`,
    });
  }
  if (pttl > LEASE_MS) {
    t.fail({
      message: `The lease '${LEASE}' expires in ${pttl} ms (${when}), longer than the ${LEASE_MS} ms the instructions give it: a dead relay blocks every standby that long.`,
      expected: `PTTL at most ${LEASE_MS}`,
      actual: `PTTL ${LEASE} = ${pttl}`,
      hint: `PX takes milliseconds, EX seconds: SET ${LEASE} <token> NX PX ${LEASE_MS}.`,
    });
  }
}

/**
 * While `holder` publishes: the lease exists, has the stated expiry, is renewed (a sample close to
 * LEASE_MS), and stays with one holder.
 */
async function assertLeaseHeld(t: CheckContext, holder: string): Promise<void> {
  const samples: { value: string | null; pttl: number }[] = [];
  for (let i = 0; i < 10; i++) {
    const [[, value], [, pttl]] = (await t.redis.multi().get(LEASE).pttl(LEASE).exec()) as [[null, string | null], [null, number]];
    samples.push({ value, pttl });
    await t.sleep(50);
  }
  const when = `while ${holder} publishes`;
  if (samples.some((s) => s.value === null)) {
    t.fail({
      message: `The key '${LEASE}' was missing ${when}: the relay publishes without holding the lease.`,
      expected: `'${LEASE}' holding the publishing relay's token the whole time`,
      actual: samples.map((s) => s.value ?? "(none)").join(", "),
      hint: `Publish only while you hold the lease: take it with SET ${LEASE} <token> NX PX ${LEASE_MS} and renew it on every poll and before every XADD.`,
    });
  }
  for (const s of samples) await assertLeaseTtl(t, s.pttl, when);
  const best = Math.max(...samples.map((s) => s.pttl));
  if (best < LEASE_MS - 400) {
    t.fail({
      message: `The lease was never renewed to near ${LEASE_MS} ms ${when}: over 0.5 s, the most it had left was ${best} ms.`,
      expected: `renewed to PX ${LEASE_MS} on every 100 ms poll and before every XADD`,
      actual: `PTTL samples: ${samples.map((s) => s.pttl).join(", ")} ms`,
      hint: `A lease shorter than ${LEASE_MS} ms, or renewed less often than every 100 ms, runs out under a live relay, and a standby takes over while it still publishes.`,
    });
  }
  if (new Set(samples.map((s) => s.value)).size > 1) {
    t.fail({
      message: `The lease changed hands ${when}, though no relay died or stalled.`,
      expected: "one holder for as long as it renews the lease",
      actual: samples.map((s) => s.value).join(", "),
      hint: "A relay takes the lease only when nobody holds it (SET … NX), and renews only its own: compare the token and renew in one Lua script.",
    });
  }
}

/**
 * An idle relay looks about every 100 ms: not in a loop with no wait (too many commands), and not
 * once a second (too few looks). A look is a burst of commands after a silence of LOOK_GAP_MS;
 * counted over a second, so one stall of a starved process does not decide it.
 */
async function assertIdleCadence(t: CheckContext, relay: LearnerProcess, why: string): Promise<void> {
  const from = t.logPosition();
  const started = performance.now();
  await t.sleep(IDLE_WINDOW_MS);
  const elapsed = performance.now() - started;
  const sent = commandsOf(t, relay.name, from);
  const perSecond = (sent.length * 1000) / elapsed;
  const mix = [...countBy(sent.map((e) => e.args[0]!))].map(([n, c]) => `${n} ×${c}`).join(", ");
  if (perSecond > IDLE_COMMANDS_PER_S) {
    t.fail({
      message: `${relay.name} sent ${sent.length} commands in ${Math.round(elapsed)} ms while ${why}: it polls Redis in a loop with no wait.`,
      expected: `about 100 ms between looks: at most ${IDLE_COMMANDS_PER_S} commands a second from an idle relay`,
      actual: `${Math.round(perSecond)} commands a second: ${mix}`,
      hint: "When the outbox is empty, or another relay holds the lease, await sleep(100) before looking again. A sleep(…) without await waits for nothing.",
    });
  }
  const looks = sent.filter((e, i) => i === 0 || e.at - (sent[i - 1]!.at + (sent[i - 1]!.durationMs ?? 0)) >= LOOK_GAP_MS).length;
  if (looks < IDLE_MIN_LOOKS) {
    t.fail({
      message: `${relay.name} looked at Redis only ${looks} time(s) in ${Math.round(elapsed)} ms while ${why}.`,
      expected: `about 100 ms between looks: at least ${IDLE_MIN_LOOKS} looks in ${IDLE_WINDOW_MS} ms (a look: commands after ${LOOK_GAP_MS} ms of silence)`,
      actual: sent.length
        ? `${sent.length} command(s), at ${sent.map((e) => `${Math.round(e.at - sent[0]!.at)} ms ${e.args[0]}`).join(", ")}`
        : "no command at all",
      hint: "Wait 100 ms between looks, not a second: an order placed just after a look waits for the next one, and consumers wait with it. A standby that looks rarely takes over late.",
    });
  }
}

export default defineChecks({
  timeoutMs: 30_000,
  // The live view: a shop places an order every 300 ms while two relays run, one holding the lease
  // and one on standby; every 6 s the holder is SIGKILLed right after an XADD, before it can remove
  // the entry, the standby takes over once the lease expires, and a new standby starts.
  playground: async (t) => {
    const limits = { wallMs: 70_000, cpuSeconds: 30 };
    const shop = await t.load("orders.ts", { name: "shop", limits });
    let n = 0;
    const relays = new Set([t.spawn("relay.ts", { name: `relay-${++n}`, limits }), t.spawn("relay.ts", { name: `relay-${++n}`, limits })]);
    const produce = async () => {
      while (!t.signal.aborted) {
        await shop.call("placeOrder", [makeOrder(t)], 8000).catch(() => {});
        await t.sleep(300);
      }
    };
    const chaos = async () => {
      while (!t.signal.aborted) {
        await t.sleep(6000);
        if (t.signal.aborted) break;
        const holder = [...relays].find((r) => r.name === xadds(t).at(-1)?.owner);
        if (!holder) continue;
        t.note(`${holder.name} will die right after its next XADD; the standby takes over when the lease runs out`);
        await Promise.race([t.crashAt(holder, { match: "XADD", when: "after" }), t.sleep(3000)]);
        await holder.kill();
        relays.delete(holder);
        relays.add(t.spawn("relay.ts", { name: `relay-${++n}`, limits }));
      }
    };
    await Promise.all([produce(), chaos()]);
  },
  checks: {
    "atomic-write": async (t) => {
      const shop = await t.load("orders.ts", { name: "shop", limits: LIMITS });
      const placed = [makeOrder(t), makeOrder(t)];
      await shop.call("placeOrder", [placed[0]], 8000);
      assertOneStep(t, placed[0]!, t.commands());
      const mark = t.logPosition();
      await shop.call("placeOrder", [placed[1]], 8000);
      const second = t.commands().filter((e) => e.seq > mark);
      assertOneStep(t, placed[1]!, second);
      const perOrder = second.map((e) => e.args[0]!);
      await assertStoredWithEntry(t, placed, await readOutbox(t));
      await assertNothingPublished(t, "After two placeOrder calls");

      // Concurrent first use: a fresh module gets 6 calls at once, with replies jittered, over
      // the one connection it should keep.
      const rush = await t.load("orders.ts", { name: "rush", limits: LIMITS });
      const burst = Array.from({ length: 6 }, () => makeOrder(t));
      t.note(`6 placeOrder calls at once on a fresh module (${rush.name}), Redis's replies delayed 15±15 ms`);
      t.proxy.setLatency({ ms: 15, jitterMs: 15 });
      await Promise.all(burst.map((order) => rush.call("placeOrder", [order], 8000)));
      t.proxy.setLatency({ ms: 0 });
      placed.push(...burst);
      await assertStoredWithEntry(t, placed, await readOutbox(t));
      const opened = connectionsOf(t, rush.name);
      if (opened > 2) {
        t.fail({
          message: `6 placeOrder calls opened ${opened} connections to Redis: a connection per call, never closed.`,
          expected: "one client for the module, made once at the top of orders.ts",
          actual: `${opened} connections from ${rush.name}`,
          hint: "Call createRedis() once, at module level, and reuse it. A client made inside placeOrder is a new TCP connection per order that stays open until the process dies.",
        });
      }

      // A failed commit: Redis refuses the command that applies the write (EXEC, or the script).
      const commit = writeUnits(second).at(-1)?.entry.args[0];
      if (commit) {
        const order = makeOrder(t);
        const from = t.logPosition();
        t.note(`Redis will answer the next ${commit} with an error: placeOrder(${order.id}) must throw (nothing stored), or store both`);
        t.proxy.failNext(1, { match: commit });
        const outcome = await shop.call("placeOrder", [order], 8000).then(
          () => "returned" as const,
          (error: unknown) => {
            if (!threw(error, "placeOrder")) throw error;
            return "threw" as const;
          },
        );
        const refused = t.commands().some((e) => e.seq > from && e.fault === "failNext");
        if (!refused) t.proxy.failNext(0, { match: commit });
        const stored = (await t.redis.hexists(ORDERS, order.id)) === 1;
        const queued = (await readOutbox(t)).some((e) => e.orderId === order.id);
        if (refused && outcome === "returned" && !(stored && queued)) {
          t.fail({
            message: `placeOrder(${order.id}) returned normally after Redis refused its ${commit}, but ${stored ? "the outbox entry" : "the order"} was never stored: the caller believes the order is placed.`,
            expected: "placeOrder throws when the write fails (or retries until it succeeds)",
            actual: `'${ORDERS}' ${stored ? "has" : "lacks"} ${order.id}; '${OUTBOX}' ${queued ? "has" : "lacks"} its entry`,
            hint: "Never swallow a failed write: await exec() and let its error reach placeOrder's caller. Check its per-command results too, since a command can fail inside EXEC.",
          });
        }
        if (stored !== queued) {
          t.fail({
            message: `After Redis refused placeOrder(${order.id})'s ${commit}, ${stored ? "the order is stored without its outbox entry" : "the outbox has an entry for an order that was never stored"}.`,
            expected: "the order and its outbox entry, or neither",
            actual: `'${ORDERS}' ${stored ? "has" : "lacks"} ${order.id}; '${OUTBOX}' ${queued ? "has" : "lacks"} its entry`,
            hint: "Write both in one MULTI … EXEC or one script: if Redis refuses it, neither is written.",
          });
        }
        if (outcome === "threw") {
          t.note(`placeOrder(${order.id}) threw, as it should; the grader places it again, as a caller would`);
          await shop.call("placeOrder", [order], 8000);
        }
        placed.push(order);
      }
      await assertStoredWithEntry(t, placed, await readOutbox(t));

      // Crash points: a writer dies between two of placeOrder's commands (after the nth reached
      // Redis, or right before it did). Every boundary inside the call is tried, in an order the
      // seed picks, each from its nearer side picked by the seed too.
      const steps = Math.max(perOrder.length, 1);
      const inside = Array.from({ length: Math.max(steps - 1, 1) }, (_, i) => i + 1);
      const boundaries = shuffled(t, inside).slice(0, 4);
      t.note(`placeOrder sends ${perOrder.join(", ")}; a writer now dies at each boundary between them`);
      const trials: { order: Order; after: string }[] = [];
      const writers = await Promise.all(boundaries.map((_, i) => t.load("orders.ts", { name: `writer-${i + 1}`, limits: LIMITS })));
      // One call each first: connections open, scripts loaded, so the crash falls inside a call like any other.
      const warm = writers.map(() => makeOrder(t));
      await Promise.all(writers.map((writer, i) => writer.call("placeOrder", [warm[i]], 8000)));
      placed.push(...warm);
      for (const [i, b] of boundaries.entries()) {
        const writer = writers[i]!;
        const order = makeOrder(t);
        const point = steps === 1 || t.random() < 0.5 ? { nth: b, when: "after" as const } : { nth: b + 1, when: "before" as const };
        const trialFrom = t.logPosition();
        const crash = t.crashAt(writer, { match: "*", ...point });
        void writer.call("placeOrder", [order], 8000).catch(() => {});
        const at = await Promise.race([crash, t.sleep(5000).then(() => undefined)]);
        if (!at) {
          return t.fail({
            message: `placeOrder(${order.id}) sent fewer than ${point.nth} command(s) within 5 s, though it sent ${perOrder.length} before.`,
            actual: describe(writer),
            hint: "placeOrder should send the same commands every time.",
          });
        }
        const sent = commandsOf(t, writer.name, trialFrom).filter((e) => (point.when === "after" ? e.seq <= at.seq : e.seq < at.seq));
        const after = sent.map((e) => e.args[0]).join(", ") || "nothing";
        t.note(`${writer.name} died ${point.when} its ${ordinal(point.nth)} command of placeOrder(${order.id}) (${at.args[0]}): it had sent ${after}`);
        trials.push({ order, after });
      }
      await t.sleep(100); // anything still in flight lands

      const outbox = await readOutbox(t);
      for (const { order, after } of trials) {
        const stored = (await t.redis.hexists(ORDERS, order.id)) === 1;
        const queued = outbox.some((e) => e.orderId === order.id);
        if (stored && !queued) {
          t.fail({
            message: `Order ${order.id} was stored, but its outbox entry never was: the writer died after sending ${after}. Nobody will ever hear about this order.`,
            expected: "the order and its outbox entry, or neither",
            actual: `'${ORDERS}' has ${order.id}; '${OUTBOX}' has no entry for it`,
            hint: "Two separate commands leave a gap a crash can fall into. Queue both writes in one MULTI … EXEC (redis.multi().hset(…).rpush(…).exec()), or one Lua script: Redis applies them together or not at all.",
          });
        }
        if (!stored && queued) {
          t.fail({
            message: `The outbox has an event for order ${order.id}, but the order was never stored: the writer died after sending ${after}. The relay will announce an order that does not exist.`,
            expected: "the order and its outbox entry, or neither",
            actual: `'${OUTBOX}' has an entry for ${order.id}; '${ORDERS}' does not have it`,
            hint: "Write the order and its event in one MULTI … EXEC, or one Lua script, so that neither can exist without the other.",
          });
        }
      }
      await assertStoredWithEntry(
        t,
        placed,
        outbox.filter((e) => !trials.some((tr) => tr.order.id === e.orderId)),
      );
      const shopConnections = connectionsOf(t, shop.name);
      if (shopConnections > 2) {
        t.fail({
          message: `${shop.name} opened ${shopConnections} connections for a handful of placeOrder calls.`,
          expected: "one client for the module, reused by every call",
          actual: `${shopConnections} connections`,
          hint: "Call createRedis() once, at module level, not inside placeOrder.",
        });
      }
    },

    "publishes-each-once": async (t) => {
      // The first order is placed before any relay runs: only a relay may publish it.
      const [shop1, shop2] = (await t.loadMany("orders.ts", 2, { limits: LIMITS })) as [RpcModule, RpcModule];
      const placements: Placement[] = [];
      const first = makeOrder(t);
      t.note(`placing ${first.id} with no relay running: nothing may reach '${EVENTS}' yet`);
      placements.push(await place(shop1, first));
      await t.sleep(150);
      await assertNothingPublished(t, "After placeOrder returned");
      const relay = await startRelay(t, "relay");

      // Orders arrive as they would in a shop: some alone, some two at once from two processes,
      // with gaps the seed picks.
      const offset = performance.now() - logNow(t, `${relay.name} is running; orders now arrive from two processes`);
      const steps = Array.from({ length: 5 }, () => ({ pair: t.random() < 0.5, gap: t.random() < 0.3 ? 0 : between(t, 30, 300) }));
      for (const step of steps) {
        await t.sleep(step.gap);
        if (step.pair) placements.push(...(await Promise.all([place(shop1, makeOrder(t)), place(shop2, makeOrder(t))])));
        else placements.push(await place(t.random() < 0.5 ? shop1 : shop2, makeOrder(t)));
      }
      const orders = ordersOf(placements);
      await untilPublished(t, orders, relay, 6000, (missing, quiet) => ({
        message: `${missing.length} of ${orders.length} orders were not published within 6 s of the relay running${quiet ? ", and the relay has stopped reading the outbox" : ""}.`,
        hint:
          quiet || !relay.alive
            ? `The relay must keep polling for as long as it lives, not drain the outbox once at start: new orders arrive all the time. ${relayHint}`
            : relayHint,
      }));
      // A second copy of any event would show up while the relay idles; meanwhile its lease is sampled.
      await Promise.all([assertIdleCadence(t, relay, "the outbox was empty"), assertLeaseHeld(t, relay.name)]);
      const events = await readEvents(t);
      const ours = events.filter((e) => orders.some((o) => o.id === e.fields.orderId));
      const twice = [...countBy(ours.map((e) => e.fields.orderId!))].filter(([, n]) => n > 1);
      if (twice.length > 0) {
        t.fail({
          message: `With no crash and no fault, ${twice.length} of ${orders.length} orders were published more than once.`,
          expected: "each event in the stream once when nothing goes wrong",
          actual: twice.map(([id, n]) => `${id} ×${n}`).join(", "),
          hint: 'Only the relay publishes, and only what it reads from the outbox, removing each entry after its XADD. Publishing from placeOrder as well ("for speed") sends every event twice.',
        });
      }
      const badShape = ours.filter((e) => !e.fields.id || e.fields.type !== "order-placed");
      if (badShape.length > 0) {
        t.fail({
          message: "Stream entries do not carry the event's id and type.",
          expected: "fields id (the event id from the outbox), type (order-placed), orderId",
          actual: JSON.stringify(badShape[0]!.fields),
          hint: `XADD ${EVENTS} * id <event.id> type <event.type> orderId <event.orderId>, copying the outbox entry.`,
        });
      }
      assertInOrder(t, placements, events, "With one relay and no fault");
      const sent = xadds(t);
      if (sent.length === 0 || sent.some((e) => e.reply?.summary === "QUEUED")) {
        t.fail({
          message:
            sent.length === 0 ? "The relay never sent XADD as a command of its own (a Lua script hides it)." : "The relay sent XADD inside MULTI … EXEC.",
          expected: "XADD on its own, then a separate command that removes the entry",
          hint: "The stream stands in for a broker on another machine: no transaction can span it and your database. Publish with a plain XADD, and remove the entry afterwards; that gap is what this lab is about.",
        });
      }
      // Publication latency, from placeOrder returning to the XADD reaching Redis, for the log: the
      // window held is the relay's wait between looks (below), which is what sets it.
      const latencies = placements.slice(1).map((p) => {
        const xadd = sent.find((e) => orderIdOf(e) === p.order.id);
        return { id: p.order.id, ms: xadd ? Math.round(xadd.at + offset - p.returnedAt) : Infinity };
      });
      t.note(`published after placeOrder returned: ${latencies.map((l) => `${l.ms} ms`).join(", ")}`);
      for (const proc of [relay, shop1, shop2]) {
        const opened = connectionsOf(t, proc.name);
        if (opened > 2) {
          t.fail({
            message: `${proc.name} opened ${opened} connections to Redis with no fault injected: a connection per call or per loop, never closed.`,
            expected: "one client per module, made once at its top",
            actual: `${opened} connections`,
            hint: "Call createRedis() once, at module level, and reuse it.",
          });
        }
      }
      await assertNoLeaks(t);
    },

    "relay-after-crash": async (t) => {
      const shop = await t.load("orders.ts", { name: "shop", limits: LIMITS });
      const placements = await placeAll(t, shop, 6);
      await assertNothingPublished(t, "After 6 placeOrder calls");
      t.note("6 orders wait in the outbox; two relays in turn each die at a crash point the seed picks, then a third must publish the rest");

      // Two crash points on either side of an XADD the seed picks: right before it (whatever the
      // relay did to the entry before publishing it is done, the publish is not), and right after
      // it (published, not yet removed). The failover check kills a relay at any command.
      const rounds = [
        { match: "XADD", nth: between(t, 1, 3), when: "before" as const },
        // From the 2nd on: a relay that publishes a batch and removes it afterwards has then left
        // more than the one interrupted event behind.
        { match: "XADD", nth: between(t, 2, 3), when: "after" as const },
      ];
      const crashes: { relay: LearnerProcess; at: string }[] = [];
      let next = t.spawn("relay.ts", { name: "relay-1", limits: LIMITS });
      for (const [i, round] of rounds.entries()) {
        const relay = next;
        const crash = t.crashAt(relay, round);
        // The next relay starts as a standby once this one publishes (or dies), so its start-up
        // overlaps the wait for the lease; it cannot publish before the crash is armed for it.
        const standby = within(t, LEASE_MS + 5000, () => xadds(t).some((e) => e.owner === relay.name) || !relay.alive).then(() => {
          next = t.spawn("relay.ts", { name: `relay-${i + 2}`, limits: LIMITS });
        });
        const hit = await Promise.race([crash, t.sleep(LEASE_MS + 5000).then(() => undefined)]);
        await standby;
        const what = `its ${ordinal(round.nth)} XADD`;
        if (!hit) {
          return t.fail({
            message: `${relay.name} never sent ${what} within ${(LEASE_MS + 5000) / 1000} s, with entries in the outbox and no other relay alive.`,
            actual: `${describe(relay)}\noutbox: ${await t.redis.llen(OUTBOX)} entries`,
            hint: `A relay takes over once the dead relay's lease has expired (${LEASE_MS} ms after its last renewal). ${relayHint}`,
          });
        }
        const at = `${round.when} ${what} (${hit.args.slice(0, 2).join(" ")}${orderIdOf(hit) ? ` for ${orderIdOf(hit)}` : ""}) reached Redis`;
        t.note(`${relay.name} died right ${at}`);
        crashes.push({ relay, at: `${relay.name} died right ${at}` });
      }
      const survivor = next;
      const after = await placeAll(t, shop, 2);
      const all = [...placements, ...after];
      const crashedAt = crashes.map((c) => c.at).join("; ");
      const events = await untilPublished(t, ordersOf(all), survivor, LEASE_MS + 6000, (missing, quiet) =>
        missing.some((id) => placements.some((p) => p.order.id === id))
          ? {
              message: `Events were lost: ${missing.filter((id) => placements.some((p) => p.order.id === id)).join(", ")} never reached the stream. ${crashedAt}.`,
              hint: "Removing an entry (or marking it sent) before it is published loses it if the relay dies in between. Read the entry without removing it (LRANGE), XADD it, and only then LREM it: the worst a crash can do then is publish it twice.",
            }
          : {
              message: `Orders placed after relay-3 started were not published: ${missing.join(", ")}${quiet ? "; relay-3 has stopped reading the outbox" : ""}.`,
              hint: quiet
                ? `Recovering what a crash left behind is not a separate startup step: the relay's ordinary loop, running forever, does it. ${relayHint}`
                : relayHint,
            },
      );
      await t.sleep(400); // a further copy would show up now
      // At-least-once: the event a relay published just before it died may come again, with the
      // same id. Only that one: each dead relay's last XADD.
      const extra = new Map<string, number>();
      for (const { relay } of crashes) {
        const last = xadds(t)
          .filter((e) => e.owner === relay.name && applied(e))
          .at(-1);
        const id = last && orderIdOf(last);
        if (id) extra.set(id, (extra.get(id) ?? 0) + 1);
      }
      assertCopies(
        t,
        ordersOf(all),
        await readEvents(t),
        extra,
        `the crashes (${crashedAt})`,
        "A crash between an XADD and its LREM may repeat that one event. Publishing a whole batch and removing it afterwards repeats the whole batch; publish and remove one entry at a time.",
      );
      assertInOrder(t, all, events, `After ${crashes.length} relays died at crash points`);
      await t.waitFor(async () => (await t.redis.llen(OUTBOX)) === 0, {
        message: "relay-3 published every event but left entries in the outbox.",
        hint: "Remove each entry after its XADD succeeds.",
        timeoutMs: 3000,
      });
    },

    "failed-publish-retried": async (t) => {
      const relay = await startRelay(t, "relay");
      const shop = await t.load("orders.ts", { name: "shop", limits: LIMITS });
      const failures = between(t, 1, 3);
      t.note(`the next ${failures} XADD(s) will fail with an error; then 3 orders are placed`);
      t.proxy.failNext(failures, { match: "XADD" });
      const placements = await placeAll(t, shop, 3);
      await untilPublished(t, ordersOf(placements), relay, 6000, (missing, quiet) => ({
        message: quiet
          ? `${missing.join(", ")} never reached the stream, and the relay has stopped reading the outbox.`
          : `${missing.join(", ")} never reached the stream: XADD failed ${failures} time(s) (an injected error) and the event${missing.length > 1 ? "s were" : " was"} dropped.`,
        hint: relay.alive
          ? "Remove an entry from the outbox only after its XADD succeeded. When XADD throws, leave the entry where it is, wait a moment, and try again."
          : `The relay died on the error (${describe(relay)}). Catch errors inside its loop, wait a moment, and try again.`,
      }));

      // Cut while the relay idles: a cut during an XADD or its removal may honestly repeat one event.
      await drained(t, relay);
      t.note("cutting every connection to Redis; then 2 more orders");
      t.proxy.cutAll();
      await t.sleep(300);
      const more = await placeAll(t, shop, 2);
      await untilPublished(t, ordersOf(more), relay, 6000, (missing) => ({
        message: `After the connections were cut, ${missing.join(", ")} were not published within 6 s.`,
        hint: relay.alive
          ? "ioredis reconnects by itself; make sure the relay's loop survives a failed command and keeps going."
          : `The relay died (${describe(relay)}). Catch errors inside its loop.`,
      }));
      await t.sleep(400);
      const all = [...placements, ...more];
      const events = await readEvents(t);
      assertCopies(
        t,
        ordersOf(all),
        events,
        new Map(),
        `${failures} failed XADD(s) (which published nothing) and a cut connection`,
        "Retry only the entry whose XADD failed, and remove each entry once its XADD has succeeded.",
      );
      assertInOrder(t, all, events, `After ${failures} failed XADD(s)`);
      if (!relay.alive)
        t.fail({ message: `The relay died after the faults: ${describe(relay)}.`, hint: "Catch errors inside the relay's loop; an error never stops it." });
    },

    "faults-on-other-paths": async (t) => {
      const relay = await startRelay(t, "relay");
      const shop = await t.load("orders.ts", { name: "shop", limits: LIMITS });
      const watchFrom = t.logPosition();
      const placements = await placeAll(t, shop, 2);
      await untilPublished(t, ordersOf(placements), relay, 4000, () => ({
        message: "A running relay did not publish 2 new orders within 4 s.",
        hint: relayHint,
      }));
      await drained(t, relay);
      await t.sleep(250); // a few idle looks

      // What the relay sends on its way round, learned from the log: every command but XADD
      // fails once below, and whatever it sends right after an XADD (the removal) is duplicated.
      const seen = commandsOf(t, relay.name, watchFrom);
      const names = [...new Set(seen.map((e) => e.args[0]!))].filter((n) => n !== "XADD");
      const removal = seen.find((e, i) => i > 0 && seen[i - 1]!.args[0] === "XADD")?.args[0];
      const shopNames = new Set(commandsOf(t, shop.name).map((e) => e.args[0]!));
      const extra = new Map<string, number>();

      if (removal && !shopNames.has(removal)) {
        t.note(`the relay's next 3 ${removal} commands (what it sends after an XADD) each reach Redis twice; then 4 orders`);
        t.proxy.duplicateNext(3, { match: removal });
        const batch: Placement[] = [];
        for (let i = 0; i < 4; i++) {
          await t.sleep(between(t, 0, 60));
          batch.push(await place(shop, makeOrder(t)));
        }
        placements.push(...batch);
        await untilPublished(t, ordersOf(batch), relay, 4000, (missing) => ({
          message: `${missing.join(", ")} never reached the stream after the relay's ${removal} was delivered twice (a client retry whose first reply was lost).`,
          hint: `A command that removes "the head" (LPOP, LTRIM) run twice removes an entry nobody published. Remove exactly the entry you published (LREM outbox 1 <that entry>): a second delivery then finds nothing to remove.`,
        }));
        t.proxy.duplicateNext(0);
        await drained(t, relay);
      }

      for (const name of shuffled(t, names)) {
        const from = t.logPosition();
        t.proxy.failNext(1, { match: name });
        const failed = () => t.commands().find((e) => e.seq > from && e.fault === "failNext");
        // A command the idle relay sends fails while the shop is quiet; one it only sends while
        // publishing fails on the way to publishing the next order.
        if (!(await within(t, 400, failed)) && shopNames.has(name)) {
          t.proxy.failNext(0);
          continue;
        }
        const p = await place(shop, makeOrder(t));
        placements.push(p);
        const hit = await within(t, 2000, () => failed() ?? (!relay.alive ? ("dead" as const) : null));
        if (!hit) {
          t.proxy.failNext(0);
          continue;
        }
        const where = hit === "dead" ? name : `${hit.args.slice(0, 2).join(" ")}${hit.owner ? ` from ${hit.owner}` : ""}`;
        t.note(`Redis answered ${where} with an error (${name} fails once)`);
        // A failed removal leaves a published entry in the outbox: it may be published once more.
        extra.set(p.order.id, 1);
        await untilPublished(t, [p.order], relay, 3000, (_, quiet) => ({
          message: relay.alive
            ? `After one ${name} failed (${where}), ${p.order.id} was not published within 3 s${quiet ? ", and the relay has stopped talking to Redis" : ""}.`
            : `The relay died when one ${name} failed (${where}): ${describe(relay)}`,
          hint: "Every command can fail: the lease, the read, the removal, not only XADD. Wrap the whole pass of the loop in try/catch, log, wait 100 ms and go round again; the entry is still in the outbox unless its removal succeeded.",
        }));
        await drained(t, relay);
      }
      await t.sleep(300);
      if (!relay.alive) {
        t.fail({
          message: `The relay died after a failed command on its way round: ${describe(relay)}`,
          hint: "Catch errors around the whole pass of the loop (lease, read, XADD, removal), wait 100 ms and go on.",
        });
      }
      const events = await readEvents(t);
      assertCopies(
        t,
        ordersOf(placements),
        events,
        extra,
        "one failed command each",
        "Only an entry whose removal failed may be published again. A duplicated removal must not remove anything else, and a failed lease or read publishes nothing twice.",
      );
      assertInOrder(t, placements, events, "After failed and duplicated commands");
      await assertNoLeaks(t);
    },

    "standby-relay": async (t) => {
      const shop = await t.load("orders.ts", { name: "shop", limits: LIMITS });
      const placements = await placeAll(t, shop, 3);
      await assertNothingPublished(t, "After 3 placeOrder calls");

      // Concurrent first use, made certain: both relays are loaded and waiting, then both mains
      // start in the same instant with Redis's replies held back, so each relay's first command
      // reaches Redis before either hears an answer. The one that came second is then paused
      // with its answer on the way, while the first goes ahead: whatever the second learned
      // before the first acted is stale when it wakes (a check-then-set lease takes it anyway).
      const relays = await loadRelays(t, ["relay-a", "relay-b"]);
      t.note(
        "relay-a and relay-b start in the same instant, Redis's replies held back 300 ms, with 3 orders waiting: both ask for the lease before either hears the answer",
      );
      const raceFrom = t.logPosition();
      t.proxy.setLatency({ ms: 300 });
      relays.forEach(startMain);
      const openers = await within(t, 3000, () => {
        const firsts = relays.map((r) => commandsOf(t, r.proc.name, raceFrom)[0]);
        return firsts.every(Boolean) || relays.some((r) => !running(r)) ? firsts : null;
      });
      const [ahead, behind] = openers?.every(Boolean) ? [...relays].sort((x, y) => openers[relays.indexOf(x)]!.seq - openers[relays.indexOf(y)]!.seq) : [];
      if (ahead && behind) {
        behind.proc.pause();
        t.proxy.setLatency({ ms: 20, jitterMs: 20 });
        await within(t, 700, () => xadds(t).some((e) => e.owner === ahead.proc.name));
        behind.proc.resume();
        t.note(`${behind.proc.name}, whose first command reached Redis second, was paused until ${ahead.proc.name} had gone ahead`);
      }
      t.proxy.setLatency({ ms: 20, jitterMs: 20 });
      const firstXadd = await t.waitFor(() => xadds(t)[0] ?? (relays.every((r) => !running(r)) ? ("dead" as const) : null), {
        message: "Neither of two relays published any of the 3 waiting entries within 8 s.",
        hint: relayHint,
        timeoutMs: 8000,
      });
      t.proxy.setLatency({ ms: 0 });
      const winner = firstXadd!; // waitFor returns only a truthy value
      if (winner === "dead")
        return t.fail({ message: "Both relays ended before publishing anything.", actual: relays.map(describeRelay).join("\n"), hint: relayHint });
      const leader = relays.find((r) => r.proc.name === winner.owner) ?? relays[0]!;
      const standby = relays.find((r) => r !== leader)!;
      const [L, S] = [leader.proc.name, standby.proc.name];
      for (let i = 0; i < 3; i++) {
        await t.sleep(between(t, 0, 200));
        placements.push(await place(shop, makeOrder(t)));
      }
      await untilPublished(t, ordersOf(placements), leader.proc, 5000, () => ({
        message: `With two relays running, not all of ${placements.length} orders were published within 5 s.`,
        hint: relayHint,
      }));

      // A failed command on the standby's path: its lease attempts fail twice.
      const attempt = [...countBy(commandsOf(t, S).map((e) => e.args[0]!))].sort((a, b) => b[1] - a[1])[0]?.[0];
      if (attempt) {
        const from = t.logPosition();
        t.note(`the next 2 ${attempt} commands fail (the standby's lease attempts, or the holder's renewals): both relays must carry on`);
        t.proxy.failNext(2, { match: attempt });
        if (!(await within(t, 1500, () => t.commands().filter((e) => e.seq > from && e.fault === "failNext").length >= 2))) t.proxy.failNext(0);
        await t.sleep(200);
      }
      const both = xadds(t).filter((e) => e.owner === S);
      if (both.length > 0) {
        t.fail({
          message: `Both relays published: ${S} sent XADDs while ${L} was alive and renewing its lease. Two relays publishing at once send events twice and out of order.`,
          expected: `only the lease holder (${L}) publishes; ${S} waits`,
          actual: `${S} sent ${both.length} XADD(s), for ${[...new Set(both.map(orderIdOf))].join(", ")}`,
          hint: `Before each XADD, hold the lease: SET ${LEASE} <token> NX PX ${LEASE_MS} takes it only if nobody has it, and a small Lua script renews it only if its value is still your token (which must differ between any two relays). A relay without the lease publishes nothing.`,
        });
      }
      for (const r of relays) {
        if (!running(r))
          t.fail({
            message: `${r.proc.name} stopped while two relays ran${attempt ? ` and two ${attempt} commands failed` : ""}: ${describeRelay(r)}`,
            hint: "A relay that does not hold the lease is a standby: it keeps running and tries again every 100 ms. Catch errors inside the loop.",
          });
      }
      assertCopies(
        t,
        ordersOf(placements),
        await readEvents(t),
        new Map(),
        "two healthy relays",
        "Only one relay may publish at a time: the one holding the lease.",
      );
      await Promise.all([assertLeaseHeld(t, L), assertIdleCadence(t, standby.proc, `${L} held the lease`)]);

      // Failover: the holder dies at a command the seed picks, while orders arrive.
      const point = { match: "*", nth: between(t, 1, 6), when: t.random() < 0.5 ? ("before" as const) : ("after" as const) };
      const crash = t.crashAt(leader.proc, point);
      const burst = await Promise.all(Array.from({ length: 3 }, () => place(shop, makeOrder(t))));
      placements.push(...burst);
      const hit = await Promise.race([crash, t.sleep(4000).then(() => undefined)]);
      if (!hit)
        return t.fail({
          message: `${L} sent fewer than ${point.nth} commands in 4 s while holding the lease.`,
          actual: describeRelay(leader),
          hint: relayHint,
        });
      // When the dead holder's lease runs out, read from Redis itself.
      const readFrom = logNow(t, `${L} died ${point.when} its ${ordinal(point.nth)} command (${hit.args[0]}); reading the lease`);
      const pttl = await t.redis.pttl(LEASE);
      const readTo = logNow(t, `lease ${pttl === -2 ? "gone" : `expires in ${pttl} ms`}; ${S} must take over`);
      await assertLeaseTtl(t, pttl, `right after ${L} died`);
      const left = Math.max(pttl, 0);
      const late = await place(shop, makeOrder(t)); // something to publish once the lease has expired
      placements.push(late);
      const takeover = await within(t, left + TAKEOVER_WITHIN_MS + 1000, () => xadds(t, hit.seq).find((e) => e.owner === S));
      if (!takeover) {
        return t.fail({
          message: `${S} never published after ${L} died, though the lease expired ${left} ms after the crash and orders were waiting.`,
          expected: `${S} publishing within ${TAKEOVER_WITHIN_MS} ms of the lease expiring`,
          actual: `${describeRelay(standby)}; ${commandsOf(t, S, hit.seq).length} commands from it since the crash; outbox ${await t.redis.llen(OUTBOX)} entries`,
          hint: "A standby keeps trying to take the lease every 100 ms for as long as it lives, not only when it starts: the holder can die at any moment.",
        });
      }
      const early = readFrom + left - CLOCK_SLACK_MS - takeover.at;
      if (early > 0) {
        t.fail({
          message: `${S} published ${Math.round(early)} ms before ${L}'s lease expired.`,
          expected: `no publish by ${S} until ${LEASE} has expired`,
          actual: `lease expiry ${left} ms after the crash; ${S}'s first XADD ${Math.round(takeover.at - readFrom)} ms after it`,
          hint: `Take the lease only when it is free (SET ${LEASE} <token> NX PX ${LEASE_MS}), and publish only while you hold it.`,
        });
      }
      const waited = takeover.at - (readTo + left);
      t.note(`${S} published ${Math.round(takeover.at - (readFrom + left))} ms after the lease expired`);
      if (waited > TAKEOVER_WITHIN_MS) {
        t.fail({
          message: `${S} took over ${Math.round(waited)} ms after ${L}'s lease expired.`,
          expected: `its first publish within ${TAKEOVER_WITHIN_MS} ms of the expiry (it tries every 100 ms)`,
          actual: `lease expired ${left} ms after the crash; ${S} published ${Math.round(takeover.at - readFrom)} ms after it`,
          hint: "A standby tries to take the lease every 100 ms; when it gets it, it publishes at once.",
        });
      }
      const events = await untilPublished(t, ordersOf(placements), standby.proc, 4000, () => ({
        message: `${S} took over but did not publish every order.`,
        hint: relayHint,
      }));
      await t.sleep(300);
      const lastOfLeader = xadds(t)
        .filter((e) => e.owner === L && applied(e))
        .at(-1);
      const extra = new Map<string, number>(lastOfLeader && orderIdOf(lastOfLeader) ? [[orderIdOf(lastOfLeader)!, 1]] : []);
      assertCopies(t, ordersOf(placements), await readEvents(t), extra, `${L}'s crash`, "Only the event the dead relay was publishing may come twice.");
      assertInOrder(t, placements, events, "Across a failover");
      if (!running(standby)) t.fail({ message: `${S} stopped after taking over: ${describeRelay(standby)}`, hint: relayHint });
      await assertNoLeaks(t);
    },

    "paused-relay": async (t) => {
      const shop = await t.load("orders.ts", { name: "shop", limits: LIMITS });
      const placements = await placeAll(t, shop, 8);
      await assertNothingPublished(t, "After 8 placeOrder calls");

      // relay-1 starts on 8 waiting entries with replies delayed, and is paused (SIGSTOP) with a
      // command in flight partway through its batch, at a point the seed picks.
      const nth = between(t, 4, 8);
      t.proxy.setLatency({ ms: 60 });
      const first = t.spawn("relay.ts", { name: "relay-1", limits: LIMITS });
      const reached = (await t.waitFor(() => commandsOf(t, first.name)[nth - 1] ?? (!first.alive ? ("dead" as const) : null), {
        message: `relay-1 sent fewer than ${nth} commands within 6 s, with 8 entries in the outbox.`,
        hint: relayHint,
        timeoutMs: 6000,
      }))!;
      first.pause();
      t.proxy.setLatency({ ms: 0 });
      if (reached === "dead") return t.fail({ message: "relay-1 ended before it had published its batch.", actual: describe(first), hint: relayHint });
      const pausedAt = `right after its ${ordinal(nth)} command (${reached.args.slice(0, 2).join(" ")}${orderIdOf(reached) ? ` for ${orderIdOf(reached)}` : ""}) reached Redis`;
      const lastBeforePause = xadds(t)
        .filter((e) => e.owner === first.name)
        .at(-1);
      t.note(
        `relay-1 is paused ${pausedAt}, with ${await t.redis.llen(OUTBOX)} entries still in the outbox; relay-2 starts and must take over once relay-1's lease expires`,
      );

      const second = t.spawn("relay.ts", { name: "relay-2", limits: LIMITS });
      await untilPublished(t, ordersOf(placements), second, LEASE_MS + 6000, () => ({
        message: `relay-1 was paused (SIGSTOP) ${pausedAt}, and relay-2 did not publish the rest within ${(LEASE_MS + 6000) / 1000} s.`,
        hint: `A paused relay stops renewing its lease; ${LEASE_MS} ms later it expires and a standby takes it. ${relayHint}`,
      }));
      placements.push(...(await placeAll(t, shop, 2)));
      await untilPublished(t, ordersOf(placements), second, 3000, () => ({
        message: "relay-2 held the lease but did not publish new orders.",
        hint: relayHint,
      }));

      const resumedFrom = t.logPosition();
      t.note("relay-1 resumes (SIGCONT): it wakes with the rest of its batch in memory and a lease that is no longer its own");
      first.resume();
      await t.sleep(300);
      placements.push(await place(shop, makeOrder(t)));
      await untilPublished(t, ordersOf(placements), second, 3000, () => ({
        message: "After relay-1 woke, the next order was not published within 3 s.",
        hint: relayHint,
      }));
      await t.sleep(300);
      const stale = xadds(t, resumedFrom).filter((e) => e.owner === first.name);
      if (stale.length > 1) {
        t.fail({
          message: `relay-1 was paused ${pausedAt}, past its ${LEASE_MS} ms lease, while relay-2 took over; on waking it published ${stale.length} more events.`,
          expected: "at most the one event it was about to publish when it was paused; then it finds the lease gone and stops",
          actual: `relay-1's XADDs after it woke: ${stale.map(orderIdOf).join(", ")}`,
          hint: "Renew the lease before every XADD, not once per batch, and renew only a lease whose value is still your token (GET and PEXPIRE/SET in one Lua script). PEXPIRE alone extends whoever's lease it is.",
        });
      }
      if (!first.alive)
        t.fail({
          message: `relay-1 died after it woke: ${describe(first)}`,
          hint: "A relay that finds the lease held by another becomes a standby: it stays alive and tries again every 100 ms.",
        });
      const extra = new Map<string, number>();
      for (const e of [lastBeforePause, ...stale]) {
        const id = e && orderIdOf(e);
        if (id) extra.set(id, (extra.get(id) ?? 0) + 1);
      }
      const events = await readEvents(t);
      assertCopies(
        t,
        ordersOf(placements),
        events,
        extra,
        "relay-1's pause",
        "A relay that lost its lease while paused must not publish what it read before the pause.",
      );
      assertInOrder(t, placements, events, "After relay-1 was paused and woke");
      await t.waitFor(async () => (await t.redis.llen(OUTBOX)) === 0, {
        message: "Entries stayed in the outbox after every event was published.",
        hint: "Remove each entry after its XADD succeeds.",
        timeoutMs: 2000,
      });
    },
  },
});
