import { requireApiUser } from "@/lib/auth/session";
import { db } from "@/lib/db";
import { finalEvent, parseLastEventId } from "@/lib/runs/events";
import { openRunStream } from "@/lib/runs/live";
import { SSE_HEADERS } from "@/lib/runs/sse";
import { findRun } from "@/lib/runs/store";
import { RequestError } from "@/lib/errors";
import { route } from "../../../_lib/route";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

export const GET = route<{ params: Promise<{ id: string }> }>(async (request, { params }) => {
  const user = await requireApiUser("learner");
  const { id } = await params;
  if (!(await findRun(db(), user, id))) throw new RequestError(404, "There is no such run, or it is not yours.");
  // EventSource sends Last-Event-ID when it reconnects; the query form is for a first connection that resumes.
  const afterId = parseLastEventId(request.headers.get("last-event-id") ?? new URL(request.url).searchParams.get("lastEventId"));
  const body = await openRunStream(user.id, id, afterId, request.signal, async () => finalEvent(await findRun(db(), user, id))); // StreamLimitError → 429
  return new Response(body, { headers: SSE_HEADERS });
});
