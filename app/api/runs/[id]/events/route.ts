import { requireApiUser } from "@/lib/auth/session";
import { db } from "@/lib/db";
import { streamGauge } from "@/lib/metrics/web";
import { keys, redis } from "@/lib/redis";
import { parseLastEventId } from "@/lib/runs/events";
import { blockingConnection, eventStream, finalEvent, SSE_HEADERS } from "@/lib/runs/sse";
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
  const gauge = streamGauge();
  gauge.opened();
  const body = eventStream(blockingConnection(redis()), keys(), id, afterId, request.signal, async () => finalEvent(await findRun(db(), user, id)), { onClose: () => gauge.closed() });
  return new Response(body, { headers: SSE_HEADERS });
});
