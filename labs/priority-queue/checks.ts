import { defineChecks, type CheckContext, type RpcModule } from "../../lib/grader/index.ts";

interface Task {
  id: string;
  priority: number;
  payload?: unknown;
}

const taskId = (t: CheckContext, i: number) => `task-${Math.floor(t.random() * 1e6).toString(36)}-${i}`;

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
      for (let i = 0; !t.signal.aborted; i++) {
        await producer!.call("enqueue", [{ id: taskId(t, i), priority: Math.floor(t.random() * 4) }]).catch(() => {});
        await t.sleep(100);
      }
    };
    await Promise.all([produce(), ...consumers.map(consume)]);
  },
  checks: {
    "priority-order": async (t) => {
      const queue = await t.load("queue.ts");
      const tasks = shuffled(t, [0, 0, 1, 3, 3, 7, 50, 1000, 1000, 999_999].map((priority, i) => ({ id: taskId(t, i), priority })));
      for (const task of tasks) await queue.call("enqueue", [task]);
      const out = await drain(queue, tasks.length + 1);
      t.equal(
        out.map((task) => task?.priority),
        tasks.map((task) => task.priority).sort((a, b) => a - b),
        { message: "Tasks did not come out most urgent (lowest priority number) first.", hint: "Priority 0 is the most urgent. A sorted set pops its lowest score first with ZPOPMIN/BZPOPMIN." },
      );
    },

    "fifo-among-equals": async (t) => {
      const queue = await t.load("queue.ts");
      const tasks = Array.from({ length: 30 }, (_, i) => ({ id: taskId(t, i), priority: 5 }));
      for (const task of tasks) await queue.call("enqueue", [task]);
      const out = await drain(queue, tasks.length + 1);
      t.equal(out.map((task) => task?.id), tasks.map((task) => task.id), {
        message: "30 tasks of equal priority did not come out in the order they were enqueued.",
        hint: "Members with equal scores are ordered by their bytes, not by arrival. Fold an increasing sequence number (INCR) into the score.",
      });
    },

    "blocking-dequeue": async (t) => {
      const queue = await t.load("queue.ts");
      const idleStart = performance.now();
      const none = await queue.call("dequeue", [0.3], 4000);
      const idleMs = performance.now() - idleStart;
      t.equal(none, null, { message: "dequeue(0.3) on an empty queue should return null.", hint: "Return null when the timeout passes without a task." });
      if (idleMs < 200 || idleMs > 1500) t.fail({ message: `dequeue(0.3) on an empty queue returned after ${Math.round(idleMs)} ms.`, expected: "about 300 ms", actual: `${Math.round(idleMs)} ms`, hint: "Wait for the whole timeout (BZPOPMIN takes it in seconds, fractions allowed), and no longer." });

      const waiting = queue.call<Task | null>("dequeue", [5], 6000);
      await t.sleep(100);
      const task = { id: taskId(t, 0), priority: 1 };
      const enqueued = performance.now();
      await queue.call("enqueue", [task], 2000);
      const got = await waiting;
      const latency = performance.now() - enqueued;
      t.equal(got?.id, task.id, { message: "A dequeue that was waiting did not receive the task enqueued while it waited.", hint: "Block on the queue (BZPOPMIN) rather than returning early." });
      if (latency > 1000) t.fail({ message: `The waiting dequeue got its task ${Math.round(latency)} ms after it was enqueued.`, expected: "under 1000 ms", actual: `${Math.round(latency)} ms`, hint: "A blocked command holds its connection: give the blocking dequeue a connection of its own, so enqueue is not stuck behind it." });
    },

    "concurrent-consumers": async (t) => {
      const [producer, ...consumers] = await t.loadMany("queue.ts", 4);
      const tasks = Array.from({ length: 200 }, (_, i) => ({ id: taskId(t, i), priority: Math.floor(t.random() * 3) }));
      // Order does not matter here, so the 200 calls go out at once.
      await Promise.all(tasks.map((task) => producer!.call("enqueue", [task])));
      t.note("200 tasks enqueued; 3 processes × 2 loops now dequeue at once");
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
      if (lost.length > 0) t.fail({ message: `${lost.length} task(s) were never delivered.`, expected: "all 200 tasks delivered", actual: lost.slice(0, 10).join(", "), hint: "Every enqueued task must be dequeued by someone; check you never drop one you removed." });
    },
  },
});
