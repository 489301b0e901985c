import { defineChecks, type CheckContext, type LearnerProcess } from "../../lib/grader/index.ts";
import type { Outcome } from "../../lib/runner/sandbox/spawn.ts";
import type { CommandLogEntry } from "../../lib/runner/chaos-proxy.ts";

// Every check starts worker.ts as a real process and sends it real signals (SIGTERM, SIGINT) at
// points it picks from what the command log shows: while the read-only handler is in the middle
// of a task, while the worker is blocked on an empty queue, while a claim's reply is on its way.
// It judges what a learner cannot fake: the handler's effects and the lists in Redis, the order
// and owner of the commands the proxy saw, and the exit status the kernel reported.

const QUEUE = "jobs:queue";
const PROCESSING = "jobs:processing";
const DEADLINE_MS = 2000;
/** After an ack lands, the QUIT must reach Redis within this. */
const QUIT_AFTER_ACK_MS = 500;
/** An idle worker's QUIT must reach Redis within this of the signal. */
const IDLE_QUIT_MS = 1000;
/** A second signal ends the process within this. */
const SECOND_SIGNAL_MS = 500;
/**
 * The grader learns that a process has ended a moment after it has: the runner lets its output
 * drain for 500 ms after the exit. Every window on the exit adds this much, never more.
 */
const NOTICE_MS = 700;
const CLAIMS = new Set(["BLMOVE", "LMOVE", "BRPOPLPUSH", "RPOPLPUSH", "LPOP", "RPOP", "BLPOP", "BRPOP", "LMPOP", "BLMPOP", "EVAL", "EVALSHA", "FCALL", "SORT"]);
const IGNORE = ["effects:*"];

interface Task {
  id: string;
  ms: number;
  n: number;
  raw: string;
}

const between = (t: CheckContext, lo: number, hi: number) => lo + Math.floor(t.random() * (hi - lo + 1));
function task(t: CheckContext, ms: number): Task {
  const body = { id: t.id("task"), ms, n: Math.floor(t.unpredictable() * 1_000_000) };
  return { ...body, raw: JSON.stringify(body) };
}
const BY_SIGNAL: Record<number, string> = { 130: "SIGINT", 143: "SIGTERM" };
const show = (o: Outcome | null) =>
  o === null
    ? "was still running"
    : o.kind === "exited"
      ? `exited with code ${o.code}${BY_SIGNAL[o.code] ? ` (128 + the number of ${BY_SIGNAL[o.code]}: the status of a process its default action ended)` : ""}`
      : o.kind === "signalled"
        ? `was killed by ${o.signal} (no handler ran: its default action ended the process)`
        : o.message;
const since = (from: CommandLogEntry, to: CommandLogEntry) => Math.round(to.at - from.at);

async function seed(t: CheckContext, tasks: Task[]): Promise<void> {
  if (tasks.length > 0) await t.redis.rpush(QUEUE, ...tasks.map((x) => x.raw));
}

/** The worker's commands from the log (after `seq`, optionally named). */
function sent(t: CheckContext, proc: LearnerProcess, after = 0, ...names: string[]): CommandLogEntry[] {
  return t.commands(...names).filter((e) => e.owner === proc.name && e.seq > after);
}

/** Waits until the handler, run by `proc`, has recorded that `x` started; returns that entry. */
async function started(t: CheckContext, proc: LearnerProcess, x: Task, timeoutMs = 5000): Promise<CommandLogEntry> {
  const found = t
    .waitFor(
      () => (proc.alive ? sent(t, proc, 0, "HINCRBY").find((e) => e.args[1] === "effects:started" && e.args[2] === x.id) : Promise.reject(new Error("exited"))),
      {
        timeoutMs,
        intervalMs: 5,
        message: `The grader put tasks in ${QUEUE} and started worker.ts; within ${timeoutMs / 1000} s the handler never started ${x.id}${proc.alive ? "" : ` (the worker ${show(proc.outcome)})`}. Output: ${proc.output().slice(-600) || "(none)"}`,
        hint: `main() should loop: BLMOVE ${QUEUE} ${PROCESSING} LEFT RIGHT <timeout>, then await handle(redis, task), then LREM ${PROCESSING} 1 task.`,
      },
    )
    .catch((error: unknown) => {
      if (error instanceof Error && error.message === "exited") {
        return t.fail({
          message: `worker.ts ${show(proc.outcome)} before the handler started ${x.id}, before any signal. Output: ${proc.output().slice(-600) || "(none)"}`,
          hint: "main() must keep taking tasks until a signal arrives.",
        });
      }
      throw error;
    });
  return (await found)!;
}

interface Signalled {
  entry: CommandLogEntry;
  wall: number;
  name: NodeJS.Signals;
}

/** Sends a real signal and returns its mark on the command log (the proxy's clock) and the grader's clock. */
function signal(t: CheckContext, proc: LearnerProcess, name: NodeJS.Signals, why: string): Signalled {
  t.note(`${name} to ${proc.name} ${why}`);
  const wall = performance.now();
  proc.signal(name);
  const entry = t.proxy.log.at(-1)!;
  return { entry, wall, name };
}

/** The exit, or null if the process is still running `ms` from now. */
async function exitWithin(t: CheckContext, proc: LearnerProcess, ms: number): Promise<Outcome | null> {
  return Promise.race([proc.exited, t.sleep(ms).then(() => null)]);
}

async function lists(t: CheckContext) {
  const [queue, processing] = await Promise.all([t.redis.lrange(QUEUE, 0, -1), t.redis.lrange(PROCESSING, 0, -1)]);
  return { queue, processing };
}

async function effects(t: CheckContext, x: Task) {
  const [s, d, v] = await Promise.all([t.redis.hget("effects:started", x.id), t.redis.hget("effects:done", x.id), t.redis.hget("effects:value", x.id)]);
  return { started: Number(s ?? 0), done: Number(d ?? 0), value: v };
}

// ---------------------------------------------------------------------------------------------
// Judgements shared by the checks.

function expectExit0(t: CheckContext, proc: LearnerProcess, outcome: Outcome | null, context: string): void {
  if (outcome?.kind === "exited" && outcome.code === 0) return;
  const hints: Record<string, string> = {
    signalled: "Install a handler for both SIGTERM and SIGINT (process.on); without one, the signal's default action kills the process mid-task.",
    running:
      "After the held task is acked, stop the loop, close the connection with await redis.quit() and let main() return: no timer, interval or connection may keep the process alive (unref() the deadline timer).",
    exited:
      "A non-zero exit here means your deadline timer fired or an error ended the worker, though the stop could be clean. Once the held task is acked, leave the loop, await redis.quit() and return from main() at once; unref() the deadline timer so it cannot keep the process alive, and never wait for it.",
  };
  const kind = outcome === null ? "running" : outcome.kind === "signalled" ? "signalled" : "exited";
  return t.fail({
    message: `${context} worker.ts ${show(outcome)}; a graceful stop exits with code 0. Output: ${proc.output().slice(-600) || "(none)"}`,
    expected: "exit code 0",
    actual: show(outcome),
    hint: hints[kind] ?? hints.exited!,
  });
}

async function expectHeldDone(t: CheckContext, x: Task, context: string, proc?: LearnerProcess): Promise<void> {
  const e = await effects(t, x);
  const ended = proc && !proc.alive ? ` The worker ${show(proc.outcome)}.` : "";
  const { queue, processing } = await lists(t);
  if (e.done !== 1 || e.value !== String(x.n)) {
    return t.fail({
      message: `${context} The task it held, ${x.id}, ${e.done === 0 ? "was never finished: the handler's effect is missing" : `finished ${e.done} times`}.${ended}`,
      expected: "the held task finished exactly once",
      actual: { started: e.started, done: e.done },
      hint: "On a signal, stop taking new tasks but let the task in hand run to the end: await handle(redis, task), then ack it, then close and exit.",
    });
  }
  if (processing.includes(x.raw)) {
    return t.fail({
      message: `${context} ${x.id} was finished, but is still in ${PROCESSING}: it was never acked, so recovery will run it a second time.`,
      actual: { processing },
      hint: `After handle() resolves, ack with LREM ${PROCESSING} 1 task and await its reply before closing the connection.`,
    });
  }
  if (queue.includes(x.raw)) {
    return t.fail({
      message: `${context} ${x.id} was finished, but is back in ${QUEUE}: another worker will run it again.`,
      actual: { queue },
      hint: "Hand a task back only if its work never started; one that ran to the end is acked.",
    });
  }
}

function expectNoClaimAfter(t: CheckContext, proc: LearnerProcess, sig: Signalled, context: string): void {
  const claims = sent(t, proc, sig.entry.seq).filter((e) => CLAIMS.has(e.args[0]!));
  if (claims.length > 0) {
    const first = claims[0]!;
    return t.fail({
      message: `${context} ${since(sig.entry, first)} ms after the ${sig.name}, the worker sent ${first.args.slice(0, 4).join(" ")} (${claims.length} claim(s) after the signal in all): a worker that is stopping takes no new work.`,
      actual: claims.slice(0, 3).map((e) => e.args.slice(0, 4).join(" ")),
      hint: "Set a flag in the signal handler and check it before every claim, so that the loop ends after the task in hand.",
    });
  }
}

async function expectRestQueued(t: CheckContext, rest: Task[], context: string): Promise<void> {
  const { queue } = await lists(t);
  const want = rest.map((x) => x.raw);
  if (JSON.stringify(queue) !== JSON.stringify(want)) {
    return t.fail({
      message: `${context} ${QUEUE} should still hold, untouched and in order, the ${want.length} task(s) the worker had not taken when the signal came.`,
      expected: want,
      actual: queue,
      hint: "Tasks the worker has not claimed belong to the next worker: a stopping worker leaves the queue alone.",
    });
  }
}

/** Every connection the worker used sent QUIT; returns the last QUIT. */
function expectQuit(t: CheckContext, proc: LearnerProcess, context: string): CommandLogEntry {
  const mine = sent(t, proc);
  const conns = [...new Set(mine.map((e) => e.conn))];
  const quits = mine.filter((e) => e.args[0] === "QUIT");
  const unclosed = conns.filter((c) => !quits.some((q) => q.conn === c));
  if (quits.length === 0 || unclosed.length > 0) {
    return t.fail({
      message: `${context} ${quits.length === 0 ? "The worker never sent QUIT" : `${unclosed.length} of the worker's ${conns.length} connections never sent QUIT`}: its connection was ${quits.length === 0 ? "dropped (disconnect(), process.exit or the process's end) instead of closed" : "dropped instead of closed"}, which abandons any reply still on its way.`,
      hint: "Close every connection with await redis.quit() once the last ack has landed: QUIT is answered only after everything sent before it, where disconnect() drops it.",
    });
  }
  return quits.reduce((a, b) => (b.at > a.at ? b : a));
}

// ---------------------------------------------------------------------------------------------
// The main scenario: a signal at a random point of a task's run.

interface MidTask {
  proc: LearnerProcess;
  held: Task[];
  rest: Task[];
  sig: Signalled;
  outcome: Outcome | null;
  context: string;
}

async function midTask(t: CheckContext, o: { signal: NodeJS.Signals; ms: [number, number]; frac: [number, number]; latency?: boolean }): Promise<MidTask> {
  const before = Array.from({ length: between(t, 0, 2) }, () => task(t, between(t, 40, 120)));
  const held = task(t, between(t, o.ms[0], o.ms[1]));
  const rest = Array.from({ length: between(t, 2, 4) }, () => task(t, between(t, 100, 300)));
  await seed(t, [...before, held, ...rest]);
  const proc = t.spawn("worker.ts", { name: "worker" });
  await started(t, proc, held);
  if (o.latency) t.proxy.setLatency({ ms: 100, jitterMs: 50 });
  const frac = o.frac[0] + t.random() * (o.frac[1] - o.frac[0]);
  await t.sleep(Math.round(frac * held.ms));
  const sig = signal(
    t,
    proc,
    o.signal,
    `${Math.round(frac * 100)}% into ${held.id} (a ${held.ms} ms task, task ${before.length + 1} of ${before.length + 1 + rest.length})`,
  );
  const outcome = await exitWithin(t, proc, held.ms + DEADLINE_MS + NOTICE_MS + 500);
  const context = `The grader sent ${o.signal} ${Math.round(frac * held.ms)} ms into ${held.id}, a ${held.ms} ms task, with ${rest.length} more tasks in ${QUEUE}.`;
  // Under load the grader may see a task start late and signal after the worker moved on to the
  // next one: every task whose claim was sent before the signal is the worker's to finish.
  const claimed = sent(t, proc, 0).filter((e) => e.seq < sig.entry.seq && CLAIMS.has(e.args[0]!));
  const late = rest.filter((x) => claimed.some((e) => (e.reply?.summary ?? "").includes(x.id)));
  if (late.length > 0) t.note(`the worker had already claimed ${late.map((x) => x.id).join(", ")} when the signal came; it holds those too`);
  return { proc, held: [held, ...late], rest: rest.filter((x) => !late.includes(x)), sig, outcome, context };
}

async function judgeGraceful(t: CheckContext, r: MidTask, timing = false): Promise<CommandLogEntry> {
  for (const held of r.held) await expectHeldDone(t, held, r.context, r.proc);
  expectNoClaimAfter(t, r.proc, r.sig, r.context);
  await expectRestQueued(t, r.rest, r.context);
  // An acked task leaves no copy anywhere (a hash of "in flight" tasks, a second list) for a
  // recovery process to hand out again; effects:* is the handler's own record.
  const { missing } = await t.viewRedis(
    r.held.map((x) => x.raw),
    { ignore: IGNORE },
  );
  if (missing.length < r.held.length) {
    return t.fail({
      message: `${r.context} ${r.held[0]!.id} was finished and acked, but a copy of it is still stored in Redis, outside ${QUEUE} and ${PROCESSING}.`,
      hint: "Keep a claimed task in jobs:processing only, and remove it there with the ack; keep what the worker holds in memory.",
    });
  }
  // The most telling failure first: a worker a signal killed, then one that never closed, then
  // one that closed late, then a wrong exit status.
  const o = r.outcome;
  if (o?.kind === "signalled" || (o?.kind === "exited" && BY_SIGNAL[o.code])) expectExit0(t, r.proc, o, r.context);
  const quit = expectQuit(t, r.proc, `${r.context} The worker ${show(o)}.`);
  if (timing) judgeQuitTiming(t, r, quit);
  expectExit0(t, r.proc, o, r.context);
  return quit;
}

/** QUIT within QUIT_AFTER_ACK_MS of the ack's reply, and before the deadline. */
function judgeQuitTiming(t: CheckContext, r: MidTask, quit: CommandLogEntry): void {
  const done = t
    .commands("EXEC")
    .filter((e) => e.owner === r.proc.name && e.seq > r.sig.entry.seq)
    .at(-1);
  const ack = sent(t, r.proc, r.sig.entry.seq, "LREM", "EXEC", "EVAL", "EVALSHA")
    .filter((e) => e.seq < quit.seq)
    .at(-1);
  const landed = ack ? ack.at + (ack.durationMs ?? 0) : (done?.at ?? r.sig.entry.at);
  if (quit.at - landed > QUIT_AFTER_ACK_MS) {
    return t.fail({
      message: `${r.context} The ack's reply came back ${Math.round(landed - r.sig.entry.at)} ms after the signal, but the worker sent QUIT only ${Math.round(quit.at - r.sig.entry.at)} ms after it, ${Math.round(quit.at - landed)} ms later: once nothing is held, the worker should close and exit at once (within ${QUIT_AFTER_ACK_MS} ms).`,
      hint: "The deadline is a limit, not a wait, and quit() already waits for every reply: leave the loop and quit as soon as the held task is acked.",
    });
  }
  if (quit.at - r.sig.entry.at >= DEADLINE_MS) {
    return t.fail({
      message: `${r.context} The worker sent QUIT ${Math.round(quit.at - r.sig.entry.at)} ms after the signal, not before its ${DEADLINE_MS} ms deadline.`,
      hint: "Finish the task in hand, ack, quit: all of it well inside SHUTDOWN_DEADLINE_MS.",
    });
  }
}

/** Waits for the worker to send its first command (it is connected and claiming). */
async function claiming(t: CheckContext, proc: LearnerProcess, after = 0): Promise<CommandLogEntry> {
  const found = await t.waitFor(() => sent(t, proc, after).find((e) => CLAIMS.has(e.args[0]!)), {
    timeoutMs: 5000,
    intervalMs: 2,
    message: `worker.ts sent no claim (BLMOVE) within 5 s of starting${proc.alive ? "" : `; it ${show(proc.outcome)}`}. Output: ${proc.output().slice(-600) || "(none)"}`,
    hint: `main() should loop on BLMOVE ${QUEUE} ${PROCESSING} LEFT RIGHT <timeout in seconds, at most 0.5>.`,
  });
  return found!;
}

export default defineChecks({
  timeoutMs: 20_000,
  concurrency: 2,
  playground: async (t) => {
    // One listener for the whole playground: sleeps end early when it does.
    const over = new Promise<void>((resolve) => t.signal.addEventListener("abort", () => resolve(), { once: true }));
    const sleepUnlessOver = (ms: number) => Promise.race([t.sleep(ms), over]);
    for (let round = 1; !t.signal.aborted; round++) {
      await t.redis.del(QUEUE);
      await seed(
        t,
        Array.from({ length: 8 }, () => task(t, between(t, 300, 900))),
      );
      const proc = t.spawn("worker.ts", { name: `worker-${round}` });
      await sleepUnlessOver(between(t, 1500, 3500));
      if (t.signal.aborted) break;
      signal(t, proc, round % 2 ? "SIGTERM" : "SIGINT", "(a deploy)");
      await Promise.race([proc.exited, sleepUnlessOver(4000)]);
      if (proc.alive) await proc.kill();
      t.note(`${proc.name} ${show(proc.outcome)}; ${await t.redis.llen(QUEUE)} queued, ${await t.redis.llen(PROCESSING)} left in ${PROCESSING}`);
      await sleepUnlessOver(1500);
    }
  },
  checks: {
    "finishes-held-task": async (t) => {
      const r = await midTask(t, { signal: "SIGTERM", ms: [400, 800], frac: [0.05, 0.85] });
      await judgeGraceful(t, r);
    },

    sigint: async (t) => {
      const r = await midTask(t, { signal: "SIGINT", ms: [400, 800], frac: [0.05, 0.85] });
      await judgeGraceful(t, r);
    },

    "exits-before-deadline": async (t) => {
      // A long remainder, replies slowed by 100 ± 50 ms: the stop takes real time, and must still
      // end with the ack, then QUIT, then the exit, well inside the deadline.
      const r = await midTask(t, { signal: "SIGTERM", ms: [800, 1100], frac: [0.15, 0.4], latency: true });
      await judgeGraceful(t, r, true);
    },

    "idle-exits-promptly": async (t) => {
      const proc = t.spawn("worker.ts", { name: "worker" });
      await claiming(t, proc);
      await t.sleep(between(t, 0, 600));
      const sig = signal(t, proc, "SIGTERM", "while it waits on an empty queue");
      const outcome = await exitWithin(t, proc, DEADLINE_MS + NOTICE_MS + 500);
      const context = `The worker was waiting for work on an empty ${QUEUE} when the grader sent SIGTERM.`;
      const quit = sent(t, proc, sig.entry.seq, "QUIT")[0];
      if (!quit || quit.at - sig.entry.at > IDLE_QUIT_MS) {
        return t.fail({
          message: `${context} ${quit ? `It sent QUIT only ${since(sig.entry, quit)} ms later` : `It never sent QUIT, and ${show(outcome)}`}; an idle worker should close its connection and exit within ${IDLE_QUIT_MS} ms.`,
          hint: "Block on the queue for a short time only (BLMOVE's timeout is in seconds: 0.5 at most), and check the stopping flag each time it returns empty. A timeout of 0 blocks forever.",
        });
      }
      expectExit0(t, proc, outcome, context);
      expectQuit(t, proc, context);
      const { queue, processing } = await lists(t);
      if (queue.length + processing.length > 0)
        return t.fail({
          message: `${context} It left something in Redis's lists, though it never had a task.`,
          actual: { queue, processing },
          hint: "An idle worker that stops changes nothing.",
        });
    },

    "signal-during-claim": async (t) => {
      // The reply to a claim is on its way when the signal arrives: Redis has already moved the
      // task to the processing list, and only this worker knows it holds it.
      const proc = t.spawn("worker.ts", { name: "worker" });
      const x = task(t, between(t, 200, 500));
      await claiming(t, proc);
      t.proxy.setLatency({ ms: 250, jitterMs: 50 });
      const mark = t.logPosition();
      await claiming(t, proc, mark);
      await seed(t, [x]);
      signal(t, proc, "SIGTERM", `just after pushing ${x.id} to the queue its claim is blocked on (replies slowed by 250 ± 50 ms)`);
      // Once the claim's reply is scheduled (delayed), the rest of the stop runs at full speed:
      // only the claim's round trip is under test here, not the deadline.
      const claim = sent(t, proc, mark)
        .filter((e) => CLAIMS.has(e.args[0]!))
        .at(-1);
      await t.waitFor(() => claim?.faultDelayMs !== undefined || claim?.durationMs !== undefined || !proc.alive, {
        timeoutMs: 3000,
        intervalMs: 2,
        message: `The worker's claim never got its reply (${x.id} was pushed to the queue it was blocked on).`,
        hint: "Block on the queue with BLMOVE.",
      });
      t.proxy.setLatency({ ms: 0 });
      const outcome = await exitWithin(t, proc, x.ms + DEADLINE_MS + NOTICE_MS + 500);
      const context = `The grader pushed ${x.id} while the worker was blocked in its claim and sent SIGTERM at once, while the claim's reply, carrying the task, was still on its way (replies slowed by 250 ± 50 ms).`;
      const claimed = sent(t, proc, 0).some((e) => CLAIMS.has(e.args[0]!) && (e.reply?.summary ?? "").includes(x.id));
      const e = await effects(t, x);
      const { queue, processing } = await lists(t);
      if (processing.includes(x.raw)) {
        return t.fail({
          message: `${context} ${x.id} is left in ${PROCESSING}${e.started ? ", started but unacked" : ", never run"}: the claim moved it there, and the worker walked away from it. Until recovery finds it, nobody runs it.`,
          actual: { processing, queue, effects: e },
          hint: "A claim that returns a task after the signal still hands you that task: run it and ack it before stopping (check the stopping flag before claiming, not between the claim and the work).",
        });
      }
      if (e.started === 0 && !queue.includes(x.raw)) {
        return t.fail({
          message: `${context} ${x.id} is gone: not run, not in ${QUEUE}, not in ${PROCESSING}.`,
          actual: { processing, queue },
          hint: "Take tasks only by moving them (BLMOVE) and remove one only after its work is done.",
        });
      }
      if (e.started > 0) await expectHeldDone(t, x, context, proc);
      else if (claimed) t.note(`${x.id} was handed back to the queue unrun; allowed`);
      expectExit0(t, proc, outcome, context);
      expectQuit(t, proc, context);
    },

    "deadline-passes": async (t) => {
      const x = task(t, between(t, 4000, 5000));
      await seed(t, [x]);
      const proc = t.spawn("worker.ts", { name: "worker" });
      await started(t, proc, x);
      const frac = 0.1 + t.random() * 0.3;
      await t.sleep(Math.round(frac * x.ms));
      t.fault(`handler runs ${x.ms} ms for ${x.id}, longer than the worker's deadline`);
      const sig = signal(t, proc, "SIGTERM", `${Math.round(frac * x.ms)} ms into ${x.id}, whose handler needs ${x.ms} ms`);
      const outcome = await exitWithin(t, proc, DEADLINE_MS + NOTICE_MS + 500);
      const took = Math.round(performance.now() - sig.wall);
      const context = `The grader sent SIGTERM ${Math.round(frac * x.ms)} ms into ${x.id}, whose handler needs ${x.ms} ms in all, more than the ${DEADLINE_MS} ms deadline allows.`;
      if (outcome === null) {
        return t.fail({
          message: `${context} ${DEADLINE_MS + NOTICE_MS + 500} ms after the signal the worker was still running: it waits for the task however long it takes.`,
          hint: `On the first signal start a timer of SHUTDOWN_DEADLINE_MS (${DEADLINE_MS} ms); when it fires, exit with a non-zero status, leaving the task in ${PROCESSING}.`,
        });
      }
      if (outcome.kind !== "exited" || outcome.code === 0) {
        return t.fail({
          message: `${context} The worker ${show(outcome)} ${took} ms after the signal. The task was not finished, so the stop was not clean: the exit status must say so (non-zero, e.g. 1), or a restart policy and the operator believe the shutdown went well.`,
          hint: "When the deadline passes, process.exit(1): the held task stays unacked in the processing list for recovery.",
        });
      }
      if (took < DEADLINE_MS - 50) {
        return t.fail({
          message: `${context} The worker exited ${took} ms after the signal, before its deadline, with the task still running.`,
          hint: "Give the held task until the deadline; exit early only when it is done (or on a second signal).",
        });
      }
      const e = await effects(t, x);
      const { processing, queue } = await lists(t);
      if (!processing.includes(x.raw) || e.done > 0) {
        return t.fail({
          message: `${context} After the worker's exit, ${x.id} should be unfinished and still in ${PROCESSING}, for recovery to hand out again.`,
          actual: { processing, queue, effects: e },
          hint: "Never ack a task whose work did not finish, and do not remove it on the way out.",
        });
      }
    },

    "second-signal": async (t) => {
      const x = task(t, between(t, 1600, 2000));
      const rest = Array.from({ length: between(t, 1, 3) }, () => task(t, 200));
      await seed(t, [x, ...rest]);
      const proc = t.spawn("worker.ts", { name: "worker" });
      await started(t, proc, x);
      const frac = 0.1 + t.random() * 0.15;
      await t.sleep(Math.round(frac * x.ms));
      // The same signal twice, as an operator pressing Ctrl-C again or a script repeating its kill.
      const firstName: NodeJS.Signals = t.random() < 0.5 ? "SIGTERM" : "SIGINT";
      const first = signal(t, proc, firstName, `${Math.round(frac * x.ms)} ms into ${x.id} (a ${x.ms} ms task)`);
      const gap = between(t, 60, 400);
      await t.sleep(gap);
      if (!proc.alive) {
        const context = `The grader sent ${firstName} ${Math.round(frac * x.ms)} ms into ${x.id}, a ${x.ms} ms task.`;
        await expectHeldDone(t, x, context, proc);
        return t.fail({
          message: `${context} The worker ${show(proc.outcome)} within ${gap} ms of that first signal, before the grader could send a second, with most of the task still to run.`,
          hint: "On the first signal, finish the task in hand; only a second signal (or the deadline) ends the worker early.",
        });
      }
      const secondName = firstName;
      const second = signal(t, proc, secondName, `${gap} ms after the first, as an operator insisting`);
      const outcome = await exitWithin(t, proc, x.ms + DEADLINE_MS);
      const took = Math.round(performance.now() - second.wall);
      const context = `The grader sent ${firstName} ${Math.round(frac * x.ms)} ms into ${x.id}, a ${x.ms} ms task, then ${secondName} again ${gap} ms later.`;
      if (outcome === null || took > SECOND_SIGNAL_MS + NOTICE_MS) {
        return t.fail({
          message: `${context} The worker ${outcome === null ? "was still running" : `${show(outcome)} only`} ${took} ms after the second signal; a second signal means "now" (within ${SECOND_SIGNAL_MS} ms).`,
          hint: "In the signal handler, if a stop is already under way, exit at once with a non-zero status.",
        });
      }
      if (outcome.kind === "signalled") {
        return t.fail({
          message: `${context} The worker was ended by the second signal's default action (${outcome.signal}): no handler of yours ran for it. Here that kills the process, but as PID 1 in a container a signal without a handler is dropped, and the worker would run on until SIGKILL.`,
          hint: "Keep the handler installed for every signal (process.on, not process.once); when a stop is already under way, it calls process.exit(1).",
        });
      }
      if (outcome.kind !== "exited" || outcome.code === 0) {
        return t.fail({
          message: `${context} The worker ${show(outcome)}. It stopped with ${x.id} unfinished, which is not a clean stop: it should exit with a non-zero status of its own (e.g. process.exit(1)).`,
          hint: "The second signal's handler calls process.exit(1): the task it held stays in the processing list for recovery.",
        });
      }
      const e = await effects(t, x);
      const { processing, queue } = await lists(t);
      const where = processing.filter((r) => r === x.raw).length + queue.filter((r) => r === x.raw).length;
      if (e.done > 0 || where !== 1) {
        return t.fail({
          message: `${context} After the exit, ${x.id} should be unfinished and in Redis exactly once (in ${PROCESSING}, for recovery), but it ${e.done > 0 ? "was finished" : where === 0 ? "is nowhere: it was acked before its work was done, and is lost" : `is there ${where} times`}.`,
          actual: { processing, queue, effects: e },
          hint: "Ack a task only after handle() resolves, and leave an unfinished task where the claim put it.",
        });
      }
      expectNoClaimAfter(t, proc, first, context);
    },

    "ack-faults": async (t) => {
      // Redis during shutdown: refusing the ack a few times, refusing it for good, and stalling
      // (holding every command, answering none) for a while. The work is done each time; only
      // the ack's fate differs.
      for (const fault of ["refused", "stalled", "refused-for-good"] as const) {
        await t.redis.del(QUEUE, PROCESSING);
        const x = task(t, between(t, 300, 600));
        await seed(t, [x]);
        const proc = t.spawn("worker.ts", { name: `worker-${fault}` });
        await started(t, proc, x);
        await t.sleep(Math.round((0.1 + t.random() * 0.5) * x.ms));
        const n = fault === "refused" ? between(t, 1, 3) : 1000;
        const stallMs = between(t, 300, 700);
        let what: string;
        if (fault === "stalled") {
          t.proxy.stall();
          what = `Redis stopped answering for ${stallMs} ms right at the signal (commands held, then answered in order)`;
        } else {
          t.proxy.failNext(n, { match: "LREM", owner: proc.name });
          what = fault === "refused" ? `Redis refused the worker's next ${n} LREM(s)` : "Redis refused every LREM from then on";
        }
        const sig = signal(t, proc, "SIGTERM", `while it runs ${x.id}; ${what}`);
        if (fault === "stalled") {
          await t.sleep(stallMs);
          t.proxy.unstall();
        }
        const outcome = await exitWithin(t, proc, x.ms + DEADLINE_MS + NOTICE_MS + 500);
        const took = Math.round(performance.now() - sig.wall);
        const context = `The grader sent SIGTERM while the worker ran ${x.id}; ${what}.`;
        const e = await effects(t, x);
        const { processing } = await lists(t);
        if (fault === "refused-for-good" && processing.includes(x.raw)) {
          if (outcome?.kind === "exited" && outcome.code === 0) {
            return t.fail({
              message: `${context} The worker exited 0, with ${x.id} still in ${PROCESSING}: the ack never landed. Exit 0 claims a clean stop, and this one was not.`,
              hint: "Retry a refused ack until it lands or the deadline passes; exit 0 only once it landed. When the deadline passes first, exit non-zero.",
            });
          }
          if (outcome === null || took > DEADLINE_MS + NOTICE_MS) {
            return t.fail({
              message: `${context} The worker ${show(outcome)} ${took} ms after the signal: past its ${DEADLINE_MS} ms deadline.`,
              hint: "The deadline ends the stop whatever is still pending, ack retries included.",
            });
          }
          continue;
        }
        if (e.done !== 1)
          return t.fail({
            message: `${context} ${x.id} ${e.done === 0 ? "was never finished" : `finished ${e.done} times`}.`,
            hint: "Finish the task in hand before stopping.",
          });
        if (processing.includes(x.raw)) {
          return t.fail({
            message: `${context} The worker ${show(outcome)}, with ${x.id} finished but still in ${PROCESSING}: its ack never landed${fault === "refused" ? "; a refused ack was given up instead of tried again" : ""}, so recovery will run it again.`,
            hint: "The work is done, so retry a refused ack (100 ms apart, say) until it lands, within the deadline; and await the ack's reply before QUIT and exit.",
          });
        }
        expectExit0(t, proc, outcome, context);
        expectQuit(t, proc, context);
      }
    },
  },
});
