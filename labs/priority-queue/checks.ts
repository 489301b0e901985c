import { defineChecks, fc, type CheckContext, type RpcModule } from "../../lib/grader/index.ts";

interface Task {
  id: string;
  priority: number;
  payload?: unknown;
}

// Ids come from the runner's CSPRNG, never from the seed: a program that knows the seed (the
// learner may choose it) must still learn every id from what was enqueued, through Redis.
const newTask = (t: CheckContext, priority: number): Task => ({ id: t.id("task"), priority });

// The seed decides only the shape of a check: here, the order tasks are enqueued in.
function shuffled<T>(t: CheckContext, items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(t.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

async function drain(queue: RpcModule, max: number): Promise<Task[]> {
  const out: Task[] = [];
  for (let i = 0; i < max; i++) {
    const task = await queue.call<Task | null>("dequeue", [0.05]);
    if (!task) break;
    out.push(task);
  }
  return out;
}

/** True when a call rejected because the learner's function threw (not a hang or a dead process). */
const threw = (error: unknown, fn: string) => error instanceof Error && error.message.startsWith(`${fn}() threw `);

/**
 * One enqueue a producer would retry: when enqueue throws, the grader enqueues the same task once
 * more. When enqueue returns, the task must be in Redis right then.
 */
async function enqueueOrRetry(t: CheckContext, queue: RpcModule, task: Task, call: Promise<unknown>, fault: string | null): Promise<void> {
  // An enqueue the fault never reached (no ZADD sent, or it returned before the cut) is an ordinary one.
  if (fault === null) return void (await call);
  const returned = await call.then(
    () => true,
    (error: unknown) => {
      if (!threw(error, "enqueue")) throw error;
      return false;
    },
  );
  if (!returned) {
    t.note(`enqueue(${task.id}) threw after ${fault}: a rejected enqueue is honest, so the grader enqueues the task again, as a producer would`);
    await queue.call("enqueue", [task]);
    return;
  }
  await t.expectInRedis([task.id], {
    message: `enqueue(${task.id}) returned normally after ${fault}, but the task is not in your Redis: it was lost without anyone being told.`,
    hint: "Never swallow a failed write. Let the error reach enqueue's caller (await the ZADD and do not catch it), or retry the write until it succeeds, so that enqueue returning means the task is stored.",
  });
}

/** Redis answers the next ZADD with an error: enqueue must throw, or retry until the task is stored. */
async function enqueueWithRefusedZadd(t: CheckContext, queue: RpcModule, task: Task): Promise<void> {
  t.note(`Redis will refuse the next ZADD with an error reply; enqueue(${task.id}) must throw, or retry, but never return without storing the task`);
  const mark = t.logPosition();
  t.proxy.failNext(1, { match: "ZADD" });
  const call = queue.call("enqueue", [task]);
  await call.catch(() => {});
  const refused = t.commands().some((e) => e.seq > mark && e.fault === "failNext");
  if (!refused) t.proxy.failNext(0, { match: "ZADD" }); // this enqueue sent no ZADD (a script, say): disarm
  await enqueueOrRetry(t, queue, task, call, refused ? "Redis refused its ZADD" : null);
}

/** Every connection is cut while enqueue's command is in flight (its reply held back by latency). */
async function enqueueThroughCut(t: CheckContext, queue: RpcModule, task: Task): Promise<void> {
  const afterMs = 30 + Math.floor(t.random() * 50);
  t.note(`enqueue(${task.id}) with 100 ms latency; the grader cuts every connection ${afterMs} ms into it`);
  t.proxy.setLatency({ ms: 100 });
  let settled = false;
  const call = queue.call("enqueue", [task]).finally(() => (settled = true));
  call.catch(() => {});
  await t.sleep(afterMs);
  const inFlight = !settled;
  t.proxy.cutAll();
  t.proxy.setLatency({ ms: 0 });
  await enqueueOrRetry(t, queue, task, call, inFlight ? "its connection was cut" : null);
}

/** Connections Redis holds blocked in a command (BZPOPMIN…), read with the grader's own connection. */
async function blockedClients(t: CheckContext): Promise<number> {
  return Number(/^blocked_clients:(\d+)/m.exec(await t.redis.info("clients"))?.[1] ?? 0);
}

/** Polls `done` until it holds or `atMostMs` passes: a wait for a state, never longer than the fixed one it replaces. */
async function waitUntil(t: CheckContext, done: () => Promise<boolean>, atMostMs: number): Promise<void> {
  const deadline = performance.now() + atMostMs;
  while (performance.now() < deadline && !(await done())) await t.sleep(10);
}

/** One step of a generated workload: an enqueue from one of two producers, or a dequeue. */
type Step = { op: "enqueue"; producer: 0 | 1; priority: number } | { op: "dequeue" };

// Priorities cover the whole stated range, with ties made likely: a few small values, the edges
// (0 and 1,000,000, where a score's precision runs out first), and anything in between.
const priorityArb = fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constantFrom(0, 999_999, 1_000_000), fc.integer({ min: 0, max: 1_000_000 }));
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant("enqueue" as const), producer: fc.constantFrom(0 as const, 1 as const), priority: priorityArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("dequeue" as const) }) },
);
const workloadArb = fc.array(stepArb, { minLength: 2, maxLength: 14 });

const showWorkload = (steps: Step[]) =>
  steps.map((s) => (s.op === "enqueue" ? `producer-${s.producer + 1}.enqueue({ priority: ${s.priority} })` : "dequeue()")).join("\n");

/**
 * Runs a generated workload against a model queue: enqueues from two producer instances (so a
 * sequence kept in one process's memory shows), dequeues in between (so the queue is judged
 * while it changes, not only drained), then drains it. Fails at the first task out of order.
 */
async function runWorkload(t: CheckContext, producers: RpcModule[], consumer: RpcModule, steps: Step[]): Promise<void> {
  await t.redis.flushdb();
  const model: { task: Task; arrival: number }[] = [];
  const arrivals = new Map<string, number>();
  const take = async (why: string) => {
    model.sort((a, b) => a.task.priority - b.task.priority || a.arrival - b.arrival);
    const expected = model.shift();
    const got = await consumer.call<Task | null>("dequeue", [expected ? 1 : 0.02]);
    if (got?.id !== expected?.task.id) {
      const describe = (task: Task | null | undefined) =>
        task ? `the task of priority ${task.priority} enqueued as number ${1 + (arrivals.get(task.id) ?? -1)}` : "null";
      t.fail({
        message: `${why}, dequeue returned the wrong task.`,
        expected: describe(expected?.task),
        actual: describe(got),
        hint: "The most urgent (lowest number) first, and among equal priorities the one enqueued first, whichever process enqueued it. A sequence for ties must be shared by every producer (INCR in Redis, not a counter in memory) and must survive in the score: priority × 2^32 + sequence stays exact in a double; priority × 1e12 + sequence, or a timestamp, does not.",
      });
    }
  };
  for (const step of steps) {
    if (step.op === "dequeue") {
      await take(`With ${model.length} task(s) waiting`);
      continue;
    }
    const task = newTask(t, step.priority);
    await producers[step.producer]!.call("enqueue", [task]);
    arrivals.set(task.id, arrivals.size);
    model.push({ task, arrival: arrivals.size });
  }
  while (model.length > 0) await take(`Draining the ${model.length} task(s) left`);
}

const inRedisHint =
  "enqueue must store the task in your Redis, in a sorted set (ZADD), and dequeue must take it from there. A queue kept in your process's memory works for one process only: another process cannot see it, and it is gone when the process dies.";

/** After enqueues and before any dequeue: every task is in Redis, and sorted sets hold them all. */
async function expectQueued(t: CheckContext, tasks: Task[]): Promise<void> {
  await t.expectInRedis(
    tasks.map((task) => task.id),
    { message: `After ${tasks.length} enqueue calls returned, and before any dequeue, some of those tasks were not in your Redis.`, hint: inRedisHint },
  );
  const { sizes } = await t.viewRedis();
  if (sizes.zset < tasks.length) {
    t.fail({
      message: `After ${tasks.length} enqueue calls returned, your Redis holds only ${sizes.zset} sorted-set member(s).`,
      expected: `at least ${tasks.length} members in sorted sets: one per waiting task`,
      actual: `${sizes.zset} sorted-set member(s); lists ${sizes.list}, hashes ${sizes.hash}, strings ${sizes.string}`,
      hint: "Keep the waiting tasks in a sorted set (ZADD), one member per task, scored so the most urgent and then the oldest comes first.",
    });
  }
}

/** After every task came out: nothing is left waiting in a sorted set. */
async function expectDrained(t: CheckContext, count: number): Promise<void> {
  const { sizes } = await t.viewRedis();
  if (sizes.zset > 0) {
    t.fail({
      message: `All ${count} tasks were dequeued, but your sorted set(s) still hold ${sizes.zset} member(s).`,
      expected: "an empty queue: every task dequeued is removed from Redis",
      actual: `${sizes.zset} sorted-set member(s) left`,
      hint: "dequeue must remove the task from the sorted set as it returns it (BZPOPMIN does both in one step). A task left behind would be handed out again after a restart.",
    });
  }
}

/**
 * Commands that can take a member out of a sorted set (directly, or inside a script or a
 * transaction), counted only when Redis answered with something: a pop that found nothing
 * replies nil or an empty array, a ZREM that removed nothing replies 0.
 */
const TAKES = new Set([
  "BZPOPMIN",
  "BZPOPMAX",
  "ZPOPMIN",
  "ZPOPMAX",
  "BZMPOP",
  "ZMPOP",
  "ZREM",
  "ZREMRANGEBYRANK",
  "ZREMRANGEBYSCORE",
  "ZREMRANGEBYLEX",
  "EVAL",
  "EVALSHA",
  "EVAL_RO",
  "EVALSHA_RO",
  "FCALL",
  "FCALL_RO",
  "EXEC",
  "DEL",
  "UNLINK",
  "RENAME",
  "ZRANGESTORE",
  "ZINTERSTORE",
  "ZUNIONSTORE",
  "ZDIFFSTORE",
]);
const tookSomething = (reply: { type: string; summary: string } | undefined) =>
  reply !== undefined &&
  reply.type !== "error" &&
  reply.summary !== "(nil)" &&
  reply.summary !== "0 element(s)" &&
  !(reply.type === "integer" && reply.summary === "0");

export default defineChecks({
  // The live view: a producer adds a task every 100 ms while two slower consumers drain the queue.
  playground: async (t) => {
    const [producer, ...consumers] = await t.loadMany("queue.ts", 3);
    const consume = async (consumer: RpcModule) => {
      while (!t.signal.aborted) {
        const task = await consumer.call<Task | null>("dequeue", [0.5]).catch(() => null);
        if (task) t.note(`${consumer.name} took ${task.id} (priority ${task.priority})`);
        await t.sleep(250);
      }
    };
    const produce = async () => {
      while (!t.signal.aborted) {
        await producer!.call("enqueue", [newTask(t, Math.floor(t.random() * 4))]).catch(() => {});
        await t.sleep(100);
      }
    };
    await Promise.all([produce(), ...consumers.map(consume)]);
  },
  checks: {
    "priority-order": async (t) => {
      const queue = await t.load("queue.ts");
      const tasks = shuffled(
        t,
        [0, 0, 1, 3, 3, 7, 50, 1000, 1000, 999_999].map((priority) => newTask(t, priority)),
      );
      // Two enqueues meet a fault, at points the seed picks: one ZADD is refused, one is cut.
      const refused = Math.floor(t.random() * tasks.length);
      const cut = (refused + 1 + Math.floor(t.random() * (tasks.length - 1))) % tasks.length;
      for (const [i, task] of tasks.entries()) {
        if (i === refused) await enqueueWithRefusedZadd(t, queue, task);
        else if (i === cut) await enqueueThroughCut(t, queue, task);
        else await queue.call("enqueue", [task]);
      }
      await expectQueued(t, tasks);
      const out = await drain(queue, tasks.length + 1);
      t.equal(
        out.map((task) => task?.priority),
        tasks.map((task) => task.priority).sort((a, b) => a - b),
        {
          message: "Tasks did not come out most urgent (lowest priority number) first.",
          hint: "Priority 0 is the most urgent. A sorted set pops its lowest score first with ZPOPMIN/BZPOPMIN.",
        },
      );
      t.equal(out.map((task) => task.id).sort(), tasks.map((task) => task.id).sort(), {
        message: "The tasks that came out are not the tasks that went in.",
        hint: "dequeue returns the task enqueue stored, with its own id: keep the whole task (JSON.stringify it) in Redis.",
      });
      await expectDrained(t, tasks.length);
    },

    "fifo-among-equals": async (t) => {
      const queue = await t.load("queue.ts");
      // At the top of the range, where a score that folds in the sequence carelessly (× 1e12, a
      // timestamp) loses it: 30 ties then come out in member order, which is never their own.
      const tasks = Array.from({ length: 30 }, () => newTask(t, 999_999));
      for (const task of tasks) await queue.call("enqueue", [task]);
      await expectQueued(t, tasks);
      const out = await drain(queue, tasks.length + 1);
      t.equal(
        out.map((task) => task?.id),
        tasks.map((task) => task.id),
        {
          message: "30 tasks of equal priority (999,999) did not come out in the order they were enqueued.",
          hint: "Members with equal scores are ordered by their bytes, not by arrival. Fold an increasing sequence number (INCR) into the score.",
        },
      );
      await expectDrained(t, tasks.length);

      // Then generated workloads: two producers, dequeues between enqueues, ties at every
      // priority up to 1,000,000. A failure shows the smallest workload that breaks the order.
      const [producer1, producer2, consumer] = await Promise.all(
        ["producer-1", "producer-2", "consumer"].map((name) => t.load("queue.ts", { name, limits: { wallMs: 30_000 } })),
      );
      await t.property(workloadArb, (steps) => runWorkload(t, [producer1!, producer2!], consumer!, steps), {
        runs: 25,
        timeLimitMs: 6000,
        noun: "workload",
        show: showWorkload,
      });
    },

    "blocking-dequeue": async (t) => {
      const queue = await t.load("queue.ts");
      const idleMark = t.logPosition();
      const idleStart = performance.now();
      const none = await queue.call("dequeue", [0.3], 4000);
      const idleMs = performance.now() - idleStart;
      t.equal(none, null, { message: "dequeue(0.3) on an empty queue should return null.", hint: "Return null when the timeout passes without a task." });
      // 0.3 s as stated, and no more than 750 ms: a timeout rounded up to whole seconds (1 s) or
      // polled in coarse steps is outside it. On a loaded machine the call itself can take longer
      // than the wait, so the upper bound is held against how long Redis kept the dequeue's
      // commands (first arriving to last answered, from the proxy's log) when the call was slower.
      const idleCommands = t.commands().filter((e) => e.seq > idleMark && e.owner === queue.name);
      const redisMs =
        idleCommands.length === 0 ? 0 : Math.max(...idleCommands.map((e) => e.at + (e.durationMs ?? 0))) - Math.min(...idleCommands.map((e) => e.at));
      if (idleMs < 280 || Math.min(idleMs, redisMs) > 750) {
        t.fail({
          message: `dequeue(0.3) on an empty queue returned after ${Math.round(idleMs)} ms${idleCommands.length > 0 ? `, ${Math.round(redisMs)} ms of it in Redis` : ""}.`,
          expected: "300 ms (at least 280 ms, and at most 750 ms)",
          actual: `${Math.round(idleMs)} ms`,
          hint: "Wait for the whole timeout and no longer. BZPOPMIN takes it in seconds with fractions (since Redis 6): pass 0.3 as it is, do not round it to whole seconds.",
        });
      }

      const blockedBefore = await blockedClients(t);
      const waiting = queue.call<Task | null>("dequeue", [5], 6000);
      waiting.catch(() => {});
      await waitUntil(t, async () => (await blockedClients(t)) > blockedBefore, 150);
      // The connection drops under a waiting consumer: the queue is empty, so nothing can be in
      // flight, and the wait must go on (or end in an error) without losing what comes next.
      t.note("dequeue(5) is waiting on an empty queue; the grader cuts every connection to Redis");
      t.proxy.cutAll();
      // A client that reconnects sends its blocking pop again; one that gives up never does.
      await t.sleep(20);
      await waitUntil(t, async () => (await blockedClients(t)) > blockedBefore, 150);
      const task = newTask(t, 1);
      const mark = t.logPosition();
      const enqueued = performance.now();
      await queue.call("enqueue", [task], 2000);
      let got = await waiting.catch((error: unknown) => {
        if (!threw(error, "dequeue")) throw error;
        return "threw" as const;
      });
      let latency = performance.now() - enqueued;
      if (got === "threw") {
        // An error from a cut connection is honest, as long as the task is still there to take.
        t.note("the waiting dequeue threw after its connection was cut; the grader calls dequeue(1) again");
        got = await queue.call<Task | null>("dequeue", [1], 3000);
        latency = 0;
      }
      t.equal(got?.id, task.id, {
        message: "A dequeue that was waiting (through a cut connection) did not receive the task enqueued while it waited.",
        hint: "Block on the queue (BZPOPMIN) rather than returning early. When the connection drops, ioredis reconnects and sends the BZPOPMIN again; a dequeue that gives up must not take a task with it.",
      });
      // The task must have gone through Redis: enqueue sent it there, however it encodes it.
      const sent = t.commands().some((e) => e.seq > mark && e.args.slice(1).some((arg) => arg.includes(task.id)));
      if (!sent) {
        t.fail({
          message: `The waiting dequeue returned ${task.id}, but no command your code sent to Redis carried that task.`,
          expected: `a command with ${task.id} in it (ZADD, or a script's arguments) between the enqueue and the dequeue's answer`,
          actual: "the task went from enqueue to dequeue without passing through Redis",
          hint: inRedisHint,
        });
      }
      if (latency > 1000)
        t.fail({
          message: `The waiting dequeue got its task ${Math.round(latency)} ms after it was enqueued.`,
          expected: "under 1000 ms",
          actual: `${Math.round(latency)} ms`,
          hint: "A blocked command holds its connection: give the blocking dequeue a connection of its own, so enqueue is not stuck behind it.",
        });
      await expectDrained(t, 1);
    },

    "concurrent-consumers": async (t) => {
      const [producer, ...consumers] = await t.loadMany("queue.ts", 4);
      const tasks = Array.from({ length: 200 }, () => newTask(t, Math.floor(t.random() * 3)));
      // Order does not matter here, so the 200 calls go out at once.
      await Promise.all(tasks.map((task) => producer!.call("enqueue", [task])));
      await expectQueued(t, tasks);
      // Latency with jitter: replies arrive late and out of step across connections, so a
      // read-then-remove dequeue has a wide window in which two consumers see the same head.
      const latencyMs = 2 + Math.floor(t.random() * 4);
      t.proxy.setLatency({ ms: latencyMs, jitterMs: 8 });
      const mark = t.logPosition();
      t.note(`200 tasks enqueued; replies now take ${latencyMs}±8 ms; 3 processes × 2 loops dequeue at once`);
      const loops = consumers.flatMap((consumer) => Array.from({ length: 2 }, () => drain(consumer, 250)));
      const received = (await Promise.all(loops)).flat();
      const counts = new Map<string, number>();
      for (const task of received) counts.set(task.id, (counts.get(task.id) ?? 0) + 1);
      const shared = [...counts].filter(([, n]) => n > 1).map(([id, n]) => `${id} ×${n}`);
      const lost = tasks.filter((task) => !counts.has(task.id)).map((task) => task.id);
      if (shared.length > 0) {
        t.fail({
          message: `${shared.length} task(s) were handed to more than one consumer.`,
          expected: "each of the 200 tasks exactly once",
          actual: shared.slice(0, 10).join(", "),
          hint: "Reading the head and then removing it is two steps; another consumer can read the same head in between. Pop atomically: BZPOPMIN (or ZPOPMIN, or a Lua script).",
        });
      }
      if (lost.length > 0)
        t.fail({
          message: `${lost.length} task(s) were never delivered.`,
          expected: "all 200 tasks delivered",
          actual: lost.slice(0, 10).join(", "),
          hint: "Every enqueued task must be dequeued by someone; check you never drop one you removed.",
        });
      // Only the consumers were busy after the enqueues returned: each task they returned must
      // have been taken out of Redis by a command of theirs.
      const takes = t.commands().filter((e) => e.seq > mark && TAKES.has(e.args[0]!) && tookSomething(e.reply)).length;
      if (takes < received.length) {
        t.fail({
          message: `The consumers returned ${received.length} tasks, but only ${takes} command(s) took anything out of your Redis while they ran.`,
          expected: `at least ${received.length} pops (BZPOPMIN, ZPOPMIN, ZREM, a script…) that removed a task`,
          actual: `${takes}`,
          hint: "Each dequeue must take its task out of the sorted set in Redis, atomically; consumers in other processes share nothing else.",
        });
      }
      await expectDrained(t, tasks.length);

      // Two consumers die (SIGKILL). The first while it waits in dequeue on an empty queue: it
      // received nothing. The second between two dequeue calls, once everything it took has come
      // back to the grader. Neither holds a task, so every task must reach the one that is left.
      const [blockedVictim, idleVictim, survivor] = shuffled(t, [...consumers]) as [RpcModule, RpcModule, RpcModule];
      t.note("the queue is empty; each consumer process now waits in dequeue(4)");
      const blockedBefore = await blockedClients(t);
      const waits = new Map(consumers.map((consumer) => [consumer, consumer.call<Task | null>("dequeue", [4], 6000)]));
      waits.get(blockedVictim)!.catch(() => {});
      // Seen from Redis: every consumer's blocking pop has arrived (or, for a dequeue that polls, a moment has passed).
      await waitUntil(t, async () => (await blockedClients(t)) >= blockedBefore + consumers.length, 400);
      t.note(`SIGKILL ${blockedVictim.name} while it is blocked in dequeue: it holds no task, so none may be lost with it`);
      await blockedVictim.kill();
      // Its connections close with it: wait until Redis has forgotten its blocked pop.
      const blockedNow = await blockedClients(t);
      await waitUntil(t, async () => (await blockedClients(t)) < blockedNow, 300);
      const late = Array.from({ length: 12 }, () => newTask(t, Math.floor(t.random() * 3)));
      for (const task of late) await producer!.call("enqueue", [task]);
      t.note(`12 more tasks enqueued; the waiting dequeues of ${idleVictim.name} and ${survivor.name} each return one`);
      const after: Task[] = [];
      for (const consumer of [idleVictim, survivor]) {
        const task = await waits.get(consumer)!;
        if (task) after.push(task);
      }
      // Long enough for a consumer that pops ahead of its calls to have done so.
      await t.sleep(100);
      t.note(`SIGKILL ${idleVictim.name} between dequeue calls: every task it took has come back, so it holds none`);
      await idleVictim.kill();
      after.push(...(await drain(survivor, 20)));
      const afterCounts = new Map<string, number>();
      for (const task of after) afterCounts.set(task.id, (afterCounts.get(task.id) ?? 0) + 1);
      const afterShared = [...afterCounts].filter(([, n]) => n > 1).map(([id, n]) => `${id} ×${n}`);
      const afterLost = late.filter((task) => !afterCounts.has(task.id)).map((task) => task.id);
      if (afterShared.length > 0 || afterLost.length > 0) {
        t.fail({
          message: `With ${blockedVictim.name} killed while it waited and ${idleVictim.name} killed between calls, the 12 tasks enqueued did not each come out exactly once.`,
          expected: "each of the 12 tasks returned exactly once, by a dequeue call",
          actual: `lost: ${afterLost.slice(0, 10).join(", ") || "none"}; shared: ${afterShared.slice(0, 10).join(", ") || "none"}`,
          hint: "A consumer process may die at any moment. Take a task out of Redis only inside a dequeue call, with one atomic pop (BZPOPMIN), and return it: a task popped ahead of time into a process's memory dies with that process.",
        });
      }
      await expectDrained(t, tasks.length + late.length);
    },
  },
});
