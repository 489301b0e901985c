import "server-only";
import { env } from "../env.ts";
import { log } from "../log.ts";
import { keys, redis } from "../redis/index.ts";
import { EventHub } from "./event-hub.ts";
import type { EventSourceDeps } from "./sse.ts";
import type { StreamCaps } from "./stream-leases.ts";

// One reader per web process; Next's dev server reloads modules, so keep it on globalThis.
const holder = globalThis as unknown as { __faultlineEventHub?: EventHub };

/** This web process's one blocking reader of run event streams. */
export function eventHub(): EventHub {
  holder.__faultlineEventHub ??= new EventHub(redis(), {
    onUnblockRefused: (err) => log.warn("CLIENT UNBLOCK is not allowed for the platform Redis user; a new run viewer may wait up to 5 s for live events", { err }),
  });
  return holder.__faultlineEventHub;
}

/** What a run's event stream reads through, in this web process. */
export function liveStreamDeps(): EventSourceDeps {
  return { redis: redis(), keys: keys(), hub: eventHub() };
}

export function streamCaps(): StreamCaps {
  const e = env();
  return { perUser: e.SSE_STREAMS_PER_LEARNER, perRun: e.SSE_STREAMS_PER_RUN };
}
