/**
 * Who may see a lab's reference solution and its hints. The solution reaches a learner's browser
 * only after the runner has stored a passing graded run of theirs for that lab (the browser's word
 * counts for nothing); instructors and admins can always see it.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { hasRole, type RoleName } from "../auth/roles.ts";
import type { Db } from "../db/client.ts";
import type { LoadedLab } from "./loader.ts";

export async function hasPassed(db: Db, userId: string, labId: string): Promise<boolean> {
  const run = await db.submission.findFirst({ where: { userId, labId, mode: "check", status: "pass" }, select: { id: true } });
  return run !== null;
}

export async function canSeeSolution(db: Db, user: { id: string; role: RoleName }, labId: string): Promise<boolean> {
  return hasRole(user.role, "instructor") || hasPassed(db, user.id, labId);
}

export function solutionFiles({ lab, dir }: LoadedLab): Record<string, string> {
  return Object.fromEntries(lab.files.map((f) => [f.path, readFileSync(path.join(dir, "solution", f.path), "utf8")]));
}

/** The hints unlocked so far, in order; they unlock one at a time. */
export async function unlockedHints(db: Db, userId: string, { lab }: LoadedLab): Promise<{ total: number; unlocked: string[] }> {
  const row = await db.labHints.findUnique({ where: { userId_labId: { userId, labId: lab.id } } });
  return { total: lab.hints.length, unlocked: lab.hints.slice(0, row?.unlocked ?? 0) };
}

export async function unlockNextHint(db: Db, userId: string, loaded: LoadedLab): Promise<{ total: number; unlocked: string[] }> {
  const { lab } = loaded;
  const row = await db.labHints.upsert({ where: { userId_labId: { userId, labId: lab.id } }, create: { userId, labId: lab.id, unlocked: 1 }, update: { unlocked: { increment: 1 } } });
  // Past the last hint the counter is put back, so a later hint an author adds unlocks in turn.
  if (row.unlocked > lab.hints.length) await db.labHints.update({ where: { userId_labId: { userId, labId: lab.id } }, data: { unlocked: lab.hints.length } });
  return unlockedHints(db, userId, loaded);
}
