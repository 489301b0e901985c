import { createRedis, sleep } from "@faultline/lab";
import { handle, toJob } from "./handler.ts";

const STREAM = "jobs";
const GROUP = "workers";
const BLOCK_MS = 500;

const redis = createRedis();

type Entry = [id: string, fields: string[]];

async function ensureGroup(): Promise<void> {
  try {
    await redis.xgroup("CREATE", STREAM, GROUP, "0", "MKSTREAM");
  } catch (error) {
    if (!String(error).includes("BUSYGROUP")) throw error;
  }
}

/**
 * Creates the group, then reads the stream with plain XREAD and a last-seen id, which knows
 * nothing of groups: every reader gets every entry, and three consumers run each job three times.
 */
export async function main(workerName: string): Promise<void> {
  await ensureGroup();
  let last = "0";
  for (;;) {
    try {
      const reply = (await redis.xread("COUNT", 1, "BLOCK", BLOCK_MS, "STREAMS", STREAM, last)) as [string, Entry[]][] | null;
      const entry = reply?.[0]?.[1]?.[0];
      if (!entry) continue;
      const [id, fields] = entry;
      await handle(toJob(fields));
      last = id;
    } catch (error) {
      console.error(`${workerName}: ${String(error)}`);
      await sleep(100);
    }
  }
}
