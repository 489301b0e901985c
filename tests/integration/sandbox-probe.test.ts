import { expect, test } from "vitest";
import { probeSandbox } from "../../lib/runner/sandbox/probe.ts";

test("this machine gets the bubblewrap tier, with nothing to explain", async () => {
  // .ci/run installs bubblewrap; a machine without it must report a weaker tier, never pretend.
  expect(await probeSandbox()).toEqual({ tier: "bubblewrap", reasons: [] });
});

test("without bubblewrap on PATH the probe falls back and says why", async () => {
  const saved = process.env.PATH;
  process.env.PATH = "/nonexistent";
  try {
    const result = await probeSandbox();
    expect(result.tier).not.toBe("bubblewrap");
    expect(result.reasons[0]).toMatch(/^bubblewrap: bwrap is not on the runner's PATH \(\/nonexistent\)$/);
  } finally {
    process.env.PATH = saved;
  }
});
