import { defineChecks, type CheckContext, type LearnerProcess, type RpcModule } from "../../lib/grader/index.ts";
import type { CommandLogEntry } from "../../lib/runner/chaos-proxy.ts";

interface Order {
  id: string;
  item: string;
  qty: number;
}

// The keys types.ts fixes (instructions.md names them); the grader reads nothing else.
const ORDERS = "orders";
const OUTBOX = "outbox";
const EVENTS = "events";

// Processes outlive a single RPC call, so they get more wall time than the sandbox's default.
const LIMITS = { wallMs: 40_000 };

/** Replies are held this long when the grader wants to kill a process right after a command. */
const HOLD_MS = 1500;

/** Commands that change nothing: the crash point is the first command that is not one of these. */
const READS = new Set(["LRANGE", "LINDEX", "LLEN", "LPOS", "XRANGE", "XREVRANGE", "XLEN", "XINFO", "HGET", "HGETALL", "HMGET", "HEXISTS", "HLEN", "HKEYS", "HVALS", "GET", "MGET", "EXISTS", "TYPE", "TTL", "PTTL", "ZRANGE", "ZRANGEBYSCORE", "ZCARD", "ZSCORE", "SCAN", "KEYS", "PING", "ECHO", "SELECT", "CLIENT", "HELLO", "INFO", "TIME", "WATCH", "UNWATCH", "SCRIPT", "EVAL_RO", "EVALSHA_RO", "COMMAND", "OBJECT", "DBSIZE"]);

const ITEMS = ["kettle", "lamp", "chair", "rug", "mug", "desk"];

/** An order learner code cannot know in advance, even knowing the seed: all of it from the runner's CSPRNG. */
function makeOrder(t: CheckContext): Order {
  return { id: t.id("order"), item: ITEMS[Math.floor(t.unpredictable() * ITEMS.length)]!, qty: 1 + Math.floor(t.unpredictable() * 5) };
}

/** Commands that run Lua: what they write cannot be read from the log, and Redis runs each as one step. */
const SCRIPTS = new Set(["EVAL", "EVALSHA", "FCALL"]);

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

/**
 * From the proxy's log of one placeOrder call: the order and its outbox entry must have reached
 * Redis in one atomic step. Whatever the kill points happen to hit, a pipeline or two plain
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
  if (published === 0 && t.commands("XADD").length === 0) return;
  t.fail({
    message: `${when}, with no relay running, something was published: placeOrder wrote to the stream itself.`,
    expected: `nothing in '${EVENTS}' until a relay runs`,
    actual: published ? `'${EVENTS}' holds ${await t.redis.xlen(EVENTS).catch(() => "some")} entries` : `XADD sent: ${t.commands("XADD").map((e) => e.args.slice(0, 2).join(" ")).join(", ")}`,
    hint: "placeOrder stores the order and its outbox entry, and nothing else. Publishing from placeOrder too (\"for speed\") sends every event twice, or, if the relay only cleans up, loses the guarantee the outbox gives: the relay publishes, then removes.",
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
    t.fail({ message: `The key '${EVENTS}' is a ${type}, not a stream.`, expected: "a stream written with XADD", actual: type, hint: `Publish with XADD ${EVENTS} * id <event id> type order-placed orderId <order id>.` });
  }
  const entries = await t.redis.xrange(EVENTS, "-", "+");
  return entries.map(([streamId, flat]) => {
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
    return { streamId, fields };
  });
}

const countBy = (items: string[]) => items.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map<string, number>());

/** Every order is stored as its JSON, with exactly one well-formed outbox entry, or (crashed) neither. */
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
        hint: `HSET ${ORDERS} <order.id> JSON.stringify(order), in the same transaction as the outbox entry.`,
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
    t.fail({ message: `Outbox entries share an event id: ${twice.map(([id]) => id).join(", ")}.`, expected: "a different id for every event", hint: "Make the id per event (randomUUID()), not per process or per order item." });
  }
}

/** The commands learner code sent since log position `from`. */
function commandsSince(t: CheckContext, from: number): CommandLogEntry[] {
  return t.commands().slice(from);
}

/** Starts a relay and waits until it has spoken to Redis, so what follows happens while it runs. */
async function startRelay(t: CheckContext, name: string): Promise<LearnerProcess> {
  const from = t.commands().length;
  const relay = t.spawn("relay.ts", { name, limits: LIMITS });
  await t.waitFor(() => commandsSince(t, from).length > 0 || !relay.alive, {
    message: `${name} sent no command to Redis within 5 s of starting.`,
    hint: "main(workerName) should loop for as long as the process lives: read the outbox, publish, remove, and wait about 100 ms when there is nothing to do.",
    timeoutMs: 5000,
  });
  await t.sleep(300);
  return relay;
}

async function placeAll(shop: RpcModule, orders: Order[]): Promise<void> {
  for (const order of orders) await shop.call("placeOrder", [order], 8000);
}

function describe(relay: LearnerProcess): string {
  const o = relay.outcome;
  if (!o) return `${relay.name} is still running`;
  const how = o.kind === "exited" ? `exited with code ${o.code}` : o.kind === "signalled" ? `was stopped by ${o.signal}` : o.message;
  return `${relay.name} ${how}${relay.output() ? `; its last output:\n${relay.output().slice(-500)}` : ""}`;
}

/** Waits until every order has at least one event in the stream; fails naming the missing ones. */
async function untilPublished(t: CheckContext, orders: Order[], relay: LearnerProcess, timeoutMs: number, why: (missing: string[], quiet: boolean) => { message: string; hint: string }): Promise<Published[]> {
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
        actual: [`missing: ${missing.join(", ")}`, `outbox: ${outbox.length} entr${outbox.length === 1 ? "y" : "ies"} left`, quiet ? `${relay.name} is alive but has sent no command for 0.5 s` : describe(relay)].join("\n"),
        hint,
      });
    }
    await t.sleep(50);
  }
}

const relayHint = "The relay's main loops forever: LRANGE the oldest outbox entries, XADD each to `events`, LREM it only once XADD has succeeded, and sleep about 100 ms when the outbox is empty.";

export default defineChecks({
  timeoutMs: 30_000,
  // The live view: a shop places an order every 300 ms while the relay publishes them; every 6 s
  // the relay is SIGKILLed right after an XADD, before it can remove the entry, and restarted.
  playground: async (t) => {
    const limits = { wallMs: 70_000, cpuSeconds: 30 };
    const shop = await t.load("orders.ts", { name: "shop", limits });
    let n = 1;
    let relay = t.spawn("relay.ts", { name: `relay-${n}`, limits });
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
        const from = t.commands().length;
        t.proxy.setLatency({ ms: 800 });
        const write = await t.waitFor(() => commandsSince(t, from).find((e) => e.args[0] === "XADD"), { message: "no XADD", timeoutMs: 3000 }).catch(() => null);
        t.note(`SIGKILL ${relay.name}${write ? " right after it sent XADD" : ""}; relay-${n + 1} takes over`);
        await relay.kill();
        t.proxy.setLatency({ ms: 0 });
        relay = t.spawn("relay.ts", { name: `relay-${++n}`, limits });
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
      const mark = t.commands().length;
      await shop.call("placeOrder", [placed[1]], 8000);
      const second = commandsSince(t, mark);
      assertOneStep(t, placed[1]!, second);
      const perOrder = second.map((e) => e.args[0]!);
      await assertStoredWithEntry(t, placed, await readOutbox(t));
      await assertNothingPublished(t, "After two placeOrder calls");
      t.note(`placeOrder sends ${perOrder.join(", ")}; now each writer is SIGKILLed after its 1st, 2nd, … command, with Redis's replies held back`);

      // Kill a writer right after its k-th command reached Redis (its reply held back, so it can
      // send nothing more). Whatever k is, the order and its event must both exist, or neither.
      const steps = Math.min(Math.max(perOrder.length - 1, 1), 3);
      const trials: { order: Order; after: string }[] = [];
      for (let k = 1; k <= steps; k++) {
        const writer = await t.load("orders.ts", { name: `writer-${k}`, limits: LIMITS });
        const warm = makeOrder(t);
        await writer.call("placeOrder", [warm], 8000); // connection open, scripts loaded
        placed.push(warm);
        const order = makeOrder(t);
        const from = t.commands().length;
        t.proxy.setLatency({ ms: HOLD_MS });
        void writer.call("placeOrder", [order], 10_000).catch(() => {});
        const sent = await t.waitFor(() => (commandsSince(t, from).length >= k ? commandsSince(t, from) : null), {
          message: `placeOrder(${order.id}) sent fewer than ${k} command(s) within 5 s, though it sent ${perOrder.length} before.`,
          hint: "placeOrder should send the same commands every time.",
          timeoutMs: 5000,
        });
        await writer.kill();
        t.proxy.setLatency({ ms: 0 });
        const after = sent!.slice(0, k).map((e) => e.args[0]).join(", ");
        t.note(`SIGKILLed ${writer.name} right after it sent ${after} for ${order.id}`);
        trials.push({ order, after });
      }
      await t.sleep(200); // anything still in flight lands

      const outbox = await readOutbox(t);
      for (const { order, after } of trials) {
        const stored = (await t.redis.hexists(ORDERS, order.id)) === 1;
        const queued = outbox.some((e) => e.orderId === order.id);
        if (stored && !queued) {
          t.fail({
            message: `Order ${order.id} was stored, but its outbox entry never was: the writer was SIGKILLed right after sending ${after}. Nobody will ever hear about this order.`,
            expected: "the order and its outbox entry, or neither",
            actual: `'${ORDERS}' has ${order.id}; '${OUTBOX}' has no entry for it`,
            hint: "Two separate commands leave a gap a crash can fall into. Queue both writes in one MULTI … EXEC (redis.multi().hset(…).rpush(…).exec()), or one Lua script: Redis applies them together or not at all.",
          });
        }
        if (!stored && queued) {
          t.fail({
            message: `The outbox has an event for order ${order.id}, but the order was never stored: the writer was SIGKILLed right after sending ${after}. The relay will announce an order that does not exist.`,
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
    },

    "publishes-each-once": async (t) => {
      // The first order is placed before any relay runs: only a relay may publish it.
      const shop = await t.load("orders.ts", { name: "shop", limits: LIMITS });
      const orders = Array.from({ length: 6 }, () => makeOrder(t));
      t.note(`placing ${orders[0]!.id} with no relay running: nothing may reach '${EVENTS}' yet`);
      await shop.call("placeOrder", [orders[0]], 8000);
      await t.sleep(300);
      await assertNothingPublished(t, "After placeOrder returned");
      const relay = await startRelay(t, "relay");
      t.note(`${relay.name} is running; placing 5 more orders one after another`);
      await placeAll(shop, orders.slice(1));
      await untilPublished(t, orders, relay, 6000, (missing, quiet) => ({
        message: `${missing.length} of 6 orders were not published within 6 s of the relay running${quiet ? ", and the relay has stopped reading the outbox" : ""}.`,
        hint: quiet || !relay.alive ? `The relay must keep polling for as long as it lives, not drain the outbox once at start: new orders arrive all the time. ${relayHint}` : relayHint,
      }));
      await t.sleep(800); // a second copy of any event would show up now
      const events = await readEvents(t);
      const ours = events.filter((e) => orders.some((o) => o.id === e.fields.orderId));
      const twice = [...countBy(ours.map((e) => e.fields.orderId!))].filter(([, n]) => n > 1);
      if (twice.length > 0) {
        t.fail({
          message: `With no crash and no fault, ${twice.length} of 6 orders were published more than once.`,
          expected: "each event in the stream once when nothing goes wrong",
          actual: twice.map(([id, n]) => `${id} ×${n}`).join(", "),
          hint: "Only the relay publishes, and only what it reads from the outbox, removing each entry after its XADD. Publishing from placeOrder as well (\"for speed\") sends every event twice.",
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
      t.equal(
        ours.map((e) => e.fields.orderId),
        orders.map((o) => o.id),
        { message: "Events reached the stream in a different order from the orders.", hint: "Publish the outbox oldest first: RPUSH adds at the tail, so read from the head (LRANGE outbox 0 …)." },
      );
      const xadds = t.commands("XADD").filter((e) => e.args[1] === EVENTS);
      if (xadds.length === 0 || xadds.some((e) => e.reply?.summary === "QUEUED")) {
        t.fail({
          message: xadds.length === 0 ? "The relay never sent XADD as a command of its own (a Lua script hides it)." : "The relay sent XADD inside MULTI … EXEC.",
          expected: "XADD on its own, then a separate command that removes the entry",
          hint: "The stream stands in for a broker on another machine: no transaction can span it and your database. Publish with a plain XADD, and remove the entry afterwards; that gap is what this lab is about.",
        });
      }
      await t.waitFor(async () => (await t.redis.llen(OUTBOX)) === 0, {
        message: "Every event was published, but entries stayed in the outbox.",
        hint: "After each successful XADD, remove that entry from the outbox (LREM outbox 1 <the entry>), or the next restart publishes them all again.",
        timeoutMs: 2000,
      });
    },

    "relay-after-crash": async (t) => {
      const shop = await t.load("orders.ts", { name: "shop", limits: LIMITS });
      const before = Array.from({ length: 4 }, () => makeOrder(t));
      await placeAll(shop, before);
      await assertNothingPublished(t, "After 4 placeOrder calls");
      t.note("4 orders are waiting in the outbox; relay-1 starts with Redis's replies held back 1.5 s, and is SIGKILLed right after its first command that changes anything");

      const from = t.commands().length;
      t.proxy.setLatency({ ms: HOLD_MS });
      const first = t.spawn("relay.ts", { name: "relay-1", limits: LIMITS });
      const found = await t.waitFor(() => commandsSince(t, from).find((e) => !READS.has(e.args[0]!)) ?? (!first.alive ? ("dead" as const) : null), {
        message: "relay-1 sent no command that changes anything within 8 s, with 4 entries waiting in the outbox.",
        hint: relayHint,
        timeoutMs: 8000,
      });
      await first.kill();
      t.proxy.setLatency({ ms: 0 });
      const write = found!; // waitFor returns only a truthy value
      if (write === "dead") return t.fail({ message: "relay-1 ended before it sent anything that changes Redis.", actual: describe(first), hint: relayHint });
      const crashPoint = write.args.slice(0, 3).join(" ");
      t.note(`SIGKILLed relay-1 right after it sent ${crashPoint}; relay-2 starts and 2 more orders are placed`);

      const second = await startRelay(t, "relay-2");
      const after = [makeOrder(t), makeOrder(t)];
      await placeAll(shop, after);
      const all = [...before, ...after];
      const events = await untilPublished(t, all, second, 8000, (missing, quiet) =>
        missing.some((id) => before.some((o) => o.id === id))
          ? {
              message: `Events were lost: relay-1 was SIGKILLed right after sending ${crashPoint}, and ${missing.filter((id) => before.some((o) => o.id === id)).join(", ")} never reached the stream.`,
              hint: "Removing an entry before it is published (LPOP, then XADD) loses it if the relay dies in between. Read the entry without removing it (LRANGE/LINDEX), XADD it, and only then LREM it. The worst a crash can do then is publish it twice.",
            }
          : {
              message: `Orders placed after relay-2 started were not published: ${missing.join(", ")}${quiet ? "; relay-2 has stopped reading the outbox" : ""}.`,
              hint: quiet ? `Recovering what a crash left behind is not a separate startup step: the relay's ordinary loop, running forever, does it. ${relayHint}` : relayHint,
            },
      );
      // At-least-once: the event relay-1 published just before it died may come again, but each
      // copy must carry the same event id so that consumers can drop it.
      for (const order of all) {
        const ids = new Set(events.filter((e) => e.fields.orderId === order.id).map((e) => e.fields.id));
        if (ids.size > 1) {
          t.fail({
            message: `Order ${order.id} was published ${ids.size} times with different event ids, so a consumer cannot tell they are the same event.`,
            expected: "every copy of an event carries the id it was given in the outbox",
            actual: [...ids].join(", "),
            hint: "Create the event id once, in placeOrder, and have the relay copy it into the stream entry; never make a new one when publishing.",
          });
        }
      }
      await t.waitFor(async () => (await t.redis.llen(OUTBOX)) === 0, {
        message: "relay-2 published every event but left entries in the outbox.",
        hint: "Remove each entry after its XADD succeeds.",
        timeoutMs: 3000,
      });
    },

    "failed-publish-retried": async (t) => {
      const relay = await startRelay(t, "relay");
      const shop = await t.load("orders.ts", { name: "shop", limits: LIMITS });
      const orders = Array.from({ length: 3 }, () => makeOrder(t));
      t.note("the next 2 XADDs will fail with an error; then 3 orders are placed");
      t.proxy.failNext(2, { match: "XADD" });
      await placeAll(shop, orders);
      await untilPublished(t, orders, relay, 6000, (missing, quiet) => ({
        message: quiet
          ? `${missing.join(", ")} never reached the stream, and the relay has stopped reading the outbox.`
          : `${missing.join(", ")} never reached the stream: XADD failed twice (an injected error) and the event${missing.length > 1 ? "s were" : " was"} dropped.`,
        hint: relay.alive
          ? "Remove an entry from the outbox only after its XADD succeeded. When XADD throws, leave the entry where it is, wait a moment, and try again."
          : `The relay died on the error (${describe(relay)}). Catch errors inside its loop, wait a moment, and try again.`,
      }));

      t.note("cutting every connection to Redis; then 2 more orders");
      t.proxy.cutAll();
      await t.sleep(300);
      const more = [makeOrder(t), makeOrder(t)];
      await placeAll(shop, more);
      await untilPublished(t, more, relay, 6000, (missing) => ({
        message: `After the connections were cut, ${missing.join(", ")} were not published within 6 s.`,
        hint: relay.alive ? "ioredis reconnects by itself; make sure the relay's loop survives a failed command and keeps going." : `The relay died (${describe(relay)}). Catch errors inside its loop.`,
      }));
      await t.sleep(500);
      const ours = (await readEvents(t)).filter((e) => [...orders, ...more].some((o) => o.id === e.fields.orderId));
      const twice = [...countBy(ours.map((e) => e.fields.orderId!))].filter(([, n]) => n > 1);
      if (twice.length > 0) {
        t.fail({
          message: `A failed XADD (one that never reached the stream) led to ${twice.length} event(s) being published twice.`,
          expected: "each event once: a failed XADD published nothing, so one retry is enough",
          actual: twice.map(([id, n]) => `${id} ×${n}`).join(", "),
          hint: "Retry only the entry whose XADD failed, and remove each entry once its XADD has succeeded.",
        });
      }
    },
  },
});
