/**
 * Run events: one Redis stream per run, appended by the runner and read by the SSE handler from
 * any point. Stream ids are the SSE event ids, so a browser that reconnects with Last-Event-ID
 * resumes exactly after the last event it saw, whichever web replica it lands on.
 */
import type { Redis } from "ioredis";
import type { RedisKeys } from "../redis/keys.ts";
import type { RunView } from "./store.ts";
import { CANCELLED } from "./messages.ts";
import type { KeySnapshot } from "../runner/snapshot.ts";
import { readRunEvent, type CommandEntry, type RunEvent } from "./event-schema.ts";

export type { CommandEntry, KeySnapshot, RunEvent };

export interface StoredEvent {
  id: string;
  event: RunEvent;
}

/** Events of a finished run stay readable this long, for reconnects and late viewers. @default 1 hour */
export const RUN_EVENTS_TTL_SECONDS = 3600;
/** A run cannot flood Redis: older events beyond this are trimmed (the end event is always last). */
export const RUN_EVENTS_MAX = 5000;

export async function appendEvent(redis: Redis, keys: RedisKeys, runId: string, event: RunEvent): Promise<string> {
  const key = keys.runEvents(runId);
  const [[, id] = []] = (await redis
    .multi()
    .xadd(key, "MAXLEN", "~", String(RUN_EVENTS_MAX), "*", "e", JSON.stringify(event))
    .expire(key, RUN_EVENTS_TTL_SECONDS)
    .exec()) as [Error | null, string][];
  return id as string;
}

/** Appends several events in one round trip, in order. */
export async function appendEvents(redis: Redis, keys: RedisKeys, runId: string, events: RunEvent[]): Promise<void> {
  if (events.length === 0) return;
  const key = keys.runEvents(runId);
  const multi = redis.multi();
  for (const event of events) multi.xadd(key, "MAXLEN", "~", String(RUN_EVENTS_MAX), "*", "e", JSON.stringify(event));
  multi.expire(key, RUN_EVENTS_TTL_SECONDS);
  const replies = (await multi.exec()) ?? [];
  const failed = replies.find(([error]) => error);
  if (failed) throw failed[0]!;
}

/** A stream entry as XREAD and XRANGE return it: its id and its field/value list. */
export type StreamEntry = [id: string, fields: string[]];

/** Entries as run events; an entry that is not one (a foreign field, bad JSON) is skipped. */
export function decodeEntries(entries: StreamEntry[]): StoredEvent[] {
  return entries.flatMap(([id, fields]) => {
    const raw = fields[fields.indexOf("e") + 1];
    if (raw === undefined) return [];
    try {
      const event = readRunEvent(JSON.parse(raw));
      return event ? [{ id, event }] : [];
    } catch {
      return [];
    }
  });
}

/** Events after `afterId` (exclusive; "0" for all), waiting up to blockMs for new ones when none are ready. */
export async function readEvents(redis: Redis, keys: RedisKeys, runId: string, afterId = "0", blockMs = 0, count = 200): Promise<StoredEvent[]> {
  const key = keys.runEvents(runId);
  const reply =
    blockMs > 0 ? await redis.xread("COUNT", count, "BLOCK", blockMs, "STREAMS", key, afterId) : await redis.xread("COUNT", count, "STREAMS", key, afterId);
  return reply ? decodeEntries(reply[0]![1]) : [];
}

/**
 * Where the run's stream ends: its last entry's id and event (null if that entry is not a run
 * event), or null when the stream does not exist (expired, or never written).
 */
/** The final event of a finished run, rebuilt from its row for when its stream has expired; null while it is live. */
export function finalEvent<T extends Pick<RunView, "status" | "seed" | "message" | "durationMs">>(run: T | null): RunEvent | null {
  if (!run || run.status === "queued" || run.status === "running") return null;
  if (run.status === "cancelled") return { type: "cancelled", message: run.message ?? CANCELLED };
  return { type: "end", status: run.status, seed: run.seed ?? 0, ...(run.message ? { message: run.message } : {}), ms: run.durationMs ?? 0 };
}

/**
 * Makes a finished run's stream end with its final event. A runner killed between storing a
 * result and announcing it leaves a stored run whose stream never ends; the runner that then
 * picks up the stalled job (and finds the run already ended) announces it from the row, once.
 */
export async function announceEnded(
  redis: Redis,
  keys: RedisKeys,
  runId: string,
  run: Pick<RunView, "status" | "seed" | "message" | "durationMs"> | null,
): Promise<boolean> {
  const final = finalEvent(run);
  if (!final) return false;
  const last = await lastEvent(redis, keys, runId);
  if (last?.event && (last.event.type === "end" || last.event.type === "cancelled")) return false;
  await appendEvent(redis, keys, runId, final);
  return true;
}

export async function lastEvent(redis: Redis, keys: RedisKeys, runId: string): Promise<{ id: string; event: RunEvent | null } | null> {
  const [entry] = await redis.xrevrange(keys.runEvents(runId), "+", "-", "COUNT", 1);
  if (!entry) return null;
  return { id: entry[0], event: decodeEntries([entry])[0]?.event ?? null };
}

const U64_MAX = 2n ** 64n - 1n;

/** A stream id's two parts, or null unless it is one Redis accepts: `<ms>-<seq>`, each an unsigned 64-bit integer. */
function idParts(value: string): [bigint, bigint] | null {
  const match = /^(\d{1,20})-(\d{1,20})$/.exec(value);
  if (!match) return null;
  const parts: [bigint, bigint] = [BigInt(match[1]!), BigInt(match[2]!)];
  return parts[0] <= U64_MAX && parts[1] <= U64_MAX ? parts : null;
}

/**
 * Valid stream ids only, as Redis checks them (20 digits can exceed 2^64-1, which XREAD refuses),
 * so a forged Last-Event-ID cannot make XREAD fail; anything else reads from the start.
 */
export function parseLastEventId(value: string | null): string {
  const parts = value ? idParts(value.trim()) : null;
  return parts ? `${parts[0]}-${parts[1]}` : "0";
}

/** Orders two stream ids as Redis does ("0" is the start); negative when a is earlier. */
export function compareIds(a: string, b: string): number {
  const [am, as] = idParts(a === "0" ? "0-0" : a) ?? [0n, 0n];
  const [bm, bs] = idParts(b === "0" ? "0-0" : b) ?? [0n, 0n];
  return am !== bm ? (am < bm ? -1 : 1) : as === bs ? 0 : as < bs ? -1 : 1;
}
