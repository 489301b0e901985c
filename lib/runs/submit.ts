/**
 * Starting a run: the web's whole part of pressing Run or Check. The learner's files are checked
 * against the lab and completed from its starter/, so the runner always receives a full set and
 * a read-only file (a test helper, a type the checks rely on) is never the learner's version.
 */
import type { Redis } from "ioredis";
import { z } from "zod";
import type { Db } from "../db/client.ts";
import type { Lab } from "../labs/schema.ts";
import { labFiles, type LoadedLab } from "../labs/loader.ts";
import type { RedisKeys } from "../redis/keys.ts";
import { enforce } from "../redis/rate-limit.ts";
import { checkFiles, type Diagnostic } from "../runner/files.ts";
import { enqueueRun, laneOf, type RunQueues } from "./dispatch.ts";
import { publishCancel } from "./cancel.ts";
import { CANCELLED_BY_LEARNER } from "./messages.ts";
import { appendEvent } from "./events.ts";
import { cancelOtherRuns, cancelRun, createSubmission } from "./store.ts";
import { RequestError } from "../errors.ts";

export const RunRequestSchema = z.object({
  lab: z.string({ error: "Name the lab to run." }).min(1).max(100).describe("The lab's id or slug, e.g. priority-queue."),
  files: z
    .record(z.string(), z.string(), { error: "Send files as an object of { path: content }." })
    .describe("The learner's editable files by path; missing ones are taken from the lab's starter/."),
  mode: z.enum(["run", "check"]).default("check").describe("run: run the learner's code; check: also grade it against the lab's checks. @default check"),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .optional()
    .describe("Seed for the checks' randomness and fault injection, to replay a run exactly. @default chosen by the runner"),
});

export type RunRequest = z.infer<typeof RunRequestSchema>;

/** A request the learner can fix; `status` is its HTTP status at the edge. */
export class RunRequestError extends RequestError {
  override name = "RunRequestError";
  constructor(
    override readonly status: 403 | 404 | 409 | 413 | 422,
    message: string,
    readonly diagnostics?: Diagnostic[],
  ) {
    super(status, message, diagnostics ? { diagnostics } : {});
  }
}

export interface SubmitDeps {
  db: Db;
  redis: Redis;
  keys: RedisKeys;
  /** One queue per lane: checks never wait behind playground runs. */
  queues: RunQueues;
  labs: () => LoadedLab[];
  limits: { perMinute: number };
}

export function findLab(labs: LoadedLab[], ref: string): LoadedLab {
  const found = labs.find(({ lab }) => lab.id === ref) ?? labs.find(({ lab }) => lab.slug === ref);
  if (!found) throw new RunRequestError(404, `There is no lab "${ref}". Open the lab from the course page and run it again.`);
  return found;
}

/**
 * The files to run: the learner's editable ones, the rest from starter/. Unknown names are refused
 * (they would be silently dropped otherwise); read-only files sent are ignored on purpose.
 */
export function assembleFiles(lab: Lab, sent: Record<string, string>, starter: Record<string, string>, sentNames = Object.keys(sent)): Record<string, string> {
  const editable = lab.files.filter((f) => f.editable).map((f) => f.path);
  const unknown = sentNames.filter((name) => !lab.files.some((f) => f.path === name));
  if (unknown.length > 0) {
    const names =
      unknown
        .slice(0, 5)
        .map((n) => `"${n.slice(0, 100)}"`)
        .join(", ") + (unknown.length > 5 ? ` and ${unknown.length - 5} more` : "");
    throw new RunRequestError(
      422,
      `${names} ${unknown.length === 1 ? "is not a file" : "are not files"} of lab "${lab.id}"; send only its editable files: ${editable.join(", ")}.`,
    );
  }
  return Object.fromEntries(lab.files.map((f) => [f.path, (f.editable ? sent[f.path] : undefined) ?? starter[f.path] ?? ""]));
}

/**
 * Every file name the request sent, as JSON.parse kept them. Zod's record drops a "__proto__" key
 * without a word (copying it would replace the result's prototype), so the names are taken from
 * the raw input: such a name is then refused like any other that is not a file of the lab.
 */
function sentFileNames(input: unknown): string[] {
  const files = (input as { files?: unknown } | null)?.files;
  return typeof files === "object" && files !== null ? Object.keys(files) : [];
}

const minute = 60_000;

export async function submitRun(deps: SubmitDeps, user: { id: string }, input: unknown): Promise<{ id: string; lab: string; mode: RunRequest["mode"] }> {
  const request = RunRequestSchema.parse(input);
  const loaded = findLab(deps.labs(), request.lab);
  const files = assembleFiles(loaded.lab, request.files, labFiles(loaded, "starter"), sentFileNames(input));
  const problems = checkFiles(files);
  if (problems.length > 0) throw new RunRequestError(422, problems.map((p) => p.message).join(" "), problems);
  // Counted only once the request is valid: a learner fixing a bad request is not locked out.
  await enforce(deps.redis, deps.keys, [[{ bucket: "runs", max: deps.limits.perMinute, windowMs: minute }, user.id]]);

  const { id } = await createSubmission(deps.db, { userId: user.id, labId: loaded.lab.id, mode: request.mode, files, seed: request.seed });
  await publishCancel(deps.redis, deps.keys, await cancelOtherRuns(deps.db, user.id, id));
  // If queuing fails below, the row stays queued until the learner's next run cancels it.
  await appendEvent(deps.redis, deps.keys, id, { type: "queued" });
  await enqueueRun(deps.queues[laneOf(request.mode)], id);
  return { id, lab: loaded.lab.id, mode: request.mode };
}

/** The learner pressed Cancel: the row ends cancelled, viewers are told and the runner stops it. */
export async function cancelOwnRun(deps: Pick<SubmitDeps, "db" | "redis" | "keys">, user: { id: string }, runId: string): Promise<void> {
  if (!(await cancelRun(deps.db, user.id, runId))) throw new RunRequestError(409, "This run has already ended, or it is not yours.");
  await publishCancel(deps.redis, deps.keys, [runId], CANCELLED_BY_LEARNER);
}
