import { requireApiUser } from "@/lib/auth/session";
import { db } from "@/lib/db";
import { canSeeSolution, solutionFiles } from "@/lib/labs/solution-access";
import { RequestError } from "@/lib/errors";
import { route } from "../../../_lib/route";
import { labOf, type LabParams } from "../_lab";

export const dynamic = "force-dynamic";

/** The reference solution, once the runner has stored a passing check run of this learner's. */
export const GET = route<LabParams>(async (_request, { params }) => {
  const user = await requireApiUser("learner");
  const lab = await labOf(params);
  if (!(await canSeeSolution(db(), user, lab.lab.id)))
    throw new RequestError(403, "The reference solution opens once your code passes every check of this lab.");
  return Response.json({ files: solutionFiles(lab) }, { headers: { "cache-control": "private, no-store" } });
});
