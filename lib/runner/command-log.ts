/**
 * One entry of a run's command log, as the chaos proxy records it and the live view reads it back
 * from the run's event stream. Pure (no Node APIs), so the browser imports the same schema.
 */
import { z } from "zod";
import { lenientArray } from "./lenient.ts";

export const CommandLogEntrySchema = z.object({
  seq: z.number().refine(Number.isFinite),
  /** Connection id (from 1); 0 for proxy-wide fault entries. */
  conn: z.number(),
  /** ms since start(), performance.now based. */
  at: z.number().catch(0),
  /** First arg upper-cased; values longer than 200 bytes truncated with '…'. */
  args: lenientArray(z.string()),
  reply: z.object({ type: z.string(), summary: z.string() }).optional(),
  fault: z.string().optional(),
  /** Time from the command arriving to its reply being fully written to the client. */
  durationMs: z.number().optional(),
  /** Latency the PRNG chose for this reply; deterministic for a given seed and command sequence. */
  faultDelayMs: z.number().optional(),
  /** The learner program whose connection sent it (its name), when it came in through that program's own socket. */
  owner: z.string().optional(),
});

export type CommandLogEntry = z.output<typeof CommandLogEntrySchema>;
