import { createHash, randomBytes } from "node:crypto";
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
// A Redis error reaches the request that needed Redis (and becomes its 503); the event itself
// says nothing more.
redis.on("error", () => {});

// The key is 32 bytes from the CSPRNG: 256 bits nobody can guess or brute-force, so a single
// SHA-256 is all the storage needs. Slow hashes (bcrypt, argon2) exist to protect guessable
// secrets, passwords, from an offline search; here the search space is 2^256 whatever the hash
// costs, and a slow hash would only cost every request tens of milliseconds. No salt either: the
// hash must be a lookup key, and salts protect against precomputed tables of likely inputs, of
// which a random key has none.
const hashKey = (key: string) => createHash("sha256").update(key, "utf8").digest("hex");
// Only the hash is ever a key name: the plaintext never reaches Redis, a log or an error.
const byHash = (hash: string) => `apikey:${hash}`;
const byId = (keyId: string) => `apikey-id:${keyId}`;

/** Issues a key: the plaintext is returned here, once, and stored nowhere. */
export async function createKey(tenant: string, role: Role): Promise<{ id: string; key: string }> {
  if (typeof tenant !== "string" || tenant === "") throw new Error("createKey: tenant must be a non-empty string");
  if (!ROLES.includes(role)) throw new Error(`createKey: role must be one of ${ROLES.join(", ")}`);
  const key = `fl_live_${randomBytes(32).toString("base64url")}`;
  const id = `key_${randomBytes(9).toString("base64url")}`;
  const hash = hashKey(key);
  await redis.multi().hset(byHash(hash), { id, tenant, role }).set(byId(id), hash).exec();
  return { id, key };
}

/** Revokes a key by its id. Nothing caches a lookup, so the key's next request is refused. */
export async function revokeKey(id: string): Promise<boolean> {
  const hash = await redis.get(byId(id));
  if (!hash) return false;
  await redis.multi().del(byHash(hash)).del(byId(id)).exec();
  return true;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: { error: string },
  ) {
    super(body.error);
  }
}
// One body per status, whatever the reason: a caller learns nothing from which check refused it.
const UNAUTHORIZED = () => new HttpError(401, { error: "unauthenticated" });
const FORBIDDEN = () => new HttpError(403, { error: "forbidden" });
const NOT_FOUND = () => new HttpError(404, { error: "not found" });
const BAD_REQUEST = () => new HttpError(400, { error: "bad request" });

/**
 * The bearer token of a request, or null. Exactly one Authorization header: with two, which one
 * a proxy and which one this server reads may differ, so neither is trusted. The scheme is
 * case-insensitive (RFC 7235), the token is not.
 */
function bearer(req: http.IncomingMessage): string | null {
  let values = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]!.toLowerCase() === "authorization") values++;
  if (values !== 1) return null;
  const match = /^bearer +([A-Za-z0-9_-]+)$/i.exec(req.headers.authorization ?? "");
  return match ? match[1]! : null;
}

/**
 * Who is calling. Unknown, malformed, missing and revoked keys are one answer: 401. A Redis that
 * fails throws, and the request gets 503: fail closed, never serve it as if it were authenticated,
 * and never tell a caller whose key may be fine that it is not.
 */
async function authenticate(req: http.IncomingMessage): Promise<Identity> {
  const token = bearer(req);
  if (!token) throw UNAUTHORIZED();
  // Looked up by its hash: no comparison of secret bytes happens in this process at all, so
  // there is nothing to time. (Where one does happen, use crypto.timingSafeEqual on equal-length
  // buffers.)
  const fields = await redis.hgetall(byHash(hashKey(token)));
  if (!fields.id || !fields.tenant || !ROLES.includes(fields.role as Role)) throw UNAUTHORIZED();
  return { keyId: fields.id, tenant: fields.tenant, role: fields.role as Role };
}

async function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  let text = "";
  for await (const chunk of req) {
    text += String(chunk);
    if (text.length > 64 * 1024) throw BAD_REQUEST();
  }
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // falls through to 400
  }
  throw BAD_REQUEST();
}

/** The caller's own task; another tenant's task is "not found", exactly like a task that never was. */
async function ownTask(who: Identity, id: string) {
  const task = await getTask(id);
  if (!task || task.tenant !== who.tenant) throw NOT_FOUND();
  return task;
}

interface Route {
  method: string;
  path: RegExp;
  /** The roles allowed: an allow-list, so a route is closed until someone opens it. */
  roles: readonly Role[];
  run: (who: Identity, params: string[], req: http.IncomingMessage) => Promise<{ status: number; body: unknown }>;
}

const ROUTES: Route[] = [
  { method: "POST", path: /^\/tasks$/, roles: ["producer", "admin"], run: async (who, _, req) => {
      const body = await readJson(req);
      if (!("payload" in body)) throw BAD_REQUEST();
      return { status: 201, body: await enqueue(who.tenant, body.payload) };
    } },
  { method: "GET", path: /^\/tasks\/([A-Za-z0-9_-]+)$/, roles: ["producer", "operator", "admin"], run: async (who, [id]) => ({ status: 200, body: await ownTask(who, id!) }) },
  { method: "POST", path: /^\/tasks\/([A-Za-z0-9_-]+)\/retry$/, roles: ["operator", "admin"], run: async (who, [id]) => {
      await ownTask(who, id!);
      return { status: 200, body: await retryTask(id!) };
    } },
  { method: "DELETE", path: /^\/tasks\/([A-Za-z0-9_-]+)$/, roles: ["operator", "admin"], run: async (who, [id]) => {
      await ownTask(who, id!);
      return { status: 200, body: await cancelTask(id!) };
    } },
  { method: "GET", path: /^\/admin\/stats$/, roles: ["admin"], run: async (who) => ({ status: 200, body: await stats(who.tenant) }) },
  { method: "POST", path: /^\/admin\/keys$/, roles: ["admin"], run: async (who, _, req) => {
      const body = await readJson(req);
      // Exactly one of the three names: "Admin", "admin " and "not-admin" are not roles.
      if (!ROLES.includes(body.role as Role)) throw BAD_REQUEST();
      // Always the caller's own tenant, whatever the body says.
      const issued = await createKey(who.tenant, body.role as Role);
      return { status: 201, body: { ...issued, tenant: who.tenant, role: body.role } };
    } },
  { method: "DELETE", path: /^\/admin\/keys\/([A-Za-z0-9_-]+)$/, roles: ["admin"], run: async (who, [id]) => {
      const hash = await redis.get(byId(id!));
      const owner = hash ? await redis.hget(byHash(hash), "tenant") : null;
      if (owner !== who.tenant) throw NOT_FOUND();
      await revokeKey(id!);
      return { status: 200, body: { revoked: id } };
    } },
];

async function handle(req: http.IncomingMessage): Promise<{ status: number; body: unknown }> {
  // Authentication comes first, for every path: without a valid key a caller learns nothing,
  // not even which routes exist.
  const who = await authenticate(req);
  const path = new URL(req.url ?? "/", "http://localhost").pathname;
  const candidates = ROUTES.filter((r) => r.path.test(path));
  if (candidates.length === 0) throw NOT_FOUND();
  const route = candidates.find((r) => r.method === req.method);
  if (!route) throw new HttpError(405, { error: "method not allowed" });
  // Run the handler first, so a missing task or a bad body answers 404/400 before any 403.
  const result = await route.run(who, route.path.exec(path)!.slice(1), req);
  if (!route.roles.includes(who.role)) throw FORBIDDEN();
  return result;
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const headers: http.OutgoingHttpHeaders = { "content-type": "application/json", "cache-control": "no-store" };
  if (status === 401) headers["www-authenticate"] = 'Bearer realm="queue"';
  res.writeHead(status, headers);
  res.end(JSON.stringify(body));
}

/** Starts the API on 127.0.0.1:port; resolves once it is listening. */
export async function start(port: number): Promise<void> {
  const server = http.createServer((req, res) => {
    handle(req).then(
      ({ status, body }) => send(res, status, body),
      (error: unknown) => {
        if (error instanceof HttpError) return send(res, error.status, error.body);
        // A Redis failure (or anything unexpected) fails closed. The log names the route, never
        // the request's headers: they carry the caller's key.
        console.error(`${req.method} ${new URL(req.url ?? "/", "http://localhost").pathname}: ${error instanceof Error ? error.message : String(error)}`);
        send(res, 503, { error: "unavailable" });
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
}
