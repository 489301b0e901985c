import type { Db } from "../db/client.ts";
import { exclusive } from "../db/exclusive.ts";
import { roles, type RoleName } from "./roles.ts";
import { RequestError } from "../errors.ts";

export class RoleChangeError extends RequestError {
  override name = "RoleChangeError";
  constructor(message: string) {
    super(409, message);
  }
}

/** Changes a user's role, refusing to leave the install without an admin. */
export async function changeRole(db: Db, actorId: string, userId: string, role: RoleName): Promise<void> {
  if (!roles.includes(role)) throw new RoleChangeError(`Unknown role "${role}"; use one of ${roles.join(", ")}.`);
  // Exclusive: two admins giving up the role at once must not both see the other still admin.
  await exclusive(db, "admins", async (tx) => {
    const target = await tx.user.findUnique({ where: { id: userId }, select: { role: true } });
    if (!target) throw new RoleChangeError("That user no longer exists.");
    if (target.role === "admin" && role !== "admin" && (await tx.user.count({ where: { role: "admin" } })) <= 1) {
      throw new RoleChangeError(
        actorId === userId
          ? "You are the only admin; make someone else admin before giving up the role."
          : "This is the only admin; make someone else admin first.",
      );
    }
    await tx.user.update({ where: { id: userId }, data: { role } });
  });
}
