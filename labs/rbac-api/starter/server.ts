import { randomBytes } from "node:crypto";
import http from "node:http";
import { createRedis } from "@faultline/lab";
import { cancelTask, enqueue, getTask, retryTask, stats } from "./store.ts";

export type Role = "producer" | "operator" | "admin";
const ROLES: readonly Role[] = ["producer", "operator", "admin"];

interface Identity {
  keyId: string;
  tenant: string;
  role: Role;
}

const redis = createRedis();
redis.on("error", () => {});

/** Issues a key for `tenant` with `role`: returns { id, key }, the plaintext key once. */
export async function createKey(tenant: string, role: Role): Promise<{ id: string; key: string }> {
  // TODO: is this key hard enough to guess? And what does Redis hold once it is stored?
  const key = String(Math.floor(Math.random() * 1e8)).padStart(8, "0");
  const id = `key_${randomBytes(9).toString("base64url")}`;
  await redis.hset(`apikey:${key}`, { id, tenant, role });
  await redis.set(`apikey-id:${id}`, key);
  return { id, key };
}

/** Revokes a key by its id; true when there was one. */
export async function revokeKey(id: string): Promise<boolean> {
  const key = await redis.get(`apikey-id:${id}`);
  if (!key) return false;
  await redis.del(`apikey:${key}`, `apikey-id:${id}`);
  return true;
}

/** Who is calling, or null. */
async function authenticate(req: http.IncomingMessage): Promise<Identity | null> {
  // TODO: exactly one Authorization header, scheme Bearer (any case), the key exact.
  const token = (req.headers.authorization ?? "").replace("Bearer ", "");
  const fields = await redis.hgetall(`apikey:${token}`);
  if (!fields.id) return null;
  return { keyId: fields.id, tenant: fields.tenant!, role: fields.role as Role };
}

async function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  let text = "";
  for await (const chunk of req) text += String(chunk);
  return JSON.parse(text) as Record<string, unknown>;
}

async function handle(req: http.IncomingMessage): Promise<{ status: number; body: unknown }> {
  const who = await authenticate(req);
  if (!who) return { status: 401, body: { error: "unauthenticated" } };
  const path = new URL(req.url ?? "/", "http://localhost").pathname;
  const parts = path.split("/").slice(1);
  // TODO: which role may use which route? See the permission table. And whose task is it?
  if (req.method === "POST" && path === "/tasks") {
    const body = await readJson(req);
    return { status: 201, body: await enqueue(who.tenant, body.payload) };
  }
  if (parts[0] === "tasks" && parts[1]) {
    const id = parts[1];
    if (req.method === "GET") return { status: 200, body: await getTask(id) };
    if (req.method === "POST" && parts[2] === "retry") return { status: 200, body: await retryTask(id) };
    if (req.method === "DELETE") return { status: 200, body: await cancelTask(id) };
  }
  if (path === "/admin/stats") return { status: 200, body: await stats(who.tenant) };
  if (path === "/admin/keys") {
    const body = await readJson(req);
    return { status: 201, body: await createKey(who.tenant, body.role as Role) };
  }
  // TODO: DELETE /admin/keys/:id
  void ROLES;
  return { status: 404, body: { error: "not found" } };
}

/** Starts the API on 127.0.0.1:port; resolves once it is listening. */
export async function start(port: number): Promise<void> {
  const server = http.createServer((req, res) => {
    // TODO: what may this print?
    console.log(req.method, req.url, req.headers);
    handle(req).then(
      ({ status, body }) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      },
      (error: unknown) => {
        res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: String(error) }));
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
}
