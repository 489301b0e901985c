/**
 * Proves a lab (STYLE.md "Prove every lab"): its solution passes every check, its starter fails
 * at least one (and builds), and each wrong/ variant fails the check it names. A wrong/ folder
 * holds only the files that differ; the rest come from solution/.
 */
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import type { CheckResult, GradeResult } from "../grader/result.ts";
import type { LoadedLab } from "./loader.ts";

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
    if (stray.length > 0) throw new Error(`labs/${lab.slug}/wrong/${wrong.dir}: ${stray.join(", ")} is not one of the lab's files (${names.join(", ")}); a wrong/ variant may only replace those.`);
    if (overrides.length === 0) throw new Error(`labs/${lab.slug}/wrong/${wrong.dir}: holds no files; put the variant's version of ${names.join(" or ")} in it.`);
    variants.push({ name: `wrong/${wrong.dir}`, files: { ...solution, ...read(wdir, overrides) }, expect: { kind: "fail-check", check: wrong.catches, why: wrong.why } });
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
