/**
 * The OpenTelemetry packages a lab may import (lib/runner/harness/otel-packages.ts) through the
 * real run engine: tests/fixtures/labs/otel loads otel.ts as two instances of the shared sandbox
 * and as a process of its own, registers the SDK in each and continues a trace.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import type { LoadedLab } from "../../lib/labs/loader.ts";
import { LabSchema } from "../../lib/labs/schema.ts";
import { executeRun, type RunOutcome } from "../../lib/runs/execute.ts";
import { PrivateRedisPool } from "../../lib/runner/private-redis.ts";
import { probeSandbox } from "../../lib/runner/sandbox/probe.ts";

const dir = path.resolve(import.meta.dirname, "../fixtures/labs/otel");
const lab: LoadedLab = { lab: LabSchema.parse(JSON.parse(readFileSync(path.join(dir, "lab.json"), "utf8"))), dir };
const files = { "otel.ts": readFileSync(path.join(dir, "otel.ts"), "utf8") };

let pool: PrivateRedisPool;
let result: RunOutcome;

beforeAll(async () => {
  const tier = (await probeSandbox()).tier;
  pool = new PrivateRedisPool(1);
  result = await executeRun({ lab, mode: "check", files, seed: 3 }, { pool, tier, emit: () => {} });
}, 120_000);
afterAll(() => pool?.close());

test("instances and processes import the OpenTelemetry API and SDK, and two instances never share the API's global tracer provider", () => {
  const check = result.checks.find((c) => c.id === "otel-sdk");
  expect(check?.status, JSON.stringify(result)).toBe("pass");
});
