import { describe, expect, test } from "vitest";
import { OTEL_PACKAGES } from "../runner/harness/otel-packages.ts";
import { collectEditorTypes } from "./editor-types.ts";

describe("editor types", () => {
  const types = collectEditorTypes();
  const paths = new Set(types.libs.map((l) => l.path));

  test("cover what lab code may import: the harness, ioredis and the OpenTelemetry packages", () => {
    expect(paths.has("file:///node_modules/@faultline/lab/index.d.ts")).toBe(true);
    expect(paths.has("file:///node_modules/ioredis/index.d.ts")).toBe(true);
    // Monaco resolves `import "pkg"` through /node_modules/pkg/index.d.ts.
    for (const name of OTEL_PACKAGES) expect(paths.has(`file:///node_modules/@opentelemetry/${name}/index.d.ts`), name).toBe(true);
  });

  test("follow the OpenTelemetry declarations' own imports", () => {
    // sdk-trace-base re-exports sdk-trace, whose declarations import the API and core.
    const sdk = [...paths].filter((p) => p.startsWith("file:///node_modules/@opentelemetry/sdk-trace/"));
    expect(sdk.length).toBeGreaterThan(5);
    expect([...paths].some((p) => p.startsWith("file:///node_modules/@opentelemetry/api/build/src/trace/"))).toBe(true);
    expect([...paths].some((p) => /\/@opentelemetry\/core\/build\/src\/trace\/W3CTraceContextPropagator\.d\.ts$/.test(p))).toBe(true);
  });
});
