import { requireApiUser } from "@/lib/auth/session";
import { db } from "@/lib/db";
import { unlockNextHint, unlockedHints } from "@/lib/labs/hints";
import { route } from "../../../_lib/route";
import { labOf, type LabParams } from "../_lab";

export const dynamic = "force-dynamic";

export const GET = route<LabParams>(async (_request, { params }) => {
  const user = await requireApiUser("learner");
  return Response.json(await unlockedHints(db(), user, await labOf(params)), { headers: { "cache-control": "no-store" } });
});

/** Unlocks the next hint; the last one only after the lab's failed graded runs (the answer says how many remain). */
export const POST = route<LabParams>(async (_request, { params }) => {
  const user = await requireApiUser("learner");
  return Response.json(await unlockNextHint(db(), user, await labOf(params)));
});
