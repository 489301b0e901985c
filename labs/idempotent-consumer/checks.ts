import { CheckFailure, defineChecks, fc, type CheckContext, type LearnerProcess, type RpcModule } from "../../lib/grader/index.ts";
import type { CommandLogEntry } from "../../lib/runner/chaos-proxy.ts";

interface Message {
  id: string;
  account: string;
  amount: number;
}

// What instructions.md fixes: the balances hash, and broker.ts's keys and connection names.
const BALANCES = "balances";
const INBOX = "broker:inbox";
const IN_FLIGHT = "broker:inflight";
const BROKER_CONNECTION = "broker";
const ACK_CONNECTION = "broker-ack";
/** Keys that are not the consumer's own: the credit itself and the broker's bookkeeping. */
const NOT_MARKS = [BALANCES, "broker:*"];

/** A mark's lifetime, as the instructions state it: at least an hour, at most a week. */
const MIN_TTL_S = 60 * 60;
const MAX_TTL_S = 7 * 24 * 60 * 60;
/** A TTL is read a few seconds after the key was written; this much is allowed for that. */
const TTL_SLACK_S = 30;

/**
 * Crash points are swept over every command `handle` sends for a message; one that sends more than
 * this is refused rather than passed untested (a correct consumer needs 1; WATCH/MULTI/EXEC about 7).
 */
const MAX_HANDLE_COMMANDS = 8;
/** The same for a worker's steps per message (its own commands and the ack; the broker's claim and renewals do not count). */
const MAX_WORKER_STEPS = MAX_HANDLE_COMMANDS + 1;

/**
 * Replies are held this long while the grader watches a worker step by step, so the worker cannot
 * send its next command before the grader has reacted to the last one (it polls every few ms).
 */
const WATCH_LATENCY_MS = 150;
/**
 * The claim's reply is held this long while the grader arms a refusal of the next command. The
 * broker's only timer, the lease renewal, first fires 250 ms after the claim returned, and a worker
 * claims nothing while it handles a message, so the command refused is the worker's own.
 */
const GATE_LATENCY_MS = 200;
/** Replies are held this long before the grader cuts a connection whose command Redis has applied. */
const CUT_LATENCY_MS = 250;
/** An ack reaching the proxy this long before the reply to an earlier command was written counts as sent before it. */
const ACK_ORDER_SLACK_MS = 50;

/** 6 deliveries for 2 running workers: they drain in milliseconds, and a duplicate left unacked never does. */
const DRAIN_MS = 3_000;
/** A message whose credit Redis refused: given back (nack), claimed again and credited within this. */
const REDELIVERY_MS = 2_500;

const WORKER_LIMITS = { wallMs: 40_000 };
/** The producer lives for the whole check, which can outlast the sandbox's default wall time. */
const PRODUCER_LIMITS = { wallMs: 60_000 };

type Failure = Parameters<CheckContext["fail"]>[0];

const amountOf = (t: CheckContext) => 1 + Math.floor(t.unpredictable() * 999);

/**
 * A message learner code cannot know in advance, even knowing the seed: id, account and amount come
 * from the runner's CSPRNG. The account does not contain the id, so finding the id in Redis means
 * the consumer stored it, not just the balance.
 */
function message(t: CheckContext, name: string): Message {
  return { id: t.id(name), account: t.id("acct"), amount: amountOf(t) };
}

const ordinal = (n: number) => `${n}${n % 100 >= 11 && n % 100 <= 13 ? "th" : (["th", "st", "nd", "rd"][n % 10] ?? "th")}`;
const plural = (n: number, word: string) => `${n} ${n === 1 ? word : word.endsWith("y") ? `${word.slice(0, -1)}ies` : `${word}s`}`;

async function balance(t: CheckContext, account: string): Promise<number> {
  return Number((await t.redis.hget(BALANCES, account)) ?? 0);
}

/** Nothing waiting and nothing leased: every delivery was acked. */
async function settled(t: CheckContext): Promise<boolean> {
  const [waiting, leased] = await Promise.all([t.redis.llen(INBOX), t.redis.zcard(IN_FLIGHT)]);
  return waiting === 0 && leased === 0;
}

async function queueState(t: CheckContext): Promise<string> {
  return `${await t.redis.llen(INBOX)} waiting in ${INBOX}, ${await t.redis.zcard(IN_FLIGHT)} leased in ${IN_FLIGHT}`;
}

async function until(t: CheckContext, done: () => Promise<boolean>, timeoutMs: number, failure: () => Promise<Failure> | Failure): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await done())) {
    if (performance.now() > deadline) t.fail(await failure());
    await t.sleep(10);
  }
}

/** The dead worker's leases run out now, instead of a second from now: the next claim puts them back. */
async function ageLeases(t: CheckContext): Promise<void> {
  const leases = await t.redis.zrange(IN_FLIGHT, 0, -1);
  if (leases.length > 0) await t.redis.zadd(IN_FLIGHT, "XX", ...leases.flatMap((lease) => [0, lease]));
}

/** Fails unless each message's account holds exactly its amount: credited once. */
async function assertCreditedOnce(t: CheckContext, messages: Message[], context: string, hints: { lost: string; twice: string }): Promise<void> {
  for (const m of messages) {
    const got = await balance(t, m.account);
    if (got === m.amount) continue;
    const times = got / m.amount;
    t.fail({
      message:
        got === 0
          ? `${context}: message ${m.id} never took effect.`
          : `${context}: message ${m.id} took effect ${Number.isInteger(times) ? `${times} times` : `partly (${got} of ${m.amount})`}.`,
      expected: `balances ${m.account} = ${m.amount} (credited exactly once)`,
      actual: `balances ${m.account} = ${got}`,
      hint: got === 0 ? hints.lost : hints.twice,
    });
  }
}

/** The consumer's keys: everything but the balances and the broker's. */
async function consumerKeys(t: CheckContext): Promise<string[]> {
  return (await t.redis.keys("*")).filter((k) => k !== BALANCES && !k.startsWith("broker:")).sort();
}

/** Every key the consumer created must expire, within the window the instructions state. */
async function assertKeysExpire(t: CheckContext, context: string): Promise<string[]> {
  const keys = await consumerKeys(t);
  for (const key of keys) {
    const ttl = await t.redis.ttl(key);
    if (ttl === -2 || (ttl >= MIN_TTL_S - TTL_SLACK_S && ttl <= MAX_TTL_S)) continue;
    t.fail({
      message: `${context}, key ${key} ${ttl < 0 ? "never expires" : `expires in ${ttl} s`}.`,
      expected: `every key besides ${BALANCES} and broker:* expiring ${MIN_TTL_S} s (1 hour) to ${MAX_TTL_S} s (7 days) after it was written`,
      actual: `TTL ${key} = ${ttl}`,
      hint:
        ttl < 0
          ? "A key per message kept forever grows without bound: one key per message ever handled. Give each mark its expiry in the very command that creates it (SET … NX EX 86400): an EXPIRE sent afterwards is lost when the worker dies in between."
          : "Keep a mark longer than a duplicate can arrive late (a day is typical), and not forever. EX takes seconds.",
    });
  }
  return keys;
}

/** Which message ids each of the consumer's keys holds, in its name or its content. */
async function idsByKey(t: CheckContext, ids: string[]): Promise<Map<string, string[]>> {
  const held = new Map<string, string[]>();
  for (const key of await consumerKeys(t)) {
    const texts = [key];
    const type = await t.redis.type(key);
    if (type === "string") texts.push((await t.redis.getrange(key, 0, 65_536)) ?? "");
    else if (type === "hash") texts.push(...(await t.redis.hkeys(key)), ...(await t.redis.hvals(key)));
    else if (type === "set") texts.push(...(await t.redis.srandmember(key, 10_000)));
    else if (type === "zset") texts.push(...(await t.redis.zrange(key, 0, 9_999)));
    else if (type === "list") texts.push(...(await t.redis.lrange(key, 0, 9_999)));
    else if (type === "stream") texts.push(...(await t.redis.xrange(key, "-", "+", "COUNT", 10_000)).flatMap(([id, fields]) => [id, ...fields]));
    const text = texts.join("\u0000");
    const found = ids.filter((id) => text.includes(id));
    if (found.length > 0) held.set(key, found);
  }
  return held;
}

/**
 * The proxy's command log as this lab reads it: whose each command was (`owner`, a program's name)
 * and which of that program's connections sent it (broker.ts names its own two).
 */
class CommandLog {
  private readonly names = new Map<number, string>();
  private upTo = 0;

  constructor(private readonly t: CheckContext) {}

  private refresh(): void {
    const log = this.t.proxy.log;
    let i = log.length;
    while (i > 0 && log[i - 1]!.seq > this.upTo) i--;
    for (; i < log.length; i++) {
      const e = log[i]!;
      if (e.args[0] === "CLIENT" && e.args[1]?.toUpperCase() === "SETNAME" && e.args[2] !== undefined) this.names.set(e.conn, e.args[2]);
      this.upTo = e.seq;
    }
  }

  /** The broker's bookkeeping (claims, lease renewals), its acks and nacks, or the consumer's own. */
  role(e: CommandLogEntry): "broker" | "ack" | "consumer" {
    this.refresh();
    const name = this.names.get(e.conn);
    return name === BROKER_CONNECTION ? "broker" : name === ACK_CONNECTION ? "ack" : "consumer";
  }

  /** Every command `owner` sent after `fromSeq`, in order. */
  sent(owner: string, fromSeq: number): CommandLogEntry[] {
    const log = this.t.proxy.log;
    const out: CommandLogEntry[] = [];
    for (let i = log.length - 1; i >= 0 && log[i]!.seq > fromSeq; i--) {
      const e = log[i]!;
      if (e.owner === owner && e.conn > 0 && e.args.length > 0) out.push(e);
    }
    return out.reverse();
  }

  /** What a worker did for a message: its own commands and its acks, not the broker's bookkeeping. */
  steps(owner: string, fromSeq: number): CommandLogEntry[] {
    return this.sent(owner, fromSeq).filter((e) => e.args[0] !== "CLIENT" && this.role(e) !== "broker");
  }

  /** How many of the broker's two named connections `owner` has opened (their CLIENT SETNAME answered). */
  brokerConnections(owner: string): number {
    return this.sent(owner, 0).filter(
      (e) => e.args[0] === "CLIENT" && e.durationMs !== undefined && (e.args[2] === BROKER_CONNECTION || e.args[2] === ACK_CONNECTION),
    ).length;
  }

  isClaim(e: CommandLogEntry): boolean {
    return this.role(e) === "broker" && e.args[0] === "EVAL";
  }

  show(e: CommandLogEntry): string {
    const role = this.role(e);
    if (role === "ack") return (e.args[1] ?? "").includes("RPUSH") ? "nack(delivery)" : "ack(delivery)";
    if (role === "broker") return this.isClaim(e) ? "claim()" : e.args[0] === "ZADD" ? "the broker's lease renewal" : `the broker's ${e.args[0]}`;
    const text = e.args.map((a) => (a.includes("\n") ? `"${a.replace(/\s+/g, " ").trim().slice(0, 40)}…"` : a)).join(" ");
    return text.length > 140 ? `${text.slice(0, 140)}…` : text;
  }

  list(entries: CommandLogEntry[]): string {
    return entries.map((e, i) => `${i + 1}. ${this.show(e)}`).join("\n") || "(none)";
  }
}

/**
 * A consumer instance, ready: broker.ts opens its two named connections when the module loads,
 * and a crash point counts every command from the moment it is set, so those must be done first.
 */
async function loadConsumer(t: CheckContext, log: CommandLog, role = "consumer"): Promise<RpcModule> {
  const consumer = await t.load("consumer.ts", { name: t.id(role) });
  const deadline = performance.now() + 3000;
  while (performance.now() < deadline && log.brokerConnections(consumer.name) < 2) await t.sleep(5);
  return consumer;
}

/** Calls handle(m); a throw or a hang fails the check, prefixed with what the grader was doing. */
async function handleOrFail(t: CheckContext, consumer: RpcModule, m: Message, context: string, timeoutMs = 10_000): Promise<void> {
  try {
    await consumer.call("handle", [m], timeoutMs);
  } catch (error) {
    if (!(error instanceof CheckFailure)) throw error;
    t.fail({
      message: `${context}: ${error.message}`,
      actual: error.actual,
      hint: error.hint ?? "handle must return normally once the credit is stored, or found already applied.",
    });
  }
}

type Outcome = { ok: true } | { ok: false; error: unknown };
const outcomeOf = (call: Promise<unknown>): Promise<Outcome> =>
  call.then(
    () => ({ ok: true as const }),
    (error: unknown) => ({ ok: false as const, error }),
  );

/** The commands handle sends for one fresh message, in its steady state (after a first message). */
async function probeHandle(t: CheckContext, log: CommandLog, consumer: RpcModule): Promise<CommandLogEntry[]> {
  const warm = message(t, "warm-up");
  await handleOrFail(t, consumer, warm, `Handling message ${warm.id}, with no fault`);
  const probe = message(t, "probe");
  const from = t.logPosition();
  await handleOrFail(t, consumer, probe, `Handling message ${probe.id}, with no fault`);
  const sent = log.sent(consumer.name, from);
  await assertCreditedOnce(t, [warm, probe], "A message handled once, with no fault", {
    lost: "handle must credit message.amount to message.account in the balances hash (HINCRBY balances <account> <amount>).",
    twice: "Credit each message once.",
  });
  if (sent.length === 0) {
    t.fail({
      message: `handle(${probe.id}) credited the account without sending a command of its own to Redis.`,
      hint: "handle must apply the credit itself, through its own connection (createRedis()).",
    });
  }
  return sent;
}

const workerHint = "main(name) loops: claim() a delivery, handle its message, ack() it; when claim() returns null, sleep about 50 ms and try again.";

/** Polls until the worker has sent `count` steps for its message, or has finished it (acked, nothing in flight). */
async function watchSteps(
  t: CheckContext,
  log: CommandLog,
  victim: LearnerProcess,
  fromSeq: number,
  count: number,
  m: Message,
): Promise<{ steps: CommandLogEntry[]; finished: boolean }> {
  const deadline = performance.now() + 15_000;
  for (;;) {
    const steps = log.steps(victim.name, fromSeq);
    if (steps.length >= count) return { steps, finished: false };
    if (steps.length > 0 && steps.every((e) => e.durationMs !== undefined) && (await settled(t))) {
      // Whatever it still had to send for the message comes within a moment.
      await t.sleep(WATCH_LATENCY_MS + 100);
      const after = log.steps(victim.name, fromSeq);
      return after.length >= count ? { steps: after, finished: false } : { steps: after, finished: true };
    }
    if (!victim.alive)
      t.fail({
        message: `${victim.name} stopped before it finished message ${m.id}.`,
        actual: victim.output().slice(-1500) || "(it printed nothing)",
        hint: `${workerHint} main must not return or throw.`,
      });
    if (performance.now() > deadline) {
      t.fail({
        message: `A worker did not handle and ack message ${m.id} within 15 s.`,
        actual: `${await queueState(t)}; its commands for it:\n${log.list(steps)}`,
        hint: workerHint,
      });
    }
    await t.sleep(3);
  }
}

export default defineChecks({
  timeoutMs: 60_000,
  // The live view: a producer publishes a credit every 300 ms, one in three of them twice, to two
  // workers; every 6 s one worker is SIGKILLed and replaced. Watch the balances: each account
  // should end at exactly its amount.
  playground: async (t) => {
    const limits = { wallMs: 70_000, cpuSeconds: 30 };
    let next = 1;
    const workers = new Set([t.spawn("consumer.ts", { name: `worker-${next++}`, limits }), t.spawn("consumer.ts", { name: `worker-${next++}`, limits })]);
    const producer = await t.load("broker.ts", { name: "producer", limits });
    const produce = async () => {
      for (let i = 1; !t.signal.aborted; i++) {
        const m = message(t, `m${i}`);
        if (t.random() < 0.34) {
          t.note(`${m.id} is published twice (the proxy duplicates its LPUSH): ${m.account} must still end at ${m.amount}`);
          t.proxy.duplicateNext(1, { match: "LPUSH" });
        }
        await producer.call("publish", [m]).catch(() => {});
        await t.sleep(300);
      }
    };
    const chaos = async () => {
      while (!t.signal.aborted) {
        await t.sleep(6000);
        if (t.signal.aborted) break;
        const victim = [...workers][Math.floor(t.random() * workers.size)]!;
        t.note(`SIGKILL ${victim.name}: whatever it was handling comes back to the other worker`);
        await victim.kill();
        workers.delete(victim);
        workers.add(t.spawn("consumer.ts", { name: `worker-${next++}`, limits }));
      }
    };
    await Promise.all([produce(), chaos()]);
  },
  checks: {
    "duplicates-once": async (t) => {
      const log = new CommandLog(t);
      const [first, second] = await Promise.all([loadConsumer(t, log), loadConsumer(t, log)]);

      // A redelivery to another process: only what the first consumer left in Redis can tell the
      // second that the message was applied.
      const early = message(t, "early");
      await handleOrFail(t, first, early, `Handling message ${early.id}`);
      await assertCreditedOnce(t, [early], "A message handled once", {
        lost: "handle must credit message.amount to message.account in the balances hash (HINCRBY).",
        twice: "Credit each message once.",
      });
      await t.expectInRedis([early.id], {
        ignore: NOT_MARKS,
        message: `After handle() applied message ${early.id}, its id is nowhere in Redis besides the balances and the broker's keys: there is no processed mark that every consumer, and a restarted one, can find (a Set in the process's memory, or a field of balances, is not one).`,
        hint: "Write a processed mark per message in Redis, named after the message id, e.g. SET processed:<id> 1 NX EX 86400, in the same atomic step as the credit.",
      });
      t.note(`${early.id} is delivered again, to another consumer process: ${second.name}`);
      await handleOrFail(t, second, early, `Delivering ${early.id} again, to another consumer`);
      await assertCreditedOnce(t, [early], "A message delivered again, to another consumer, after it was handled", {
        lost: "handle must credit message.amount to message.account.",
        twice:
          "The message's id is in Redis, but the second consumer credited it anyway: the mark must decide. SET processed:<id> … NX replies nil when the mark already exists (plain SET always replies OK); credit only when it replied OK, in the same script.",
      });

      const raced = Array.from({ length: 4 }, (_, i) => message(t, `raced-${i + 1}`));
      t.note(`each of ${raced.length} messages is delivered to two consumers at the same moment, with every Redis reply held 250 ms`);
      t.proxy.setLatency({ ms: 250 });
      await Promise.all(
        raced.flatMap((m) => [
          handleOrFail(t, first, m, `Delivering ${m.id} to two consumers at once`, 15_000),
          handleOrFail(t, second, m, `Delivering ${m.id} to two consumers at once`, 15_000),
        ]),
      );
      t.proxy.setLatency({ ms: 0 });
      await assertCreditedOnce(t, raced, "Two consumers got the same message at once", {
        lost: "handle must credit message.amount to message.account in the balances hash (HINCRBY).",
        twice:
          "Both consumers checked for the mark before either had set it, or the credit did not depend on the mark at all. SET processed:<id> … NX answers 'was I first?' in one command, and a Lua script can do that and, only if it was, the credit. A MULTI/EXEC cannot: every command in it runs, whatever the SET replied.",
      });

      await t.expectInRedis(
        raced.map((m) => m.id),
        {
          ignore: NOT_MARKS,
          message: "After the race, some applied message ids are nowhere in Redis (besides the balances and the broker's keys).",
          hint: "Every applied message needs its processed mark in Redis, named after its id.",
        },
      );

      const late = await loadConsumer(t, log);
      t.note(`${raced[0]!.id} is delivered once more, later, to a consumer that just started: a redelivery`);
      await handleOrFail(t, late, raced[0]!, `Delivering ${raced[0]!.id} again, to a consumer that just started`);
      await assertCreditedOnce(t, raced.slice(0, 1), "A message delivered again after it was handled", {
        lost: "handle must credit message.amount to message.account.",
        twice: "Remember the ids of applied messages in Redis (a key per id, with an expiry) and skip a message whose id is already there.",
      });

      // Duplicates through the broker: the proxy delivers each LPUSH to Redis twice and answers once,
      // as if a producer retried a publish whose reply it never saw.
      const producer = await t.load("broker.ts", { name: "producer", limits: PRODUCER_LIMITS });
      const published = Array.from({ length: 3 }, (_, i) => message(t, `published-${i + 1}`));
      for (const m of published) {
        t.proxy.duplicateNext(1, { match: "LPUSH" });
        await producer.call("publish", [m]);
      }
      const queued = await t.redis.llen(INBOX);
      if (queued !== published.length * 2) throw new Error(`the proxy should have queued ${published.length * 2} copies, found ${queued}`);
      t.note(`${published.length} messages were published, and each landed in the inbox twice; 2 workers consume them`);
      const from = t.logPosition();
      const workers = [
        t.spawn("consumer.ts", { name: t.id("worker"), limits: WORKER_LIMITS }),
        t.spawn("consumer.ts", { name: t.id("worker"), limits: WORKER_LIMITS }),
      ];
      await t.waitFor(() => workers.every((w) => !w.alive || log.sent(w.name, from).some((e) => log.isClaim(e))), {
        message: "Two workers did not both start claiming within 8 s.",
        hint: workerHint,
        timeoutMs: 8_000,
      });
      await until(
        t,
        () => settled(t),
        DRAIN_MS,
        async () => {
          const balances = await Promise.all(published.map((m) => balance(t, m.account)));
          const credited = published.every((m, i) => balances[i] === m.amount);
          return {
            message: `The workers did not consume and ack all ${queued} deliveries within ${DRAIN_MS / 1000} s of starting to claim.`,
            expected: `${INBOX} and ${IN_FLIGHT} empty`,
            actual: `${await queueState(t)}${workers.some((w) => !w.alive) ? "; a worker stopped: " + workers.map((w) => w.output().slice(-400)).join("\n") : ""}`,
            hint: credited
              ? "Every message was credited once, but a delivery is still leased and never acked: ack a duplicate too. Skipping its effect is handling it; a delivery never acked is renewed by its living worker forever, and the inbox never drains."
              : workerHint,
          };
        },
      );
      await t.sleep(200);
      await assertCreditedOnce(t, published, "A message published twice", {
        lost: "Every delivery must be handled, then acked.",
        twice: "The same message can arrive twice in the inbox. The message id is what makes the two copies the same: skip an id that was already applied.",
      });
    },

    "crash-before-ack": async (t) => {
      const log = new CommandLog(t);

      // 1. handle() dies right after each of its commands in turn (Redis applied it, its reply
      // never arrived), counted from a warmed-up consumer, so the same point is hit on every run;
      // a freshly started consumer then gets the same message, as the broker would redeliver it.
      let consumer = await loadConsumer(t, log);
      const warm = message(t, "warm-up");
      await handleOrFail(t, consumer, warm, `Handling message ${warm.id}, with no fault`);
      await assertCreditedOnce(t, [warm], "A message handled once, with no fault", {
        lost: "handle must credit message.amount to message.account in the balances hash (HINCRBY).",
        twice: "Credit each message once.",
      });
      for (let point = 1; ; point++) {
        const m = message(t, `crash-${point}`);
        const from = t.logPosition();
        const crash = t.crashAt(consumer, { match: "*", nth: point, when: "after" });
        const outcome = await outcomeOf(consumer.call("handle", [m], 10_000));
        const sent = log.sent(consumer.name, from);
        const at = sent.findIndex((e) => e.fault?.startsWith("crash point"));
        if (at === -1) {
          if (!outcome.ok) throw outcome.error;
          t.note(`handle(${m.id}) returned after ${plural(sent.length, "command")}, before crash point ${point}: every command boundary has been tried`);
          await assertCreditedOnce(t, [m], "Handled with no crash", {
            lost: "handle must credit message.amount to message.account.",
            twice: "Credit each message once.",
          });
          break;
        }
        await crash;
        const done = sent.slice(0, at + 1);
        const steps = log.list(done);
        if (point > MAX_HANDLE_COMMANDS) {
          t.fail({
            message: `handle sent more than ${MAX_HANDLE_COMMANDS} commands for one message, so the grader cannot try a crash after each of them.`,
            expected: `a message handled within ${MAX_HANDLE_COMMANDS} commands`,
            actual: `its first ${point} commands for ${m.id}:\n${steps}`,
            hint: "Apply the mark and the credit in one Lua script: one command per message.",
          });
        }
        const rescuer = await loadConsumer(t, log);
        t.note(
          `${consumer.name} died right after its ${ordinal(point)} command for ${m.id} (${log.show(done.at(-1)!)}: applied, its reply lost); ${rescuer.name}, just started, gets ${m.id} again`,
        );
        await handleOrFail(t, rescuer, m, `After a consumer died right after its ${ordinal(point)} command for ${m.id}, the redelivery to a fresh consumer`);
        const context = `A consumer died right after its ${ordinal(point)} command for message ${m.id}, and a fresh consumer got the message again`;
        await assertCreditedOnce(t, [m], context, {
          lost: `The commands the dead consumer had sent for it:\n${steps}\nThey stored "this message is done" (the processed mark) without the credit, so the redelivery skipped it. Write the mark and the credit in one atomic step: one Lua script that sets the mark (SET … NX EX) and, only if it was new, applies HINCRBY.`,
          twice: `The commands the dead consumer had sent for it:\n${steps}\nThe credit was stored but the mark that says so was not, so the redelivery applied it again. Write the mark and the credit in one atomic step: one Lua script.`,
        });
        await assertKeysExpire(
          t,
          `After a consumer died right after its ${ordinal(point)} command (${log.show(done.at(-1)!)}) and the message was delivered again`,
        );
        consumer = rescuer;
      }

      // 2. Whole workers, with the ack: a worker dies right after its 1st, 2nd, … step for a
      // message (its own commands and its ack; the broker's claim and lease renewals are not steps),
      // seen in the command log while every reply is held back, and a fresh worker gets whatever
      // comes back when its lease runs out (the grader lets it run out at once).
      const producer = await t.load("broker.ts", { name: "producer", limits: PRODUCER_LIMITS });
      for (let step = 1; ; step++) {
        const m = message(t, `worker-crash-${step}`);
        await producer.call("publish", [m]);
        t.proxy.setLatency({ ms: WATCH_LATENCY_MS });
        const from = t.logPosition();
        const victim = t.spawn("consumer.ts", { name: t.id("worker"), limits: WORKER_LIMITS });
        const reached = await watchSteps(t, log, victim, from, step, m);
        const done = reached.steps.slice(0, step);
        const steps = log.list(done);
        if (reached.finished) {
          t.note(
            `${victim.name} handled and acked ${m.id} in ${plural(reached.steps.length, "step")} before the grader's next crash point: every step has been tried`,
          );
          await victim.kill();
        } else {
          // Nothing it sends from now on reaches Redis, and it dies.
          void t.crashAt(victim, { match: "*", when: "before" });
          t.note(`SIGKILL ${victim.name} right after its ${ordinal(step)} step for ${m.id}: ${log.show(done.at(-1)!)}`);
          await victim.kill();
        }
        t.proxy.setLatency({ ms: 0 });
        if (!reached.finished && step > MAX_WORKER_STEPS) {
          t.fail({
            message: `A worker sent more than ${MAX_WORKER_STEPS} commands (besides the broker's claim and lease renewals; its ack counts) for one message, so the grader cannot try a crash after each of them.`,
            expected: `a message handled and acked within ${MAX_WORKER_STEPS} steps`,
            actual: `its first ${step} steps for ${m.id}:\n${steps}`,
            hint: "Apply the mark and the credit in one Lua script, then ack: two steps per message.",
          });
        }
        let rescuer: LearnerProcess | null = null;
        if (!(await settled(t))) {
          await ageLeases(t);
          rescuer = t.spawn("consumer.ts", { name: t.id("worker"), limits: WORKER_LIMITS });
          t.note(`${rescuer.name} starts; ${m.id} comes back to it, as its lease has run out`);
          await until(
            t,
            () => settled(t),
            6_000,
            async () => ({
              message: `After ${victim.name} was killed, ${m.id} was not handled and acked by another worker within 6 s.`,
              expected: `${INBOX} and ${IN_FLIGHT} empty`,
              actual: `${await queueState(t)}${rescuer?.alive ? "" : `; ${rescuer?.name} stopped: ${rescuer?.output().slice(-600)}`}`,
              hint: "A message that comes back after a crash may already be applied: skip its effect, and still ack it.",
            }),
          );
          await t.sleep(150);
        }
        if (reached.finished) {
          await assertCreditedOnce(t, [m], "Handled by a worker with no crash", {
            lost: "handle must credit message.amount to message.account, and main must call it for each delivery.",
            twice: "Credit each message once.",
          });
          // The ack comes after the replies to everything handle sent: an ack sent while the credit
          // is still on its way acks a credit that may yet fail.
          for (const [i, ack] of reached.steps.entries()) {
            if (log.show(ack) !== "ack(delivery)") continue;
            const early = reached.steps.slice(0, i).find((p) => log.role(p) === "consumer" && p.at + (p.durationMs ?? Infinity) > ack.at + ACK_ORDER_SLACK_MS);
            if (!early) continue;
            t.fail({
              message: `${victim.name} acked message ${m.id} ${Math.round(early.at + (early.durationMs ?? 0) - ack.at)} ms before the reply to its ${log.show(early)} arrived (every reply was held ${WATCH_LATENCY_MS} ms).`,
              expected: "ack(delivery) sent only after every command handle sent for the message was answered",
              actual: `its steps, in the order they reached Redis:\n${log.list(reached.steps)}`,
              hint: "main must await handle(message) before it acks: without the await, the ack goes out while the credit is still on its way, and a credit that then fails (or a worker that dies) loses the message. The same for a command inside handle that is not awaited.",
            });
          }
          return;
        }
        const context = rescuer
          ? `A worker was SIGKILLed right after its ${ordinal(step)} step for message ${m.id}, and the message was delivered again`
          : `A worker was SIGKILLed right after its ${ordinal(step)} step for message ${m.id}, by which time the message was acked`;
        await assertCreditedOnce(t, [m], context, {
          lost: `The steps the killed worker had taken for it:\n${steps}\nSomething in them said "done" before the credit was stored: an ack, or a processed mark written on its own. Ack only after handle returned, and write the mark in the same atomic step as the credit.`,
          twice: `The steps the killed worker had taken for it:\n${steps}\nThe credit was stored but the mark that says so was not (or not yet), so the redelivery applied it again. Write the mark and the credit in one atomic step (one Lua script).`,
        });
        await assertKeysExpire(t, `After a worker was SIGKILLed right after its ${ordinal(step)} step for a message`);
        if (rescuer) await rescuer.kill();
      }
    },

    "failed-effect-not-acked": async (t) => {
      const log = new CommandLog(t);
      const [consumer, other] = await Promise.all([loadConsumer(t, log), loadConsumer(t, log)]);

      // 1. Redis refuses one of handle's commands (each distinct command, at its first use in the
      // order handle sends them). handle may throw, or retry; what it must not do is return
      // normally without the credit, because main acks what handle returned from.
      const sent = await probeHandle(t, log, consumer);
      const names = sent.map((e) => e.args[0]!);
      for (const [i, name] of names.entries()) {
        if (names.indexOf(name) !== i) continue;
        const m = message(t, `refused-${i + 1}`);
        const from = t.logPosition();
        t.proxy.failNext(1, { match: name });
        const outcome = await outcomeOf(consumer.call("handle", [m], 10_000));
        t.proxy.failNext(0);
        const refused = log.sent(consumer.name, from).find((e) => e.fault === "failNext");
        const what = refused
          ? `Redis refused ${log.show(refused)} (the grader injected the error "ERR Faultline: injected failure")`
          : `The grader had Redis refuse handle's next ${name}`;
        const got = await balance(t, m.account);
        if (outcome.ok) {
          if (got === m.amount) continue;
          t.fail({
            message: `${what} while handling message ${m.id}, and handle returned normally, but the credit was ${got === 0 ? "never applied" : `applied ${got / m.amount} times`}.`,
            expected: `either balances ${m.account} = ${m.amount} when handle returns, or handle throws (and main does not ack)`,
            actual: `handle returned; balances ${m.account} = ${got}`,
            hint: "Returning from handle means 'done: ack it'. Do not catch Redis errors inside handle and carry on: let them reach main (or retry the same atomic step), so a message whose credit was not stored is not acked.",
          });
        }
        const error = outcome.ok ? null : outcome.error;
        if (!(error instanceof CheckFailure) || !error.message.startsWith("handle() threw")) throw error;
        t.note(`${what}: handle threw, so main would not ack; ${other.name} gets ${m.id} again`);
        await handleOrFail(t, other, m, `After handle threw for ${m.id} (${what}), the redelivery`);
        await assertCreditedOnce(t, [m], `${what}; handle threw, and the message was delivered again`, {
          lost: "The redelivery skipped the message, so something said 'processed' although the credit was never stored: a mark written in its own command, before the credit. One Lua script that sets the mark and applies the credit together stores both or neither.",
          twice: "Credit each message once: the redelivery must find the mark of a credit that was stored.",
        });
      }

      // 2. A worker whose credit Redis refuses must not ack the message: nack() gives it back, it
      // comes back at once and is credited once; the worker goes on. The claim's reply is held
      // while the grader arms the refusal, so it lands on the worker's next command.
      const producer = await t.load("broker.ts", { name: "producer", limits: PRODUCER_LIMITS });
      const published: Message[] = [];
      let landed: { worker: LearnerProcess; m: Message; entry: CommandLogEntry } | null = null;
      for (let attempt = 1; attempt <= 3 && !landed; attempt++) {
        const m = message(t, `refused-in-worker-${attempt}`);
        published.push(m);
        await producer.call("publish", [m]);
        t.proxy.setLatency({ ms: GATE_LATENCY_MS });
        const from = t.logPosition();
        const worker = t.spawn("consumer.ts", { name: t.id("worker"), limits: WORKER_LIMITS });
        const claim = (await t.waitFor(() => log.sent(worker.name, from).find((e) => log.isClaim(e)), {
          message: "A worker sent no claim() within 8 s of starting.",
          hint: workerHint,
          timeoutMs: 8_000,
          intervalMs: 2,
        }))!;
        // Armed while the claim's reply is still held back: the next command anyone sends is the worker's.
        const armed = claim.durationMs === undefined;
        if (armed) {
          t.proxy.failNext(1);
          t.note(`${worker.name} claimed ${m.id}; Redis will refuse the next command it sends`);
        }
        const entry = armed
          ? (await t.waitFor(() => log.sent(worker.name, from).find((e) => e.fault === "failNext"), {
              message: `${worker.name} claimed ${m.id} and then sent no command for 5 s.`,
              actual: worker.alive ? undefined : worker.output().slice(-1500),
              hint: workerHint,
              timeoutMs: 5_000,
              intervalMs: 2,
            }))!
          : null;
        t.proxy.failNext(0);
        t.proxy.setLatency({ ms: 0 });
        if (entry && log.role(entry) !== "broker") {
          landed = { worker, m, entry };
          break;
        }
        // The machine was too slow for the gate: the claim's reply arrived before the refusal was
        // armed, or the worker stalled until its lease renewal went first.
        t.note(
          `the refusal did not land on ${worker.name}'s own step (${entry ? log.show(entry) : "armed too late"}); trying again with a new message and worker`,
        );
        await worker.kill();
        await ageLeases(t);
      }
      if (!landed)
        throw new Error("three times the grader could not place the refusal on the worker's step after its claim; the machine is too loaded for this check");
      const { worker, m, entry } = landed;
      t.note(
        `Redis refused ${log.show(entry)} from ${worker.name}: ${m.id} was not credited by that command; it must not be acked, it must come back and be credited once`,
      );
      const deadline = performance.now() + REDELIVERY_MS;
      for (;;) {
        if (!worker.alive) {
          t.fail({
            message: `After Redis refused ${log.show(entry)} (an injected error) while ${worker.name} handled ${m.id}, the worker stopped.`,
            actual: worker.output().slice(-1500) || "(it printed nothing)",
            hint: "A command Redis refuses is an error your worker must survive: catch what handle (and ack) throws in main, give the message back with nack(delivery), and go on with the next claim.",
          });
        }
        const [isSettled, got] = [await settled(t), await Promise.all(published.map((p) => balance(t, p.account)))];
        if (isSettled && published.every((p, i) => got[i] === p.amount)) break;
        if (isSettled) {
          await t.sleep(300);
          const now = await balance(t, m.account);
          if ((await settled(t)) && now !== m.amount) {
            t.fail({
              message: `After Redis refused ${log.show(entry)} while ${worker.name} handled ${m.id}, the message was acked, but ${now === 0 ? "its credit was never applied: it is lost" : `its account holds ${now}`}.`,
              expected: `balances ${m.account} = ${m.amount}, the message acked only after that`,
              actual: `balances ${m.account} = ${now}; nothing waiting or leased: ${log.list(log.steps(worker.name, entry.seq - 1))}`,
              hint: "Ack only a message whose handle returned normally. When handle throws, call nack(delivery) instead: the message comes back and is credited then. Acking in a finally block, or handle swallowing its own error, acks a message whose credit never happened.",
            });
          }
        }
        if (performance.now() > deadline) {
          const leased = await t.redis.zcard(IN_FLIGHT);
          t.fail({
            message: `After Redis refused ${log.show(entry)} while ${worker.name} handled ${m.id}, the message was not credited and acked within ${REDELIVERY_MS / 1000} s.`,
            expected: `${m.id} given back (nack), claimed again and credited once: balances ${m.account} = ${m.amount}, nothing waiting or leased`,
            actual: `balances ${m.account} = ${await balance(t, m.account)}; ${await queueState(t)}; ${worker.name}'s steps since: ${log.list(log.steps(worker.name, entry.seq - 1))}`,
            hint:
              leased > 0
                ? "The delivery is still leased to a living worker that neither acked nor gave it back: the broker renews its lease for as long as the process lives, so it never comes back. When handle throws, call nack(delivery)."
                : "When handle throws, give the message back with nack(delivery) and keep claiming: it comes back at once.",
          });
        }
        await t.sleep(10);
      }
      await t.sleep(200);
      await assertCreditedOnce(t, published, `After Redis refused a command of the worker handling ${m.id}`, {
        lost: "Do not ack a message whose handle threw.",
        twice: "Credit each message once.",
      });

      // 3. Its claims are refused while it is idle: the worker must go on and take the next message.
      const from = t.logPosition();
      t.proxy.failNext(3, { match: "EVAL" });
      t.note(`Redis refuses the next 3 EVALs: ${worker.name}'s idle claims`);
      await t.waitFor(() => !worker.alive || t.proxy.log.filter((e) => e.seq > from && e.fault === "failNext").length >= 3, {
        message: `${worker.name} sent no claim for 3 s while idle.`,
        hint: workerHint,
        timeoutMs: 3_000,
      });
      t.proxy.failNext(0);
      const next = message(t, "after-refused-claims");
      await producer.call("publish", [next]);
      await until(
        t,
        async () => !worker.alive || ((await settled(t)) && (await balance(t, next.account)) === next.amount),
        4_000,
        async () => ({
          message: `After ${worker.name}'s claims were refused 3 times, it did not handle the next message ${next.id} within 4 s.`,
          actual: await queueState(t),
          hint: workerHint,
        }),
      );
      if (!worker.alive) {
        t.fail({
          message: `Redis refused ${worker.name}'s claim() (an injected error on its EVAL), and the worker stopped.`,
          actual: worker.output().slice(-1500) || "(it printed nothing)",
          hint: "claim() can throw like any Redis call: catch it in main, sleep a moment, and claim again. A worker must survive every error Redis returns.",
        });
      }
    },

    "reply-lost": async (t) => {
      const log = new CommandLog(t);
      const [consumer, other] = await Promise.all([loadConsumer(t, log), loadConsumer(t, log)]);

      // 1. Redis runs one of handle's commands twice and answers once, as when a client library
      // sends a command again whose reply it never got (each distinct command at its first use,
      // outside a MULTI block). The credit must still be applied once, and a redelivery skipped.
      const sent = await probeHandle(t, log, consumer);
      const names = sent.map((e) => e.args[0]!);
      let inTransaction = false;
      for (const [i, name] of names.entries()) {
        const queued = inTransaction;
        if (name === "MULTI") inTransaction = true;
        if (name === "EXEC" || name === "DISCARD") inTransaction = false;
        if (queued || name === "MULTI" || names.indexOf(name) !== i) continue;
        const m = message(t, `twice-${i + 1}`);
        const from = t.logPosition();
        t.proxy.duplicateNext(1, { match: name });
        await handleOrFail(t, consumer, m, `While Redis ran handle's ${name} twice`);
        t.proxy.duplicateNext(0);
        const doubled = log.sent(consumer.name, from).find((e) => e.fault === "duplicate");
        const what = doubled ? `Redis ran ${log.show(doubled)} twice and answered once` : `The grader had Redis run handle's next ${name} twice`;
        await assertCreditedOnce(t, [m], `${what} (as a client library does when it sends a command again after losing its reply)`, {
          lost: "handle must credit message.amount to message.account.",
          twice:
            "A command can reach Redis twice. Make the one that applies the credit safe to run twice: a script that sets the mark with NX and credits only if the mark was new does nothing the second time.",
        });
        t.note(`${what}; ${other.name} gets ${m.id} again`);
        await handleOrFail(t, other, m, `After ${what}, the redelivery of ${m.id}`);
        await assertCreditedOnce(t, [m], `${what}, and the message was delivered again`, {
          lost: "handle must credit message.amount to message.account.",
          twice: "Skip a message whose mark is already in Redis.",
        });
      }

      // 2. A worker's connection is cut after Redis applied the credit but before its reply
      // arrived: ioredis sends the command again on a new connection (or the call fails and the
      // message comes back). Either way the credit must be applied once, and the message acked.
      const producer = await t.load("broker.ts", { name: "producer", limits: PRODUCER_LIMITS });
      const published: Message[] = [];
      let cut: { worker: LearnerProcess; m: Message; entry: CommandLogEntry } | null = null;
      for (let attempt = 1; attempt <= 3 && !cut; attempt++) {
        const m = message(t, `cut-${attempt}`);
        published.push(m);
        await producer.call("publish", [m]);
        t.proxy.setLatency({ ms: CUT_LATENCY_MS });
        const from = t.logPosition();
        const worker = t.spawn("consumer.ts", { name: t.id("worker"), limits: WORKER_LIMITS });
        await until(
          t,
          async () => (await balance(t, m.account)) !== 0 || !worker.alive,
          10_000,
          async () => ({ message: `A worker did not credit message ${m.id} within 10 s.`, actual: await queueState(t), hint: workerHint }),
        );
        const inFlight = log.sent(worker.name, from).find((e) => e.durationMs === undefined && log.role(e) === "consumer" && e.args[0] !== "CLIENT");
        if (inFlight && worker.alive) {
          t.proxy.cutAll();
          cut = { worker, m, entry: inFlight };
        }
        t.proxy.setLatency({ ms: 0 });
        if (cut) break;
        t.note(`the credit of ${m.id} was seen too late to cut before its reply; trying again with a new message and worker`);
        await worker.kill();
        await ageLeases(t);
      }
      if (!cut) throw new Error("three times the grader saw the credit only after its reply was delivered; the machine is too loaded for this check");
      const { worker, m, entry } = cut;
      t.note(
        `every connection cut while the reply to ${log.show(entry)} (from ${worker.name}) was on its way: Redis had applied the credit of ${m.id}, ${worker.name} never got the answer`,
      );
      await until(
        t,
        async () => !worker.alive || (await settled(t)),
        6_000,
        async () => ({
          message: `After a cut connection lost the reply to ${worker.name}'s ${log.show(entry)}, message ${m.id} was not acked within 6 s.`,
          actual: `${await queueState(t)}; balances ${m.account} = ${await balance(t, m.account)}`,
          hint: "After a lost reply, either the command is sent again (ioredis does this by itself) or it fails; then give the message back with nack(delivery). Either way it must end acked.",
        }),
      );
      if (!worker.alive) {
        t.fail({
          message: `After every connection was cut (the reply to ${log.show(entry)} lost), ${worker.name} stopped.`,
          actual: worker.output().slice(-1500) || "(it printed nothing)",
          hint: "A cut connection is an error your worker must survive: ioredis reconnects by itself; catch what a call throws and go on.",
        });
      }
      await t.sleep(300);
      await assertCreditedOnce(t, published, `After the connection was cut between Redis applying ${log.show(entry)} and its reply reaching ${worker.name}`, {
        lost: "Redis applied the command whose reply was lost, and the message was then acked without its credit: whatever ran again afterwards found 'processed' without the credit. Store the mark and the credit in one atomic step.",
        twice:
          "The command whose reply was lost reached Redis twice (ioredis sends it again after reconnecting), or the message came back and found no mark. Make the step that credits safe to run twice: a script that sets the mark with NX and credits only if it was new.",
      });
    },

    "generated-workloads": async (t) => {
      const log = new CommandLog(t);
      const consumers = await Promise.all([1, 2, 3].map(() => loadConsumer(t, log)));
      t.proxy.setLatency({ ms: 4, jitterMs: 4 });
      // 1. Generated workloads for 3 consumers at once: the shape (how many messages and accounts,
      // which message repeats another's account and amount, who gets each copy and when) comes from
      // the seed; ids, accounts and amounts are fresh on every try.
      const shape = fc.record({
        accounts: fc.integer({ min: 1, max: 3 }),
        messages: fc.array(
          fc.record({
            account: fc.nat({ max: 2 }),
            likeEarlier: fc.oneof(fc.constant(null), fc.constant(null), fc.nat({ max: 7 })),
            deliveries: fc.array(fc.record({ consumer: fc.nat({ max: 2 }), delay: fc.nat({ max: 3 }) }), { minLength: 1, maxLength: 3 }),
          }),
          { minLength: 1, maxLength: 8 },
        ),
      });
      type Shape = typeof shape extends fc.Arbitrary<infer S> ? S : never;
      const describe = (w: Shape) =>
        w.messages
          .map((spec, i) => {
            const like =
              spec.likeEarlier !== null && i > 0
                ? `same account and amount as message ${(spec.likeEarlier % i) + 1} (its own id)`
                : `account ${(spec.account % w.accounts) + 1}`;
            return `message ${i + 1}: ${like}; delivered to ${spec.deliveries.map((d) => `consumer ${d.consumer + 1}${d.delay ? ` after ${d.delay * 4} ms` : ""}`).join(", ")}`;
          })
          .join("\n");
      await t.property(
        shape,
        async (w) => {
          const accounts = Array.from({ length: w.accounts }, () => t.id("acct"));
          const messages: Message[] = [];
          for (const [i, spec] of w.messages.entries()) {
            const earlier = spec.likeEarlier !== null && i > 0 ? messages[spec.likeEarlier % i]! : null;
            messages.push({ id: t.id("msg"), account: earlier?.account ?? accounts[spec.account % accounts.length]!, amount: earlier?.amount ?? amountOf(t) });
          }
          const deliveries = w.messages.flatMap((spec, i) => spec.deliveries.map((d) => ({ ...d, m: messages[i]! })));
          await Promise.all(
            deliveries.map(async (d) => {
              if (d.delay > 0) await t.sleep(d.delay * 4);
              await handleOrFail(t, consumers[d.consumer]!, d.m, `Delivering ${d.m.id} to consumer ${d.consumer + 1} while the others handle the rest`);
            }),
          );
          for (const account of new Set(messages.map((m) => m.account))) {
            const own = messages.filter((m) => m.account === account);
            const expected = own.reduce((sum, m) => sum + m.amount, 0);
            const got = await balance(t, account);
            if (got === expected) continue;
            const lines = own.map((m) => `${m.id}: ${m.amount} cents, delivered ${deliveries.filter((d) => d.m === m).length}×`).join("\n");
            t.fail({
              message: `${plural(messages.length, "message")} went to 3 consumers at once (${plural(deliveries.length, "delivery")}, duplicates included), and account ${account} ended at ${got}, not the sum of its distinct messages (${expected}).`,
              expected: `balances ${account} = ${expected}, each distinct message id credited once:\n${lines}`,
              actual: `balances ${account} = ${got}`,
              hint:
                got < expected
                  ? "A distinct message was skipped as a duplicate. Two messages are the same only if their ids are: two credits of the same amount to the same account are two messages. Mark each message id, not its content, and not only the last id seen per account."
                  : "A message was credited more than once. Duplicates arrive interleaved with other messages and at the same moment in different consumers: remember every applied id (a mark per id), and test-and-set it atomically with the credit.",
            });
          }
          await t.expectInRedis(
            messages.map((m) => m.id),
            {
              ignore: NOT_MARKS,
              message: "After a generated workload, some applied message ids are nowhere in Redis besides the balances.",
              hint: "Every applied message needs its processed mark in Redis, named after its id.",
            },
          );
        },
        { runs: 12, timeLimitMs: 6_000, noun: "workload", show: describe },
      );

      // 2. The same through the broker: a generated set of messages, each published 1 to 3 times in
      // a shuffled order, consumed by 3 worker processes at once.
      const producer = await t.load("broker.ts", { name: "producer", limits: PRODUCER_LIMITS });
      const accounts = Array.from({ length: 2 + Math.floor(t.random() * 2) }, () => t.id("acct"));
      const messages: Message[] = [];
      const count = 8 + Math.floor(t.random() * 5);
      for (let i = 0; i < count; i++) {
        const earlier = i > 0 && t.random() < 0.25 ? messages[Math.floor(t.random() * i)]! : null;
        messages.push({
          id: t.id("msg"),
          account: earlier?.account ?? accounts[Math.floor(t.random() * accounts.length)]!,
          amount: earlier?.amount ?? amountOf(t),
        });
      }
      const copies = messages.flatMap((m) => Array.from({ length: 1 + Math.floor(t.random() * 3) }, () => m));
      for (let i = copies.length - 1; i > 0; i--) {
        const j = Math.floor(t.random() * (i + 1));
        [copies[i], copies[j]] = [copies[j]!, copies[i]!];
      }
      const from = t.logPosition();
      const workers = [1, 2, 3].map(() => t.spawn("consumer.ts", { name: t.id("worker"), limits: WORKER_LIMITS }));
      await t.waitFor(() => workers.every((w) => log.sent(w.name, from).some((e) => log.isClaim(e))), {
        message: "Three workers did not all start claiming within 8 s.",
        hint: workerHint,
        timeoutMs: 8_000,
      });
      t.note(`${messages.length} messages over ${accounts.length} accounts, published ${copies.length} times in a shuffled order, for 3 workers at once`);
      await Promise.all(copies.map((m) => producer.call("publish", [m])));
      await until(
        t,
        () => settled(t),
        8_000,
        async () => ({
          message: `3 workers did not consume and ack all ${copies.length} deliveries within 8 s.`,
          actual: `${await queueState(t)}${
            workers.some((w) => !w.alive)
              ? `; a worker stopped: ${workers
                  .find((w) => !w.alive)
                  ?.output()
                  .slice(-400)}`
              : ""
          }`,
          hint: `${workerHint} Ack a duplicate too.`,
        }),
      );
      await t.sleep(200);
      for (const account of accounts) {
        const own = messages.filter((m) => m.account === account);
        const expected = own.reduce((sum, m) => sum + m.amount, 0);
        const got = await balance(t, account);
        if (got === expected) continue;
        t.fail({
          message: `${messages.length} messages, published ${copies.length} times in all, were consumed by 3 workers, and account ${account} ended at ${got}, not the sum of its distinct messages (${expected}).`,
          expected: `balances ${account} = ${expected}:\n${own.map((m) => `${m.id}: ${m.amount} cents, published ${copies.filter((c) => c === m).length}×`).join("\n")}`,
          actual: `balances ${account} = ${got}`,
          hint:
            got < expected
              ? "A distinct message was skipped: mark each message id, not its content."
              : "A message was credited more than once: test-and-set its mark atomically with the credit.",
        });
      }
    },

    "marks-expire": async (t) => {
      const log = new CommandLog(t);
      const [consumer, other] = await Promise.all([loadConsumer(t, log), loadConsumer(t, log)]);
      const accounts = [t.id("acct"), t.id("acct")];
      const count = 4 + Math.floor(t.random() * 4);
      const messages = Array.from({ length: count }, (_, i) => ({ id: t.id("expiring"), account: accounts[i % 2]!, amount: amountOf(t) }));
      for (const m of messages) {
        await handleOrFail(t, consumer, m, `Handling message ${m.id}`);
        if (t.random() < 0.5) await handleOrFail(t, other, m, `Delivering ${m.id} again, to another consumer`);
      }
      for (const account of accounts) {
        const expected = messages.filter((m) => m.account === account).reduce((sum, m) => sum + m.amount, 0);
        const got = await balance(t, account);
        if (got !== expected)
          t.fail({
            message: `After ${count} messages (some delivered twice), account ${account} holds ${got}.`,
            expected: `balances ${account} = ${expected}`,
            actual: `balances ${account} = ${got}`,
            hint: "Credit each message id once.",
          });
      }
      // balances holds the accounts and nothing else: per-message state there never expires.
      const fields = await t.redis.hkeys(BALANCES);
      const stray = fields.filter((f) => !accounts.includes(f));
      if (stray.length > 0) {
        t.fail({
          message: `The ${BALANCES} hash holds ${plural(stray.length, "field")} that ${stray.length === 1 ? "is not an account" : "are not accounts"}: ${stray.slice(0, 4).join(", ")}${stray.length > 4 ? ", …" : ""}.`,
          expected: `only the accounts credited: ${accounts.join(", ")}`,
          actual: `fields: ${fields.slice(0, 8).join(", ")}`,
          hint: "A field per message in the balances hash never expires (a hash's fields cannot have TTLs of their own here): one field per message ever handled. Keep each mark in a key of its own, with an expiry.",
        });
      }
      // The marks whose TTL is judged below must be the ones that hold these ids, not a stand-in.
      await t.expectInRedis(
        messages.map((m) => m.id),
        {
          ignore: NOT_MARKS,
          message: `After ${count} messages were handled, some of their ids are nowhere in Redis besides the balances: there are no processed marks to expire.`,
          hint: "Remember each applied message in Redis under a mark named after its id, e.g. processed:<id>, with an expiry.",
        },
      );
      await assertKeysExpire(t, `After ${count} messages were handled (some twice)`);
      // One key per message: a key that collects many messages' ids has one expiry for all of them,
      // pushed later by every message, so it never expires while messages keep coming.
      for (const [key, ids] of await idsByKey(
        t,
        messages.map((m) => m.id),
      )) {
        if (ids.length < 2) continue;
        t.fail({
          message: `Key ${key} holds the marks of ${ids.length} different messages (${ids.slice(0, 3).join(", ")}${ids.length > 3 ? ", …" : ""}).`,
          expected: "a mark per message: a key of its own for each message id, with its own expiry",
          actual: `${key} (TTL ${await t.redis.ttl(key)} s) holds ${ids.length} of the ${count} ids`,
          hint: "A set or list of processed ids has one expiry for all of them: renewed by every message, it never expires while messages keep coming, and it grows by one id per message. Give each message its own key, processed:<id>, with SET … NX EX.",
        });
      }
    },
  },
});
