/**
 * Builds the in-sandbox harness once per runner process (ioredis and `@faultline/lab` bundled by
 * esbuild into one file, plus the host) and installs it into each run's read-only /lab, so
 * learner code resolves `@faultline/lab`, `ioredis` and the OpenTelemetry packages in
 * OTEL_PACKAGES from /lab/node_modules and nothing else.
 */
import { copyFileSync, linkSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { build, type Plugin } from "esbuild";
import { OTEL_PACKAGES } from "./otel-packages.ts";

const here = import.meta.dirname;
const FILES = ["index.js", "host.js", "redis.js"] as const;

// index.js and host.js share one ioredis: the separately bundled redis.js.
const sharedRedis: Plugin = {
  name: "shared-redis",
  setup(b) {
    b.onResolve({ filter: /^\.\/redis\.(ts|js)$/ }, () => ({ path: "./redis.js", external: true }));
  },
};

let built: Promise<string> | undefined;

/** The directory holding the built harness; built on first use and reused by every run. */
export function harnessDir(): Promise<string> {
  built ??= (async () => {
    const out = mkdtempSync(path.join(tmpdir(), "fl-harness-"));
    const harness = build({
      entryPoints: { index: path.join(here, "lab.ts"), host: path.join(here, "host.ts"), redis: path.join(here, "redis.ts") },
      plugins: [sharedRedis],
      outdir: out,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      logLevel: "silent",
      // ioredis is CommonJS; an ESM bundle needs a real require for node: built-ins.
      banner: { js: 'import { createRequire as __flCreateRequire } from "node:module"; const require = __flCreateRequire(import.meta.url);' },
    });
    // Built once per runner process like the harness (and beside it), and linked into each run: a lab
    // that never imports them pays a few links, and nothing is compiled until an import reaches them.
    const otel = OTEL_PACKAGES.map((name) => `@opentelemetry/${name}`);
    await Promise.all([
      harness,
      ...OTEL_PACKAGES.map(async (name) => {
        const dir = path.join(out, "otel", name);
        mkdirSync(dir, { recursive: true });
        await build({
          stdin: { contents: `export * from "@opentelemetry/${name}";\n`, resolveDir: here, sourcefile: `${name}.js` },
          outfile: path.join(dir, "index.js"),
          external: otel.filter((spec) => spec !== `@opentelemetry/${name}`),
          // The packages' ESM builds, so the bundle is ESM throughout and needs no require shim.
          mainFields: ["module", "main"],
          bundle: true,
          platform: "node",
          format: "esm",
          target: "node20",
          logLevel: "silent",
        });
        writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: `@opentelemetry/${name}`, type: "module", main: "index.js" }));
      }),
    ]);
    return out;
  })();
  built.catch(() => (built = undefined));
  return built;
}

function place(from: string, to: string): void {
  try {
    linkSync(from, to); // same filesystem: no copy
  } catch {
    copyFileSync(from, to);
  }
}

/**
 * Installs the harness under `labDir/node_modules`, pointing learner clients at `socketPath`
 * (the path as the sandboxed program sees it). Returns the host's path relative to labDir.
 */
export async function installHarness(labDir: string, socketPath: string): Promise<string> {
  const from = await harnessDir();
  const lab = path.join(labDir, "node_modules", "@faultline", "lab");
  const ioredis = path.join(labDir, "node_modules", "ioredis");
  mkdirSync(lab, { recursive: true });
  mkdirSync(ioredis, { recursive: true });
  for (const file of FILES) place(path.join(from, file), path.join(lab, file));
  writeFileSync(path.join(lab, "package.json"), JSON.stringify({ name: "@faultline/lab", type: "module", main: "index.js" }));
  writeFileSync(path.join(lab, "config.json"), JSON.stringify({ socket: socketPath }));
  writeFileSync(path.join(ioredis, "package.json"), JSON.stringify({ name: "ioredis", type: "module", main: "index.js" }));
  writeFileSync(path.join(ioredis, "index.js"), 'export { Redis, Redis as default } from "@faultline/lab";\n');
  for (const name of OTEL_PACKAGES) {
    const dir = path.join(labDir, "node_modules", "@opentelemetry", name);
    mkdirSync(dir, { recursive: true });
    for (const file of ["index.js", "package.json"]) place(path.join(from, "otel", name, file), path.join(dir, file));
  }
  writeFileSync(path.join(labDir, "package.json"), JSON.stringify({ type: "module", private: true }));
  return "node_modules/@faultline/lab/host.js";
}
