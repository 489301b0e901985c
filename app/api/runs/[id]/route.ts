import { requireApiUser } from "@/lib/auth/session";
import { db } from "@/lib/db";
import { findRun } from "@/lib/runs/store";
import { submitDeps } from "@/lib/runs/queue";
import { RequestError } from "@/lib/errors";
import { cancelOwnRun } from "@/lib/runs/submit";
import { route } from "../../_lib/route";

export const dynamic = "force-dynamic";

export const GET = route<{ params: Promise<{ id: string }> }>(async (_request, { params }) => {
  const user = await requireApiUser("learner");
  const { id } = await params;
  const run = await findRun(db(), user, id);
  if (!run) throw new RequestError(404, "There is no such run, or it is not yours.");
  return Response.json(run);
});

/** Cancel: the run ends `cancelled` and its event stream says so. */
export const DELETE = route<{ params: Promise<{ id: string }> }>(async (_request, { params }) => {
  const user = await requireApiUser("learner");
  await cancelOwnRun(submitDeps(), user, (await params).id);
  return Response.json({ cancelled: true }, { status: 202 });
});
