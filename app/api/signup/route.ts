import { signUp } from "@/lib/auth/accounts";
import { accountDeps, clientIp } from "@/lib/auth/deps";
import { previewInvite } from "@/lib/cohorts/cohorts";
import { db } from "@/lib/db";
import { env } from "@/lib/env";
import { readJson, route } from "../_lib/route";

export const POST = route(async (request) => {
  if (env().FAULTLINE_AUTH === "local")
    return Response.json({ error: "This install signs one local learner in automatically; accounts are off." }, { status: 404 });
  // A sign-up through a cohort's invite counts against that invite, not the address (a class behind one NAT).
  const deps = { ...accountDeps(), inviteCohort: (invite: string) => previewInvite(db(), invite) };
  const user = await signUp(deps, await readJson(request), clientIp(request.headers));
  return Response.json({ id: user.id, email: user.email, role: user.role }, { status: 201 });
});
