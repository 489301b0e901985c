/**
 * The web tier under abuse, through the real server: a huge chunked body, a pile of event
 * streams, bogus Last-Event-IDs, prototype-named files, and what /api/ready and /api/metrics
 * tell whom — on the suite's server and on a second web replica sharing its Redis.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import Database from "better-sqlite3";
import { Redis } from "ioredis";
import { expect, test, type APIRequestContext, type Browser } from "@playwright/test";
import { cookieHeader, listenerPid, openStream, sendChunked, sseEvents, type OpenStream } from "./raw-http";
import { signUp, uniqueEmail } from "./support";

const port = Number(process.env.E2E_PORT ?? 3210);
const replicaPort = port + 1;
const METRICS_TOKEN = "e2e-replica-metrics-token-4f9c2a";
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const MiB = 1024 * 1024;
const starter = readFileSync("labs/priority-queue/starter/queue.ts", "utf8");

test.describe.configure({ mode: "serial" });

let replica: ChildProcess | undefined;

test.beforeAll(async ({ browser }) => {
  // On a fresh database the first sign-up becomes admin; keep that role away from our learners.
  const first = await browser.newContext();
  await signUp(await first.newPage(), uniqueEmail("first"), "First");
  await first.close();
});

test.afterAll(() => {
  replica?.kill("SIGTERM");
});

async function learner(browser: Browser, who: string): Promise<{ api: APIRequestContext; cookie: string; email: string }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const email = uniqueEmail(who);
  await signUp(page, email, who);
  await expect(page.getByRole("banner").getByLabel(/^Account menu for/)).toBeVisible();
  return { api: page.request, cookie: await cookieHeader(context), email };
}

/** Setup, not the flow under test (auth.spec.ts tests the admin page's role change). */
function makeAdmin(email: string) {
  const db = new Database(".data/e2e/faultline.db");
  try {
    db.prepare(`UPDATE "User" SET role = 'admin' WHERE email = ?`).run(email);
  } finally {
    db.close();
  }
}

const metric = (text: string, name: string) => Number(new RegExp(`^${name} (\\d+(?:\\.\\d+)?(?:e\\+\\d+)?)$`, "m").exec(text)?.[1] ?? NaN);

/** A playground run (a minute long), so streams on it stay open. */
async function liveRun(api: APIRequestContext): Promise<{ id: string; eventsUrl: string }> {
  const created = await api.post("/api/runs", { data: { lab: "priority-queue", mode: "run", files: { "queue.ts": starter } } });
  expect(created.status()).toBe(202);
  return (await created.json()) as { id: string; eventsUrl: string };
}

/** Opens a stream until one is accepted (a closed stream's slot frees a moment after its socket closes). */
async function openWhenFree(p: number, path: string, cookie: string): Promise<OpenStream> {
  let last: OpenStream | undefined;
  await expect
    .poll(
      async () => {
        last = await openStream(p, path, { cookie });
        if (last.status !== 200) last.close();
        return last.status;
      },
      { timeout: 10_000 },
    )
    .toBe(200);
  return last!;
}

test("a 64 MiB body sent in chunks (no Content-Length) is refused at the cap with 413, and the web process's memory stays flat", async ({
  browser,
  request,
}) => {
  test.setTimeout(120_000);
  const { cookie } = await learner(browser, "bulk");
  const rss = async () => metric(await (await request.get("/api/metrics")).text(), "process_resident_memory_bytes");
  const targets: { path: string; method: string; headers: Record<string, string> }[] = [
    { path: "/api/runs", method: "POST", headers: {} },
    { path: "/api/labs/priority-queue/draft", method: "PUT", headers: {} },
    { path: "/api/signup", method: "POST", headers: {} },
    // next-auth reads its own bodies whole; its POSTs now get a capped body first.
    { path: "/api/auth/callback/credentials", method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" } },
    // Server actions: Next reads the body itself, counting it against serverActions.bodySizeLimit.
    { path: "/join", method: "POST", headers: { "content-type": "multipart/form-data; boundary=xyz" } },
  ];
  const attack = async (total: number) => {
    for (const { path, method, headers } of targets) {
      if (path === "/join") {
        // Next answers its own 413 as a 500 page and cuts the connection mid-upload, which can reset it before the answer arrives.
        const res = await sendChunked(port, path, { method, headers: { cookie, ...headers }, total }).catch(() => ({ status: 0, sent: NaN }));
        expect(res.status === 0 || res.status >= 400, `${path}: ${res.status}`).toBe(true);
        if (total > 32 * MiB)
          console.log(`${method} ${path}: ${res.status || "connection cut"} after the client had sent ${(res.sent / MiB).toFixed(1)} of ${total / MiB} MiB`);
        continue;
      }
      const res = await sendChunked(port, path, { method, headers: { cookie, ...headers }, total });
      expect(res.status, `${method} ${path}`).toBe(413);
      expect((JSON.parse(res.body) as { error: string }).error).toMatch(/larger than \d+ kB, the most this endpoint accepts; send less/);
      if (total > 32 * MiB) console.log(`${method} ${path}: ${res.status} after the client had sent ${(res.sent / MiB).toFixed(1)} of ${total / MiB} MiB`);
    }
  };
  // Each route's code loads on its first request, whatever the body: load it before measuring.
  await attack(2 * MiB);
  const before = await rss();
  for (let round = 0; round < 3; round++) await attack(64 * MiB);
  const after = await rss();
  console.log(
    `web RSS before ${(before / MiB).toFixed(1)} MiB, after fifteen 64 MiB chunked bodies ${(after / MiB).toFixed(1)} MiB (growth ${((after - before) / MiB).toFixed(1)} MiB)`,
  );
  expect(after - before).toBeLessThan(32 * MiB);
  // An honest body still works after all that.
  const { api } = await learner(browser, "after-bulk");
  expect((await api.put("/api/labs/priority-queue/draft", { data: { files: { "queue.ts": starter } } })).status()).toBe(200);
});

test("streams on one run: up to the cap are served, the next gets 429 saying what to do, closing one frees a slot, and the web's Redis connections do not grow", async ({
  browser,
}) => {
  test.setTimeout(90_000);
  const { api, cookie } = await learner(browser, "viewer");
  const { id, eventsUrl } = await liveRun(api);
  const pid = listenerPid(port);
  const redis = new Redis(REDIS_URL);
  // The web process names its connections <prefix>web:<host>:<pid>[:events] (lib/redis/index.ts).
  const webConnections = async () =>
    ((await redis.client("LIST")) as string).split("\n").filter((line) => new RegExp(` name=\\S*web:\\S+:${pid}(:events)? `).test(line)).length;
  try {
    const streams = [await openStream(port, eventsUrl, { cookie })];
    await expect.poll(() => streams[0]!.text()).toContain("event: queued");
    // The shared client and the one blocking event reader (named once it has connected).
    await expect.poll(webConnections).toBe(2);
    const withOne = await webConnections();
    for (let i = 1; i < 5; i++) streams.push(await openStream(port, eventsUrl, { cookie }));
    expect(streams.map((s) => s.status)).toEqual([200, 200, 200, 200, 200]);
    await expect.poll(() => streams.every((s) => s.text().includes("event: queued"))).toBe(true);
    const withFive = await webConnections();
    console.log(`web ${pid}: ${withOne} named platform Redis connections with 1 stream open, ${withFive} with 5`);
    expect(withFive).toBe(withOne);

    const sixth = await openStream(port, eventsUrl, { cookie });
    expect(sixth.status).toBe(429);
    expect((JSON.parse(await sixth.ended) as { error: string }).error).toMatch(/already open live in 5 tabs.*Close the other tabs showing it/);

    streams.shift()!.close();
    streams.push(await openWhenFree(port, eventsUrl, cookie));
    // Every open stream is live: they all see the run's events as they come.
    await expect.poll(() => streams.every((s) => s.text().includes("event: started")), { timeout: 30_000 }).toBe(true);
    for (const s of streams) s.close();
  } finally {
    redis.disconnect();
    await api.delete(`/api/runs/${id}`);
  }
});

test("a bogus or out-of-range Last-Event-ID still ends with the run's final event, so a browser stops reconnecting", async ({ browser }) => {
  test.setTimeout(90_000);
  const { api } = await learner(browser, "resumer");
  const created = await api.post("/api/runs", { data: { lab: "priority-queue", mode: "check", files: { "queue.ts": starter } } });
  const { eventsUrl } = (await created.json()) as { eventsUrl: string };
  const all = sseEvents(await (await api.get(eventsUrl, { timeout: 60_000 })).text());
  const end = all.at(-1)!;
  expect(end).toMatchObject({ event: "end", data: { type: "end", status: "fail" } });
  // 20 digits that overflow Redis's 64-bit ids: XREAD refused it, and the stream closed with no end.
  const huge = sseEvents(await (await api.get(eventsUrl, { headers: { "last-event-id": "99999999999999999999-0" }, timeout: 30_000 })).text());
  expect(huge.map((e) => e.id)).toEqual(all.map((e) => e.id)); // read from the start instead
  // A valid id past the end of this finished run: the final event, once, and the stream ends.
  const past = await api.get(eventsUrl, { headers: { "last-event-id": "18446744073709551615-18446744073709551615" }, timeout: 30_000 });
  expect(sseEvents(await past.text())).toEqual([end]);
});

test("a file named __proto__ (or constructor, prototype) is refused by name in runs and drafts, not dropped", async ({ browser }) => {
  const { api } = await learner(browser, "proto");
  const json = { "content-type": "application/json" };
  // Written as text: in a JS object literal "__proto__" would set the prototype, not send a key.
  for (const name of ["__proto__", "constructor", "prototype"]) {
    const res = await api.post("/api/runs", {
      headers: json,
      data: `{"lab":"priority-queue","mode":"check","files":{"${name}":"x","queue.ts":${JSON.stringify(starter)}}}`,
    });
    expect(res.status(), name).toBe(422);
    expect(((await res.json()) as { error: string }).error).toContain(`"${name}" is not a file of lab "priority-queue"`);
  }
  const nested = await api.post("/api/runs", { headers: json, data: `{"lab":"priority-queue","files":{"__proto__":{"queue.ts":"export {}"}}}` });
  expect(nested.status()).toBe(422);
  for (const name of ["__proto__", "constructor"]) {
    const draft = await api.put("/api/labs/priority-queue/draft", { headers: json, data: `{"files":{"${name}":"x"}}` });
    expect(draft.status(), name).toBe(422);
    expect(((await draft.json()) as { error: string }).error).toContain(`no file '${name}'`);
  }
  expect(((await (await api.get("/api/labs/priority-queue/draft")).json()) as { source: string }).source).toBe("starter");
});

test("/api/ready tells anyone the status and runner tiers, and only an admin which runners they are", async ({ browser, request }) => {
  const open = await request.get("/api/ready");
  expect(open.status()).toBe(200);
  const pub = (await open.json()) as { runners: { count: number; tiers: Record<string, number> } };
  expect(pub).toMatchObject({ ready: true, checks: { database: "ok", redis: "ok" }, runners: { count: 1 } });
  expect(Object.values(pub.runners.tiers)).toEqual([1]);
  expect(pub).not.toHaveProperty("fleet");

  const plain = await learner(browser, "curious");
  expect(await (await plain.api.get("/api/ready")).json()).not.toHaveProperty("fleet");

  const operator = await learner(browser, "operator");
  makeAdmin(operator.email);
  const details = (await (await operator.api.get("/api/ready")).json()) as { fleet: { id: string; host: string; pid: number; sandbox: string }[] };
  expect(details.fleet).toEqual([
    expect.objectContaining({ id: expect.any(String), host: expect.any(String), pid: expect.any(Number), sandbox: Object.keys(pub.runners.tiers)[0] }),
  ]);
  const publicText = JSON.stringify(pub);
  expect(publicText).not.toContain(details.fleet[0]!.id);
  expect(publicText).not.toMatch(/"(pid|host|id)"/);
});

test("a second web replica with METRICS_TOKEN: metrics need the token (a wrong one gets 401), ready details go to the token, and stream caps hold across replicas", async ({
  browser,
  request,
}) => {
  test.setTimeout(120_000);
  replica = spawn(process.execPath, ["--import", "tsx", "scripts/web.ts"], {
    env: {
      ...process.env,
      NODE_ENV: "production",
      PORT: String(replicaPort),
      HOST: "127.0.0.1",
      FAULTLINE_URL: `http://localhost:${replicaPort}`,
      FAULTLINE_DATA_DIR: ".data/e2e",
      FAULTLINE_COURSE_DIR: "tests/fixtures/course",
      FAULTLINE_REDIS_PREFIX: process.env.E2E_REDIS_PREFIX,
      FAULTLINE_AUTH: "accounts",
      REDIS_URL,
      METRICS_TOKEN,
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const base = `http://127.0.0.1:${replicaPort}`;
  await expect
    .poll(
      () =>
        request.get(`${base}/api/health`).then(
          (r) => r.status(),
          () => 0,
        ),
      { timeout: 60_000 },
    )
    .toBe(200);

  expect((await request.get(`${base}/api/metrics`)).status()).toBe(401);
  const wrong = await request.get(`${base}/api/metrics`, { headers: { authorization: "Bearer e2e-replica-metrics-token-000000" } });
  expect(wrong.status()).toBe(401);
  expect(wrong.headers()["www-authenticate"]).toBe("Bearer");
  const right = await request.get(`${base}/api/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  expect(right.status()).toBe(200);
  expect(metric(await right.text(), "process_resident_memory_bytes")).toBeGreaterThan(MiB);
  expect(await (await request.get(`${base}/api/ready`)).json()).not.toHaveProperty("fleet");
  expect(await (await request.get(`${base}/api/ready`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).json()).toHaveProperty("fleet");

  // One learner, one run, streams on both replicas: the cap of 5 counts them together.
  const { api, cookie } = await learner(browser, "two-tabs");
  const { id, eventsUrl } = await liveRun(api);
  try {
    const streams = [];
    for (const p of [port, port, port, replicaPort, replicaPort]) streams.push(await openStream(p, eventsUrl, { cookie }));
    expect(streams.map((s) => s.status)).toEqual([200, 200, 200, 200, 200]);
    expect((await openStream(replicaPort, eventsUrl, { cookie })).status).toBe(429);
    expect((await openStream(port, eventsUrl, { cookie })).status).toBe(429);
    streams.shift()!.close(); // a tab on the first replica closes: the second may use its slot
    streams.push(await openWhenFree(replicaPort, eventsUrl, cookie));
    for (const s of streams) s.close();
  } finally {
    await api.delete(`/api/runs/${id}`);
  }
});
