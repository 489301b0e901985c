import { requireApiUser } from "@/lib/auth/session";
import { submitDeps } from "@/lib/runs/queue";
import { submitRun } from "@/lib/runs/submit";
import { readJson, route } from "../_lib/route";

export const dynamic = "force-dynamic";

export const POST = route(async (request) => {
  const user = await requireApiUser("learner");
  const run = await submitRun(submitDeps(), user, await readJson(request));
  return Response.json({ ...run, eventsUrl: `/api/runs/${run.id}/events` }, { status: 202 });
});
