import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, expect, test } from "vitest";
import { resolveRedis, RedisUnavailableError } from "../../lib/launcher/redis.ts";
import { ping } from "../../lib/redis/ping.ts";
import { REDIS_TEST_URL } from "./support/namespaces.ts";

const dead = "redis://127.0.0.1:1";
const dirs: string[] = [];
const dataDir = () => {
  const d = mkdtempSync(path.join(tmpdir(), "fl-redis-"));
  dirs.push(d);
  return d;
};
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

test("REDIS_URL wins when it answers", async () => {
  expect(await resolveRedis({ redisUrl: REDIS_TEST_URL, dataDir: dataDir(), localUrl: dead })).toMatchObject({ source: "REDIS_URL", url: REDIS_TEST_URL });
});

test("a REDIS_URL that does not answer stops start-up naming the variable, without its password", async () => {
  const error = await resolveRedis({ redisUrl: "redis://:hunter2@127.0.0.1:1", dataDir: dataDir() }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(RedisUnavailableError);
  expect((error as Error).message).toMatch(/REDIS_URL is set to redis:\/\/\*\*\*@127\.0\.0\.1:1, but that Redis does not answer/);
  expect((error as Error).message).not.toContain("hunter2");
});

test("with no REDIS_URL, a local Redis that answers is used", async () => {
  expect(await resolveRedis({ dataDir: dataDir(), localUrl: REDIS_TEST_URL })).toMatchObject({ source: "local" });
});

test("with nothing answering, a private password-protected redis-server is started under the data directory", async () => {
  const resolved = await resolveRedis({ dataDir: dataDir(), localUrl: dead });
  try {
    expect(resolved.source).toBe("private");
    expect(await ping(resolved.url)).toBeNull();
    expect(await ping(resolved.url.replace(/\/\/:[^@]+@/, "//"))).not.toBeNull(); // no password, no entry
  } finally {
    resolved.process?.kill("SIGTERM");
  }
});

test("with no Redis anywhere, the error says how to install one or set REDIS_URL", async () => {
  await expect(resolveRedis({ dataDir: dataDir(), localUrl: dead, serverBinary: "redis-server-that-is-not-installed" })).rejects.toThrow(
    /apt-get install redis-server.*REDIS_URL/s,
  );
});
