import { requireApiUser } from "@/lib/auth/session";
import { db } from "@/lib/db";
import { draftHistory } from "@/lib/drafts";
import { route } from "../../../../_lib/route";
import { labOf, type LabParams } from "../../_lab";

export const dynamic = "force-dynamic";

export const GET = route<LabParams>(async (_request, { params }) => {
  const user = await requireApiUser("learner");
  const { lab } = await labOf(params);
  return Response.json({ versions: await draftHistory(db(), user.id, lab.id) }, { headers: { "cache-control": "no-store" } });
});
