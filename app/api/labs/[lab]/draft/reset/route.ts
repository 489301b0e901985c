import { requireApiUser } from "@/lib/auth/session";
import { db } from "@/lib/db";
import { resetDraft } from "@/lib/drafts";
import { route } from "../../../../_lib/route";
import { labOf, type LabParams } from "../../_lab";

export const dynamic = "force-dynamic";

/** Back to the starter; the replaced draft stays in the history. */
export const POST = route<LabParams>(async (_request, { params }) => {
  const user = await requireApiUser("learner");
  return Response.json(await resetDraft(db(), user.id, await labOf(params)));
});
