/**
 * Reading the learner's compose file and Dockerfile the way Docker does, with every position kept
 * so a verdict can quote the learner's own lines. There is no Docker in the sandbox: the checks
 * judge structure, with real parsers (yaml, dockerfile-ast) and the published Compose
 * Specification schema (compose-spec.json, see README.md), never with regular expressions over
 * the whole text.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { DockerfileParser, type Instruction } from "dockerfile-ast";
import { Alias, LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Document, type Node } from "yaml";

export const COMPOSE = "docker-compose.yml";
export const DOCKERFILE = "Dockerfile";

// ---------------------------------------------------------------------------------------------
// Quoting the learner's lines

/** The given 1-based lines of `text`, numbered, as the learner's editor shows them. */
export function quote(file: string, text: string, lines: Iterable<number>): string {
  const all = text.split(/\r?\n/);
  const wanted = [...new Set(lines)].filter((n) => n >= 1 && n <= all.length).sort((a, b) => a - b);
  if (wanted.length === 0) return `${file}: (nothing to quote)`;
  const width = String(wanted.at(-1)).length;
  const out: string[] = [`${file}:`];
  wanted.forEach((n, i) => {
    if (i > 0 && n > wanted[i - 1]! + 1) out.push(`${" ".repeat(width)} | …`);
    out.push(`${String(n).padStart(width)} | ${all[n - 1]}`);
  });
  return out.join("\n");
}

// ---------------------------------------------------------------------------------------------
// Compose's variable interpolation (compose-spec "Interpolation")

export interface Interpolation {
  /** The variable's name. */
  name: string;
  /** `-`, `:-`, `?`, `:?`, `+`, `:+`, or "" for a plain `${VAR}` / `$VAR`. */
  op: string;
  /** The default, error message or alternative as written (itself not yet interpolated). */
  word: string;
}

export interface Interpolated {
  value: string;
  uses: Interpolation[];
  /** `${VAR:?message}` with VAR unset: Compose refuses to start with this message. */
  errors: string[];
}

/**
 * Interpolates `text` against `env` as Compose does: `$$` is a literal `$`, `${VAR}` and `$VAR`
 * read the variable (unset gives ""), `${VAR:-default}` (unset or empty) and `${VAR-default}`
 * (unset), `${VAR:?err}`/`${VAR?err}` refuse to start, `${VAR:+alt}`/`${VAR+alt}` give `alt` when
 * set. Defaults may themselves hold interpolations (`${A:-${B:-x}}`).
 */
export function interpolate(text: string, env: Readonly<Record<string, string>> = {}): Interpolated {
  const uses: Interpolation[] = [];
  const errors: string[] = [];
  let out = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c !== "$") {
      out += c;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next === "$") {
      out += "$";
      i += 2;
      continue;
    }
    if (next === "{") {
      // Find the matching brace, counting nested ${ … }.
      let depth = 1;
      let j = i + 2;
      while (j < text.length && depth > 0) {
        if (text[j] === "$" && text[j + 1] === "{") {
          depth++;
          j += 2;
          continue;
        }
        if (text[j] === "}") depth--;
        j++;
      }
      if (depth > 0) {
        errors.push(`"${text.slice(i)}" has no closing brace`);
        out += text.slice(i);
        break;
      }
      const inner = text.slice(i + 2, j - 1);
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([\s\S]*))?$/.exec(inner);
      if (!m) {
        errors.push(`"\${${inner}}" is not a valid interpolation`);
        i = j;
        continue;
      }
      const [, name, op = "", word = ""] = m;
      uses.push({ name: name!, op, word });
      const value = env[name!];
      const set = value !== undefined;
      const nonEmpty = set && value !== "";
      const sub = () => {
        const r = interpolate(word, env);
        uses.push(...r.uses);
        errors.push(...r.errors);
        return r.value;
      };
      if (op === "") out += value ?? "";
      else if (op === ":-") out += nonEmpty ? value : sub();
      else if (op === "-") out += set ? value : sub();
      else if (op === ":?" || op === "?") {
        if (op === ":?" ? nonEmpty : set) out += value;
        else errors.push(`${name} is required: ${sub() || `${name} is not set`}`);
      } else if (op === ":+") out += nonEmpty ? sub() : "";
      else if (op === "+") out += set ? sub() : "";
      i = j;
      continue;
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i + 1));
    if (m) {
      uses.push({ name: m[0], op: "", word: "" });
      out += env[m[0]] ?? "";
      i += 1 + m[0].length;
      continue;
    }
    out += "$";
    i++;
  }
  return { value: out, uses, errors };
}

// ---------------------------------------------------------------------------------------------
// The compose file

export type PathSeg = string | number;

export interface ComposeProblem {
  line: number;
  column: number;
  message: string;
}

export interface ComposeFile {
  text: string;
  doc: Document;
  /** The file as Compose reads it: aliases and merge keys resolved, values interpolated against an empty environment. */
  value: Record<string, unknown>;
  /** YAML errors (syntax, duplicate keys, unresolved aliases), each with its position. */
  syntax: ComposeProblem[];
  /** `${VAR:?…}` that stops Compose, by path. */
  interpolationErrors: { path: PathSeg[]; message: string }[];
  /** 1-based line of the node at `path` (following aliases and merge keys); the nearest existing parent's line when it is absent. */
  line(path: PathSeg[]): number;
  /** Lines the node at `path` spans (first to last), for quoting a whole block. */
  lines(path: PathSeg[]): number[];
  /** The text of the scalar at `path` as written, before interpolation (undefined if not a scalar). */
  raw(path: PathSeg[]): string | undefined;
}

const counters = new WeakMap<Document, LineCounter>();

function deref(doc: Document, node: unknown): unknown {
  let n = node;
  for (let k = 0; k < 32 && isAlias(n); k++) n = (n as Alias).resolve(doc);
  return n;
}

/**
 * The child of a YAML map or sequence node at `seg`, following `<<` merge keys as Compose does,
 * with its key (for a mapping entry), whose line is where the learner sees the entry start.
 */
function child(doc: Document, node: unknown, seg: PathSeg): { node: unknown; key?: unknown } | undefined {
  const n = deref(doc, node);
  if (isSeq(n) && typeof seg === "number") return n.items[seg] === undefined ? undefined : { node: n.items[seg] };
  if (!isMap(n)) return undefined;
  for (const pair of n.items) {
    const key = isScalar(pair.key) ? pair.key.value : pair.key;
    if (String(key) === String(seg)) return { node: pair.value ?? pair.key, key: pair.key };
  }
  // Merge keys: explicit keys win, then the merged maps in order.
  for (const pair of n.items) {
    const key = isScalar(pair.key) ? pair.key.value : pair.key;
    // yaml gives a merge key's value as a symbol when merge keys are on, "<<" otherwise.
    if (key !== "<<" && typeof key !== "symbol") continue;
    const sources = deref(doc, pair.value);
    for (const source of isSeq(sources) ? sources.items : [sources]) {
      const found = child(doc, source, seg);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

function interpolateAll(value: unknown, at: PathSeg[], errors: { path: PathSeg[]; message: string }[]): unknown {
  if (typeof value === "string") {
    const r = interpolate(value);
    for (const message of r.errors) errors.push({ path: at, message });
    return r.value;
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolateAll(v, [...at, i], errors));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateAll(v, [...at, k], errors)]));
  }
  return value;
}

export function parseCompose(text: string): ComposeFile {
  const lineCounter = new LineCounter();
  // Compose reads YAML 1.2 with merge keys; duplicate keys are an error, as they are for Compose.
  const doc = parseDocument(text, { lineCounter, merge: true, uniqueKeys: true, prettyErrors: false });
  counters.set(doc, lineCounter);
  const pos = (offset: number) => lineCounter.linePos(offset);
  const syntax: ComposeProblem[] = [...doc.errors, ...doc.warnings.filter((w) => w.code === "BAD_ALIAS")].map((e) => {
    const { line, col } = pos(e.pos[0]);
    return { line, column: col, message: e.message.split("\n")[0]! };
  });
  let value: Record<string, unknown> = {};
  const interpolationErrors: { path: PathSeg[]; message: string }[] = [];
  if (syntax.length === 0) {
    try {
      const js: unknown = doc.toJS({ maxAliasCount: 100 });
      if (js !== null && typeof js === "object" && !Array.isArray(js)) value = interpolateAll(js, [], interpolationErrors) as Record<string, unknown>;
      else if (js !== null && js !== undefined)
        syntax.push({ line: 1, column: 1, message: "the file is not a mapping of top-level keys (services:, volumes:, …)" });
    } catch (error) {
      syntax.push({ line: 1, column: 1, message: (error as Error).message });
    }
  }
  const nodeAt = (p: PathSeg[]): { node: unknown; key: unknown; depth: number } => {
    let node: unknown = doc.contents;
    let key: unknown;
    let depth = 0;
    for (const seg of p) {
      const next = child(doc, node, seg);
      if (next === undefined) break;
      ({ node, key } = next);
      depth++;
    }
    return { node: deref(doc, node), key, depth };
  };
  const rangeOf = (node: unknown): [number, number] | undefined => {
    const r = (node as Node | null | undefined)?.range;
    return r ? [r[0], r[1]] : undefined;
  };
  /** From the entry's key (or the item) to the end of its value. */
  const span = (p: PathSeg[]): [number, number] | undefined => {
    const { node, key } = nodeAt(p);
    const k = rangeOf(key);
    const v = rangeOf(node);
    if (!k) return v;
    return [k[0], Math.max(k[1], v?.[1] ?? k[1])];
  };
  const line = (p: PathSeg[]) => {
    const r = span(p);
    return r ? pos(r[0]).line : 1;
  };
  const lines = (p: PathSeg[]) => {
    const r = span(p);
    if (!r) return [1];
    const first = pos(r[0]).line;
    // A block's range ends at the start of the next line; do not quote that line.
    let last = pos(Math.max(r[0], r[1] - 1)).line;
    while (last > first && (text.split(/\r?\n/)[last - 1] ?? "").trim() === "") last--;
    return Array.from({ length: last - first + 1 }, (_, k) => first + k);
  };
  const raw = (p: PathSeg[]) => {
    const { node, depth } = nodeAt(p);
    if (depth < p.length || !isScalar(node)) return undefined;
    return typeof node.value === "string" ? node.value : String(node.value);
  };
  return { text, doc, value, syntax, interpolationErrors, line, lines, raw };
}

// ---------------------------------------------------------------------------------------------
// The Compose Specification schema

let validator: ValidateFunction | undefined;

/** The published schema, vendored (compose-spec/compose-spec@170098ba, Apache-2.0; README.md). */
export function composeValidator(): ValidateFunction {
  if (!validator) {
    const schema = JSON.parse(readFileSync(path.join(import.meta.dirname, "compose-spec.json"), "utf8")) as object;
    // The schema names its draft as https://json-schema.org/draft-07/schema, which Ajv knows
    // under its http:// id, so the meta-schema check is skipped; its formats ("duration") are
    // Compose's own and are not checked here either.
    validator = new Ajv({ allErrors: true, strict: false, validateSchema: false, validateFormats: false }).compile(schema);
  }
  return validator;
}

export interface SchemaProblem {
  path: PathSeg[];
  message: string;
}

/** Schema errors, reduced to the most specific: a oneOf that failed reports the branch that came deepest. */
export function schemaProblems(value: unknown): SchemaProblem[] {
  const validate = composeValidator();
  if (validate(value)) return [];
  const errors: ErrorObject[] = validate.errors ?? [];
  const toPath = (p: string): PathSeg[] =>
    p === ""
      ? []
      : p
          .slice(1)
          .split("/")
          .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
  // Where an error is: a key Compose does not know is at that key, not at its parent.
  const at = (e: ErrorObject) =>
    e.keyword === "additionalProperties" ? `${e.instancePath}/${String((e.params as Record<string, unknown>).additionalProperty)}` : e.instancePath;
  const kept = errors.filter((e) => e.keyword !== "oneOf" && e.keyword !== "anyOf" && e.keyword !== "if");
  // Drop an error when another one sits deeper below the same place: of a oneOf's branches (the
  // short and long forms of depends_on, say), the one that got further says what is wrong.
  const specific = kept.filter((e) => !kept.some((o) => o !== e && at(o).startsWith(`${at(e)}/`)));
  const seen = new Set<string>();
  const out: SchemaProblem[] = [];
  for (const e of specific.length > 0 ? specific : errors) {
    let p = toPath(e.instancePath);
    let message: string;
    const params = e.params as Record<string, unknown>;
    if (e.keyword === "additionalProperties") {
      p = [...p, String(params.additionalProperty)];
      message = `"${String(params.additionalProperty)}" is not a key Compose knows here`;
    } else if (e.keyword === "enum") message = `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
    else message = e.message ?? e.keyword;
    const key = `${p.join("/")} ${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ path: p, message });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The Dockerfile

export interface Stage {
  index: number;
  /** The `AS name`, lower-cased as BuildKit compares them, or null. */
  name: string | null;
  /** The FROM's image as written (`node:20-bookworm-slim`, or an earlier stage's name). */
  image: string;
  /** The earlier stage this one starts from (FROM build), or null for an image. */
  parent: Stage | null;
  from: Instruction;
  instructions: Instruction[];
}

export interface DockerfileModel {
  text: string;
  stages: Stage[];
  /** ARGs before the first FROM. */
  globalArgs: Instruction[];
  all: Instruction[];
  /** 1-based line of an instruction. */
  line(i: Instruction): number;
  /** Every line an instruction spans (continuations included). */
  lines(i: Instruction): number[];
  /** A stage named or numbered by `ref` (COPY --from, FROM, target). */
  stage(ref: string): Stage | undefined;
}

export function parseDockerfile(text: string): DockerfileModel {
  const parsed = DockerfileParser.parse(text);
  const all = parsed.getInstructions();
  const stages: Stage[] = [];
  const globalArgs: Instruction[] = [];
  const stage = (ref: string) => (/^\d+$/.test(ref) ? stages[Number(ref)] : stages.find((s) => s.name === ref.toLowerCase()));
  for (const ins of all) {
    const keyword = ins.getKeyword().toUpperCase();
    if (keyword === "FROM") {
      const from = parsed.getFROMs().find((f) => f.getRange().start.line === ins.getRange().start.line)!;
      // The image reference as written: FROM [--platform=…] image [AS name]
      const image = ins.getArguments().map((a) => a.getValue())[0] ?? "";
      const parent = stage(image) ?? null;
      stages.push({ index: stages.length, name: from.getBuildStage()?.toLowerCase() ?? null, image, parent, from: ins, instructions: [] });
    } else if (stages.length === 0) {
      if (keyword === "ARG") globalArgs.push(ins);
    } else stages.at(-1)!.instructions.push(ins);
  }
  const line = (i: Instruction) => i.getRange().start.line + 1;
  const lines = (i: Instruction) => {
    const { start, end } = i.getRange();
    return Array.from({ length: end.line - start.line + 1 }, (_, k) => start.line + 1 + k);
  };
  return { text, stages, globalArgs, all, line, lines, stage };
}

/** A stage and the stages it is built FROM, base first. */
export function chainOf(stage: Stage): Stage[] {
  const chain: Stage[] = [];
  for (let s: Stage | null = stage; s && chain.length < 64; s = s.parent) chain.unshift(s);
  return chain;
}
