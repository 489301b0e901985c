/**
 * `npm start`: everything on one machine with no setup. Validates configuration, creates and
 * migrates the SQLite database under .data/, finds or starts Redis, builds the app if no current
 * build exists, then starts and supervises the web and runner processes. `--dev` runs the web in
 * Next's development mode (reloads on change) instead of building.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { configOrExit } from "../lib/launcher/config.ts";
import { migrate } from "../lib/db/migrate.ts";
import { buildIsCurrent } from "../lib/launcher/build-stamp.ts";
import { buildApp } from "../lib/launcher/build.ts";
import { RedisUnavailableError, resolveRedis, type ResolvedRedis } from "../lib/launcher/redis.ts";
import { authSecret } from "../lib/launcher/secret.ts";
import { Supervisor } from "../lib/launcher/supervisor.ts";
import { loadCourse } from "../lib/content/loader.ts";
import { renderCourseProblems } from "../components/lesson/render-check.tsx";
import { labsDirFor, loadLabs } from "../lib/labs/loader.ts";

const root = path.resolve(import.meta.dirname, "..");
const dev = process.argv.includes("--dev");

function fail(message: string): never {
  console.error(`\n✖ ${message}\n`);
  process.exit(1);
}

if (existsSync(path.join(root, ".env"))) process.loadEnvFile(path.join(root, ".env"));
// Validated as the operator set it: `FAULTLINE_AUTH=local npm start` on a laptop is fine, while
// an explicit NODE_ENV=production with local auth is refused (lib/env.ts).
const config = configOrExit();
const userSetProduction = process.env.NODE_ENV === "production";
// The children run the optimised build unless --dev; local auth was already judged above.
(process.env as Record<string, string | undefined>).NODE_ENV = dev ? "development" : "production";
if (config.FAULTLINE_AUTH === "local" && !userSetProduction) process.env.FAULTLINE_ALLOW_LOCAL_AUTH_IN_PRODUCTION = "1";
if (config.FAULTLINE_AUTH === "local" && !["127.0.0.1", "localhost", "::1"].includes(config.HOST)) {
  console.warn(`⚠ FAULTLINE_AUTH=local with HOST=${config.HOST}: anyone who can reach this address is signed in as the local learner.`);
}

console.log(`Faultline: starting (${dev ? "development" : "production"}, data in ${path.relative(root, config.dataDir) || "."})`);

try {
  const result = await migrate(config.DATABASE_URL);
  console.log(`  database  ${result.provider}, ${result.applied.length > 0 ? `applied ${result.applied.join(", ")}` : "up to date"}`);
} catch (error) {
  fail(
    `The database could not be prepared: ${error instanceof Error ? error.message : String(error)}\nDATABASE_URL is ${config.DATABASE_URL.replace(/\/\/[^@/]*@/, "//***@")}.`,
  );
}

let redis: ResolvedRedis;
try {
  redis = await resolveRedis({ redisUrl: config.REDIS_URL, dataDir: config.dataDir });
} catch (error) {
  fail(error instanceof RedisUnavailableError ? error.message : String(error));
}
const redisLabel = {
  REDIS_URL: "from REDIS_URL",
  local: "local Redis on 127.0.0.1:6379",
  private: `private redis-server under ${path.relative(root, config.dataDir)}/redis`,
}[redis.source];
console.log(`  redis     ${redisLabel}`);

// The course is verified before anything serves it: production holds it (lessons, labs, checks)
// until the next restart, so a course edited on disk goes live only through this check.
try {
  const labs = loadLabs(labsDirFor(config.courseDir));
  const course = loadCourse(config.courseDir, labs);
  // Every page is rendered once here, into the cache the web server reads, so none answers 500.
  const problems = await renderCourseProblems(course, labs, config.mdxCacheDir);
  if (problems.length > 0) throw new Error(problems.join("\n"));
  console.log(`  course    ${path.relative(root, config.courseDir) || "."}: ${course.milestones.length} milestones, ${labs.length} labs, every page renders`);
} catch (error) {
  const problems = error instanceof Error ? error.message : String(error);
  // In development the author is mid-edit: the pages show the same errors until they are fixed.
  if (dev) console.warn(`⚠ The course in ${config.courseDir} has problems (its pages say which until they are fixed):\n${problems}`);
  else {
    redis.process?.kill("SIGTERM");
    fail(`The course in ${config.courseDir} cannot be taught:\n${problems}\n(npm run content:check lists every problem; fix them, then start again.)`);
  }
}

if (!dev && !buildIsCurrent(root)) {
  if (!(await buildApp(root, { verbose: false }))) {
    redis.process?.kill("SIGTERM");
    process.exit(1);
  }
}

const env: NodeJS.ProcessEnv = {
  ...process.env,
  REDIS_URL: redis.url,
  DATABASE_URL: config.DATABASE_URL,
  NEXT_TELEMETRY_DISABLED: "1",
  FAULTLINE_SUPERVISED: "1",
};
// Only the web signs sessions; the runner, which will run learner code, never holds the secret.
const { AUTH_SECRET: _unused, ...runnerEnv } = env;
const webEnv = { ...env, AUTH_SECRET: authSecret(config.AUTH_SECRET, config.dataDir) };
const node = (script: string, ...args: string[]) => ({ command: process.execPath, args: ["--import", "tsx", script, ...args] });
const supervisor = new Supervisor(
  [
    { name: "web", ...node("scripts/web.ts", ...(dev ? ["--dev"] : [])), env: webEnv },
    { name: "runner", ...node("scripts/runner.ts"), env: runnerEnv },
  ],
  root,
);
supervisor.start();
console.log(`\n  Faultline is starting on ${config.FAULTLINE_URL}  (Ctrl-C stops it)\n`);

let signals = 0;
const onSignal = () => {
  signals += 1;
  if (signals > 1) {
    console.error("Stopping now.");
    process.exit(130);
  }
  console.log("\nStopping Faultline…");
  void supervisor.stop(0);
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);
redis.process?.on("exit", (code) => {
  if (signals === 0) {
    console.error(`\n✖ The private redis-server exited (code ${code}); see ${path.join(config.dataDir, "redis/redis.log")}. Stopping Faultline.`);
    void supervisor.stop(1);
  }
});

const code = await supervisor.finished;
if (redis.process && redis.process.exitCode === null) {
  redis.process.kill("SIGTERM");
  await new Promise((r) => redis.process!.once("exit", r));
}
console.log(code === 0 ? "Faultline stopped." : "Faultline stopped after an error.");
process.exit(code);
