/**
 * docker-compose.yml as Docker Compose reads it: valid, refuses to start without AUTH_SECRET,
 * and keeps the shape docs/self-hosting.md promises (runners scale, web is health-checked).
 * Uses Debian's docker-compose (1.29), the oldest Compose we support; no Docker daemon needed.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, expect, test } from "vitest";

const root = path.resolve(import.meta.dirname, "../..");

// Compose also reads a .env beside the file, and a developer's .env may well set AUTH_SECRET
// (npm start loads it too); an empty env file keeps these tests about docker-compose.yml alone.
const scratch = mkdtempSync(path.join(tmpdir(), "fl-compose-"));
const emptyEnvFile = path.join(scratch, "empty.env");
writeFileSync(emptyEnvFile, "");
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function compose(args: string[], extraEnv: Record<string, string> = {}) {
  const result = spawnSync("docker-compose", ["--env-file", emptyEnvFile, "-f", "docker-compose.yml", ...args], {
    cwd: root,
    // Only what Compose needs, so COMPOSE_* or FAULTLINE_* in the caller's shell change nothing
    // (NODE_ENV only because Next's types make it a required member of ProcessEnv).
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: "test", ...extraEnv },
    encoding: "utf8",
    timeout: 60_000,
  });
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT") {
    throw new Error("docker-compose is missing: apt-get install docker-compose");
  }
  if (result.error) throw result.error;
  return result;
}

/** One service's block of `docker-compose config` output: its indented lines under `  name:`. */
function serviceBlock(config: string, name: string): string {
  const lines = config.split("\n");
  const start = lines.indexOf(`  ${name}:`);
  expect(start, `service ${name} in docker-compose config output`).toBeGreaterThanOrEqual(0);
  const end = lines.findIndex((line, i) => i > start && !/^ {4}/.test(line));
  return lines.slice(start + 1, end === -1 ? undefined : end).join("\n");
}

test("docker-compose.yml is valid when AUTH_SECRET is set", () => {
  const result = compose(["config", "-q"], { AUTH_SECRET: "x" });
  expect(result.stderr).not.toContain("WARNING:");
  expect(result.status).toBe(0);
});

test("compose refuses to start without AUTH_SECRET and says which variable is missing", () => {
  const result = compose(["config", "-q"]);
  expect(result.status).not.toBe(0);
  expect(result.stderr).toContain("AUTH_SECRET");
  expect(result.stderr).toContain("openssl rand -base64 32");
});

test("runners publish no ports so they scale, and web has a readiness health check", () => {
  const result = compose(["config"], { AUTH_SECRET: "x" });
  expect(result.status, result.stderr).toBe(0);

  const runner = serviceBlock(result.stdout, "runner");
  expect(runner).not.toMatch(/^ {4}ports:/m);
  expect(runner).not.toMatch(/^ {4}container_name:/m);
  expect(runner).toContain("seccomp=unconfined");

  const web = serviceBlock(result.stdout, "web");
  expect(web).toMatch(/^ {4}ports:/m);
  expect(web).toMatch(/^ {4}healthcheck:/m);
  expect(web).toContain("/api/ready");
});
