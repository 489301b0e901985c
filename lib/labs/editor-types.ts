/**
 * The type libraries the lab workspace's editor feeds to Monaco's TypeScript worker as extra libs:
 * the harness (`@faultline/lab`), the declarations of ioredis and of the OpenTelemetry packages
 * (harness/otel-packages.ts) and what they import, and the @types/node modules reachable from
 * those and from the modules lab code uses. Each lib keeps its node_modules path
 * (file:///node_modules/…), so relative imports between them resolve and go-to-definition lands
 * in a file with a meaningful name. Collected once per process and
 * served with a content hash in the URL, so browsers cache it for good.
 */
import "server-only";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { OTEL_PACKAGES } from "../runner/harness/otel-packages.ts";

export interface EditorLib {
  /** Monaco URI, e.g. file:///node_modules/ioredis/built/Redis.d.ts */
  path: string;
  content: string;
}

export interface EditorTypes {
  hash: string;
  libs: EditorLib[];
  /** Uncompressed bytes of all libs, for the record. */
  bytes: number;
}

/**
 * Node modules the editor knows about beyond what ioredis pulls in: those the labs import, and
 * the everyday ones a learner might reach for. Anything else still runs; the editor would only
 * underline its import. Imports between @types/node files are followed only within this set
 * (and its subpaths, like dns/promises): following them all drags in http2, vm, test and more,
 * 2.6 MB in all, for types a learner's code never touches; a missing one is only `any` inside
 * a library file, which the editor does not report.
 */
const NODE_ENTRY_MODULES = [
  "assert",
  "buffer",
  "console",
  "crypto",
  "dns",
  "events",
  "http",
  "https",
  "net",
  "os",
  "path",
  "perf_hooks",
  "process",
  "stream",
  "string_decoder",
  "timers",
  "tls",
  "url",
  "util",
];

/** The globals part of @types/node (index.d.ts's non-module references): Buffer, process, setTimeout, fetch… */
const NODE_GLOBALS = [
  "compatibility/index.d.ts",
  "globals.typedarray.d.ts",
  "buffer.buffer.d.ts",
  "globals.d.ts",
  "web-globals/abortcontroller.d.ts",
  "web-globals/domexception.d.ts",
  "web-globals/events.d.ts",
  "web-globals/fetch.d.ts",
];

const stripComments = (text: string) => text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");

interface Refs {
  paths: string[];
  types: string[];
  modules: string[];
}

function references(text: string): Refs {
  const paths = [...text.matchAll(/^\s*\/\/\/\s*<reference\s+path="([^"]+)"/gm)].map((m) => m[1]!);
  const types = [...text.matchAll(/^\s*\/\/\/\s*<reference\s+types="([^"]+)"/gm)].map((m) => m[1]!);
  // JSDoc examples are full of imports; only real ones count.
  const code = stripComments(text);
  const modules = [...code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)["']([^"']+)["']/g)].map((m) => m[1]!);
  return { paths, types, modules };
}

export function collectEditorTypes(root = process.cwd()): EditorTypes {
  const nodeModules = path.join(root, "node_modules");
  const libs = new Map<string, string>();
  const queue: string[] = [];
  const toUri = (file: string) => `file:///node_modules/${path.relative(nodeModules, file).split(path.sep).join("/")}`;

  const add = (file: string) => {
    if (!existsSync(file) || libs.has(toUri(file))) return;
    libs.set(toUri(file), readFileSync(file, "utf8"));
    queue.push(file);
  };
  const nodeTypes = path.join(nodeModules, "@types", "node");
  const nodeModule = (spec: string) => path.join(nodeTypes, `${spec.replace(/^node:/, "")}.d.ts`);

  /** A bare specifier: a Node built-in (declared by @types/node), or a package with types. */
  const addPackage = (spec: string) => {
    const builtin = nodeModule(spec);
    if (existsSync(builtin)) {
      if (NODE_ENTRY_MODULES.includes(spec.replace(/^node:/, "").split("/")[0]!)) add(builtin);
      return;
    }
    const name = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!;
    const dir = path.join(nodeModules, name);
    const pkgFile = path.join(dir, "package.json");
    if (!existsSync(pkgFile)) return;
    const pkg = JSON.parse(readFileSync(pkgFile, "utf8")) as { types?: string; typings?: string };
    const entry = pkg.types ?? pkg.typings ?? "index.d.ts";
    const file = path.join(dir, entry);
    if (!existsSync(file)) return;
    add(file);
    // Monaco's worker resolves `import "pkg"` through /node_modules/pkg/index.d.ts, not package.json.
    const shim = `file:///node_modules/${name}/index.d.ts`;
    if (!libs.has(shim)) {
      const rel = `./${path
        .relative(dir, file)
        .split(path.sep)
        .join("/")
        .replace(/\.d\.ts$/, "")}`;
      libs.set(shim, `export * from "${rel}";\nexport { default } from "${rel}";\n`);
    }
  };

  for (const g of NODE_GLOBALS) add(path.join(nodeTypes, g));
  for (const m of NODE_ENTRY_MODULES) add(nodeModule(m));
  addPackage("ioredis");
  // What lab code may import from /lab/node_modules besides ioredis (harness/otel-packages.ts).
  for (const name of OTEL_PACKAGES) addPackage(`@opentelemetry/${name}`);

  while (queue.length > 0) {
    const file = queue.shift()!;
    const refs = references(libs.get(toUri(file))!);
    for (const p of refs.paths) add(path.resolve(path.dirname(file), p));
    for (const t of refs.types) if (t !== "node") addPackage(t);
    for (const spec of refs.modules) {
      if (spec.startsWith(".")) {
        const base = path.resolve(path.dirname(file), spec.replace(/\.js$/, ""));
        add([`${base}.d.ts`, path.join(base, "index.d.ts")].find((f) => existsSync(f)) ?? `${base}.d.ts`);
      } else addPackage(spec);
    }
  }

  // The harness declares module "@faultline/lab" itself, so it can live anywhere.
  libs.set("file:///node_modules/@faultline/lab/index.d.ts", readFileSync(path.join(root, "lib", "runner", "harness", "faultline-lab.d.ts"), "utf8"));

  const sorted = [...libs].sort(([a], [b]) => a.localeCompare(b)).map(([p, content]) => ({ path: p, content }));
  const hash = createHash("sha256");
  for (const lib of sorted) hash.update(lib.path).update("\0").update(lib.content).update("\0");
  return { hash: hash.digest("hex").slice(0, 16), libs: sorted, bytes: sorted.reduce((n, l) => n + Buffer.byteLength(l.content), 0) };
}

let cached: EditorTypes | undefined;

/** The same for every lab today; per lab in the API so a lab could add its own declarations. */
export function editorTypes(): EditorTypes {
  if (process.env.NODE_ENV !== "production") return collectEditorTypes();
  cached ??= collectEditorTypes();
  return cached;
}
