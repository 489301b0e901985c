/**
 * The runner's side of a run's event stream: events are queued as the run emits them and written
 * in batches (one round trip every 50 ms), in order. Consecutive log lines merge, and a run's
 * logs are capped, so a chatty program cannot flood the platform Redis. If the platform Redis
 * drops the connection during the run, the sink remembers: events may be lost, and the run must
 * then end as `error`, never as the learner's failure.
 */
import type { Redis } from "ioredis";
import type { RedisKeys } from "../redis/keys.ts";
import { appendEvents, type RunEvent } from "./events.ts";

/** @default 1 MiB of log text per run */
export const RUN_LOG_CAP = 1024 * 1024;
const MERGED_LOG_CAP = 8 * 1024;

export class EventSink {
  private queue: RunEvent[] = [];
  private logBytes = 0;
  private capped = false;
  private writing: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  /** Why events may have been lost, if they may have. */
  lost: string | null = null;
  private readonly onClose = () => (this.lost ??= "the connection to the platform Redis closed during the run");

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly runId: string,
  ) {
    redis.on("close", this.onClose);
  }

  emit = (event: RunEvent): void => {
    if (event.type === "log") {
      if (this.capped) return;
      this.logBytes += event.text.length;
      if (this.logBytes > RUN_LOG_CAP) {
        this.capped = true;
        event = { type: "log", stream: "grader", text: `Output beyond ${RUN_LOG_CAP / 1024} KiB is not shown for this run.`, check: event.check };
      }
      const last = this.queue.at(-1);
      if (
        last?.type === "log" &&
        last.stream === event.stream &&
        last.check === event.check &&
        last.text.length + event.text.length <= MERGED_LOG_CAP &&
        event.stream !== "grader"
      ) {
        last.text += event.text;
        return;
      }
    }
    this.queue.push(event);
    this.timer ??= setTimeout(() => void this.flush(), 50);
  };

  /** Writes everything queued so far; resolves when it is stored (or known lost). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.queue;
    this.queue = [];
    this.writing = this.writing.then(async () => {
      try {
        await appendEvents(this.redis, this.keys, this.runId, batch);
      } catch (error) {
        this.lost ??= `run events could not be stored (${(error as Error).message})`;
      }
    });
    return this.writing;
  }

  async close(): Promise<void> {
    await this.flush();
    this.redis.off("close", this.onClose);
  }
}
