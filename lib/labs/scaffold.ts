/**
 * `npm run lab:new <id>`: a new lab folder an instructor can edit, complete from the start: a
 * small but real lab (an atomic counter) whose solution passes, whose starter fails, and whose
 * wrong/ variants (read-modify-write, a per-process count, the wrong key) fail the checks aimed at them, so `labs:verify` proves it
 * before the author changes a line. The templates are in ./template.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { LabSchema, type Lab } from "./schema.ts";

const templates = path.join(import.meta.dirname, "template");
const graderEntry = path.resolve(import.meta.dirname, "../grader/index.ts");

export class ScaffoldError extends Error {
  override name = "ScaffoldError";
}

export interface ScaffoldOptions {
  id: string;
  title?: string;
  milestone?: Lab["milestone"];
}

const template = (name: string) => readFileSync(path.join(templates, name), "utf8");

/** Writes labs/<id>/ and returns its folder; refuses an id that is malformed or taken. */
export function scaffoldLab(labsDir: string, o: ScaffoldOptions): string {
  const dir = path.join(labsDir, o.id);
  const title = o.title ?? o.id.replace(/-/g, " ").replace(/^./, (c) => c.toUpperCase());
  const parsed = LabSchema.safeParse({
    $schema: "../lab.schema.json",
    id: o.id,
    slug: o.id,
    title,
    milestone: o.milestone ?? "M5",
    summary: "Count visits in Redis so that no concurrent call is lost. (Replace with what your lab teaches.)",
    minutes: 15,
    files: [{ path: "counter.ts", editable: true }],
    redis: { allow: "all", budgets: { commands: 5000, connections: 20 } },
    checks: [
      { id: "counts-one-call", title: "One call counts once" },
      { id: "counts-concurrent-calls", title: "100 concurrent calls all count" },
    ],
    wrong: [
      {
        dir: "read-modify-write",
        catches: "counts-concurrent-calls",
        why: "reads the count, adds one and writes it back in two steps, so concurrent calls overwrite each other",
      },
      {
        dir: "local-counter",
        catches: "counts-concurrent-calls",
        why: "counts in the process's own memory and saves that, so each process overwrites the others' count",
      },
      { dir: "wrong-key", catches: "counts-one-call", why: "counts atomically, but under a key the instructions do not name" },
    ],
    hints: [
      "What happens when two processes read the same count before either writes?",
      "Redis can read and write a counter in one step, so nothing can come in between.",
      "Use INCR: it creates the key at 0 if it is missing, adds one, and returns the new value.",
    ],
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join(".") || "lab";
    // The title and milestone may not be the author's words: say where they came from.
    const origin =
      field === "title" && !o.title
        ? ` (the title "${title}" comes from the id; give one with --title "A longer title")`
        : field === "title"
          ? " (from --title)"
          : field === "milestone"
            ? " (from --milestone)"
            : "";
    throw new ScaffoldError(`${field}: ${issue.message}${origin}`);
  }
  if (existsSync(dir)) throw new ScaffoldError(`${dir} exists already; choose another id, or edit that lab.`);
  const lab = { $schema: "../lab.schema.json", ...parsed.data };
  const files: Record<string, string> = {
    "lab.json": `${JSON.stringify(lab, null, 2)}\n`,
    "instructions.md": template("instructions.md.txt").replace("__TITLE__", title),
    "starter/counter.ts": template("starter.ts.txt"),
    "solution/counter.ts": template("solution.ts.txt"),
    "wrong/read-modify-write/counter.ts": template("wrong.ts.txt"),
    "wrong/local-counter/counter.ts": template("wrong-local.ts.txt"),
    "wrong/wrong-key/counter.ts": template("wrong-key.ts.txt"),
    "checks.ts": template("checks.ts.txt").replace("../../lib/grader/index.ts", path.relative(dir, graderEntry).split(path.sep).join("/")),
  };
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
  return dir;
}
