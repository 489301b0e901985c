import { defineChecks, type CheckContext, type LearnerProcess } from "../../lib/grader/index.ts";
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
const MIN_TTL_S = 60 * 60;
const MAX_TTL_S = 7 * 24 * 60 * 60;

/**
 * Every reply is held this long, so a process the grader watches cannot send its next command
 * before the grader has reacted to the last one: races open wide, and kills land between two
 * commands. Far above the grader's reaction time, even on a loaded machine.
 */
const LATENCY_MS = 250;
/**
 * The grader tries crash points 1, 2, … until a worker finishes a message before the next one;
 * one that has not finished by this point fails, since the points after it were never tried (a
 * correct consumer needs 3: effect, ack, done; WATCH/MULTI/EXEC needs about 8).
 */
const MAX_CRASH_POINTS = 10;

const WORKER_LIMITS = { wallMs: 40_000 };
/** The producer lives for the whole check, which can outlast the sandbox's default wall time. */
const PRODUCER_LIMITS = { wallMs: 60_000 };

type Failure = Parameters<CheckContext["fail"]>[0];

/**
 * A message learner code cannot know in advance, even knowing the seed: id, account and amount come
 * from the runner's CSPRNG. The account does not contain the id, so finding the id in Redis means
 * the consumer stored it, not just the balance.
 */
function message(t: CheckContext, name: string): Message {
  return { id: t.id(name), account: t.id("acct"), amount: 1 + Math.floor(t.unpredictable() * 999) };
}

/**
 * Process names learner code cannot predict, so no program can act differently in the consumer
 * that gets the first delivery, the one killed or the one that takes over.
 */
const someName = (t: CheckContext, role: string) => t.id(role);

/** Keys that are not the consumer's own: the credit itself and the broker's bookkeeping. */
const NOT_MARKS = [BALANCES, "broker:*"];

async function balance(t: CheckContext, m: Message): Promise<number> {
  return Number((await t.redis.hget(BALANCES, m.account)) ?? 0);
}

/** Nothing waiting and nothing leased: every delivery was acked. */
async function settled(t: CheckContext): Promise<boolean> {
  const [waiting, leased] = await Promise.all([t.redis.llen(INBOX), t.redis.zcard(IN_FLIGHT)]);
  return waiting === 0 && leased === 0;
}

async function until(t: CheckContext, done: () => Promise<boolean>, timeoutMs: number, failure: () => Promise<Failure> | Failure): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await done())) {
    if (performance.now() > deadline) t.fail(await failure());
    await t.sleep(25);
  }
}

/** Fails unless each message's account was credited exactly its amount: once. */
async function assertCreditedOnce(t: CheckContext, messages: Message[], context: string, hints: { lost: string; twice: string }): Promise<void> {
  for (const m of messages) {
    const got = await balance(t, m);
    if (got === m.amount) continue;
    const times = got / m.amount;
    t.fail({
      message: got === 0 ? `${context}: message ${m.id} never took effect.` : `${context}: message ${m.id} took effect ${Number.isInteger(times) ? `${times} times` : `partly (${got} of ${m.amount})`}.`,
      expected: `balances ${m.account} = ${m.amount} (credited exactly once)`,
      actual: `balances ${m.account} = ${got}`,
      hint: got === 0 ? hints.lost : hints.twice,
    });
  }
}

/** Connection id → the name it gave itself with CLIENT SETNAME (broker.ts names its own). */
function connectionNames(t: CheckContext): Map<number, string> {
  const names = new Map<number, string>();
  for (const e of t.proxy.log) if (e.args[0] === "CLIENT" && e.args[1]?.toUpperCase() === "SETNAME" && e.args[2]) names.set(e.conn, e.args[2]);
  return names;
}

/**
 * The commands sent after `fromSeq` on any connection but the broker's bookkeeping one (claims,
 * heartbeats, reaper): the consumer's own commands, and the broker's acks.
 */
function stepsSince(t: CheckContext, fromSeq: number): CommandLogEntry[] {
  const names = connectionNames(t);
  return t.proxy.log.filter((e) => e.seq > fromSeq && e.conn > 0 && e.args.length > 0 && e.args[0] !== "CLIENT" && names.get(e.conn) !== BROKER_CONNECTION);
}

const lastSeq = (t: CheckContext) => t.proxy.log.at(-1)?.seq ?? 0;

function show(t: CheckContext, entry: CommandLogEntry): string {
  if (connectionNames(t).get(entry.conn) === "broker-ack") return "ack(delivery)";
  const text = entry.args.map((a) => (a.includes("\n") ? `${a.replace(/\s+/g, " ").slice(0, 60)}…` : a)).join(" ");
  return text.length > 140 ? `${text.slice(0, 140)}…` : text;
}

const ordinal = (n: number) => `${n}${n === 1 ? "st" : n === 2 ? "nd" : n === 3 ? "rd" : "th"}`;

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
      const [first, second] = await Promise.all([t.load("consumer.ts", { name: someName(t, "consumer") }), t.load("consumer.ts", { name: someName(t, "consumer") })]);

      // A redelivery to another process: only what the first consumer left in Redis can tell the
      // second that the message was applied.
      const early = message(t, "early");
      await first.call("handle", [early]);
      await assertCreditedOnce(t, [early], "A message handled once", { lost: "handle must credit message.amount to message.account in the balances hash (HINCRBY).", twice: "Credit each message once." });
      await t.expectInRedis([early.id], {
        ignore: NOT_MARKS,
        message: `After handle() applied message ${early.id}, its id is nowhere in Redis (besides the balances and the broker's keys): the consumer remembers it in its own memory, which no other consumer, and no restarted one, can see.`,
        hint: "Write a processed mark per message in Redis, named after (or holding) the message id, e.g. SET processed:<id> 1 NX EX 86400, in the same atomic step as the credit.",
      });
      t.note(`${early.id} is delivered again, to another consumer process: ${second.name}`);
      await second.call("handle", [early]);
      await assertCreditedOnce(t, [early], "A message delivered again, to another consumer, after it was handled", {
        lost: "handle must credit message.amount to message.account.",
        twice: "Every consumer must be able to tell a duplicate: look the message id up in Redis (the processed mark), not in a Set in your process.",
      });

      const raced = Array.from({ length: 4 }, (_, i) => message(t, `raced-${i + 1}`));
      t.note(`each of ${raced.length} messages is delivered to two consumers at the same moment, with every Redis reply held ${LATENCY_MS} ms`);
      t.proxy.setLatency({ ms: LATENCY_MS });
      await Promise.all(raced.flatMap((m) => [first.call("handle", [m], 15_000), second.call("handle", [m], 15_000)]));
      t.proxy.setLatency({ ms: 0 });
      await assertCreditedOnce(t, raced, "Two consumers got the same message at once", {
        lost: "handle must credit message.amount to message.account in the balances hash (HINCRBY).",
        twice:
          "Both consumers checked for the mark before either had set it. Checking and setting in two commands leaves that gap; close it with one atomic step: SET processed:<id> … NX answers 'was I first?' in one command, and a Lua script can do that and the credit together.",
      });

      await t.expectInRedis(
        raced.map((m) => m.id),
        {
          ignore: NOT_MARKS,
          message: "After the race, some applied message ids are nowhere in Redis (besides the balances and the broker's keys).",
          hint: "Every applied message needs its processed mark in Redis, named after (or holding) its id.",
        },
      );

      const late = await t.load("consumer.ts", { name: someName(t, "consumer") });
      t.note(`${raced[0]!.id} is delivered once more, later, to a consumer that just started: a redelivery`);
      await late.call("handle", [raced[0]]);
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
      const workers = [t.spawn("consumer.ts", { name: someName(t, "worker"), limits: WORKER_LIMITS }), t.spawn("consumer.ts", { name: someName(t, "worker"), limits: WORKER_LIMITS })];
      await until(t, () => settled(t), 10_000, async () => ({
        message: `The workers did not consume and ack all ${queued} deliveries within 10 s.`,
        expected: `${INBOX} and ${IN_FLIGHT} empty`,
        actual: `${await t.redis.llen(INBOX)} waiting, ${await t.redis.zcard(IN_FLIGHT)} leased${workers.some((w) => !w.alive) ? "; a worker stopped: " + workers.map((w) => w.output().slice(-400)).join("\n") : ""}`,
        hint: "main(name) should loop: claim() a delivery, handle its message, ack() it; when claim() returns null, sleep a little and try again.",
      }));
      await t.sleep(200);
      await assertCreditedOnce(t, published, "A message published twice", {
        lost: "Every delivery must be handled, then acked.",
        twice: "The same message can arrive twice in the inbox. The message id is what makes the two copies the same: skip an id that was already applied.",
      });
    },

    "crash-before-ack": async (t) => {
      const producer = await t.load("broker.ts", { name: "producer", limits: PRODUCER_LIMITS });
      let lastSteps = "";
      for (let point = 1; point <= MAX_CRASH_POINTS; point++) {
        const m = message(t, `crash-${point}`);
        await producer.call("publish", [m]);
        t.proxy.setLatency({ ms: LATENCY_MS });
        const fromSeq = lastSeq(t);
        const victim: LearnerProcess = t.spawn("consumer.ts", { name: someName(t, "worker"), limits: WORKER_LIMITS });
        const reached = (await t.waitFor(
          async () => {
            const steps = stepsSince(t, fromSeq);
            if (steps.length >= point) return { steps, finished: false };
            if (await settled(t)) return { steps, finished: true };
            if (!victim.alive) throw new Error(`unreachable: ${victim.name} stopped`);
            return null;
          },
          {
            message: `A worker did not handle message ${m.id} within 15 s.`,
            hint: "main(name) should loop: claim() a delivery, handle its message, ack() it.",
            timeoutMs: 15_000,
            intervalMs: 5,
          },
        ).catch((error: unknown) => {
          if (error instanceof Error && error.message.startsWith("unreachable")) {
            t.fail({ message: `${victim.name} stopped before it handled ${m.id}.`, actual: victim.output().slice(-1500), hint: "main must not return or throw; catch what a delivery throws and go on." });
          }
          throw error;
        }))!; // waitFor returns only a truthy value
        const done = reached.steps.slice(0, point);
        if (reached.finished) {
          t.note(`${victim.name} handled and acked ${m.id} in ${reached.steps.length} step(s) with no crash; every crash point has been tried`);
        } else {
          t.note(`SIGKILL ${victim.name} right after its ${ordinal(point)} command for ${m.id}: ${show(t, done.at(-1)!)}`);
          await victim.kill();
        }
        t.proxy.setLatency({ ms: 0 });
        let rescuer: LearnerProcess | null = null;
        if (!(await settled(t))) {
          rescuer = t.spawn("consumer.ts", { name: someName(t, "worker"), limits: WORKER_LIMITS });
          t.note(`${rescuer.name} starts; ${m.id} comes back to it when the dead worker's 1 s lease runs out`);
          await until(t, () => settled(t), 10_000, async () => ({
            message: `After ${victim.name} was killed, ${m.id} was not handled and acked by another worker within 10 s.`,
            expected: `${INBOX} and ${IN_FLIGHT} empty`,
            actual: `${await t.redis.llen(INBOX)} waiting, ${await t.redis.zcard(IN_FLIGHT)} leased`,
            hint: "Do not exit or hang on a message you have seen before: skip its effect, and still ack it.",
          }));
          await t.sleep(200);
        }
        const steps = done.map((e, i) => `${i + 1}. ${show(t, e)}`).join("\n");
        if (reached.finished) {
          await assertCreditedOnce(t, [m], "Handled with no crash", { lost: "handle must credit message.amount to message.account, and main must call it for each delivery.", twice: "Credit each message once." });
          return;
        }
        const context = rescuer ? `The worker was SIGKILLed right after its ${ordinal(point)} command, and the message was redelivered` : `The worker was SIGKILLed right after its ${ordinal(point)} command, by which time the message was acked`;
        await assertCreditedOnce(t, [m], context, {
          lost: `The commands the killed worker had sent:\n${steps}\nSomething in them said "done" before the credit was stored: an ack, or a processed mark written on its own. Then a crash in between loses the effect. Ack only after the effect, and write the mark in the same atomic step as the credit (one Lua script, or MULTI/EXEC).`,
          twice: `The commands the killed worker had sent:\n${steps}\nThe credit was stored but the mark that says so was not (or not yet), so the redelivery applied it again. Write the mark and the credit in one atomic step (one Lua script, or MULTI/EXEC).`,
        });
        if (rescuer) await rescuer.kill();
        lastSteps = steps;
      }
      // Every point up to the cap was a kill: the points after it, which may be where this consumer
      // is unsafe, were never tried. Commands that only pad the start of a message would hide its
      // real crash points, so a consumer that needs this many fails rather than passing untested.
      t.fail({
        message: `After ${MAX_CRASH_POINTS} crash points, a worker had still not finished a message: it sends more than ${MAX_CRASH_POINTS - 1} commands (besides the broker's) per message, so the grader cannot try a crash after each of them.`,
        expected: `a message handled and acked within ${MAX_CRASH_POINTS - 1} commands`,
        actual: `the first ${MAX_CRASH_POINTS} commands for the last message:\n${lastSteps}`,
        hint: "Apply the mark and the credit in one Lua script (or one MULTI/EXEC), then ack: two or three commands per message.",
      });
    },

    "marks-expire": async (t) => {
      const consumer = await t.load("consumer.ts");
      const messages = [message(t, "expiring-1"), message(t, "expiring-2")];
      for (const m of messages) await consumer.call("handle", [m]);
      await assertCreditedOnce(t, messages, "Messages handled once", { lost: "handle must credit message.amount to message.account.", twice: "Credit each message once." });
      // The marks whose TTL is judged below must be the ones that hold these ids, not a stand-in.
      await t.expectInRedis(
        messages.map((m) => m.id),
        {
          ignore: NOT_MARKS,
          message: "After two messages were handled, their ids are nowhere in Redis besides the balances: there are no processed marks to expire.",
          hint: "Remember each applied message in Redis under a mark named after (or holding) its id, e.g. processed:<id>, with an expiry.",
        },
      );
      const keys = (await t.redis.keys("*")).filter((k) => k !== BALANCES && !k.startsWith("broker:")).sort();
      if (keys.length === 0) {
        t.fail({ message: "After two messages were handled, Redis held no key besides balances.", expected: "a processed mark per message, e.g. processed:<id>", hint: "Remember each applied message id in Redis, so that any consumer can tell a duplicate." });
      }
      for (const key of keys) {
        const ttl = await t.redis.ttl(key);
        if (ttl >= MIN_TTL_S && ttl <= MAX_TTL_S) continue;
        t.fail({
          message: ttl < 0 ? `Key ${key} never expires.` : `Key ${key} expires in ${ttl} s.`,
          expected: `a TTL between ${MIN_TTL_S} s (1 hour) and ${MAX_TTL_S} s (7 days)`,
          actual: `TTL ${key} = ${ttl}`,
          hint:
            ttl < 0
              ? "A mark per message, kept forever, grows without bound: one key per message ever handled. Give each mark an expiry longer than any redelivery can be late (SET … NX EX 86400), and set it in the same command that creates the key."
              : "Keep a mark for longer than a duplicate can arrive late (a day is typical), and not forever.",
        });
      }
    },
  },
});
