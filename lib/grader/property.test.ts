import { describe, expect, it } from "vitest";
import { checkProperty, fc } from "./property.ts";
import { CheckFailure, GraderError } from "./result.ts";

// A "learner function" that breaks on any character outside ASCII, as a byte-length bug would.
const byteLength = (s: string) => s.length;

describe("checkProperty", () => {
  it("holds when the predicate never fails", async () => {
    await expect(checkProperty(1, fc.string(), async () => {})).resolves.toBeUndefined();
  });

  it("reports the smallest breaking input, with the check's own message", async () => {
    const failure = await checkProperty(7, fc.string({ unit: "grapheme" }), async (s) => {
      if (byteLength(s) !== Buffer.byteLength(s)) throw new CheckFailure({ message: "wrong length", expected: Buffer.byteLength(s), actual: byteLength(s) });
    }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(CheckFailure);
    const message = (failure as CheckFailure).message;
    expect(message).toMatch(/^wrong length\nThis is the smallest input that still breaks it/);
    // Shrunk to one character: the last line is a quoted string of a single non-ASCII grapheme.
    const shown = message.split("\n").at(-1)!;
    expect([...(JSON.parse(shown) as string)]).toHaveLength(1);
  });

  it("replays the same counterexample from the same seed", async () => {
    const run = () =>
      checkProperty(42, fc.array(fc.integer()), async (xs) => {
        if (xs.some((x) => x > 1000)) throw new CheckFailure({ message: "too big" });
      }).catch((e: unknown) => (e as Error).message);
    expect(await run()).toBe(await run());
    expect(await run()).toContain("[1001]");
  });

  it("blames the learner for their own exceptions but passes the grader's on", async () => {
    const learner = await checkProperty(3, fc.nat(), async (n) => {
      if (n > 5) throw new TypeError("cannot read properties of undefined");
    }).catch((e: unknown) => e);
    expect(learner).toBeInstanceOf(CheckFailure);
    expect((learner as Error).message).toContain("Your code threw on a generated input: cannot read properties of undefined");
    expect((learner as Error).message).toContain("\n6");
    const grader = await checkProperty(3, fc.nat(), async () => {
      throw new GraderError("Redis went away");
    }).catch((e: unknown) => e);
    expect(grader).toBeInstanceOf(GraderError);
  });
});
