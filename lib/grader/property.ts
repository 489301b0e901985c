/**
 * Property-based inputs for checks (fast-check): generate many inputs from the check's seed, and
 * when one breaks the learner's code, shrink it to the smallest input that still does, so the
 * failure shows that one instead of whichever large input happened to be drawn first.
 *
 * The seed comes from the run: a replay draws the same inputs and shrinks to the same one. A
 * credited run's seed is chosen by the runner and never given to the sandbox, so learner code
 * cannot compute the inputs in advance.
 */
import fc from "fast-check";
import { CheckFailure, GraderError, type FailureDetails } from "./result.ts";

export { fc };

export interface PropertyOptions<T> {
  /** How many generated inputs to try before the property holds. @default 100 */
  runs?: number;
  /**
   * Time for generating and shrinking together; on running out, a property that has not failed
   * holds, and one that has reports the smallest input found so far. @default 4000
   */
  timeLimitMs?: number;
  /** How the input is shown to the learner. @default fast-check's stringify */
  show?: (value: T) => string;
  /** What the input is, for the message: "command", "task". @default "input" */
  noun?: string;
}

const MAX_SHOWN = 1500;

function clip(text: string): string {
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}… (${text.length} characters)` : text;
}

/**
 * Fails with the smallest input that makes `predicate` throw. The predicate throws a
 * CheckFailure (via `t.fail`/`t.equal`) when the learner's code gets `value` wrong; any other
 * error (the learner's function threw, a call timed out) counts as getting it wrong too, except a
 * GraderError, which is the check's own fault and is passed on as it is.
 */
export async function checkProperty<T>(
  seed: number,
  arbitrary: fc.Arbitrary<T>,
  predicate: (value: T) => Promise<void>,
  options: PropertyOptions<T> = {},
): Promise<void> {
  const property: fc.IAsyncProperty<[T]> = fc.asyncProperty(arbitrary, (value) => predicate(value));
  const details: fc.RunDetails<[T]> = await fc.check<[T]>(property, {
    seed,
    numRuns: options.runs ?? 100,
    plugins: [fc.interruptAfterTimeLimit(options.timeLimitMs ?? 4000)],
  });
  if (!details.failed || details.counterexample === null) return;
  const value: T = details.counterexample[0];
  const shown = clip((options.show ?? fc.stringify)(value));
  const noun = options.noun ?? "input";
  const cause = details.errorInstance;
  // The check itself broke on this input: never blame the learner for it.
  if (cause instanceof GraderError) throw cause;
  const base: FailureDetails =
    cause instanceof CheckFailure
      ? { message: cause.message, expected: cause.expected, actual: cause.actual, hint: cause.hint }
      : { message: `Your code threw on a generated ${noun}: ${cause instanceof Error ? cause.message : String(cause)}` };
  const found =
    details.numShrinks > 0
      ? `the smallest ${noun} that still breaks it (shrunk ${details.numShrinks} times from the first failing one, after ${details.numRuns} generated)`
      : `the ${noun} that breaks it (after ${details.numRuns} generated)`;
  throw new CheckFailure({ ...base, message: `${base.message}\nThis is ${found}:\n${shown}` });
}
