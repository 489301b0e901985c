/**
 * Cohorts: an instructor creates one, learners join with its invite code, and the cohort's
 * requirements (a milestone, or a lab's checks, optionally by a date) show on each learner's
 * pages. Who may see or change a cohort is decided here, once: its instructors, and admins.
 */
import { z } from "zod";
import { hasRole, type RoleName } from "../auth/roles.ts";
import type { Db } from "../db/client.ts";
import { newInviteCode, parseInviteCode } from "./invite.ts";
import { RequestError } from "../errors.ts";

export interface Viewer {
  id: string;
  role: RoleName;
}

export class CohortError extends RequestError {
  override name = "CohortError";
  constructor(
    override readonly status: 403 | 404 | 409 | 422,
    message: string,
  ) {
    super(status, message);
  }
}

const CohortInput = z.object({
  name: z.string().trim().min(1, "Give the cohort a name, e.g. “Spring 2027 evening”.").max(80, "A cohort name has at most 80 characters."),
  idleDays: z.coerce
    .number()
    .int("Idle days must be a whole number.")
    .min(1, "Idle days must be between 1 and 90.")
    .max(90, "Idle days must be between 1 and 90.")
    .default(7),
  stuckFails: z.coerce
    .number()
    .int("Failures in a row must be a whole number.")
    .min(2, "Failures in a row must be between 2 and 50.")
    .max(50, "Failures in a row must be between 2 and 50.")
    .default(5),
});
export type CohortInput = z.input<typeof CohortInput>;

export async function createCohort(db: Db, viewer: Viewer, input: CohortInput) {
  if (!hasRole(viewer.role, "instructor")) throw new CohortError(403, "Only instructors can create a cohort. Ask an admin to make you one.");
  const data = CohortInput.parse(input);
  // A clash among 10^12 codes is unlikely but not impossible; a unique index decides.
  for (let attempt = 0; ; attempt++) {
    try {
      return await db.cohort.create({
        data: { ...data, inviteCode: newInviteCode(), createdById: viewer.id, members: { create: { userId: viewer.id, role: "instructor" } } },
      });
    } catch (error) {
      if (attempt >= 3 || !isUniqueViolation(error)) throw error;
    }
  }
}

function isUniqueViolation(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === "P2002";
}

/** The cohorts this person teaches (every cohort, for an admin), newest first, with head counts. */
export async function cohortsTaught(db: Db, viewer: Viewer) {
  const where = viewer.role === "admin" ? {} : { members: { some: { userId: viewer.id, role: "instructor" } } };
  const cohorts = await db.cohort.findMany({
    where,
    orderBy: { createdAt: "desc" },
    include: { _count: { select: { members: { where: { role: "learner" } } } } },
  });
  return cohorts.map(({ _count, ...c }) => ({ ...c, learners: _count.members }));
}

/** A cohort its instructor (or an admin) may manage; anyone else gets the same 404 as a missing one. */
export async function cohortForInstructor(db: Db, viewer: Viewer, cohortId: string) {
  const cohort = await db.cohort.findUnique({ where: { id: cohortId }, include: { requirements: { orderBy: [{ dueAt: "asc" }, { createdAt: "asc" }] } } });
  if (!cohort) throw new CohortError(404, "There is no such cohort, or you do not teach it.");
  if (viewer.role !== "admin") {
    const teaches = await db.cohortMember.findUnique({ where: { cohortId_userId: { cohortId, userId: viewer.id } }, select: { role: true } });
    if (teaches?.role !== "instructor") throw new CohortError(404, "There is no such cohort, or you do not teach it.");
  }
  return cohort;
}

/** What a join page shows before the learner decides: the cohort's name and size, or null. */
export async function previewInvite(db: Db, input: string) {
  const code = parseInviteCode(input);
  if (!code) return null;
  const cohort = await db.cohort.findUnique({ where: { inviteCode: code }, include: { _count: { select: { members: { where: { role: "learner" } } } } } });
  return cohort ? { id: cohort.id, name: cohort.name, code, learners: cohort._count.members } : null;
}

/** Joins with a code or a pasted link. Joining twice is harmless; an instructor stays an instructor. */
export async function joinCohort(db: Db, userId: string, input: string): Promise<{ cohortId: string; name: string; already: boolean }> {
  const code = parseInviteCode(input);
  if (!code)
    throw new CohortError(422, "That is not an invite code. A code has eight letters and digits, like K7M2-Q9XD; you can also paste the whole invite link.");
  const cohort = await db.cohort.findUnique({ where: { inviteCode: code }, select: { id: true, name: true } });
  if (!cohort) throw new CohortError(404, "No cohort has this invite code. Check it with your instructor; they may have replaced it with a new one.");
  const where = { cohortId_userId: { cohortId: cohort.id, userId } };
  const existing = await db.cohortMember.findUnique({ where, select: { role: true } });
  if (!existing) await db.cohortMember.upsert({ where, create: { cohortId: cohort.id, userId }, update: {} });
  return { cohortId: cohort.id, name: cohort.name, already: Boolean(existing) };
}

/** A new invite code; the old link stops working, members stay. */
export async function replaceInvite(db: Db, viewer: Viewer, cohortId: string): Promise<string> {
  await cohortForInstructor(db, viewer, cohortId);
  const inviteCode = newInviteCode();
  await db.cohort.update({ where: { id: cohortId }, data: { inviteCode } });
  return inviteCode;
}

export async function updateCohort(db: Db, viewer: Viewer, cohortId: string, input: CohortInput) {
  await cohortForInstructor(db, viewer, cohortId);
  return db.cohort.update({ where: { id: cohortId }, data: CohortInput.parse(input) });
}

/** Removes a learner from the cohort; their own progress is theirs and stays. */
export async function removeLearner(db: Db, viewer: Viewer, cohortId: string, userId: string): Promise<void> {
  await cohortForInstructor(db, viewer, cohortId);
  await db.cohortMember.deleteMany({ where: { cohortId, userId, role: "learner" } });
}

/** Is this learner in a cohort the viewer teaches? (What lets an instructor open their runs and code.) */
export async function teachesLearner(db: Db, viewer: Viewer, learnerId: string): Promise<boolean> {
  if (viewer.role === "admin" || viewer.id === learnerId) return true;
  const shared = await db.cohort.count({
    where: { members: { some: { userId: viewer.id, role: "instructor" } }, AND: { members: { some: { userId: learnerId } } } },
  });
  return shared > 0;
}

/** Adds a co-instructor by email: someone with the instructor (or admin) role. */
export async function addInstructor(db: Db, viewer: Viewer, cohortId: string, email: string): Promise<{ email: string }> {
  await cohortForInstructor(db, viewer, cohortId);
  const address = email.trim().toLowerCase();
  const user = address ? await db.user.findUnique({ where: { email: address }, select: { id: true, email: true, role: true } }) : null;
  if (!user) throw new CohortError(422, `No account has the email ${address || "(empty)"}. They sign up first; then add them here.`);
  if (!hasRole(user.role, "instructor")) throw new CohortError(422, `${user.email} is a learner. An admin makes them an instructor on the admin page first.`);
  const where = { cohortId_userId: { cohortId, userId: user.id } };
  await db.cohortMember.upsert({ where, create: { cohortId, userId: user.id, role: "instructor" }, update: { role: "instructor" } });
  return { email: user.email };
}

/** The cohort's instructors, for its page. */
export async function instructorsOf(db: Db, cohortId: string) {
  const rows = await db.cohortMember.findMany({
    where: { cohortId, role: "instructor" },
    select: { user: { select: { id: true, email: true, name: true } } },
    orderBy: { joinedAt: "asc" },
  });
  return rows.map((r) => r.user);
}

/** The name of a cohort the learner belongs to, or null (for a "you joined" message). */
export async function memberOf(db: Db, userId: string, cohortId: string): Promise<string | null> {
  const row = await db.cohortMember.findUnique({ where: { cohortId_userId: { cohortId, userId } }, select: { cohort: { select: { name: true } } } });
  return row?.cohort.name ?? null;
}
