/**
 * Who may see a lab's reference solution. The solution reaches a learner's browser
 * only after the runner has stored a passing graded run of theirs for that lab (the browser's word
 * counts for nothing), with a seed the platform chose: a replay of a seed the learner picked does
 * not count, since they could have searched for the easiest fault schedule. Instructors and
 * admins can always see it.
 */
import { hasRole, type RoleName } from "../auth/roles.ts";
import type { Db } from "../db/client.ts";
import { labFiles, type LoadedLab } from "./loader.ts";

export async function hasPassed(db: Db, userId: string, labId: string): Promise<boolean> {
  const run = await db.submission.findFirst({ where: { userId, labId, mode: "check", status: "pass", replay: false }, select: { id: true } });
  return run !== null;
}

export async function canSeeSolution(db: Db, user: { id: string; role: RoleName }, labId: string): Promise<boolean> {
  return hasRole(user.role, "instructor") || hasPassed(db, user.id, labId);
}

export const solutionFiles = (loaded: LoadedLab): Record<string, string> => labFiles(loaded, "solution");
