import { requireApiUser } from "@/lib/auth/session";
import { db } from "@/lib/db";
import { loadDraft, saveDraft } from "@/lib/drafts";
import { readJson, route } from "../../../_lib/route";
import { labOf, type LabParams } from "../_lab";

export const dynamic = "force-dynamic";

/** The learner's draft of this lab, or its starter when there is none yet. */
export const GET = route<LabParams>(async (_request, { params }) => {
  const user = await requireApiUser("learner");
  return Response.json(await loadDraft(db(), user.id, await labOf(params)), { headers: { "cache-control": "no-store" } });
});

/** Autosave: `{ files }` (editable files only are kept); the previous content goes to the history. */
export const PUT = route<LabParams>(async (request, { params }) => {
  const user = await requireApiUser("learner");
  const lab = await labOf(params);
  const body = (await readJson(request)) as { files?: unknown } | null;
  return Response.json(await saveDraft(db(), user.id, lab, body?.files));
});

/** Also accepts POST, for navigator.sendBeacon on page hide. */
export const POST = PUT;
