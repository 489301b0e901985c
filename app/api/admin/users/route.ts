import { requireApiUser } from "@/lib/auth/session";
import { listUsers } from "@/lib/auth/admin";
import { route } from "../../_lib/route";

export const GET = route(async () => {
  await requireApiUser("admin");
  return Response.json({ users: await listUsers() });
});
