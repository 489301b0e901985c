import "server-only";
import { getServerSession } from "next-auth";
import { forbidden, redirect } from "next/navigation";
import { db } from "../db/index.ts";
import { env } from "../env.ts";
import type { AccountUser } from "./accounts.ts";
import { authOptions } from "./options.ts";
import { hasRole, type RoleName } from "./roles.ts";
import { RequestError } from "../errors.ts";

export const LOCAL_LEARNER_EMAIL = "learner@faultline.local";

/** The signed-in user, read fresh from the database; null when nobody is signed in. */
export async function currentUser(): Promise<AccountUser | null> {
  if (env().FAULTLINE_AUTH === "local") {
    return db().user.upsert({
      where: { email: LOCAL_LEARNER_EMAIL },
      update: {},
      create: { email: LOCAL_LEARNER_EMAIL, name: "Local learner", role: "learner" },
      select: { id: true, email: true, name: true, role: true },
    });
  }
  const session = await getServerSession(authOptions);
  const id = (session?.user as { id?: string } | undefined)?.id;
  if (!id) return null;
  return db().user.findUnique({ where: { id }, select: { id: true, email: true, name: true, role: true } });
}

/** For pages: signed out goes to sign-in and comes back; a missing role renders the 403 page. */
export async function requirePageUser(role: RoleName = "learner", returnTo = "/"): Promise<AccountUser> {
  const user = await currentUser();
  if (!user) redirect(`/signin?callbackUrl=${encodeURIComponent(returnTo)}`);
  if (!hasRole(user.role, role)) forbidden();
  return user;
}

export class AuthRequiredError extends RequestError {
  override name = "AuthRequiredError";
  constructor(
    override readonly status: 401 | 403,
    message: string,
  ) {
    super(status, message);
  }
}

/** For API routes: throws AuthRequiredError (401 or 403), which the route wrapper maps to JSON. */
export async function requireApiUser(role: RoleName = "learner"): Promise<AccountUser> {
  const user = await currentUser();
  if (!user) throw new AuthRequiredError(401, "Sign in first.");
  if (!hasRole(user.role, role)) throw new AuthRequiredError(403, `This needs the ${role} role; you are signed in as a ${user.role}.`);
  return user;
}
