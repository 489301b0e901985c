/**
 * A live run view in this web process: its stream lease (capped per learner and per run), the
 * shared blocking reader, the open-streams gauge, and the stream itself, wired together once so
 * the route handler only checks who is asking.
 */
import "server-only";
import { env } from "../env.ts";
import { log } from "../log.ts";
import { streamGauge } from "../metrics/web.ts";
import { keys, redis } from "../redis/index.ts";
import { EventHub } from "./event-hub.ts";
import type { RunEvent } from "./events.ts";
import { eventStream, type EventSourceDeps } from "./sse.ts";
import { acquireStreamLease, type StreamCaps } from "./stream-leases.ts";
import { processSingleton } from "../process-singleton.ts";

/** This web process's one blocking reader of run event streams. */
export function eventHub(): EventHub {
  return processSingleton(
    "event-hub",
    () =>
      new EventHub(redis(), {
        onUnblockRefused: (err) =>
          log.warn("CLIENT UNBLOCK is not allowed for the platform Redis user; a new run viewer may wait up to 5 s for live events", { err }),
      }),
  );
}

/** What a run's event stream reads through, in this web process. */
export function liveStreamDeps(): EventSourceDeps {
  return { redis: redis(), keys: keys(), hub: eventHub() };
}

export function streamCaps(): StreamCaps {
  const e = env();
  return { perUser: e.SSE_STREAMS_PER_LEARNER, perRun: e.SSE_STREAMS_PER_RUN };
}

/**
 * Opens run `runId`'s live stream for `userId` after `afterId`. Throws StreamLimitError (a 429 at
 * the edge) when the learner or the run already has as many open as allowed.
 */
export async function openRunStream(
  userId: string,
  runId: string,
  afterId: string,
  signal: AbortSignal,
  finalFromDb: () => Promise<RunEvent | null>,
): Promise<ReadableStream<Uint8Array>> {
  const lease = await acquireStreamLease(redis(), keys(), userId, runId, streamCaps());
  // A lease that could not be refreshed or released expires by itself.
  const quietly = (p: Promise<void>) => p.catch((err: unknown) => log.warn("stream lease update failed", { runId, err }));
  const gauge = streamGauge();
  gauge.opened();
  return eventStream(liveStreamDeps(), runId, afterId, signal, finalFromDb, {
    onKeepalive: () => void quietly(lease.refresh()),
    onClose: () => {
      gauge.closed();
      void quietly(lease.release());
    },
  });
}
