/**
 * One result shape everywhere (STYLE.md "Prove every lab"): `fail` is the learner's code,
 * `error` is compile errors, timeouts of the platform and infrastructure, never blamed on them.
 */
import { z } from "zod";

export const VerdictSchema = z.enum(["pass", "fail", "error"]);
export type Verdict = z.infer<typeof VerdictSchema>;

export interface CheckResult {
  id: string;
  title: string;
  status: Verdict;
  message?: string;
  expected?: string;
  actual?: string;
  hint?: string;
  /** What the learner's processes printed during this check (capped). */
  output?: string;
  durationMs: number;
}

export interface GradeResult {
  status: Verdict;
  seed: number;
  message?: string;
  durationMs: number;
  checks: CheckResult[];
}

export interface FailureDetails {
  message: string;
  expected?: unknown;
  actual?: unknown;
  hint?: string;
}

const show = (v: unknown): string | undefined => {
  if (v === undefined) return undefined;
  if (typeof v === "string") return v;
  try {
    const text = JSON.stringify(v);
    return text.length > 2000 ? `${text.slice(0, 2000)}…` : text;
  } catch {
    return String(v);
  }
};

/** The learner's code did something wrong: what happened, what was expected, what to change. */
export class CheckFailure extends Error {
  override name = "CheckFailure";
  readonly expected?: string;
  readonly actual?: string;
  readonly hint?: string;
  constructor(details: FailureDetails) {
    super(details.message);
    this.expected = show(details.expected);
    this.actual = show(details.actual);
    this.hint = details.hint;
  }
}

/** Something outside the learner's code broke: the check itself, Redis, the sandbox. */
export class GraderError extends Error {
  override name = "GraderError";
}

export function verdictOf(checks: CheckResult[]): Verdict {
  if (checks.some((c) => c.status === "error")) return "error";
  if (checks.some((c) => c.status === "fail")) return "fail";
  return "pass";
}
