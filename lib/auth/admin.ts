import "server-only";
import { db } from "../db/index.ts";
import { changeRole } from "./role-change.ts";
import type { RoleName } from "./roles.ts";

export function listUsers() {
  return db().user.findMany({ orderBy: { createdAt: "asc" }, select: { id: true, email: true, name: true, role: true, createdAt: true } });
}

export function setRole(actorId: string, userId: string, role: RoleName) {
  return changeRole(db(), actorId, userId, role);
}
