/**
 * A run's events as server-sent events. Each SSE id is the Redis stream id, so a browser that
 * reconnects (EventSource does so by itself, sending Last-Event-ID) resumes exactly where it was,
 * on any web replica. The stream always ends with the run's `end` or `cancelled` event — from the
 * stream, or rebuilt from the run's row when the stream has expired — so a browser never
 * reconnects forever.
 *
 * Reads are shared: catching up is a non-blocking XREAD on the process's ordinary client, and
 * waiting for what comes next goes through the process's one blocking reader (EventHub).
 */
import { addAbortListener } from "node:events";
import type { Redis } from "ioredis";
import { log } from "../log.ts";
import type { RedisKeys } from "../redis/keys.ts";
import type { EventHub } from "./event-hub.ts";
import { compareIds, decodeEntries, lastEvent, readEvents, type RunEvent, type StoredEvent } from "./events.ts";

export interface EventStreamOptions {
  /** How long one wait for new events lasts before the run is checked on again. @default 5000 */
  blockMs?: number;
  /** A comment line is sent this often, so proxies do not close a quiet stream. @default 15000 */
  keepaliveMs?: number;
  /** While nothing arrives, the run's row is checked this often, for a run whose end never reached the stream. @default 30000 */
  rowCheckMs?: number;
  /** Called with each keepalive (to refresh the stream's lease). */
  onKeepalive?: () => void;
  /** Called once when the stream ends, however it ends (for the open-streams gauge and the lease). */
  onClose?: () => void;
}

export const EVENT_BLOCK_MS = 5000;
const CATCH_UP_COUNT = 200;

export const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache, no-transform",
  "x-accel-buffering": "no",
  connection: "keep-alive",
} as const;

export interface EventSourceDeps {
  /** The process's ordinary client: catch-up reads and checks, never blocking. */
  redis: Redis;
  keys: RedisKeys;
  /** The process's one blocking reader. */
  hub: EventHub;
}

const isFinal = (event: RunEvent | null) => event?.type === "end" || event?.type === "cancelled";

export function formatEvent(event: RunEvent, id?: string): string {
  return `${id ? `id: ${id}\n` : ""}event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/**
 * Streams run `runId`'s events after `afterId` ("0" for all), until the final event, `signal`
 * aborts, or the reader cancels.
 */
export function eventStream(
  deps: EventSourceDeps,
  runId: string,
  afterId: string,
  signal: AbortSignal,
  finalFromDb: () => Promise<RunEvent | null>,
  { blockMs = EVENT_BLOCK_MS, keepaliveMs = 15_000, rowCheckMs = 30_000, onKeepalive, onClose }: EventStreamOptions = {},
): ReadableStream<Uint8Array> {
  const { redis, keys, hub } = deps;
  const encoder = new TextEncoder();
  const key = keys.runEvents(runId);
  // Aborted when the stream closes, so a wait in the hub ends with it.
  const stop = new AbortController();
  let close = () => {};
  // A reader that does not read (a stalled tab, a hostile client) holds the pump back instead of
  // making this process buffer the run's whole stream for it.
  let wake: (() => void) | null = null;
  const resume = () => {
    wake?.();
    wake = null;
  };

  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        let closed = false;
        const send = (text: string) => {
          if (!closed) controller.enqueue(encoder.encode(text));
        };
        const keepalive = setInterval(() => {
          send(": keepalive\n\n");
          onKeepalive?.();
        }, keepaliveMs);
        close = () => {
          if (closed) return;
          closed = true;
          clearInterval(keepalive);
          stop.abort();
          resume();
          onClose?.();
          signal.removeEventListener("abort", close);
          try {
            controller.close();
          } catch {
            // Already cancelled by the reader.
          }
        };
        if (signal.aborted) return close();
        addAbortListener(signal, close);

        let cursor = afterId;
        /** Sends events up to and including a final one; true when the stream is done. */
        const deliver = (events: StoredEvent[]): boolean => {
          for (const { id, event } of events) {
            send(formatEvent(event, id));
            cursor = id;
            if (isFinal(event)) return true;
          }
          return false;
        };
        /** The run has ended by its row: anything the stream still holds first, then the row's final event. */
        const endFromRow = async (): Promise<boolean> => {
          const final = await finalFromDb();
          if (!final) return false;
          if (deliver(await readEvents(redis, keys, runId, cursor))) return true;
          send(formatEvent(final)); // no id: a reconnect asks again
          return true;
        };

        const pump = async () => {
          const last = await lastEvent(redis, keys, runId);
          if (!last) {
            // No stream at all: it expired (or never existed), so the row tells how the run ended.
            cursor = "0";
            if (await endFromRow()) return close();
          } else if (compareIds(cursor, last.id) >= 0) {
            // At or past the end. A browser that saw the final event gets it again and stops;
            // a cursor past the end was never handed out by this stream, so it waits for what comes next.
            if (isFinal(last.event)) {
              send(formatEvent(last.event!, last.id));
              return close();
            }
            cursor = last.id;
          }
          let quietSince = Date.now();
          // Catching up reads the shared client without blocking; once caught up, the stream only
          // waits in the hub, which answers at once when more is already there.
          let caughtUp = false;
          while (!closed) {
            if ((controller.desiredSize ?? 1) <= 0) {
              await new Promise<void>((resolve) => (wake = resolve));
              continue;
            }
            let events: StoredEvent[] = [];
            if (!caughtUp) {
              events = await readEvents(redis, keys, runId, cursor, 0, CATCH_UP_COUNT);
              caughtUp = events.length < CATCH_UP_COUNT;
            }
            if (events.length === 0) events = decodeEntries(await hub.wait(key, cursor, blockMs, stop.signal));
            if (closed) return;
            if (events.length > 0) {
              quietSince = Date.now();
              if (deliver(events)) return close();
              continue;
            }
            const expired = !(await redis.exists(key));
            if (expired || Date.now() - quietSince >= rowCheckMs) {
              if (await endFromRow()) return close();
              quietSince = Date.now();
            }
          }
        };
        pump().catch((error: unknown) => {
          if (closed) return;
          log.warn("run event stream failed", { runId, err: error });
          close(); // the browser reconnects with Last-Event-ID
        });
      },
      pull() {
        resume();
      },
      cancel() {
        close();
      },
    },
    { highWaterMark: 64 * 1024, size: (chunk) => chunk.byteLength },
  );
}
