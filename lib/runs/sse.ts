/**
 * A run's events as server-sent events. Each SSE id is the Redis stream id, so a browser that
 * reconnects (EventSource does so by itself, sending Last-Event-ID) resumes exactly where it was,
 * on any web replica. The stream ends after the run's `end` or `cancelled` event.
 */
import type { Redis } from "ioredis";
import { log } from "../log.ts";
import type { RedisKeys } from "../redis/keys.ts";
import { readEvents, type RunEvent } from "./events.ts";
import type { RunView } from "./store.ts";

export interface EventStreamOptions {
  /** How long one XREAD waits for new events before checking on the run again. @default 5000 */
  blockMs?: number;
  /** A comment line is sent this often, so proxies do not close a quiet stream. @default 15000 */
  keepaliveMs?: number;
  /** Called once when the stream ends, however it ends (for the open-streams gauge). */
  onClose?: () => void;
}

export const EVENT_BLOCK_MS = 5000;

export const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache, no-transform",
  "x-accel-buffering": "no",
  connection: "keep-alive",
} as const;

/**
 * A connection of its own for one stream: XREAD BLOCK holds it, so it cannot be the shared
 * client, whose 3 s command timeout would also cut every blocked read short.
 */
export function blockingConnection(shared: Redis, blockMs = EVENT_BLOCK_MS): Redis {
  const conn = shared.duplicate({ commandTimeout: blockMs + 3000 });
  conn.on("error", () => {
    // Reconnects by itself; a failed read closes the stream and the browser reconnects.
  });
  return conn;
}

const isFinal = (event: RunEvent) => event.type === "end" || event.type === "cancelled";

export function formatEvent(event: RunEvent, id?: string): string {
  return `${id ? `id: ${id}\n` : ""}event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/** The final event of a finished run, rebuilt from its row for when its stream has expired; null while it is live. */
export function finalEvent(run: RunView | null): RunEvent | null {
  if (!run || run.status === "queued" || run.status === "running") return null;
  if (run.status === "cancelled") return { type: "cancelled", message: run.message ?? "This run was cancelled." };
  return { type: "end", status: run.status, seed: run.seed ?? 0, ...(run.message ? { message: run.message } : {}), ms: run.durationMs ?? 0 };
}

/** True when `id` is the stream's final event: a browser reconnecting after the end has nothing left to read. */
async function isFinalId(conn: Redis, key: string, id: string): Promise<boolean> {
  const [entry] = await conn.xrange(key, id, id);
  const fields = entry?.[1] ?? [];
  try {
    return isFinal(JSON.parse(fields[fields.indexOf("e") + 1] ?? "null") as RunEvent);
  } catch {
    return false;
  }
}

/**
 * Streams run `runId`'s events after `afterId` ("0" for all). `conn` is owned by the stream and
 * disconnected when it closes: after the final event, on `signal` abort, or when the reader cancels.
 */
export function eventStream(
  conn: Redis,
  keys: RedisKeys,
  runId: string,
  afterId: string,
  signal: AbortSignal,
  finalFromDb: () => Promise<RunEvent | null>,
  { blockMs = EVENT_BLOCK_MS, keepaliveMs = 15_000, onClose }: EventStreamOptions = {},
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const key = keys.runEvents(runId);
  let close = () => {};

  return new ReadableStream<Uint8Array>({
    start(controller) {
      let closed = false;
      const send = (text: string) => {
        if (!closed) controller.enqueue(encoder.encode(text));
      };
      const keepalive = setInterval(() => send(": keepalive\n\n"), keepaliveMs);
      close = () => {
        if (closed) return;
        closed = true;
        clearInterval(keepalive);
        onClose?.();
        signal.removeEventListener("abort", close);
        conn.disconnect();
        try {
          controller.close();
        } catch {
          // Already cancelled by the reader.
        }
      };
      if (signal.aborted) return close();
      signal.addEventListener("abort", close, { once: true });

      const pump = async () => {
        let cursor = afterId;
        if (cursor !== "0" && (await isFinalId(conn, key, cursor))) return close();
        let idle = true;
        while (!closed) {
          // Nothing new and no stream at all: it expired (or never existed), so the row tells how the run ended.
          if (idle && !(await conn.exists(key))) {
            const final = await finalFromDb();
            if (final) {
              send(formatEvent(final));
              return close();
            }
          }
          const events = await readEvents(conn, keys, runId, cursor, blockMs);
          idle = events.length === 0;
          for (const { id, event } of events) {
            send(formatEvent(event, id));
            cursor = id;
            if (isFinal(event)) return close();
          }
        }
      };
      pump().catch((error: unknown) => {
        if (closed) return; // disconnecting rejects the blocked read
        log.warn("run event stream failed", { runId, err: error });
        close(); // the browser reconnects with Last-Event-ID
      });
    },
    cancel() {
      close();
    },
  });
}
