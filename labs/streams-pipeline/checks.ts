import { assertEachOnce, defineChecks, type CheckContext, type LearnerProcess } from "../../lib/grader/index.ts";

interface Job {
  id: string;
  ms: number;
}

// The keys instructions.md fixes: the grader adds jobs to STREAM, reads GROUP's pending list, and
// reads the trace handler.ts leaves.
const STREAM = "jobs";
const GROUP = "workers";
const STARTED = "effects:started";
const DONE = "effects:done";
const WORKER = "effects:worker";

// Consumers outlive a single RPC call, so they get more wall time than the sandbox's default.
const LIMITS = { wallMs: 40_000 };

/** Job ids learner code cannot know in advance, even knowing the seed: only the stream tells them. */
const jobId = (t: CheckContext) => t.id("job");
const countOf = (ids: string[], id: string) => ids.filter((x) => x === id).length;

async function effects(t: CheckContext): Promise<{ started: string[]; done: string[] }> {
  const [started, done] = await Promise.all([t.redis.lrange(STARTED, 0, -1), t.redis.lrange(DONE, 0, -1)]);
  return { started, done };
}

function spawnConsumers(t: CheckContext, n: number, first = 1): LearnerProcess[] {
  return Array.from({ length: n }, (_, i) => t.spawn("consumer.ts", { name: `consumer-${first + i}`, limits: LIMITS }));
}

/** Adds jobs to the stream the way a producer would; returns each job's entry id. */
async function addJobs(t: CheckContext, jobs: Job[]): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  for (const job of jobs) ids.set(job.id, (await t.redis.xadd(STREAM, "*", "id", job.id, "ms", String(job.ms)))!);
  return ids;
}

/** Waits until the group exists, so jobs added next are delivered whatever start id it has. */
async function untilGroup(t: CheckContext): Promise<void> {
  await t.waitFor(
    async () => {
      if ((await t.redis.type(STREAM)) !== "stream") return false;
      const groups = (await t.redis.xinfo("GROUPS", STREAM)) as unknown[][];
      return groups.some((g) => g[1] === GROUP);
    },
    {
      message: `No consumer group '${GROUP}' on the stream '${STREAM}' 5 s after the consumers started.`,
      hint: `Each consumer starts with XGROUP CREATE ${STREAM} ${GROUP} 0 MKSTREAM, and treats a BUSYGROUP error (the group already exists) as success.`,
      timeoutMs: 5000,
    },
  );
}

interface PendingEntry {
  entryId: string;
  consumer: string;
  idleMs: number;
  deliveries: number;
}

async function pending(t: CheckContext): Promise<PendingEntry[]> {
  const rows = (await t.redis.xpending(STREAM, GROUP, "-", "+", 1000)) as [string, string, number, number][];
  return rows.map(([entryId, consumer, idleMs, deliveries]) => ({ entryId, consumer, idleMs, deliveries }));
}

interface GroupState {
  lastDelivered: string;
  /** Entries delivered through the group with ">" (Redis 7 reports it; older versions do not). */
  entriesRead: number | null;
  pending: number;
  consumers: string[];
}

/** The group as Redis keeps it: how far it has delivered, what is unacknowledged, who is in it. */
async function groupState(t: CheckContext): Promise<GroupState | null> {
  const groups = (await t.redis.xinfo("GROUPS", STREAM)) as unknown[][];
  const raw = groups.find((g) => g[1] === GROUP);
  if (!raw) return null;
  const info = new Map<string, unknown>();
  for (let i = 0; i + 1 < raw.length; i += 2) info.set(String(raw[i]), raw[i + 1]);
  const consumers = ((await t.redis.xinfo("CONSUMERS", STREAM, GROUP)) as unknown[][]).map((c) => String(c[c.indexOf("name") + 1]));
  const read = info.get("entries-read");
  return { lastDelivered: String(info.get("last-delivered-id")), entriesRead: read === null || read === undefined ? null : Number(read), pending: Number(info.get("pending")), consumers };
}

/**
 * The group itself must show the work: every entry delivered through it (its last-delivered id at
 * the stream's end), every entry acknowledged (nothing pending), and each job run by a consumer the
 * group knows. Jobs done right while the group sat unused are a queue built beside the group.
 */
async function assertThroughGroup(t: CheckContext, entryIds: string[], jobIds: string[]): Promise<void> {
  const last = entryIds.at(-1)!;
  let state = await groupState(t);
  const deadline = performance.now() + 2000;
  while (state && state.pending > 0 && performance.now() < deadline) {
    await t.sleep(50);
    state = await groupState(t);
  }
  if (!state) return t.fail({ message: `The consumer group '${GROUP}' is gone from '${STREAM}'.`, hint: `Create it once (XGROUP CREATE ${STREAM} ${GROUP} 0 MKSTREAM) and never destroy it.` });
  if (state.lastDelivered !== last || (state.entriesRead !== null && state.entriesRead < entryIds.length)) {
    t.fail({
      message: `Every job was done, but the group '${GROUP}' did not hand them out: it has delivered entries only up to ${state.lastDelivered}${state.entriesRead === null ? "" : ` (${state.entriesRead} of ${entryIds.length})`}.`,
      expected: `the group's last-delivered id at the stream's last entry, ${last}`,
      actual: `XINFO GROUPS ${STREAM}: last-delivered-id ${state.lastDelivered}, pending ${state.pending}`,
      hint: `Take new entries from the group: XREADGROUP GROUP ${GROUP} <workerName> COUNT 1 BLOCK 500 STREAMS ${STREAM} >. The group then remembers what it handed to whom, which is what lets a dead consumer's entries be found and claimed; a cursor or a read of your own keeps none of that.`,
    });
  }
  if (state.pending > 0) {
    t.fail({
      message: `Every job was done, but ${state.pending} entr${state.pending === 1 ? "y is" : "ies are"} still pending in '${GROUP}' 2 s later: never acknowledged.`,
      expected: "0 pending once every job is done",
      actual: `XINFO GROUPS ${STREAM}: pending ${state.pending}`,
      hint: `After handle() returns, XACK ${STREAM} ${GROUP} <entry id>. An entry left pending is claimed by another consumer 2 s later and runs again.`,
    });
  }
  const ranBy = await t.redis.hmget(WORKER, ...jobIds);
  const strangers = [...new Set(ranBy.filter((name): name is string => name !== null && !state.consumers.includes(name)))];
  if (strangers.length > 0) {
    t.fail({
      message: `Jobs were run by ${strangers.join(", ")}, which ${strangers.length === 1 ? "is not a consumer" : "are not consumers"} of the group '${GROUP}'.`,
      expected: `each job run by the consumer the group delivered it to`,
      actual: `consumers of '${GROUP}': ${state.consumers.join(", ") || "(none)"}`,
      hint: `Read as the consumer named after the process: XREADGROUP GROUP ${GROUP} <workerName> …, and XAUTOCLAIM … <workerName> ….`,
    });
  }
}

function describeEnd(p: LearnerProcess): string {
  const o = p.outcome;
  if (!o) return `${p.name} is running`;
  const how = o.kind === "exited" ? `exited with code ${o.code}` : o.kind === "signalled" ? `was stopped by ${o.signal}` : o.message;
  return `${p.name} ${how}`;
}

/** Waits until every id is in effects:done; on a timeout fails with what is missing and the pending list. */
async function untilDone(t: CheckContext, ids: string[], consumers: LearnerProcess[], timeoutMs: number, onTimeout: (missing: string[]) => { message: string; hint: string }): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const seen = await effects(t);
    const missing = ids.filter((id) => !seen.done.includes(id));
    if (missing.length === 0) return;
    if (performance.now() > deadline) {
      const pel = (await t.redis.exists(STREAM)) ? await pending(t).catch(() => []) : [];
      const unexpected = consumers.filter((c) => !c.alive && c.outcome?.kind !== "signalled");
      const { message, hint } = onTimeout(missing);
      t.fail({
        message,
        expected: `all of ${ids.length} jobs in effects:done within ${timeoutMs / 1000} s`,
        actual: [
          `not done: ${missing.join(", ")}`,
          `started: ${seen.started.join(", ") || "(none)"}`,
          `pending in '${GROUP}': ${pel.map((p) => `${p.entryId} (${p.consumer}, idle ${p.idleMs} ms)`).join(", ") || "(none)"}`,
          ...unexpected.map((c) => `${describeEnd(c)}\n${c.output().slice(-500)}`),
        ].join("\n"),
        hint,
      });
    }
    await t.sleep(25);
  }
}

/** Finds a job that has started and not finished, and the consumer running it. */
async function runningJob(t: CheckContext, consumers: LearnerProcess[], ids: string[]): Promise<{ id: string; consumer: LearnerProcess }> {
  const found = await t.waitFor(
    async () => {
      const { started, done } = await effects(t);
      for (const id of started) {
        if (!ids.includes(id) || done.includes(id)) continue;
        const holder = await t.redis.hget(WORKER, id);
        const consumer = consumers.find((c) => c.name === holder && c.alive);
        if (consumer) return { id, consumer };
      }
      return null;
    },
    { message: "No consumer started a job within 6 s of it being added.", hint: consumerHint, timeoutMs: 6000 },
  );
  return found!; // waitFor returns only a truthy value
}

const consumerHint = `main(workerName) creates the group, then loops: XAUTOCLAIM one entry idle for 2000 ms or more, else XREADGROUP GROUP ${GROUP} <workerName> COUNT 1 BLOCK 500 STREAMS ${STREAM} >; run handle(toJob(fields)); then XACK the entry.`;

export default defineChecks({
  timeoutMs: 30_000,
  // The live view: jobs arrive every 250 ms for three consumers; every 6 s one of them is
  // SIGKILLed mid-job and replaced. Watch its entries sit in the pending list, then get claimed.
  playground: async (t) => {
    const limits = { wallMs: 70_000, cpuSeconds: 30 };
    let next = 1;
    const consumers = new Set(Array.from({ length: 3 }, () => t.spawn("consumer.ts", { name: `consumer-${next++}`, limits })));
    const produce = async () => {
      while (!t.signal.aborted) {
        await t.redis.xadd(STREAM, "*", "id", jobId(t), "ms", String(200 + Math.floor(t.random() * 800)));
        await t.sleep(250);
      }
    };
    const chaos = async () => {
      while (!t.signal.aborted) {
        await t.sleep(6000);
        if (t.signal.aborted) break;
        const victim = [...consumers][Math.floor(t.random() * consumers.size)]!;
        t.note(`killing ${victim.name}; its pending entry must be claimed once it has been idle 2 s`);
        await victim.kill();
        consumers.delete(victim);
        consumers.add(t.spawn("consumer.ts", { name: `consumer-${next++}`, limits }));
      }
    };
    await Promise.all([produce(), chaos()]);
  },
  checks: {
    "group-consumes-all": async (t) => {
      const early = Array.from({ length: 6 }, () => ({ id: jobId(t), ms: 150 + Math.floor(t.random() * 150) }));
      const late = Array.from({ length: 6 }, () => ({ id: jobId(t), ms: 150 + Math.floor(t.random() * 150) }));
      const entries = [...(await addJobs(t, early)).values()];
      t.note("6 jobs are in the stream before any consumer starts; 3 consumers start, then 6 more jobs arrive");
      const consumers = spawnConsumers(t, 3);
      await untilGroup(t);
      entries.push(...(await addJobs(t, late)).values());
      const ids = [...early, ...late].map((j) => j.id);
      await untilDone(t, ids, consumers, 10_000, (missing) =>
        missing.some((id) => early.some((j) => j.id === id)) && !missing.some((id) => late.some((j) => j.id === id))
          ? {
              message: `The ${missing.length} job(s) added before the group existed were never done; the ones added later were.`,
              hint: `A group created at "$" starts after the stream's last entry, so everything already in it is skipped. Create it at 0 (XGROUP CREATE ${STREAM} ${GROUP} 0 MKSTREAM) to deliver the whole stream.`,
            }
          : { message: `${missing.length} of 12 jobs were not done within 10 s by 3 healthy consumers.`, hint: consumerHint },
      );
      await t.sleep(700); // a second delivery of a finished job would show up now
      const { done } = await effects(t);
      const copies = ids.map((id) => countOf(done, id));
      if (copies.every((n) => n >= consumers.length)) {
        t.fail({
          message: `Every job was done ${consumers.length} times: each consumer read the whole stream.`,
          expected: "each job done by one consumer of the group",
          actual: ids.slice(0, 4).map((id) => `${id} ×${countOf(done, id)}`).join(", "),
          hint: `Plain XREAD gives every reader every entry. XREADGROUP GROUP ${GROUP} <workerName> … STREAMS ${STREAM} > hands each entry to one consumer of the group.`,
        });
      }
      assertEachOnce(ids, done, {
        noun: "job",
        hintLost: consumerHint,
        hintDuplicate: `With no consumer dead or slow, each entry should be delivered once: read with XREADGROUP … ">", and claim only entries idle for 2000 ms or more.`,
      });
      await assertThroughGroup(t, entries, ids);
    },

    "acks-after-processing": async (t) => {
      const consumers = spawnConsumers(t, 1);
      await untilGroup(t);
      const job = { id: jobId(t), ms: 1200 };
      const entryId = (await addJobs(t, [job])).get(job.id)!;
      const { id } = await runningJob(t, consumers, [job.id]);
      const mid = await pending(t);
      const ours = mid.find((p) => p.entryId === entryId);
      if (!ours) {
        t.fail({
          message: `While job ${id} was running (started, not done), its entry ${entryId} was not in the group's pending list: it had been acknowledged already (or was never read through the group).`,
          expected: `${entryId} pending for consumer-1 until the job finishes`,
          actual: `pending: ${mid.map((p) => p.entryId).join(", ") || "(none)"}`,
          hint: "XACK tells the group the entry is finished and can be forgotten. Sent before handle(), a consumer that dies mid-job takes the job with it. Run handle(toJob(fields)) first, then XACK.",
        });
      }
      await untilDone(t, [job.id], consumers, 5000, () => ({ message: `Job ${job.id} (1.2 s of work) was not done within 5 s.`, hint: consumerHint }));
      await t.waitFor(async () => (await pending(t)).length === 0, {
        message: `Job ${job.id} was done, but its entry ${entryId} is still pending 2 s later: it was never acknowledged.`,
        expected: "an empty pending list once the job is done",
        hint: `After handle() returns, XACK ${STREAM} ${GROUP} <entry id>. Until then the group counts the entry as in progress, and after 2 s another consumer would claim it and run it again.`,
        timeoutMs: 2000,
      });
    },

    "claims-from-dead-consumer": async (t) => {
      const consumers = spawnConsumers(t, 2);
      await untilGroup(t);
      const jobs = Array.from({ length: 2 }, () => ({ id: jobId(t), ms: 1000 }));
      const ids = jobs.map((j) => j.id);
      await addJobs(t, jobs);
      const { id, consumer } = await runningJob(t, consumers, ids);
      t.note(`SIGKILL ${consumer.name} while it runs ${id} (1 s of work); its entry must be claimed by the other consumer once it has been idle 2 s`);
      await consumer.kill();
      if ((await effects(t)).done.includes(id)) throw new Error(`${id} finished before ${consumer.name} could be killed; the machine is too slow for this check`);
      const survivors = consumers.filter((c) => c !== consumer);
      await untilDone(t, ids, survivors, 10_000, (missing) =>
        missing.includes(id)
          ? {
              message: `Job ${id}, whose consumer was SIGKILLed mid-job, was never finished by the surviving consumer.`,
              hint: `An entry delivered to a consumer stays in the group's pending list until it is acked; XREADGROUP with ">" never returns it again. Before reading new entries, take over stuck ones: XAUTOCLAIM ${STREAM} ${GROUP} <workerName> 2000 0-0 COUNT 1, run them, and ack them. (If the entry is not pending at all, it was acked before the job ran.)`,
            }
          : { message: `The surviving consumer did not finish ${missing.join(", ")}.`, hint: consumerHint },
      );
      await t.sleep(500);
      assertEachOnce(ids, (await effects(t)).done, {
        noun: "job",
        hintLost: consumerHint,
        hintDuplicate: "The dead consumer's entry should be claimed and run once: claim one entry at a time, and ack it as soon as its job is done.",
      });
    },

    "pending-drains": async (t) => {
      const consumers = spawnConsumers(t, 3);
      await untilGroup(t);
      const jobs = Array.from({ length: 12 }, () => ({ id: jobId(t), ms: 200 + Math.floor(t.random() * 200) }));
      const ids = jobs.map((j) => j.id);
      await addJobs(t, jobs);
      const first = await runningJob(t, consumers, ids);
      t.note(`SIGKILL ${first.consumer.name} while it runs ${first.id}`);
      await first.consumer.kill();
      const second = await runningJob(t, consumers, ids);
      t.note(`SIGKILL ${second.consumer.name} while it runs ${second.id}; consumer-4 starts`);
      await second.consumer.kill();
      const live = [...consumers.filter((c) => c.alive), ...spawnConsumers(t, 1, 4)];
      await untilDone(t, ids, live, 15_000, (missing) => ({
        message: `After two consumers were SIGKILLed mid-job, ${missing.length} of 12 jobs were never done.`,
        hint: `The killed consumers' entries wait in the pending list. Every consumer, on every pass, should XAUTOCLAIM one entry idle for 2000 ms or more before reading new ones, run it, and XACK it.`,
      }));
      const drained = await t
        .waitFor(async () => (await pending(t)).length === 0, { message: "", timeoutMs: 3000 })
        .then(() => true)
        .catch(() => false);
      if (!drained) {
        const left = await pending(t);
        t.fail({
          message: `Every job was done, but ${left.length} entr${left.length === 1 ? "y is" : "ies are"} still pending 3 s later. The pending list must drain to empty.`,
          expected: "XPENDING jobs workers: 0 entries",
          actual: left.map((p) => `${p.entryId} (${p.consumer}, delivered ${p.deliveries}×, idle ${p.idleMs} ms)`).join("\n"),
          hint: "Ack every entry whose job is done, including entries you took over with XAUTOCLAIM: an entry you claimed and never acked stays pending, is claimed again 2 s later, and runs again.",
        });
      }
      // A victim killed in the instant between finishing its job and acking it would rightly
      // have that job run again, so only the victims' jobs may appear twice.
      const victims = new Set([first.id, second.id]);
      const { done } = await effects(t);
      assertEachOnce(
        ids,
        done.filter((id, i) => !victims.has(id) || done.indexOf(id) === i),
        {
          noun: "job",
          hintLost: consumerHint,
          hintDuplicate: "A job should run again only if its consumer died before acking it. Ack each entry right after its job, and claim one entry at a time.",
        },
      );
    },

    "live-entries-not-stolen": async (t) => {
      const consumers = spawnConsumers(t, 2);
      await untilGroup(t);
      const job = { id: jobId(t), ms: 1000 };
      await addJobs(t, [job]);
      const { consumer } = await runningJob(t, consumers, [job.id]);
      t.note(`${consumer.name} runs ${job.id} (1 s of work, half the 2 s claim threshold); the other consumer is idle and looking for stuck entries`);
      await untilDone(t, [job.id], consumers, 6000, () => ({ message: `Job ${job.id} was not done within 6 s.`, hint: consumerHint }));
      await t.sleep(800);
      const { started, done } = await effects(t);
      const starts = countOf(started, job.id);
      if (starts > 1) {
        t.fail({
          message: `Job ${job.id} (1 s of work) was started ${starts} times, although ${consumer.name} was alive and working on it the whole time.`,
          expected: "started once: an entry is stuck only after 2000 ms without an ack",
          actual: `effects:started has ${job.id} ×${starts}; effects:done ×${countOf(done, job.id)}`,
          hint: "XAUTOCLAIM's min-idle-time decides what counts as stuck. At 0, every pending entry qualifies, including the ones live consumers are busy with. Use 2000 ms: longer than any job takes.",
        });
      }
      assertEachOnce([job.id], done, { noun: "job", hintLost: consumerHint, hintDuplicate: "Claim only entries idle for 2000 ms or more." });
    },
  },
});
