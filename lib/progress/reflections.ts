/**
 * Written reflections, for the checklist items that ask for one. The text is the learner's own and
 * is kept as written; the item is earned once it has the words the milestone asks for.
 */
import type { Milestone } from "../content/schema.ts";
import type { Db } from "../db/client.ts";
import { creditKey, storeCredits } from "./credits.ts";
import { wordCount } from "./rules.ts";
import { RequestError } from "../errors.ts";

export const REFLECTION_MAX_CHARS = 8000;

export class ReflectionInputError extends RequestError {
  override name = "ReflectionInputError";
  constructor(message: string) {
    super(422, message);
  }
}

export async function saveReflection(db: Db, userId: string, milestone: Milestone, itemId: string, input: unknown): Promise<{ words: number }> {
  const item = milestone.checklist.find((i) => i.id === itemId);
  if (!item || item.satisfiedBy.kind !== "reflection")
    throw new ReflectionInputError(`${milestone.code} has no reflection '${itemId}'. Reload the page and write it again.`);
  if (typeof input !== "string") throw new ReflectionInputError("Write your reflection as text.");
  const text = input.trim();
  if (text.length > REFLECTION_MAX_CHARS)
    throw new ReflectionInputError(`Your reflection is ${text.length} characters; keep it under ${REFLECTION_MAX_CHARS}.`);
  const words = wordCount(text);
  const { minWords } = item.satisfiedBy;
  if (words < minWords)
    throw new ReflectionInputError(
      `Your reflection has ${words} words; this item asks for at least ${minWords}. Nothing was lost: your text is still in the box.`,
    );
  const writtenAt = new Date();
  await db.$transaction(async (tx) => {
    const key = { userId_milestoneId_itemId: { userId, milestoneId: milestone.id, itemId } };
    await tx.reflection.upsert({ where: key, create: { userId, milestoneId: milestone.id, itemId, text, writtenAt }, update: { text, writtenAt } });
    await storeCredits(tx, userId, [{ milestoneId: milestone.id, itemId, kind: "reflection", basis: [], fraction: 1, earnedAt: writtenAt }]);
  });
  return { words };
}

export async function reflections(db: Db, userId: string): Promise<Map<string, { text: string; writtenAt: Date }>> {
  const rows = await db.reflection.findMany({ where: { userId } });
  return new Map(rows.map((r) => [creditKey(r.milestoneId, r.itemId), { text: r.text, writtenAt: r.writtenAt }]));
}
