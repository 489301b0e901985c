/**
 * Run events: one Redis stream per run, appended by the runner and read by the SSE handler from
 * any point. Stream ids are the SSE event ids, so a browser that reconnects with Last-Event-ID
 * resumes exactly after the last event it saw, whichever web replica it lands on.
 */
import type { Redis } from "ioredis";
import type { RedisKeys } from "../redis/keys.ts";
import type { CommandLogEntry } from "../runner/chaos-proxy.ts";
import type { KeySnapshot } from "../runner/snapshot.ts";

export type { KeySnapshot };

/** One command of the run's log, as the chaos proxy recorded it, on the run's clock. */
export type CommandEntry = Omit<CommandLogEntry, "faultDelayMs">;

export type RunEvent =
  | { type: "queued" }
  /** A runner picked the run up and is building it. */
  | { type: "started" }
  | { type: "build"; ok: boolean; ms: number; diagnostics?: { file: string; line: number; column: number; message: string }[] }
  | { type: "check-start"; id: string; title: string }
  | { type: "log"; stream: "stdout" | "stderr" | "grader"; text: string; check?: string }
  | { type: "check-end"; id: string; status: "pass" | "fail" | "error"; message?: string; expected?: string; actual?: string; hint?: string; ms: number }
  | { type: "snapshot"; at: number; keys: KeySnapshot[] }
  /** The learner's Redis commands as the chaos proxy saw them, batched; conn 0 entries mark faults and kills. */
  | { type: "commands"; entries: CommandEntry[] }
  | { type: "end"; status: "pass" | "fail" | "error"; seed: number; message?: string; ms: number; timings?: Record<string, number> }
  | { type: "cancelled"; message: string };

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

function decode(entries: [string, string[]][]): StoredEvent[] {
  return entries.flatMap(([id, fields]) => {
    const raw = fields[fields.indexOf("e") + 1];
    if (raw === undefined) return [];
    try {
      return [{ id, event: JSON.parse(raw) as RunEvent }];
    } catch {
      return [];
    }
  });
}

/** Events after `afterId` (exclusive; "0" for all), waiting up to blockMs for new ones when none are ready. */
export async function readEvents(redis: Redis, keys: RedisKeys, runId: string, afterId = "0", blockMs = 0, count = 200): Promise<StoredEvent[]> {
  const key = keys.runEvents(runId);
  const reply = blockMs > 0
    ? await redis.xread("COUNT", count, "BLOCK", blockMs, "STREAMS", key, afterId)
    : await redis.xread("COUNT", count, "STREAMS", key, afterId);
  return reply ? decode(reply[0]![1]) : [];
}

/** Valid stream ids only, so a forged Last-Event-ID cannot make XREAD fail. */
export function parseLastEventId(value: string | null): string {
  return value && /^\d{1,20}-\d{1,20}$/.test(value) ? value : "0";
}
