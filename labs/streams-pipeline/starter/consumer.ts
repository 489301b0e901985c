import { createRedis, sleep } from "@faultline/lab";
import { handle, toJob, type Job } from "./handler.ts";

// Fixed by the lab (instructions.md): the grader adds entries to STREAM, reads GROUP's pending
// list and RESULTS, and its timings are built around these values.
const STREAM = "jobs";
const GROUP = "workers";
const RESULTS = "results";
const BLOCK_MS = 500; // longest wait for new entries, so stuck ones are looked for this often
const MIN_IDLE_MS = 2000; // an entry pending this long belongs to a consumer that is gone

const redis = createRedis();

type Entry = [id: string, fields: string[]];

// Delete this line once your code uses them all.
void [redis, STREAM, GROUP, RESULTS, BLOCK_MS, MIN_IDLE_MS, handle, toJob, commit];

/**
 * TODO: create the consumer group GROUP on STREAM (XGROUP CREATE … MKSTREAM). Every consumer
 * calls this, at the same moment, so "the group already exists" (BUSYGROUP) is fine; any other
 * error is not, and the group must still get created. Which start id makes the group deliver
 * entries that were added before it existed?
 */
async function ensureGroup(): Promise<void> {}

/**
 * TODO: take over ONE entry that has been pending (delivered, never acknowledged) for at least
 * MIN_IDLE_MS, with XAUTOCLAIM. Returns it, or null.
 */
async function claimStuck(me: string): Promise<Entry | null> {
  void me;
  return null;
}

/** TODO: wait up to BLOCK_MS for ONE new entry for this consumer (XREADGROUP … ">"). */
async function readNew(me: string): Promise<Entry | null> {
  void me;
  await sleep(BLOCK_MS);
  return null;
}

/**
 * TODO: the last step of a job, in ONE atomic step (a Lua script, with redis.eval), and only if
 * the entry is still pending for `me`: publish the output (XADD RESULTS * id <job id> output
 * <output>), acknowledge the entry (XACK) and delete it from the stream (XDEL). What goes wrong if
 * a consumer dies between two of those? And what if `me` stalled and another consumer has
 * claimed the entry meanwhile?
 */
async function commit(me: string, entryId: string, job: Job, output: string): Promise<void> {
  void [me, entryId, job, output];
}

/** A consumer: the grader starts several, kills some, pauses one and makes its handler fail. */
export async function main(workerName: string): Promise<void> {
  await ensureGroup();
  for (;;) {
    const entry = (await claimStuck(workerName)) ?? (await readNew(workerName));
    if (!entry) continue;
    // TODO: run handle(toJob(fields)), then commit its output. What if a command fails, or the
    // handler throws?
    console.log(`${workerName} got ${entry[0]}`);
  }
}
