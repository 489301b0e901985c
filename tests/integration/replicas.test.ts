/**
 * Two web replicas behind one load balancer: a session made on one is accepted by the other when
 * they share AUTH_SECRET, and refused by a replica with another secret. Needs the production
 * build (npm test builds it first).
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { afterAll, expect, test } from "vitest";
import { freePort } from "../../lib/launcher/free-port.ts";
import { REDIS_TEST_URL, testDatabase } from "./support/namespaces.ts";

const root = path.resolve(import.meta.dirname, "../..");
const children: ChildProcess[] = [];
afterAll(() => children.forEach((c) => c.kill("SIGKILL")));

async function startWeb(databaseUrl: string, secret: string): Promise<string> {
  const port = await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", "scripts/web.ts"], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: "production",
      PORT: String(port),
      DATABASE_URL: databaseUrl,
      REDIS_URL: REDIS_TEST_URL,
      AUTH_SECRET: secret,
      FAULTLINE_REDIS_PREFIX: `fl-replica-${port}:`,
      FAULTLINE_URL: `http://127.0.0.1:${port}`,
    },
    stdio: "ignore",
  });
  children.push(child);
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 240; i++) {
    if (
      await fetch(`${base}/api/health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return base;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error("web replica did not start");
}

/** Signs in through next-auth's credentials endpoint as a browser would; returns the cookie header. */
async function signIn(base: string, email: string, password: string): Promise<string> {
  const csrf = await fetch(`${base}/api/auth/csrf`);
  const { csrfToken } = (await csrf.json()) as { csrfToken: string };
  const csrfCookie = csrf.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
  const res = await fetch(`${base}/api/auth/callback/credentials`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: csrfCookie },
    body: new URLSearchParams({ csrfToken, email, password, json: "true" }),
  });
  const session = res.headers.getSetCookie().find((c) => c.startsWith("next-auth.session-token="));
  if (!session) throw new Error(`sign-in failed with status ${res.status}`);
  return session.split(";")[0]!;
}

test("a session from one web replica is valid on another that shares AUTH_SECRET, and only there", async () => {
  await using t = await testDatabase("sqlite");
  const secret = "a-shared-secret-of-at-least-32-characters!";
  const [a, b, stranger] = await Promise.all([startWeb(t.url, secret), startWeb(t.url, secret), startWeb(t.url, "another-secret-of-at-least-32-characters!!")]);

  const signup = await fetch(`${a}/api/signup`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: "ada@example.org", password: "tidal-ember-47-quartz" }),
  });
  expect(signup.status).toBe(201);
  const cookie = await signIn(a, "ada@example.org", "tidal-ember-47-quartz");

  expect((await fetch(`${b}/api/admin/users`, { headers: { cookie } })).status).toBe(200);
  expect((await fetch(`${stranger}/api/admin/users`, { headers: { cookie } })).status).toBe(401);
}, 120_000);
