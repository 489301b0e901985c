/**
 * `npm test`: every check CI runs, in order, stopping at the first that fails: typecheck, lint,
 * unit tests, the course (content:check, and the lessons' runnable snippets), a production build, integration tests (real Redis, SQLite and PostgreSQL), drills
 * with several runner processes, proof
 * of every lab through the real run engine, and end-to-end tests in headless Chromium.
 */
import { spawnSync } from "node:child_process";

const steps: Array<[string, string[]]> = [
  ["install scripts", ["node", "--import", "tsx", "scripts/check-install-scripts.ts"]],
  ["typecheck", ["npx", "tsc", "--noEmit"]],
  ["lint", ["npx", "eslint", "--max-warnings", "0", "."]],
  ["unit tests", ["npx", "vitest", "run", "--project", "unit"]],
  ["content:check", ["node", "--import", "tsx", "scripts/content-check.ts"]],
  ["content:snippets", ["node", "--import", "tsx", "scripts/content-snippets.ts"]],
  ["build", ["node", "--import", "tsx", "scripts/build.ts"]],
  ["integration tests", ["npx", "vitest", "run", "--project", "integration"]],
  ["drills", ["npx", "vitest", "run", "--project", "drills"]],
  // The typecheck step above already covers every lab's files. Four runs at once, not six: with 23
  // labs, six on two cores starved the timing windows of the older labs (a solution's 1 s readiness
  // window, a wrong variant's missed lease) and took about as long.
  ["labs:verify", ["node", "--import", "tsx", "scripts/labs-verify.ts", "--skip-typecheck", "--jobs", "4"]],
  ["end-to-end tests", ["npx", "playwright", "test"]],
];

const only = process.argv.slice(2);
const timings: string[] = [];
const started = Date.now();
for (const [name, [command, ...args]] of steps) {
  if (only.length > 0 && !only.some((o) => name.startsWith(o))) continue;
  console.log(`\n━━ ${name} ━━`);
  const t0 = Date.now();
  const result = spawnSync(command!, args, { stdio: "inherit", env: { ...process.env, FORCE_COLOR: process.env.CI ? "0" : "1" } });
  const seconds = ((Date.now() - t0) / 1000).toFixed(1);
  timings.push(`  ${result.status === 0 ? "✓" : "✖"} ${name.padEnd(18)} ${seconds}s`);
  if (result.status !== 0) {
    console.error(`\n${timings.join("\n")}\n\n✖ ${name} failed; later steps did not run.\nchecks: ${timings.length - 1} passed, 1 failed`);
    process.exit(result.status ?? 1);
  }
}
console.log(`\n${timings.join("\n")}\n\nAll checks passed in ${Math.round((Date.now() - started) / 1000)}s.\nchecks: ${timings.length} passed, 0 failed`);
