/**
 * The ids learners hold credit for, as published (`npm run content:publish` writes
 * `course.lock.json` beside the course's milestones): milestones, checklist items, lessons, labs
 * and checks. Once published, an id may not silently disappear: `content:check` refuses a course
 * where one is gone unless the lock names a migration, a rename (`to` the new id, and earned
 * credit follows it) or a removal (`to: null`, and nothing earns that credit any more). The
 * migrations are also what the progress tracker reads old evidence through (`translateIds`).
 */
import { existsSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { readJsonFile } from "../json-error.ts";
import type { LoadedLab } from "../labs/loader.ts";
import type { Course } from "./loader.ts";

export const LOCK_FILE = "course.lock.json";

const KINDS = ["milestone", "item", "lesson", "lab", "check"] as const;
type Kind = (typeof KINDS)[number];

/** How each kind's id is written in the lock: items under their milestone, checks under their lab. */
const SHAPE: Record<Kind, string> = { milestone: "m5", item: "m5/task-model", lesson: "m5-idempotency", lab: "saga", check: "saga/happy-path" };

const MigrationSchema = z
  .object({
    kind: z.enum(KINDS),
    from: z.string().min(1),
    to: z.string().min(1).nullable().describe("The new id (earned credit follows it), or null: removed, and nothing earns that credit any more."),
    why: z.string().min(1).describe("For the next author: why the id changed."),
  })
  .strict();

const LockSchema = z
  .object({
    $comment: z.string().optional(),
    published: z.object(Object.fromEntries(KINDS.map((k) => [k, z.array(z.string())])) as Record<Kind, z.ZodArray<z.ZodString>>).strict(),
    migrations: z.array(MigrationSchema).default([]),
  })
  .strict();

export type CourseLock = z.infer<typeof LockSchema>;
export type Migration = z.infer<typeof MigrationSchema>;
export type CourseIds = Record<Kind, string[]>;

/** Every id of the course as it is now, in the lock's shapes. */
export function courseIds(course: Course, labs: LoadedLab[]): CourseIds {
  const taught = new Set(course.milestones.flatMap((m) => m.milestone.labs.filter((l) => !l.planned).map((l) => l.id)));
  const own = labs.filter(({ lab }) => taught.has(lab.id));
  return {
    milestone: course.milestones.map((m) => m.milestone.id),
    item: course.milestones.flatMap((m) => m.milestone.checklist.map((i) => `${m.milestone.id}/${i.id}`)),
    lesson: course.milestones.flatMap((m) => m.lessons.map((l) => l.frontmatter.id)),
    lab: own.map(({ lab }) => lab.id),
    check: own.flatMap(({ lab }) => lab.checks.map((c) => `${lab.id}/${c.id}`)),
  };
}

export class LockError extends Error {
  override name = "LockError";
}

/** The lock in `courseDir`, or null when the course was never published. */
export function readLock(courseDir: string): CourseLock | null {
  const file = path.join(courseDir, LOCK_FILE);
  if (!existsSync(file)) return null;
  const read = readJsonFile(file);
  if (!read.ok) throw new LockError(`${file}: ${read.problem}; restore it from version control, or fix the line.`);
  const parsed = LockSchema.safeParse(read.value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new LockError(`${file}: ${issue.path.join(".") || "(top level)"}: ${issue.message}. A migration is { "kind": "check", "from": "${SHAPE.check}", "to": "saga/new-id" or null, "why": "…" }.`);
  }
  return parsed.data;
}

/**
 * What stops the course from being taught against its lock: each published id that is gone
 * without a migration, each migration to an id that does not exist. Empty when all is well.
 */
export function lockProblems(lock: CourseLock, now: CourseIds, file: string): string[] {
  const problems: string[] = [];
  const t = translateIds(lock.migrations);
  // Where each published id lives today: itself, or where its migrations (its own, or its
  // milestone's or lab's rename) lead; null when it was removed on purpose.
  const today: Record<Kind, (id: string) => string | null> = {
    milestone: t.milestone,
    lesson: t.lesson,
    lab: t.lab,
    item: (id) => joined(t.item(...halves(id)), (m) => `${m.milestoneId}/${m.itemId}`),
    check(id) {
      const [lab, check] = halves(id);
      const newLab = t.lab(lab);
      return joined(newLab === null ? null : t.check(lab, check), (c) => `${newLab}/${c}`);
    },
  };
  for (const kind of KINDS) {
    const present = new Set(now[kind]);
    for (const id of lock.published[kind]) {
      const where = today[kind](id);
      if (where === null || present.has(where)) continue;
      const migrated = lock.migrations.some((m) => m.kind === kind && m.from === id);
      problems.push(
        migrated
          ? `${file}: the migration of the ${kind} '${id}' leads to '${where}', which the course does not have (write it like '${SHAPE[kind]}').`
          : `${file}: the ${kind} '${id}' is published and learners may hold credit for it, but the course no longer has it. ` +
              `If you renamed it, add { "kind": "${kind}", "from": "${id}", "to": "<its new id>", "why": "…" } to "migrations" and earned credit follows it; ` +
              `if you removed it, add the same with "to": null, and nothing earns that credit any more.`,
      );
    }
  }
  return problems;
}

/** "saga/happy-path" → ["saga", "happy-path"]: an item or check id under its milestone or lab. */
const halves = (id: string): [string, string] => [id.slice(0, id.indexOf("/")), id.slice(id.indexOf("/") + 1)];
const joined = <T>(value: T | null, join: (v: T) => string): string | null => (value === null ? null : join(value));

/** Ids of the course that were never published: an author's note, not a problem. */
export function unpublished(lock: CourseLock | null, now: CourseIds): string[] {
  return KINDS.flatMap((kind) => now[kind].filter((id) => !lock?.published[kind].includes(id)).map((id) => `${kind} ${id}`));
}

/** The lock after publishing `now`: every id ever published stays listed, so a later removal is seen. */
export function publish(lock: CourseLock | null, now: CourseIds): CourseLock {
  const published = Object.fromEntries(KINDS.map((k) => [k, [...new Set([...(lock?.published[k] ?? []), ...now[k]])]])) as Record<Kind, string[]>;
  return {
    $comment: "The ids learners can hold credit for. Written by `npm run content:publish`; edit only \"migrations\" (docs/authoring-lessons.md, \"Renaming what learners earned\").",
    published,
    migrations: lock?.migrations ?? [],
  };
}

export function writeLock(courseDir: string, lock: CourseLock): void {
  writeFileSync(path.join(courseDir, LOCK_FILE), `${JSON.stringify(lock, null, 2)}\n`);
}

/**
 * Reads old evidence under today's ids: a renamed id becomes its new one (following chains), a
 * removed one becomes null. Ids of a course without migrations come back unchanged.
 */
export interface IdTranslation {
  milestone(id: string): string | null;
  item(milestoneId: string, itemId: string): { milestoneId: string; itemId: string } | null;
  lesson(id: string): string | null;
  lab(id: string): string | null;
  check(labId: string, checkId: string): string | null;
}

export function translateIds(migrations: Migration[]): IdTranslation {
  const maps = new Map<Kind, Map<string, string | null>>(KINDS.map((k) => [k, new Map(migrations.filter((m) => m.kind === k).map((m) => [m.from, m.to]))]));
  const follow = (kind: Kind, id: string): string | null => {
    const map = maps.get(kind)!;
    let current: string | null = id;
    for (let hops = 0; current !== null && map.has(current) && hops < 64; hops++) current = map.get(current)!;
    return current;
  };
  const split = (id: string | null) => (id === null ? null : (([head, tail]) => ({ head, tail }))(halves(id)));
  return {
    milestone: (id) => follow("milestone", id),
    item(milestoneId, itemId) {
      const milestone = follow("milestone", milestoneId);
      const moved = split(milestone === null ? null : follow("item", `${milestone}/${itemId}`));
      return moved ? { milestoneId: moved.head, itemId: moved.tail } : null;
    },
    lesson: (id) => follow("lesson", id),
    lab: (id) => follow("lab", id),
    check(labId, checkId) {
      // A check's own migration is written under the lab id it had; then its lab may have moved.
      const own = split(follow("check", `${labId}/${checkId}`));
      if (!own) return null;
      const lab = follow("lab", own.head);
      const moved = split(lab === null ? null : follow("check", `${lab}/${own.tail}`));
      return moved && moved.head === lab ? moved.tail : null;
    },
  };
}

let cached: { file: string; mtimeMs: number; translation: IdTranslation } | undefined;

/** The translation of the course in `courseDir` (its lock's migrations), re-read when the lock changes. */
export function currentTranslation(courseDir: string): IdTranslation {
  const file = path.join(courseDir, LOCK_FILE);
  const mtimeMs = existsSync(file) ? statSync(file).mtimeMs : 0;
  if (cached?.file !== file || cached.mtimeMs !== mtimeMs) cached = { file, mtimeMs, translation: translateIds(readLock(courseDir)?.migrations ?? []) };
  return cached.translation;
}
