/**
 * The events the grader adds to a run's stream: a check starting, a line of output, a check's
 * result, and in the playground a snapshot of the run's Redis. Schemas, not only types, because the browser reads them back from
 * JSON (lib/runs/event-schema.ts composes the whole run event); what a newer server might send
 * differently reads as the nearest thing this version can show.
 */
import { z } from "zod";
import { lenientArray } from "../runner/lenient.ts";
import { KeySnapshotSchema } from "../runner/snapshot.ts";
import { VerdictSchema } from "./result.ts";

export const CheckStartEventSchema = z.object({ type: z.literal("check-start"), id: z.string(), title: z.string().catch("") });

/** A line of output: the learner's (stdout, stderr) or the grader's own; `check` names the check it belongs to. */
export const LogEventSchema = z.object({
  type: z.literal("log"),
  stream: z.enum(["stdout", "stderr", "grader"]).catch("stdout"),
  text: z.string(),
  check: z.string().optional(),
});

export const CheckEndEventSchema = z.object({
  type: z.literal("check-end"),
  id: z.string(),
  /** An unknown status is shown as an error, never as a pass. */
  status: VerdictSchema.catch("error"),
  message: z.string().optional(),
  expected: z.string().optional(),
  actual: z.string().optional(),
  hint: z.string().optional(),
  ms: z.number(),
});

/** The run's Redis at `at` ms on the run's clock (the playground's live view), a bounded sample of its keys. */
export const SnapshotEventSchema = z.object({ type: z.literal("snapshot"), at: z.number(), keys: lenientArray(KeySnapshotSchema) });

export type GradeEvent =
  z.output<typeof CheckStartEventSchema> | z.output<typeof LogEventSchema> | z.output<typeof CheckEndEventSchema> | z.output<typeof SnapshotEventSchema>;
