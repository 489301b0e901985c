/**
 * Loads and checks every lab folder, failing fast with the file, the field and the fix
 * (STYLE.md "Content and labs fail fast"). The browser never receives solution/, wrong/ or
 * checks: those stay on the server and the runner.
 */
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { readJsonFile } from "../json-error.ts";
import { LabSchema, type Lab } from "./schema.ts";

export interface LoadedLab {
  lab: Lab;
  dir: string;
}

export class LabError extends Error {
  override name = "LabError";
}

/** The option nearest to `word` (a misspelt key or id), if one is near enough to be what was meant. */
export function closest(word: string, options: string[]): string | undefined {
  const distance = (a: string, b: string) => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0]![j] = j;
    for (let i = 1; i <= a.length; i++)
      for (let j = 1; j <= b.length; j++) d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    return d[a.length]![b.length]!;
  };
  const best = options.map((o) => [o, distance(word, o)] as const).sort((x, y) => x[1] - y[1])[0];
  return best && best[1] <= 3 ? best[0] : undefined;
}

export function loadLab(labsDir: string, folder: string): LoadedLab {
  const dir = path.join(labsDir, folder);
  const where = path.join(path.basename(labsDir), folder, "lab.json");
  const file = path.join(dir, "lab.json");
  if (!existsSync(file))
    throw new LabError(
      `${path.join(path.basename(labsDir), folder)}: no lab.json. Every lab folder needs one; copy one from another lab or run \`npm run lab:new ${folder}\`.`,
    );
  const read = readJsonFile(file);
  if (!read.ok) throw new LabError(`${where}: ${read.problem}.`);
  const parsed = LabSchema.safeParse(read.value);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const field = i.path.join(".") || "(top level)";
      const unknownKey =
        i.code === "unrecognized_keys" ? ` (did you mean ${i.keys.map((k) => closest(k, Object.keys(LabSchema.shape)) ?? "?").join(", ")}?)` : "";
      return `${where}: ${field}: ${i.message}${unknownKey}`;
    });
    throw new LabError(lines.join("\n"));
  }
  const lab = parsed.data;
  const problems: string[] = [];
  if (lab.slug !== folder) problems.push(`${where}: slug '${lab.slug}' differs from folder '${folder}'; make them the same.`);
  for (const part of ["starter", "solution"]) {
    for (const f of lab.files) {
      if (!existsSync(path.join(dir, part, f.path))) problems.push(`${where}: files: '${f.path}' is missing from ${part}/; add it, or remove it from files.`);
    }
  }
  for (const w of lab.wrong) {
    const wdir = path.join(dir, "wrong", w.dir);
    if (!existsSync(wdir) || !statSync(wdir).isDirectory())
      problems.push(`${where}: wrong: folder wrong/${w.dir}/ does not exist; create it with the variant's files.`);
  }
  if (!existsSync(path.join(dir, "checks.ts")))
    problems.push(`${where}: checks.ts is missing beside lab.json; it implements the checks ${lab.checks.map((c) => c.id).join(", ")}.`);
  if (problems.length > 0) throw new LabError(problems.join("\n"));
  return { lab, dir };
}

/** Every lab under labsDir, checked together so one run of labs:verify reports every problem. */
/** The lab's files as one of its folders holds them (starter/ or solution/), by path. */
export function labFiles({ lab, dir }: LoadedLab, folder: "starter" | "solution"): Record<string, string> {
  return Object.fromEntries(lab.files.map((f) => [f.path, readFileSync(path.join(dir, folder, f.path), "utf8")]));
}

/**
 * Where the labs of the course in `courseDir` live: its own `labs/` folder when it has one (a
 * bootcamp's course teaches its labs and none of the built-in ones), else the repository's.
 */
export function labsDirFor(courseDir: string): string {
  const own = path.join(courseDir, "labs");
  return existsSync(own) && statSync(own).isDirectory() ? own : path.resolve("labs");
}

export function loadLabs(labsDir: string): LoadedLab[] {
  const folders = existsSync(labsDir)
    ? readdirSync(labsDir)
        .filter((f) => statSync(path.join(labsDir, f)).isDirectory())
        .sort()
    : [];
  const loaded: LoadedLab[] = [];
  const problems: string[] = [];
  for (const folder of folders) {
    try {
      loaded.push(loadLab(labsDir, folder));
    } catch (error) {
      problems.push(error instanceof LabError ? error.message : String(error));
    }
  }
  const seen = new Map<string, string>();
  for (const { lab } of loaded) {
    const other = seen.get(lab.id);
    if (other) problems.push(`labs/${lab.slug}/lab.json: id '${lab.id}' is also used by labs/${other}; ids must be unique.`);
    seen.set(lab.id, lab.slug);
  }
  if (problems.length > 0) throw new LabError(problems.join("\n"));
  return loaded;
}
