/**
 * `npm run labs:verify` as an author drives it: --help, one variant with the messages a learner
 * reads, one check, mistakes in the options, and --ablate's warning, through the real runner.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { expect, test } from "vitest";

const root = path.resolve(import.meta.dirname, "../..");
const verify = (...args: string[]) => verifyCourse("content", ...args);
const verifyCourse = (course: string, ...args: string[]) => {
  const run = spawnSync(process.execPath, ["--import", "tsx", "scripts/labs-verify.ts", ...args], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, FAULTLINE_COURSE_DIR: course },
  });
  return { status: run.status, out: run.stdout + run.stderr };
};

test("--help lists the options and exits 0; an unknown option or variant is an error that says what exists", () => {
  const help = verify("--help");
  expect(help.status).toBe(0);
  for (const option of ["--variant", "--check", "--verbose", "--seed", "--repeat", "--jobs", "--retries", "--ablate", "--skip-typecheck"])
    expect(help.out).toContain(option);
  const unknown = verify("--varient", "x");
  expect(unknown.status).toBe(2);
  expect(unknown.out).toMatch(/Unknown option '--varient'[\s\S]*Usage: npm run labs:verify/);
  const typo = verify("task-model", "--variant", "wrong/set-if-absnt", "--skip-typecheck");
  expect(typo.status).toBe(1);
  expect(typo.out).toContain("labs/task-model has no variant wrong/set-if-absnt; its variants: solution, starter,");
}, 60_000);

test("--variant with --verbose runs that variant alone and prints what the learner would read", () => {
  const { status, out } = verify("task-model", "--variant", "set-if-absent", "--verbose", "--skip-typecheck", "--jobs", "1");
  expect(status).toBe(0);
  expect(out).toMatch(/^ok {3}task-model wrong\/set-if-absent +fail +✗/m);
  expect(out).toMatch(/^ {4}\S+ \(fail\): .+/m); // the failing check's message, indented under it
  expect(out).toContain("1 lab(s), 1 variants proven");
}, 60_000);

test("--check runs the solution on that check alone with the wrong variants it catches; --ablate warns when a variant is caught without the faults", () => {
  const { status, out } = verify(
    "priority-queue",
    "--check",
    "priority-order",
    "--variant",
    "solution",
    "--variant",
    "highest-first",
    "--ablate",
    "--skip-typecheck",
    "--jobs",
    "1",
  );
  expect(status).toBe(0);
  expect(out).toMatch(/^ok {3}priority-queue solution +pass +✓ /m);
  expect(out).toContain(
    "labs/priority-queue wrong/highest-first is caught by priority-order even with the proxy's faults off, so they are not what catches it",
  );
}, 90_000);

test("--retries gives a failing proof other seeds: a variant caught on one of them passes and is listed; one caught on none still fails", () => {
  // tests/fixtures/verify-course: "slips" is caught only on even seeds, "never" on none.
  const course = "tests/fixtures/verify-course";
  const once = verifyCourse(course, "--skip-typecheck", "--jobs", "2");
  expect(once.status).toBe(1);
  expect(once.out).toMatch(/^FAIL seeds wrong\/slips /m);
  const retried = verifyCourse(course, "--skip-typecheck", "--jobs", "2", "--retries", "2");
  expect(retried.status).toBe(1);
  expect(retried.out).toMatch(/^ok {3}seeds wrong\/slips +fail +✗ +\d+ ms {2}\(held on retry 1\)$/m);
  expect(retried.out).toMatch(/^FAIL seeds wrong\/never /m);
  expect(retried.out).toContain("labs/seeds wrong/slips: held on seed 7920 after failing on seed 1:");
  expect(retried.out).toContain("1 proof(s) held only on a retry");
  expect(retried.out).toMatch(/^ok {3}seeds solution +pass/m);
}, 60_000);
