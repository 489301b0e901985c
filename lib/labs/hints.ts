/**
 * A lab's hints, unlocked by each learner one at a time, in order. The last hint is the most
 * specific, close to the answer, so it waits until the learner has tried: it unlocks after the
 * lab's `finalHintAfter` failed graded runs (replays of a chosen seed do not count), or once they
 * passed. Instructors see every hint without waiting.
 */
import { hasRole, type RoleName } from "../auth/roles.ts";
import type { Db } from "../db/client.ts";
import type { LoadedLab } from "./loader.ts";
import { hasPassed } from "./solution-access.ts";

export interface HintsState {
  total: number;
  unlocked: string[];
  /** Failed graded runs still needed before the last hint can be shown; 0 when it can. */
  finalLockedFor: number;
}

export interface HintUser {
  id: string;
  role: RoleName;
}

async function finalLockedFor(db: Db, user: HintUser, { lab }: LoadedLab): Promise<number> {
  if (lab.finalHintAfter === 0 || hasRole(user.role, "instructor")) return 0;
  const failed = await db.submission.count({ where: { userId: user.id, labId: lab.id, mode: "check", status: "fail", replay: false } });
  if (failed >= lab.finalHintAfter || (await hasPassed(db, user.id, lab.id))) return 0;
  return lab.finalHintAfter - failed;
}

/** The hints unlocked so far, in order, never the last one while it is locked. */
export async function unlockedHints(db: Db, user: HintUser, loaded: LoadedLab): Promise<HintsState> {
  const { lab } = loaded;
  const [row, locked] = await Promise.all([
    db.labHints.findUnique({ where: { userId_labId: { userId: user.id, labId: lab.id } } }),
    finalLockedFor(db, user, loaded),
  ]);
  const reachable = locked > 0 ? lab.hints.length - 1 : lab.hints.length;
  return { total: lab.hints.length, unlocked: lab.hints.slice(0, Math.min(row?.unlocked ?? 0, reachable)), finalLockedFor: locked };
}

/** Unlocks the next hint, unless it is the last and still locked (the state then says for how long). */
export async function unlockNextHint(db: Db, user: HintUser, loaded: LoadedLab): Promise<HintsState> {
  const { lab } = loaded;
  const before = await unlockedHints(db, user, loaded);
  const next = before.unlocked.length;
  if (next >= lab.hints.length || (next === lab.hints.length - 1 && before.finalLockedFor > 0)) return before;
  // Set, not incremented: two clicks at once unlock one hint, and a counter left past the last
  // hint by an older version is brought back in line.
  await db.labHints.upsert({
    where: { userId_labId: { userId: user.id, labId: lab.id } },
    create: { userId: user.id, labId: lab.id, unlocked: next + 1 },
    update: { unlocked: next + 1 },
  });
  return unlockedHints(db, user, loaded);
}
