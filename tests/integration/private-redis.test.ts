import { existsSync } from "node:fs";
import { Redis } from "ioredis";
import { afterAll, beforeAll, expect, test } from "vitest";
import { PrivateRedisPool, startPrivateRedis, type PrivateRedis } from "../../lib/runner/private-redis.ts";

let instance: PrivateRedis;
let learner: Redis;
beforeAll(async () => {
  instance = await startPrivateRedis();
  learner = new Redis({ path: instance.socketPath, username: "learner", password: instance.learner.password, maxRetriesPerRequest: 0 });
});
afterAll(async () => {
  learner.disconnect();
  await instance.stop();
});

test("the learner user can use ordinary data commands", async () => {
  await learner.zadd("queue", 5, "task-1");
  expect(await learner.zrange("queue", 0, -1)).toEqual(["task-1"]);
  expect(await learner.eval("return redis.call('GET', KEYS[1])", 1, "missing")).toBeNull();
});

test.each([
  ["FLUSHALL", ["flushall"]],
  ["CONFIG", ["config", "get", "*"]],
  ["DEBUG", ["debug", "sleep", "1"]],
  ["KEYS", ["keys", "*"]],
  ["SCAN", ["scan", "0"]],
  ["ACL", ["acl", "list"]],
  ["SCRIPT FLUSH", ["script", "flush"]],
  ["MODULE", ["module", "list"]],
  ["SHUTDOWN", ["shutdown"]],
])("the learner user is refused %s", async (_, [command, ...args]) => {
  await expect(learner.call(command!, ...args)).rejects.toThrow(/NOPERM|no permissions|DEBUG command not allowed/i);
});

test("the default user is off, so AUTH default is refused", async () => {
  await expect(learner.call("AUTH", "default", "x")).rejects.toThrow(/WRONGPASS|invalid username-password/i);
});

test("a 300 MiB SETRANGE or a 9 MiB value is refused instead of filling the machine", async () => {
  await expect(learner.setrange("bomb", 300 * 1024 * 1024, "x")).rejects.toThrow(/string exceeds maximum allowed size/i);
  expect(await learner.ping()).toBe("PONG");
  // A 9 MiB argument is over proto-max-bulk-len: Redis drops that connection, not the instance.
  const bomber = new Redis({
    path: instance.socketPath,
    username: "learner",
    password: instance.learner.password,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  bomber.on("error", () => {});
  await expect(bomber.call("APPEND", "bomb2", Buffer.alloc(9 * 1024 * 1024))).rejects.toThrow();
  bomber.disconnect();
  expect(await learner.exists("bomb", "bomb2")).toBe(0);
});

test("a Lua busy loop can be killed by the grader and the instance recovers", async () => {
  // Opened first: during a busy script Redis refuses even AUTH on a new connection.
  const admin = instance.adminClient();
  await admin.ping();
  const looping = new Redis({ path: instance.socketPath, username: "learner", password: instance.learner.password, maxRetriesPerRequest: 0 });
  const loop = looping.eval("while true do end", 0).catch((e: Error) => e);
  await new Promise((r) => setTimeout(r, 400));
  await expect(admin.ping()).rejects.toThrow(/BUSY/);
  await admin.call("SCRIPT", "KILL");
  expect(String(await loop)).toMatch(/killed/i);
  expect(await admin.ping()).toBe("PONG");
  admin.disconnect();
  looping.disconnect();
});

test("stopping removes the socket directory, even mid-script", async () => {
  const other = await startPrivateRedis();
  expect(existsSync(other.socketPath)).toBe(true);
  await other.stop();
  expect(existsSync(other.dir)).toBe(false);
});

test("the pool hands out distinct, pre-started instances and refills", async () => {
  const pool = new PrivateRedisPool(2);
  const got = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
  expect(new Set(got.map((g) => g.socketPath)).size).toBe(3);
  for (const g of got) {
    const c = g.adminClient();
    expect(await c.dbsize()).toBe(0);
    c.disconnect();
    await g.stop();
  }
  await pool.close();
  console.log(`private redis start: ${got.map((g) => g.startMs.toFixed(0)).join(", ")} ms`);
});
