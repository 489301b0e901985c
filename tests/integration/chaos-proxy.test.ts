import net from "node:net";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { Redis, type RedisOptions } from "ioredis";
import { afterAll, afterEach, beforeAll, expect, test } from "vitest";
import { ChaosProxy, mulberry32, type ChaosProxyOptions } from "../../lib/runner/chaos-proxy.ts";
import { startPrivateRedis, type PrivateRedis } from "../../lib/runner/private-redis.ts";

// The same private, ACL'd redis-server a run gets, so the proxy is tested against the real thing.
let instance: PrivateRedis;
let dir = "";
let redisSock = "";
let direct: Redis; // admin connection that bypasses the proxy, to check what really reached Redis
const proxies: ChaosProxy[] = [];
const clients: Redis[] = [];

beforeAll(async () => {
  instance = await startPrivateRedis();
  dir = instance.dir;
  redisSock = instance.socketPath;
  direct = instance.adminClient();
  await direct.ping();
});

afterAll(async () => {
  direct?.disconnect();
  await instance?.stop();
});

afterEach(async () => {
  clients.splice(0).forEach((c) => c.disconnect());
  await Promise.all(proxies.splice(0).map((p) => p.stop()));
  await direct.flushall();
});

let proxyCount = 0;
async function startProxy(opts: Partial<ChaosProxyOptions> = {}): Promise<ChaosProxy> {
  const listenPath = path.join(dir, `proxy-${++proxyCount}.sock`);
  const proxy = new ChaosProxy({
    listenPath,
    upstreamPath: redisSock,
    upstreamUser: instance.learner.user,
    upstreamPassword: instance.learner.password,
    seed: 1,
    ...opts,
  });
  await proxy.start();
  proxies.push(proxy);
  proxyPaths.set(proxy, listenPath);
  return proxy;
}

/** A learner's client: no password. Quiet by default so the first commands in the log are the test's own. */
function connect(proxy: ChaosProxy, opts: RedisOptions = { enableReadyCheck: false, disableClientInfo: true }): Redis {
  const client = new Redis({ path: proxyPath(proxy), ...opts });
  client.on("error", () => {}); // failures are asserted on the commands themselves
  clients.push(client);
  return client;
}
const proxyPaths = new Map<ChaosProxy, string>();
async function waitUntil(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const proxyPath = (proxy: ChaosProxy) => proxyPaths.get(proxy) as string;
const noRetry: RedisOptions = { enableReadyCheck: false, disableClientInfo: true, maxRetriesPerRequest: 0, retryStrategy: () => null };

test("SET and GET work through the proxy with a stock ioredis client, and the log records both in order with replies", async () => {
  const proxy = await startProxy();
  const client = connect(proxy, {});
  expect(await client.set("greeting", "héllo")).toBe("OK");
  expect(await client.get("greeting")).toBe("héllo");
  const mine = proxy.log.filter((e) => e.args[0] === "SET" || e.args[0] === "GET");
  expect(mine).toMatchObject([
    { conn: 1, args: ["SET", "greeting", "héllo"], reply: { type: "simple", summary: "OK" } },
    { conn: 1, args: ["GET", "greeting"], reply: { type: "bulk", summary: "héllo" } },
  ]);
  expect(mine[1]!.seq).toBeGreaterThan(mine[0]!.seq);
  expect(mine.every((e) => typeof e.durationMs === "number" && e.at >= 0)).toBe(true);
  expect(proxy.stats()).toMatchObject({ connectionsOpen: 1, connectionsTotal: 1 });
  expect(proxy.log.some((e) => e.args[0] === "AUTH")).toBe(false); // the proxy's own AUTH is never shown
});

test("a learner's AUTH or HELLO ... AUTH is refused and never forwarded", async () => {
  const proxy = await startProxy();
  const client = connect(proxy);
  await expect(client.auth("default", "x")).rejects.toThrow("ERR Faultline: authentication is handled by the lab harness");
  await expect(client.call("HELLO", "2", "AUTH", "learner", "pw")).rejects.toThrow("authentication is handled by the lab harness");
  expect(await client.ping()).toBe("PONG"); // the connection is still usable
});

test("a command outside the allow-list is refused and does not reach Redis", async () => {
  const proxy = await startProxy({ allow: new Set(["GET", "SET"]) });
  const client = connect(proxy);
  await expect(client.append("k", "x")).rejects.toThrow("ERR Faultline: command 'APPEND' is not allowed in this lab");
  expect(await direct.exists("k")).toBe(0);
  expect(await client.set("k", "v")).toBe("OK");
  expect(await direct.get("k")).toBe("v");
});

/** Writes raw bytes to the proxy on a fresh connection and returns everything it answers within waitMs. */
async function rawExchange(proxy: ChaosProxy, bytes: string | Buffer, waitMs = 300): Promise<string> {
  const socket = net.connect(proxyPath(proxy));
  let got = "";
  socket.on("data", (d: Buffer) => (got += d.toString("latin1")));
  socket.on("error", () => {});
  await new Promise((resolve) => socket.on("connect", resolve));
  socket.write(bytes);
  await new Promise((resolve) => setTimeout(resolve, waitMs));
  socket.destroy();
  return got;
}

test("quoted and escaped inline commands are read as Redis reads them, so they cannot slip past AUTH refusal or the allow-list", async () => {
  const proxy = await startProxy({ allow: new Set(["GET", "SET", "PING"]) });
  const got = await rawExchange(proxy, `"AUTH" default x\r\n"\\x41PPEND" k x\r\nA'PPEND' k x\r\n"SET" k "two words"\r\nPING\r\n`);
  expect(got).toBe(
    "-ERR Faultline: authentication is handled by the lab harness\r\n" +
      "-ERR Faultline: command 'APPEND' is not allowed in this lab\r\n".repeat(2) +
      "+OK\r\n+PONG\r\n",
  );
  expect(await direct.get("k")).toBe("two words");
  expect(proxy.log.filter((e) => e.conn > 0).map((e) => e.args[0])).toEqual(["AUTH", "APPEND", "APPEND", "SET", "PING"]);
});

test("an inline command with unbalanced quotes is a protocol error, answered after the commands before it", async () => {
  const proxy = await startProxy();
  expect(await rawExchange(proxy, `PING\r\n"AUTH default x\r\nPING\r\n`)).toBe("+PONG\r\n-ERR Protocol error: unbalanced quotes in request\r\n");
});

test("a learner that stops reading makes the proxy stop reading Redis; its unread replies never pile up in the proxy", async () => {
  const proxy = await startProxy();
  await direct.set("big", "x".repeat(4 * 1024 * 1024));
  const socket = net.connect(proxyPath(proxy));
  socket.on("error", () => {});
  await new Promise((resolve) => socket.on("connect", resolve));
  socket.pause();
  // Under the 32 MiB Redis lets a client leave unread (client-output-buffer-limit), over what the proxy should hold.
  for (let i = 0; i < 6; i++) socket.write("GET big\r\n");
  const before = process.memoryUsage().arrayBuffers;
  await new Promise((resolve) => setTimeout(resolve, 800));
  expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(12 * 1024 * 1024);
  let received = 0;
  socket.on("data", (d: Buffer) => (received += d.length));
  socket.resume();
  const whole = 6 * (4 * 1024 * 1024 + "$4194304\r\n\r\n".length);
  for (let i = 0; i < 100 && received < whole; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  socket.destroy();
  expect(received).toBe(whole);
});

test("100 pipelined commands with replies fragmented byte by byte all come back correct and in order", async () => {
  const proxy = await startProxy();
  const client = connect(proxy);
  proxy.fragment(1);
  const pipeline = client.pipeline();
  for (let i = 0; i < 100; i++) {
    if (i % 2 === 0) pipeline.set(`k:${i}`, `välue-${i}-🎉`);
    else pipeline.get(`k:${i - 1}`);
  }
  const results = await pipeline.exec();
  expect(results).toEqual(Array.from({ length: 100 }, (_, i) => [null, i % 2 === 0 ? "OK" : `välue-${i - 1}-🎉`]));
});

test("failNext(2, { match: 'GET' }) fails exactly the next two GETs, leaving other commands alone", async () => {
  const proxy = await startProxy();
  const client = connect(proxy);
  await client.set("k", "v");
  proxy.failNext(2, { match: "GET" });
  await expect(client.get("k")).rejects.toThrow("ERR Faultline: injected failure");
  expect(await client.set("k", "v2")).toBe("OK");
  await expect(client.get("k")).rejects.toThrow("ERR Faultline: injected failure");
  expect(await client.get("k")).toBe("v2");
  expect(proxy.log.filter((e) => e.fault === "failNext").map((e) => e.args[0])).toEqual(["GET", "GET"]);
  expect(proxy.log.some((e) => e.conn === 0 && e.fault === "failNext 2 GET")).toBe(true);
});

test("a failure injected inside MULTI aborts the transaction as Redis would; a failed EXEC leaves no open MULTI", async () => {
  const proxy = await startProxy();
  const client = connect(proxy);
  proxy.failNext(1, { match: "SET" });
  const [first, second] = (await client
    .multi()
    .incr("a")
    .set("b", "1")
    .exec()
    .catch((e: Error) => [e.message])) as [unknown, unknown?];
  expect(String(first)).toMatch(/EXECABORT/);
  expect(second).toBeUndefined();
  expect(await client.get("a")).toBeNull(); // nothing of the transaction was applied

  proxy.failNext(1, { match: "EXEC" });
  await expect(client.multi().incr("a").exec()).rejects.toThrow("ERR Faultline: injected failure");
  // Redis discarded the transaction too: the next command runs at once instead of being QUEUED.
  expect(await client.set("c", "1")).toBe("OK");
  expect(await client.get("a")).toBeNull();
  expect(await client.multi().incr("a").exec()).toEqual([[null, 1]]);
});

test("setLatency({ ms: 50 }) makes a GET take at least 50 ms", async () => {
  const proxy = await startProxy();
  const client = connect(proxy);
  await client.set("k", "v");
  proxy.setLatency({ ms: 50, jitterMs: 0 });
  const started = performance.now();
  expect(await client.get("k")).toBe("v");
  expect(performance.now() - started).toBeGreaterThanOrEqual(50);
  expect(proxy.log.at(-1)).toMatchObject({ args: ["GET", "k"], faultDelayMs: 50 });
});

test("partition() fails commands and refuses new connections until heal()", async () => {
  const proxy = await startProxy();
  const before = connect(proxy, noRetry);
  expect(await before.ping()).toBe("PONG");
  proxy.partition();
  await expect(before.ping()).rejects.toThrow();
  const during = connect(proxy, noRetry);
  await expect(during.ping()).rejects.toThrow();
  expect(proxy.stats()).toMatchObject({ connectionsOpen: 0, connectionsTotal: 1 });
  proxy.heal();
  expect(await connect(proxy, noRetry).ping()).toBe("PONG");
  expect(proxy.log.filter((e) => e.conn === 0).map((e) => e.fault)).toEqual(["partition (1 connections cut)", "heal"]);
});

test("stall() holds commands unanswered on open connections; unstall() sends them on in order, so a timed-out write may still land", async () => {
  const proxy = await startProxy();
  const patient = connect(proxy);
  const hasty = connect(proxy, { ...noRetry, commandTimeout: 150 });
  expect(await patient.ping()).toBe("PONG");
  expect(await hasty.ping()).toBe("PONG");
  proxy.stall();
  const started = performance.now();
  const waiting = patient.incr("stalled:n");
  await expect(hasty.set("stalled:late", "1")).rejects.toThrow(/timed out/i);
  expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  expect(await direct.get("stalled:n")).toBeNull(); // held, never reached Redis
  expect(proxy.stats().connectionsOpen).toBe(2); // nothing was cut
  proxy.unstall();
  expect(await waiting).toBe(1);
  await waitUntil(() => proxy.log.some((e) => e.args[0] === "SET"));
  expect(await direct.get("stalled:late")).toBe("1"); // the client gave up; Redis still ran it
  expect(proxy.log.filter((e) => e.conn === 0).map((e) => e.fault)).toEqual(["stall (2 connections held)", "unstall (2 commands released)"]);
});

test("reset() ends a stall and releases what it held", async () => {
  const proxy = await startProxy();
  const client = connect(proxy);
  expect(await client.ping()).toBe("PONG");
  proxy.stall();
  const held = client.get("x");
  await new Promise((r) => setTimeout(r, 50));
  proxy.reset();
  expect(await held).toBeNull();
});

test("the same seed gives the same jitter schedule", async () => {
  const delaysFor = async (seed: number) => {
    const proxy = await startProxy({ seed });
    const client = connect(proxy);
    proxy.setLatency({ ms: 5, jitterMs: 4 });
    for (let i = 0; i < 10; i++) await client.ping();
    return proxy.log.filter((e) => e.args[0] === "PING").map((e) => e.faultDelayMs);
  };
  const first = await delaysFor(42);
  const rand = mulberry32(42);
  expect(first).toEqual(Array.from({ length: 10 }, () => Math.round(5 + (rand() * 2 - 1) * 4)));
  expect(await delaysFor(42)).toEqual(first);
  expect(await delaysFor(43)).not.toEqual(first);
});

test("a command budget of 5 refuses the 6th command, naming the budget", async () => {
  const proxy = await startProxy({ budgets: { commands: 5 } });
  const client = connect(proxy);
  for (let i = 0; i < 5; i++) expect(await client.incr("n")).toBe(i + 1);
  await expect(client.incr("n")).rejects.toThrow("ERR Faultline: command budget of 5 exceeded");
  expect(await direct.get("n")).toBe("5");
});

test("dropReplies(1) swallows one reply; the client's FIFO then pairs the next reply with the hung command", async () => {
  const proxy = await startProxy();
  const client = connect(proxy);
  proxy.dropReplies(1);
  const set = client.set("a", "1");
  const get = client.get("a");
  expect(await set).toBe("1"); // what a learner sees: SET "returns" GET's reply
  void client.ping().catch(() => {}); // this promise stays pending for good: its reply went to GET
  expect(await get).toBe("PONG");
  expect(await direct.get("a")).toBe("1"); // the command whose reply was dropped did run
  expect(proxy.log.find((e) => e.fault === "dropReply")).toMatchObject({ args: ["SET", "a", "1"], reply: { summary: "OK" } });
});

test("connection and value-size budgets refuse with an error naming the budget", async () => {
  const proxy = await startProxy({ budgets: { connections: 1, valueBytes: 8 } });
  const first = connect(proxy, noRetry);
  await expect(first.set("k", "123456789")).rejects.toThrow("ERR Faultline: value size budget of 8 bytes exceeded");
  expect(await first.set("k", "12345678")).toBe("OK");
  const second = connect(proxy, noRetry);
  // The error arrives unprompted, so ioredis pins it on PING or, if PING is not sent yet, emits it.
  const seen: string[] = [];
  second.on("error", (e: Error) => seen.push(e.message));
  await second.ping().catch((e: Error) => seen.push(e.message));
  expect(seen.join("\n")).toContain("ERR Faultline: connection budget of 1 open connections exceeded");
  expect(proxy.stats()).toMatchObject({ connectionsTotal: 1, connectionsOpen: 1 });
  second.disconnect();
  // Once the first closes, a new connection fits the budget again.
  first.disconnect();
  await waitUntil(() => proxy.stats().connectionsOpen === 0);
  const third = connect(proxy, noRetry);
  expect(await third.ping()).toBe("PONG");
  third.disconnect();
});

test("cutAll() drops current connections; new ones work", async () => {
  const proxy = await startProxy();
  const client = connect(proxy, noRetry);
  expect(await client.ping()).toBe("PONG");
  proxy.cutAll();
  await expect(client.ping()).rejects.toThrow();
  expect(await connect(proxy, noRetry).ping()).toBe("PONG");
  expect(proxy.stats()).toMatchObject({ connectionsTotal: 2, faultsInjected: 1 });
});

test("duplicateNext(1, { match: 'RPUSH' }) delivers one push twice while the client sees one reply, in step", async () => {
  const proxy = await startProxy();
  const client = connect(proxy);
  proxy.duplicateNext(1, { match: "RPUSH" });
  expect(await client.set("other", "x")).toBe("OK"); // not matched: sent once
  expect(await client.rpush("tasks", "t1")).toBe(1); // the first copy's reply
  expect(await client.rpush("tasks", "t2")).toBe(3); // Redis saw t1 twice
  expect(await client.lrange("tasks", 0, -1)).toEqual(["t1", "t1", "t2"]);
  expect(proxy.log.filter((e) => e.fault === "duplicate").map((e) => e.args.join(" "))).toEqual(["RPUSH tasks t1"]);
});

/** A learner program's own client: through the socket the proxy tags with its name. */
function connectAs(proxy: ChaosProxy, owner: string): Redis {
  const own = path.join(dir, `own-${++proxyCount}.sock`);
  proxy.listenFor(own, owner);
  const client = new Redis({ path: own, enableReadyCheck: false, disableClientInfo: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on("error", () => {});
  clients.push(client);
  return client;
}

test("a crash point before the 2nd SET: the first reached Redis, the second and everything after never did, on any connection of that program", async () => {
  const proxy = await startProxy();
  const main = connectAs(proxy, "worker-1");
  const other = connectAs(proxy, "worker-1");
  const bystander = connectAs(proxy, "worker-2");
  await Promise.all([main.ping(), other.ping(), bystander.ping()]);
  const { fired } = proxy.crashPoint({ owner: "worker-1", match: "set", nth: 2, when: "before" });
  await main.set("a", "1");
  void main.set("b", "2").catch(() => {});
  const entry = await fired;
  expect(entry?.args).toEqual(["SET", "b", "2"]);
  expect(entry?.owner).toBe("worker-1");
  expect(entry?.fault).toBe("crash point: worker-1 stops before this SET");
  void other.set("c", "3").catch(() => {});
  await bystander.set("d", "4"); // another program is not touched
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(await direct.mget("a", "b", "c", "d")).toEqual(["1", null, null, "4"]);
  expect(proxy.log.filter((e) => e.owner === "worker-2").map((e) => e.args[0])).toEqual(["PING", "SET"]);
});

test("a crash point after an INCR: Redis applied it, its reply never arrives, and the program's next command is not sent", async () => {
  const proxy = await startProxy();
  const client = connectAs(proxy, "relay");
  await client.ping();
  const { fired } = proxy.crashPoint({ owner: "relay", match: "INCR", nth: 1, when: "after" });
  let answered = false;
  void client.incr("n").then(
    () => (answered = true),
    () => {},
  );
  void client.set("after", "x").catch(() => {});
  const entry = await fired;
  expect(entry?.args).toEqual(["INCR", "n"]);
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(answered).toBe(false);
  expect(await direct.mget("n", "after")).toEqual(["1", null]);
});

test("reset() disarms a crash point that never fired and unfreezes nothing it did not freeze", async () => {
  const proxy = await startProxy();
  const client = connectAs(proxy, "idle");
  const { fired } = proxy.crashPoint({ owner: "idle", match: "DEL", nth: 1, when: "before" });
  proxy.reset();
  expect(await fired).toBeNull();
  expect(await client.del("x")).toBe(0);
});

test("failNext and duplicateNext scoped to one program leave every other program's commands alone", async () => {
  const proxy = await startProxy();
  const worker = connectAs(proxy, "worker-1");
  const other = connectAs(proxy, "worker-2");
  await Promise.all([worker.ping(), other.ping()]);
  proxy.failNext(1, { match: "INCR", owner: "worker-1" });
  expect(await other.incr("scoped:n")).toBe(1); // not worker-1: untouched, and the fault still armed
  await expect(worker.incr("scoped:n")).rejects.toThrow(/injected failure/);
  expect(await worker.incr("scoped:n")).toBe(2);
  proxy.duplicateNext(1, { match: "RPUSH", owner: "worker-2" });
  expect(await worker.rpush("scoped:list", "a")).toBe(1);
  expect(await other.rpush("scoped:list", "b")).toBe(2); // answered once
  await waitUntil(() => proxy.log.filter((e) => e.args[0] === "RPUSH").length === 2);
  expect(await direct.lrange("scoped:list", 0, -1)).toEqual(["a", "b", "b"]);
  expect(proxy.log.filter((e) => e.conn === 0).map((e) => e.fault)).toEqual(["failNext 1 INCR from worker-1", "duplicateNext 1 RPUSH from worker-2"]);
});
