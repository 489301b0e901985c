/**
 * The live view's command log: the chaos proxy's entries (the learner's commands, and conn-0
 * markers for kills, pauses and faults) batched into `commands` run events a few times a second.
 * Bounded per run, so a learner looping on INCR cannot flood the event stream: past the cap the
 * feed says so once and the rest is dropped (the grader still sees everything).
 */
import type { CommandEntry, RunEvent } from "./events.ts";
import type { ChaosProxy, CommandLogEntry } from "../runner/chaos-proxy.ts";

export const COMMAND_FEED_LIMITS = { entries: 3000, flushMs: 200, argChars: 120, args: 12 };

const clip = (s: string) => (s.length > COMMAND_FEED_LIMITS.argChars ? `${s.slice(0, COMMAND_FEED_LIMITS.argChars)}…` : s);

export function toCommandEntry(e: CommandLogEntry, offsetMs: number): CommandEntry {
  const args = e.args.slice(0, COMMAND_FEED_LIMITS.args).map(clip);
  if (e.args.length > COMMAND_FEED_LIMITS.args) args.push(`… ${e.args.length - COMMAND_FEED_LIMITS.args} more`);
  const entry: CommandEntry = { seq: e.seq, conn: e.conn, at: Math.round(e.at + offsetMs), args };
  if (e.reply) entry.reply = { type: e.reply.type, summary: clip(e.reply.summary) };
  if (e.fault) entry.fault = e.fault;
  if (e.durationMs !== undefined) entry.durationMs = Math.round(e.durationMs * 10) / 10;
  if (e.owner) entry.owner = e.owner;
  return entry;
}

/**
 * Starts feeding; `offsetMs` moves the proxy's clock onto the run's (ms from the run's start).
 * The proxy emits a command once it is answered, so entries arrive in completion order; `seq`
 * gives the order they were sent in.
 */
export function feedCommands(proxy: ChaosProxy, emit: (event: RunEvent) => void, offsetMs: number, checkOf: () => string | null = () => null): () => void {
  let pending: CommandEntry[] = [];
  let sent = 0;
  let capped = false;
  const listener = (e: CommandLogEntry) => {
    if (capped) return;
    if (sent + pending.length >= COMMAND_FEED_LIMITS.entries) {
      capped = true;
      emit({ type: "log", stream: "grader", text: `The live command log stops after ${COMMAND_FEED_LIMITS.entries} commands; grading still sees them all.` });
      return;
    }
    const entry = toCommandEntry(e, offsetMs);
    const check = checkOf();
    if (check) entry.check = check;
    pending.push(entry);
  };
  const flush = () => {
    if (pending.length === 0) return;
    sent += pending.length;
    emit({ type: "commands", entries: pending });
    pending = [];
  };
  proxy.on("command", listener);
  const timer = setInterval(flush, COMMAND_FEED_LIMITS.flushMs);
  return () => {
    clearInterval(timer);
    proxy.off("command", listener);
    flush();
  };
}
