/**
 * A learner's code for a lab, kept on the server so it survives a reload, another browser and a
 * server restart. Only the lab's editable files are stored; read-only files always come from the
 * lab's starter, so an author's fix to them reaches everyone. Every save that changes something
 * sets the previous content aside as a DraftVersion (the last HISTORY_KEEP are kept), so neither
 * "reset to starter" nor a bad autosave can lose work.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Db } from "../db/client.ts";
import { labFiles, type LoadedLab } from "../labs/loader.ts";
import { RequestError } from "../errors.ts";

export const DRAFT_LIMITS = { fileBytes: 200_000, totalBytes: 600_000 };
export const HISTORY_KEEP = 20;

export interface DraftState {
  /** Every file of the lab, read-only ones included, by path. */
  files: Record<string, string>;
  version: number;
  updatedAt: Date | null;
  source: "draft" | "starter";
}

export class DraftInputError extends RequestError {
  override name = "DraftInputError";
  constructor(message: string) {
    super(422, message);
  }
}

export const starterFiles = (loaded: LoadedLab): Record<string, string> => labFiles(loaded, "starter");

/** The editable files of `input`, checked against the lab: known paths, strings, within size limits. */
export function editableFiles({ lab }: LoadedLab, input: unknown): Record<string, string> {
  if (typeof input !== "object" || input === null || Array.isArray(input)) throw new DraftInputError("Send files as an object of { path: content }.");
  const editable = new Set(lab.files.filter((f) => f.editable).map((f) => f.path));
  const out: Record<string, string> = {};
  let total = 0;
  for (const [file, content] of Object.entries(input)) {
    if (!lab.files.some((f) => f.path === file))
      throw new DraftInputError(`This lab has no file '${file.slice(0, 100)}'; its files are ${lab.files.map((f) => f.path).join(", ")}.`);
    if (!editable.has(file)) continue; // read-only files are the starter's, whatever the browser sends
    if (typeof content !== "string") throw new DraftInputError(`The content of '${file}' must be text.`);
    const bytes = Buffer.byteLength(content);
    if (bytes > DRAFT_LIMITS.fileBytes)
      throw new DraftInputError(`'${file}' is ${Math.round(bytes / 1000)} kB; a lab file may be at most ${DRAFT_LIMITS.fileBytes / 1000} kB.`);
    total += bytes;
    out[file] = content;
  }
  if (total > DRAFT_LIMITS.totalBytes)
    throw new DraftInputError(`Your files add up to ${Math.round(total / 1000)} kB; a draft may be at most ${DRAFT_LIMITS.totalBytes / 1000} kB.`);
  return out;
}

function parseStored(json: string): Record<string, string> {
  try {
    const parsed: unknown = JSON.parse(json);
    return typeof parsed === "object" && parsed !== null ? (parsed as Record<string, string>) : {};
  } catch {
    return {};
  }
}

/** Stored editable files over the starter; a file the author added since shows its starter. */
function merge(loaded: LoadedLab, stored: Record<string, string>): Record<string, string> {
  const starter = starterFiles(loaded);
  const editable = new Set(loaded.lab.files.filter((f) => f.editable).map((f) => f.path));
  return Object.fromEntries(
    Object.entries(starter).map(([file, content]) => [file, editable.has(file) && typeof stored[file] === "string" ? stored[file] : content]),
  );
}

export async function loadDraft(db: Db, userId: string, loaded: LoadedLab): Promise<DraftState> {
  const row = await db.draft.findUnique({ where: { userId_labId: { userId, labId: loaded.lab.id } } });
  if (!row) return { files: starterFiles(loaded), version: 0, updatedAt: null, source: "starter" };
  return { files: merge(loaded, parseStored(row.files)), version: row.version, updatedAt: row.updatedAt, source: "draft" };
}

const sameFiles = (a: Record<string, string>, b: Record<string, string>) =>
  JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());

/**
 * Replaces the draft with `files`, setting the old content aside. Two browsers saving at once both
 * land, one after the other (the loser of the version race retries), and neither is lost.
 */
async function write(
  db: Db,
  userId: string,
  loaded: LoadedLab,
  files: Record<string, string>,
  reason: "autosave" | "reset",
): Promise<{ version: number; updatedAt: Date }> {
  const labId = loaded.lab.id;
  const json = JSON.stringify(files);
  for (let attempt = 0; ; attempt++) {
    const result = await db
      .$transaction(async (tx) => {
        const current = await tx.draft.findUnique({ where: { userId_labId: { userId, labId } } });
        const now = new Date();
        if (!current) {
          const created = await tx.draft.create({ data: { userId, labId, files: json, version: 1, updatedAt: now } });
          return { version: created.version, updatedAt: created.updatedAt };
        }
        if (reason === "autosave" && sameFiles(parseStored(current.files), files)) return { version: current.version, updatedAt: current.updatedAt };
        const moved = await tx.draft.updateMany({
          where: { userId, labId, version: current.version },
          data: { files: json, version: current.version + 1, updatedAt: now },
        });
        if (moved.count === 0) return null;
        await tx.draftVersion.upsert({
          where: { userId_labId_version: { userId, labId, version: current.version } },
          create: { userId, labId, version: current.version, files: current.files, savedAt: current.updatedAt, reason },
          update: {},
        });
        await tx.draftVersion.deleteMany({ where: { userId, labId, version: { lte: current.version - HISTORY_KEEP } } });
        return { version: current.version + 1, updatedAt: now };
      })
      .catch((error: unknown) => {
        // Another window created the draft first (unique key): go round and update it instead.
        if ((error as { code?: string }).code === "P2002") return null;
        throw error;
      });
    if (result) return result;
    if (attempt >= 20) throw new Error("Your draft changed in another window while saving; reload to see the latest.");
    // Lost the race to another window: step aside for a random moment so the two stop colliding.
    await sleep(5 + Math.random() * 25 * Math.min(attempt + 1, 4));
  }
}

export async function saveDraft(db: Db, userId: string, loaded: LoadedLab, input: unknown): Promise<{ version: number; updatedAt: Date }> {
  const current = await loadDraft(db, userId, loaded);
  const editable = Object.fromEntries(Object.entries(current.files).filter(([file]) => loaded.lab.files.some((f) => f.path === file && f.editable)));
  return write(db, userId, loaded, { ...editable, ...editableFiles(loaded, input) }, "autosave");
}

/** Back to the starter; the draft it replaces stays in the history. */
export async function resetDraft(db: Db, userId: string, loaded: LoadedLab): Promise<DraftState> {
  const starter = editableFiles(loaded, starterFiles(loaded));
  const saved = await write(db, userId, loaded, starter, "reset");
  return { files: starterFiles(loaded), version: saved.version, updatedAt: saved.updatedAt, source: "starter" };
}

export async function draftHistory(db: Db, userId: string, labId: string): Promise<{ version: number; savedAt: Date; reason: string }[]> {
  return db.draftVersion.findMany({ where: { userId, labId }, orderBy: { version: "desc" }, select: { version: true, savedAt: true, reason: true } });
}

export async function draftVersionFiles(db: Db, userId: string, loaded: LoadedLab, version: number): Promise<Record<string, string> | null> {
  const row = await db.draftVersion.findUnique({ where: { userId_labId_version: { userId, labId: loaded.lab.id, version } } });
  return row ? merge(loaded, parseStored(row.files)) : null;
}
