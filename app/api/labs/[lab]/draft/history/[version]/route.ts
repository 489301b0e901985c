import { requireApiUser } from "@/lib/auth/session";
import { db } from "@/lib/db";
import { draftVersionFiles } from "@/lib/drafts";
import { RequestError } from "@/lib/errors";
import { route } from "../../../../../_lib/route";
import { labOf } from "../../../_lab";

export const dynamic = "force-dynamic";

export const GET = route<{ params: Promise<{ lab: string; version: string }> }>(async (_request, { params }) => {
  const user = await requireApiUser("learner");
  const version = Number((await params).version);
  if (!Number.isInteger(version) || version < 1) throw new RequestError(404, "Versions are whole numbers from 1.");
  const files = await draftVersionFiles(db(), user.id, await labOf(params), version);
  if (!files) throw new RequestError(404, `There is no saved version ${version} of your draft; only the last 20 are kept.`);
  return Response.json({ files }, { headers: { "cache-control": "no-store" } });
});
