/** A lab's hints, unlocked by each learner one at a time, in order. */
import type { Db } from "../db/client.ts";
import type { LoadedLab } from "./loader.ts";

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
