/**
 * Proves a lab (STYLE.md "Prove every lab"): its solution passes every check, its starter fails
 * at least one (and builds), and each wrong/ variant fails the check it names. A wrong/ folder
 * holds only the files that differ; the rest come from solution/.
 */
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import type { CheckResult, GradeResult } from "./result.ts";
import type { LabChecks } from "./define.ts";
import { closest, type LoadedLab } from "../labs/loader.ts";
import type { Lab } from "../labs/schema.ts";

export interface Variant {
  name: string;
  files: Record<string, string>;
  /** What the variant must do to prove the lab. */
  expect: { kind: "pass" } | { kind: "fail-any" } | { kind: "fail-check"; check: string; why: string };
}

function listFiles(dir: string, prefix = ""): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const full = path.join(dir, entry);
    return statSync(full).isDirectory() ? listFiles(full, `${prefix}${entry}/`) : [`${prefix}${entry}`];
  });
}

function read(dir: string, names: string[]): Record<string, string> {
  return Object.fromEntries(names.map((name) => [name, readFileSync(path.join(dir, name), "utf8")]));
}

export function labVariants({ lab, dir }: LoadedLab): Variant[] {
  const names = lab.files.map((f) => f.path);
  const solution = read(path.join(dir, "solution"), names);
  const variants: Variant[] = [
    { name: "solution", files: solution, expect: { kind: "pass" } },
    { name: "starter", files: read(path.join(dir, "starter"), names), expect: { kind: "fail-any" } },
  ];
  for (const wrong of lab.wrong) {
    const wdir = path.join(dir, "wrong", wrong.dir);
    const overrides = existsSync(wdir) ? listFiles(wdir) : [];
    const stray = overrides.filter((f) => !names.includes(f));
    if (stray.length > 0)
      throw new Error(
        `labs/${lab.slug}/wrong/${wrong.dir}: ${stray.join(", ")} is not one of the lab's files (${names.join(", ")}); a wrong/ variant may only replace those.`,
      );
    if (overrides.length === 0)
      throw new Error(`labs/${lab.slug}/wrong/${wrong.dir}: holds no files; put the variant's version of ${names.join(" or ")} in it.`);
    variants.push({
      name: `wrong/${wrong.dir}`,
      files: { ...solution, ...read(wdir, overrides) },
      expect: { kind: "fail-check", check: wrong.catches, why: wrong.why },
    });
  }
  return variants;
}

const brief = (c: CheckResult) => `${c.id}: ${c.status}${c.message ? ` — ${c.message}` : ""}`;

/** Null when the result proves what the variant must; otherwise why not, with the evidence. */
export function judgeVariant(variant: Variant, result: GradeResult): string | null {
  const detail = () => [result.message, ...result.checks.map(brief)].filter(Boolean).join("\n    ");
  switch (variant.expect.kind) {
    case "pass":
      return result.status === "pass" ? null : `the solution must pass every check, but the run ended ${result.status}:\n    ${detail()}`;
    case "fail-any":
      return result.status === "fail" ? null : `the starter must build and fail at least one check, but the run ended ${result.status}:\n    ${detail()}`;
    case "fail-check": {
      const { check, why } = variant.expect;
      const named = result.checks.find((c) => c.id === check);
      if (named?.status === "fail") return null;
      return `this variant (${why}) must fail the check '${check}', but it ${named ? `ended ${named.status}` : "did not run"}:\n    ${detail()}`;
    }
  }
}

/**
 * Where lab.json's checks and checks.ts's keys disagree, each with its likely fix: a key that is
 * misspelt is named as such, before any sandbox runs, rather than reported as a missing check.
 */
export function checkKeyProblems(lab: Pick<Lab, "checks">, definition: LabChecks, where: string): string[] {
  const declared = lab.checks.map((c) => c.id);
  const implemented = Object.keys(definition.checks);
  const missing = declared.filter((id) => !implemented.includes(id));
  const extra = implemented.filter((key) => !declared.includes(key));
  const problems: string[] = [];
  for (const key of extra) {
    const near = closest(key, missing);
    problems.push(
      near
        ? `${where}: the key '${key}' is not a check in lab.json; did you mean '${near}'?`
        : `${where}: the key '${key}' is not a check in lab.json (its checks: ${declared.join(", ")}); add it to lab.json's checks or remove it.`,
    );
  }
  const named = new Set(problems.map((p) => /did you mean '([^']+)'/.exec(p)?.[1]));
  for (const id of missing)
    if (!named.has(id))
      problems.push(`${where}: lab.json declares the check '${id}', but checks.ts does not implement it; add '${id}': async (t) => { … } to its checks.`);
  return problems;
}

/**
 * The variants `--variant` and `--check` select: by name (solution, starter, wrong/x or x), and
 * for a check, the solution and starter with the wrong variants it catches. Unknown names are
 * returned, not dropped, so a typo is an error rather than an empty proof.
 */
export function pickVariants(variants: Variant[], { names, check }: { names?: string[]; check?: string }): { variants: Variant[]; unknown: string[] } {
  const wanted = names?.map((n) => (n === "solution" || n === "starter" || n.startsWith("wrong/") ? n : `wrong/${n}`));
  const unknown = (wanted ?? []).filter((n) => !variants.some((v) => v.name === n));
  const picked = variants.filter((v) => {
    if (wanted && !wanted.includes(v.name)) return false;
    if (check && v.expect.kind === "fail-check") return v.expect.check === check;
    // Alone, one check says nothing about the starter (it may pass that one); named, it runs.
    if (check && v.expect.kind === "fail-any") return Boolean(wanted);
    return true;
  });
  return { variants: picked, unknown };
}

/**
 * The kind of fault a command log's fault entry is, as labs:verify reports it ("crash point",
 * "latency"), or null for entries that undo faults (heal, reset, resume) or are not faults.
 * Kinds come from what the run actually injected, not from what a lab says it does.
 */
export function faultKind(fault: string): string | null {
  const rules: [RegExp, string | null][] = [
    [/^latency 0±0ms$/, null],
    [/^latency /, "latency"],
    [/^failNext 0\b/, null],
    [/^failNext/, "failed command"],
    [/^duplicateNext 0\b/, null],
    [/^duplicate/, "duplicated command"],
    [/^dropReplies 0\b/, null],
    [/^dropRepl/, "dropped reply"],
    [/^fragment off$/, null],
    [/^fragment /, "fragmented replies"],
    [/^cutAll/, "cut connections"],
    [/^partition/, "partition"],
    [/^stall/, "stall"],
    [/^redis replaced/, "Redis replaced"],
    [/^crash point/, "crash point"],
    [/^kill /, "kill"],
    [/^pause /, "pause"],
    [/^SIG[A-Z]+ /, "signal"],
    [/^handler /, "failing handler"],
    // The chaos dependency's own marks ("dependency pricing: failNext 3 × 503"), then t.fault's.
    [/^dependency [^:\s]+: (heal|up|latency 0±0ms|failNext 0 |hang 0$|reset 0$)/, null],
    [/^dependency [^:\s]+: latency /, "dependency latency"],
    [/^dependency [^:\s]+: failNext /, "dependency error status"],
    [/^dependency [^:\s]+: hang/, "dependency hang"],
    [/^dependency [^:\s]+: reset /, "dependency reset"],
    [/^dependency [^:\s]+: down/, "dependency down"],
    [/^dependency /, "failing dependency"],
  ];
  return rules.find(([pattern]) => pattern.test(fault))?.[1] ?? null;
}

/** What a lab's proof showed about it: its wrong variants, the faults its checks inject, its pace. */
export interface LabSummary {
  variants: number;
  faults: Set<string>;
  /** Every check's time in the solution's runs. */
  checkMs: number[];
}

export function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
