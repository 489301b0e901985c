import { createRedis, sleep } from "@faultline/lab";
import { handle, toJob } from "./handler.ts";

// Fixed by the lab (instructions.md): the grader adds entries to STREAM and reads GROUP's
// pending list, and its timings are built around these values.
const STREAM = "jobs";
const GROUP = "workers";
const BLOCK_MS = 500; // longest wait for new entries, so stuck ones are looked for this often
const MIN_IDLE_MS = 2000; // an entry pending this long belongs to a consumer that is gone

const redis = createRedis();

type Entry = [id: string, fields: string[]];

// Delete this line once your code uses them all.
void [redis, STREAM, GROUP, BLOCK_MS, MIN_IDLE_MS, handle, toJob];

/**
 * TODO: create the consumer group GROUP on STREAM (XGROUP CREATE … MKSTREAM). Every consumer
 * calls this, so "the group already exists" (BUSYGROUP) is fine. Which start id makes the group
 * deliver entries that were added before it existed?
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

/** A consumer: the grader starts several, as separate processes, and kills some. */
export async function main(workerName: string): Promise<void> {
  await ensureGroup();
  for (;;) {
    const entry = (await claimStuck(workerName)) ?? (await readNew(workerName));
    if (!entry) continue;
    // TODO: run handle(toJob(fields)), then XACK the entry. Why in that order?
    console.log(`${workerName} got ${entry[0]}`);
  }
}
