/**
 * A run event, defined once: the runner appends these to the run's Redis stream as JSON, the SSE
 * handler relays them, and the browser reads them back with `readRunEvent`. Each part lives with
 * the code that produces it (the grader's check events and snapshots, the proxy's command
 * log, the build's diagnostics). Pure, so the browser bundles it.
 */
import { z } from "zod";
import { CheckEndEventSchema, CheckStartEventSchema, LogEventSchema, SnapshotEventSchema } from "../grader/events.ts";
import { VerdictSchema } from "../grader/result.ts";
import { CommandLogEntrySchema } from "../runner/command-log.ts";
import { DiagnosticSchema } from "../runner/files.ts";
import { lenientArray } from "../runner/lenient.ts";

/** A command as the live view gets it; `check` names the check it was sent in (checks run at once, on lanes of their own). */
export const CommandEntrySchema = CommandLogEntrySchema.omit({ faultDelayMs: true }).extend({ check: z.string().optional() });
export type CommandEntry = z.output<typeof CommandEntrySchema>;

export const RunEventSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("queued") }),
  /** A runner picked the run up and is building it. */
  z.object({ type: z.literal("started") }),
  z.object({ type: z.literal("build"), ok: z.boolean(), ms: z.number(), diagnostics: lenientArray(DiagnosticSchema).optional() }),
  CheckStartEventSchema,
  LogEventSchema,
  CheckEndEventSchema,
  SnapshotEventSchema,
  /** The learner's Redis commands as the chaos proxy saw them, batched; conn 0 entries mark faults and kills. */
  z.object({ type: z.literal("commands"), entries: lenientArray(CommandEntrySchema) }),
  z.object({
    type: z.literal("end"),
    status: VerdictSchema.catch("error"),
    seed: z.number().catch(0),
    message: z.string().optional(),
    ms: z.number(),
    timings: z.record(z.string(), z.number()).optional(),
  }),
  z.object({ type: z.literal("cancelled"), message: z.string() }),
]);

export type RunEvent = z.output<typeof RunEventSchema>;

/** A run event from parsed JSON, or null for anything this version cannot show (an unknown type, a broken event). */
export function readRunEvent(raw: unknown): RunEvent | null {
  const parsed = RunEventSchema.safeParse(raw);
  return parsed.success ? parsed.data : null;
}
