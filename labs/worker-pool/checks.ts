import { assertEachOnce, defineChecks, type CheckContext, type LearnerProcess, type RpcModule } from "../../lib/grader/index.ts";

interface Task {
  id: string;
  name: string;
  payload: unknown;
  priority: number;
  attempts: number;
}

// The keys the read-only queue.ts and handlers.ts write (instructions.md names them).
const DONE = "effects:done";
const FAILED = "queue:failed";
const PEAK = (worker: string) => `effects:peak:${worker}`;

interface Done {
  id: string;
  handler: string;
  worker: string;
}
interface Failed {
  id: string;
  name: string;
  error: string;
}

// 9 tasks of 1 s at concurrency 3: never under 3 s (timers never fire early by more than a
// rounding), and well under the 9 s one at a time would take, even on a loaded machine.
const MIN_POOL_MS = 2950;
const MAX_POOL_MS = 7500;

// Workers outlive a single call, so they get more wall time than the sandbox's default.
const LIMITS = { wallMs: 40_000 };

// Ids come from the runner's CSPRNG, never from the seed: a worker learns of a task only by
// taking it from the queue. The seed decides only the shape (names, priorities).
const newId = (t: CheckContext) => t.id("task");
const task = (id: string, name: string, priority = 5, payload: unknown = null): Task => ({ id, name, payload, priority, attempts: 0 });

const parseAll = <T>(items: string[]) => items.map((item) => JSON.parse(item) as T);
async function seen(t: CheckContext): Promise<{ done: Done[]; failed: Failed[] }> {
  const [done, failed] = await Promise.all([t.redis.lrange(DONE, 0, -1), t.redis.lrange(FAILED, 0, -1)]);
  return { done: parseAll<Done>(done), failed: parseAll<Failed>(failed) };
}

/** Enqueues in order, from a process that runs no worker. */
async function enqueueAll(producer: RpcModule, tasks: Task[]): Promise<void> {
  for (const each of tasks) await producer.call("enqueue", [each]);
}

function describeEnd(worker: LearnerProcess): string {
  const outcome = worker.outcome;
  if (!outcome) return `${worker.name} is running`;
  const how = outcome.kind === "exited" ? `exited with code ${outcome.code}` : outcome.kind === "signalled" ? `was stopped by ${outcome.signal}` : outcome.message;
  return `${worker.name} ${how}`;
}

const workerHint = "start() should return at once and run loops that each take a task with dequeue(1), run the handler registered for task.name, and go back for the next; a null from dequeue only means nothing came yet.";

/**
 * Waits until every id in `doneIds` is in effects:done and every id in `failedIds` in
 * queue:failed. Fails with `details` on a timeout, or at once when a worker process has died.
 */
async function until(
  t: CheckContext,
  workers: LearnerProcess[],
  want: { doneIds: string[]; failedIds: string[] },
  timeoutMs: number,
  details: (missing: { done: string[]; failed: string[] }) => { message: string; hint: string },
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const { done, failed } = await seen(t);
    const missing = { done: want.doneIds.filter((id) => !done.some((d) => d.id === id)), failed: want.failedIds.filter((id) => !failed.some((f) => f.id === id)) };
    if (missing.done.length === 0 && missing.failed.length === 0) return;
    const dead = workers.filter((w) => !w.alive);
    if (dead.length > 0 || performance.now() > deadline) {
      const lines = [
        missing.done.length > 0 ? `never done: ${missing.done.slice(0, 8).join(", ")}${missing.done.length > 8 ? ` and ${missing.done.length - 8} more` : ""}` : "",
        missing.failed.length > 0 ? `never recorded in ${FAILED}: ${missing.failed.join(", ")}` : "",
        ...workers.map(describeEnd),
        // What the workers printed last often names the cause (a loop that stopped, a crash).
        ...workers.map((w) => (w.output().trim() ? `--- ${w.name} printed:\n${w.output().slice(-600)}` : "")),
      ].filter(Boolean);
      if (dead.length > 0) {
        t.fail({
          message: `${dead.map(describeEnd).join(", ")} before the tasks were finished: ${missing.done.length} not done, ${missing.failed.length} failure(s) not recorded.`,
          expected: "the worker process alive, running task after task",
          actual: lines.join("\n"),
          hint: "A worker process must outlive any task: run each handler inside try/catch and await it there, so a handler that throws at once and one whose promise rejects both end up in recordFailure, never in an unhandled rejection.",
        });
      }
      const nothing = missing.done.length === want.doneIds.length && missing.failed.length === want.failedIds.length;
      if (nothing) {
        t.fail({ message: `None of the ${want.doneIds.length + want.failedIds.length} tasks was run or recorded as failed within ${timeoutMs / 1000} s.`, actual: lines.join("\n"), hint: workerHint });
      }
      t.fail({ ...details(missing), actual: lines.join("\n") });
    }
    await t.sleep(25);
  }
}


export default defineChecks({
  timeoutMs: 25_000,
  // The live view: two worker processes (concurrency 2) drain a mixed stream: quick tasks, slow
  // ones, handlers that throw or reject, and a task name nobody handles.
  playground: async (t) => {
    const limits = { wallMs: 70_000, cpuSeconds: 30 };
    const producer = await t.load("queue.ts", { name: "producer", limits });
    t.spawn("main.ts", { name: "worker-1", limits });
    t.spawn("main.ts", { name: "worker-2", limits });
    const names = ["email.send", "image.resize", "report.slow", "report.slow", "task.explode", "task.explode-now", "video.transcode"];
    for (let i = 0; !t.signal.aborted; i++) {
      const name = names[Math.floor(t.random() * names.length)]!;
      const payload = name === "report.slow" ? { ms: 300 + Math.floor(t.random() * 1200) } : null;
      await producer.call("enqueue", [task(newId(t), name, Math.floor(t.random() * 3), payload)]).catch(() => {});
      await t.sleep(250);
    }
  },
  checks: {
    "handler-registration": async (t) => {
      const producer = await t.load("queue.ts", { name: "producer" });
      const emails = Array.from({ length: 4 }, () => task(newId(t), "email.send"));
      const images = Array.from({ length: 4 }, () => task(newId(t), "image.resize"));
      const unknown = Array.from({ length: 2 }, () => task(newId(t), "video.transcode"));
      // The tasks nobody handles come out first: the ones after them show the worker went on.
      await enqueueAll(producer, [...unknown.map((u) => ({ ...u, priority: 0 })), ...emails.flatMap((e, i) => [e, images[i]!])]);
      const worker = t.spawn("main.ts", { name: "worker-1", limits: LIMITS });
      t.note("2 tasks named video.transcode (no handler), then 4 email.send and 4 image.resize; one worker, concurrency 2");
      await until(t, [worker], { doneIds: [...emails, ...images].map((x) => x.id), failedIds: unknown.map((u) => u.id) }, 8000, (missing) =>
        missing.failed.length > 0
          ? {
              message: `${missing.failed.length} task(s) named "video.transcode", for which no handler is registered, were never recorded as failed.`,
              hint: "A task whose name has no handler is a failure, not something to skip in silence: call recordFailure(task, new Error(`no handler for ${task.name}`)) and go on to the next task.",
            }
          : { message: `${missing.done.length} of the 8 email.send and image.resize tasks were not done within 8 s.`, hint: workerHint },
      );
      await t.sleep(300);
      const { done, failed } = await seen(t);
      const wrongHandler = [...emails.map((e) => [e, "sendEmail"] as const), ...images.map((i) => [i, "resizeImage"] as const)].flatMap(([x, handler]) =>
        done.filter((d) => d.id === x.id && d.handler !== handler).map((d) => `${x.id} (${x.name}) ran ${d.handler}, not ${handler}`),
      );
      if (wrongHandler.length > 0) {
        t.fail({ message: "Some tasks ran a handler registered for another name.", expected: "email.send → sendEmail, image.resize → resizeImage", actual: wrongHandler.join("\n"), hint: "Look the handler up by the task's own name, handlers.get(task.name), in a Map filled by register." });
      }
      assertEachOnce(
        [...emails, ...images].map((x) => x.id),
        done.map((d) => d.id),
        { noun: "task", hintLost: workerHint, hintDuplicate: "Run each task you dequeue once: a task goes to exactly one handler call." },
      );
      const unrecorded = unknown.filter((u) => failed.filter((f) => f.id === u.id).length !== 1);
      if (unrecorded.length > 0) t.fail({ message: "Each task with no handler should be recorded in queue:failed exactly once.", actual: JSON.stringify(failed), hint: "Call recordFailure once per task that has no handler." });
      if (!worker.alive) t.fail({ message: `The worker should still be running, but ${describeEnd(worker)}.`, actual: worker.output().slice(-800), hint: workerHint });

      const probe = await t.load("main.ts", { name: "probe" });
      const message = await probe.call<string | null>("registerTwice", []);
      if (message === null) {
        t.fail({
          message: "Registering a second handler for email.send did not throw, so the second one silently replaced the first.",
          expected: "register throws when the task name already has a handler",
          actual: "no error",
          hint: "In register, check handlers.has(taskName) first and throw an Error that names the task: two handlers for one name is a wiring mistake that should stop the program at start-up.",
        });
      }
    },

    "survives-throwing-handler": async (t) => {
      const producer = await t.load("queue.ts", { name: "producer" });
      const ids = Array.from({ length: 14 }, () => newId(t));
      // Dequeued in this order: the failing tasks come first, so a worker that dies on them
      // leaves the email.send tasks behind it undone.
      const failing = [task(ids[0]!, "task.explode-now", 0), task(ids[1]!, "task.explode-now", 0), task(ids[2]!, "task.explode", 0), task(ids[3]!, "task.explode", 0)];
      const emails = [4, 5, 6, 7].map((i) => task(ids[i]!, "email.send", 5));
      const later = [task(ids[8]!, "task.explode-now", 6), task(ids[9]!, "task.explode", 6)];
      const lastEmails = [10, 11].map((i) => task(ids[i]!, "email.send", 7));
      await enqueueAll(producer, [...failing, ...emails, ...later, ...lastEmails]);
      const worker = t.spawn("main.ts", { name: "worker-1", limits: LIMITS });
      t.note("4 tasks whose handlers throw (2 at once, 2 by rejecting), 4 email.send, 2 more that throw, 2 more email.send; one worker, concurrency 2");
      const throwing = [...failing, ...later];
      await until(t, [worker], { doneIds: [...emails, ...lastEmails].map((e) => e.id), failedIds: throwing.map((x) => x.id) }, 8000, (missing) =>
        missing.failed.length > 0 && missing.done.length === 0
          ? {
              message: `${missing.failed.length} task(s) whose handler threw were never recorded in queue:failed.`,
              hint: "Catch what the handler throws and call recordFailure(task, error) with it.",
            }
          : {
              message: `After handlers that throw, ${missing.done.length} of the 6 email.send tasks were not done within 8 s.`,
              hint: "Something a handler throws must never stop the loop that called it. `Promise.resolve(handler(task)).catch(...)` misses a handler that throws before it returns a promise, and a try/catch around a call you do not await misses one whose promise rejects later: `try { await handler(task) } catch (error) { ... }` catches both.",
            },
      );
      await t.sleep(300);
      const { done, failed } = await seen(t);
      const badRecords = throwing.flatMap((x) => {
        const records = failed.filter((f) => f.id === x.id);
        if (records.length !== 1) return [`${x.id} (${x.name}) recorded ${records.length} times`];
        return records[0]!.error.includes(x.id) ? [] : [`${x.id} (${x.name}) recorded with error ${JSON.stringify(records[0]!.error)}`];
      });
      if (badRecords.length > 0) {
        t.fail({
          message: "Each task whose handler threw should be recorded once, with the error the handler threw.",
          expected: `one entry each, whose error is the handler's message (it names the task id, e.g. "boom now: ${failing[0]!.id} failed at once")`,
          actual: badRecords.join("\n"),
          hint: "Pass the caught error itself to recordFailure(task, error), once per failed task.",
        });
      }
      assertEachOnce([...emails, ...lastEmails].map((e) => e.id), done.map((d) => d.id), { noun: "email.send task", hintLost: workerHint, hintDuplicate: "Run each dequeued task once." });
      if (!worker.alive) t.fail({ message: `The worker should still be running after handlers threw, but ${describeEnd(worker)}.`, actual: worker.output().slice(-800), hint: "Nothing a handler throws may end the process: catch it (await the handler inside try) and record it." });
    },

    "bounded-concurrency": async (t) => {
      const producer = await t.load("queue.ts", { name: "producer" });
      const slow = Array.from({ length: 9 }, () => task(newId(t), "report.slow", 5, { ms: 1000 }));
      await enqueueAll(producer, slow);
      const worker = await t.load("main.ts", { name: "worker-1", limits: LIMITS });
      t.note("9 tasks of 1 s each are waiting; start(3): the worker should run exactly 3 at a time");
      const started = performance.now();
      await worker.call("start", [3], 3000);
      await until(t, [worker], { doneIds: slow.map((s) => s.id), failedIds: [] }, 12_000, (missing) => ({
        message: `${missing.done.length} of 9 one-second tasks were not done within 12 s by a worker with concurrency 3 (about 3 s of work).`,
        hint: workerHint,
      }));
      const elapsedMs = performance.now() - started;
      const seconds = (elapsedMs / 1000).toFixed(1);
      const peak = Number((await t.redis.get(PEAK("worker-1"))) ?? 0);
      // The grader's own clock, beside the peak the handlers record: 9 one-second tasks, at most
      // 3 at once, take at least 3 s; 3 at once all along takes about 3 s, one at a time 9 s.
      if (elapsedMs < MIN_POOL_MS) {
        t.fail({
          message: `9 one-second tasks were all done ${seconds} s after start(3): more than 3 must have run at once.`,
          expected: "at least 3 s: at most 3 tasks at once",
          actual: `${seconds} s (the recorded peak says ${peak})`,
          hint: "Take a task only when a slot is free: start `concurrency` loops that each await their handler before dequeuing again.",
        });
      }
      if (elapsedMs > MAX_POOL_MS) {
        t.fail({
          message: `9 one-second tasks took ${seconds} s with concurrency 3: fewer than 3 ran at once.`,
          expected: `about 3 s, and under ${MAX_POOL_MS / 1000} s`,
          actual: `${seconds} s (the recorded peak says ${peak})`,
          hint: "Run `concurrency` loops side by side (for (let i = 0; i < concurrency; i++) loop()), each awaiting its own handler.",
        });
      }
      if (peak > 3) {
        t.fail({
          message: `With concurrency 3, the worker ran ${peak} tasks at once.`,
          expected: "at most 3 at once",
          actual: `${peak} at once; all 9 took ${seconds} s`,
          hint: "Take a task only when a slot is free: start `concurrency` loops that each await their handler before dequeuing again (or count running tasks and wait for one to finish before the next dequeue). Starting every task you dequeue without awaiting it has no limit at all.",
        });
      }
      if (peak < 3) {
        t.fail({
          message: `With concurrency 3 and 9 tasks waiting, the worker never ran more than ${peak} at once.`,
          expected: "3 at once while tasks are waiting",
          actual: `at most ${peak} at once; all 9 took ${seconds} s instead of about 3 s`,
          hint: "One loop that awaits each handler runs one task at a time. Run `concurrency` loops side by side (for (let i = 0; i < concurrency; i++) loop()), each awaiting its own handler.",
        });
      }
      assertEachOnce(slow.map((s) => s.id), (await seen(t)).done.map((d) => d.id), { noun: "task", hintLost: workerHint, hintDuplicate: "Run each dequeued task once." });
    },

    "competing-consumers": async (t) => {
      const producer = await t.load("queue.ts", { name: "producer" });
      const names = ["email.send", "image.resize"];
      const wave = () => Array.from({ length: 30 }, (_, i) => task(newId(t), names[i % 2]!, Math.floor(t.random() * 3)));
      const first = wave();
      const second = wave();
      // The shape of the faults comes from the seed, so a replay meets them at the same points.
      const latencyMs = 5 + Math.floor(t.random() * 15);
      const jitterMs = 10 + Math.floor(t.random() * 20);
      const victimIndex = Math.floor(t.random() * 3);
      const killAfter = 6 + Math.floor(t.random() * 10);
      await enqueueAll(producer, first);
      const workers = [1, 2, 3].map((n) => t.spawn("main.ts", { name: `worker-${n}`, limits: LIMITS }));
      t.proxy.setLatency({ ms: latencyMs, jitterMs });
      t.note(`30 tasks for 3 worker processes (concurrency 2 each); every Redis reply is delayed ${latencyMs} ms ± ${jitterMs} ms from now on`);
      await t.waitFor(async () => workers.some((w) => !w.alive) || (await seen(t)).done.length >= killAfter, {
        message: `Fewer than ${killAfter} of the first 30 tasks were done within 10 s by 3 workers.`,
        hint: workerHint,
        timeoutMs: 10_000,
      });
      if (workers.some((w) => !w.alive)) await until(t, workers, { doneIds: first.map((x) => x.id), failedIds: [] }, 0, () => ({ message: "", hint: workerHint }));

      // A peer dies mid-way. The tasks it had taken and not finished (at most its concurrency, 2)
      // die with it: this queue has no leases, so nothing gives them back. Everything else must run.
      const victim = workers[victimIndex]!;
      const living = workers.filter((w) => w !== victim);
      const doneAtKill = (await seen(t)).done.length;
      t.note(`${doneAtKill} tasks done: killing ${victim.name} (SIGKILL). The tasks it had taken and not finished (at most 2) are lost, since this queue has no leases; every other task must still run exactly once, on the other two`);
      await victim.kill();
      // A moment for anything the dead process had already sent to reach Redis before the snapshot.
      await t.sleep(100);
      // What was still queued after the kill was never taken by the dead worker: it must all run.
      const queuedAfterKill = new Set((await t.redis.zrange("queue:tasks", 0, -1)).map((member) => (JSON.parse(member) as Task).id));
      const firstDeadline = performance.now() + 10_000;
      for (;;) {
        const { done } = await seen(t);
        const missing = first.filter((x) => !done.some((d) => d.id === x.id));
        const queued = await t.redis.zcard("queue:tasks");
        if (queued === 0 && missing.length <= 2) break;
        const dead = living.filter((w) => !w.alive);
        if (dead.length > 0 || performance.now() > firstDeadline) {
          await until(t, living, { doneIds: first.filter((x) => queuedAfterKill.has(x.id)).map((x) => x.id), failedIds: [] }, 0, (m) => ({
            message: `After ${victim.name} was killed, the other two workers did not finish the first 30 tasks within 10 s: ${m.done.length} task(s) still queued when it died were never done.`,
            hint: `${workerHint} A worker that dies takes only its own tasks with it; the others keep taking tasks from the queue.`,
          }));
          t.fail({ message: `After ${victim.name} was killed, ${missing.length} of the first 30 tasks were not done within 10 s (at most 2, the ones it had taken, may be lost).`, actual: [...workers.map(describeEnd)].join("\n"), hint: workerHint });
        }
        await t.sleep(25);
      }
      await t.sleep(500);

      t.note("the queue is now empty for 3 s; meanwhile every connection to Redis is cut and the next 4 dequeue commands (BZPOPMIN) fail with an error: the workers must keep waiting for work");
      const idleStarted = performance.now();
      const mark = t.logPosition();
      t.proxy.failNext(4, { match: "BZPOPMIN" });
      t.proxy.cutAll();
      await t.waitFor(() => t.commands("BZPOPMIN").filter((e) => e.seq > mark && e.fault === "failNext").length >= 4 || performance.now() - idleStarted > 6000, { message: "", hint: "", timeoutMs: 8000 });
      await t.sleep(Math.max(0, 3000 - (performance.now() - idleStarted)));
      await enqueueAll(producer, second);
      t.note(`30 more tasks, for ${living.map((w) => w.name).join(" and ")}`);
      await until(t, living, { doneIds: second.map((x) => x.id), failedIds: [] }, 10_000, (missing) => ({
        message: `After the queue had been empty for 3 s, its connections cut and 4 dequeues failed, ${missing.done.length} of 30 new tasks were not done within 10 s: the workers had stopped taking tasks.`,
        hint: "A worker runs until its process ends. dequeue(1) returns null when nothing came within a second, and rejects when Redis fails it (an error reply, a dropped connection): neither is the end of the work. Catch a failed dequeue inside the loop, wait a moment, and ask again; on null, simply ask again.",
      }));
      await t.sleep(300);
      const { done } = await seen(t);
      const lost = first.filter((x) => !done.some((d) => d.id === x.id));
      const wronglyLost = lost.filter((x) => queuedAfterKill.has(x.id));
      if (lost.length > 2 || wronglyLost.length > 0) {
        t.fail({
          message: `${lost.length} of the first 30 tasks never ran${wronglyLost.length > 0 ? `, ${wronglyLost.length} of them still in the queue when ${victim.name} died` : ""}: only the tasks the killed worker had taken (at most 2) may be lost.`,
          actual: lost.map((x) => x.id).join(", "),
          hint: workerHint,
        });
      }
      const lostIds = new Set(lost.map((x) => x.id));
      assertEachOnce([...first, ...second].map((x) => x.id).filter((id) => !lostIds.has(id)), done.map((d) => d.id), {
        noun: "task",
        hintLost: workerHint,
        hintDuplicate: "Each task must run once across all processes: run exactly the tasks dequeue hands you, once each.",
      });
      const byWorker = workers.map((w) => `${w.name} ran ${done.filter((d) => d.worker === w.name).length}`);
      t.note(`${60 - lost.length} tasks, each once (${lost.length} lost with ${victim.name}): ${byWorker.join(", ")}`);
    },
  },
});
