import { requireApiUser } from "@/lib/auth/session";
import { db } from "@/lib/db";
import { log } from "@/lib/log";
import { streamGauge } from "@/lib/metrics/web";
import { keys, redis } from "@/lib/redis";
import { parseLastEventId } from "@/lib/runs/events";
import { liveStreamDeps, streamCaps } from "@/lib/runs/live";
import { eventStream, finalEvent, SSE_HEADERS } from "@/lib/runs/sse";
import { acquireStreamLease } from "@/lib/runs/stream-leases";
import { findRun } from "@/lib/runs/store";
import { RunRequestError } from "@/lib/runs/submit";
import { route } from "../../../_lib/route";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

export const GET = route<{ params: Promise<{ id: string }> }>(async (request, { params }) => {
  const user = await requireApiUser("learner");
  const { id } = await params;
  if (!(await findRun(db(), user, id))) throw new RunRequestError(404, "There is no such run, or it is not yours.");
  // EventSource sends Last-Event-ID when it reconnects; the query form is for a first connection that resumes.
  const afterId = parseLastEventId(request.headers.get("last-event-id") ?? new URL(request.url).searchParams.get("lastEventId"));
  const lease = await acquireStreamLease(redis(), keys(), user.id, id, streamCaps()); // StreamLimitError → 429
  const quietly = (p: Promise<void>) => p.catch((err: unknown) => log.warn("stream lease update failed", { runId: id, err })); // an unreleased lease expires by itself
  const gauge = streamGauge();
  gauge.opened();
  const body = eventStream(liveStreamDeps(), id, afterId, request.signal, async () => finalEvent(await findRun(db(), user, id)), {
    onKeepalive: () => void quietly(lease.refresh()),
    onClose: () => {
      gauge.closed();
      void quietly(lease.release());
    },
  });
  return new Response(body, { headers: SSE_HEADERS });
});
