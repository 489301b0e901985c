import { createHash } from "node:crypto";
import { CheckFailure, defineChecks, fc, type CheckContext, type RpcModule } from "../../lib/grader/index.ts";

type Role = "producer" | "operator" | "admin";
const ROLES: Role[] = ["producer", "operator", "admin"];

/**
 * An answer with no reply by now has failed (the instructions say 3 s). A request takes a few ms;
 * the bound is wide because a two-core machine running several checks stalls a process now and then.
 */
const REQUEST_TIMEOUT_MS = 3000;
/** A key revoked through another process of the service must be refused within this long (instructions: 1 s). */
const REVOKE_BOUND_MS = 1000;
/** Slack on top of REVOKE_BOUND_MS for a loaded two-core machine; never a slower design. */
const REVOKE_SLACK_MS = 500;
/** The length of a key's substring that must occur nowhere: long enough that chance cannot explain it. */
const SUBSTRING = 12;
/** The store's keys (store.ts is the lab's): read by name only to judge task state. */
const taskKey = (id: string) => `queue:task:${id}`;
const PORTS = { from: 10_000, count: 22_000 };

interface Server {
  rpc: RpcModule;
  port: number;
}
interface Answer {
  status: number;
  body: string;
  headers: Record<string, string>;
}
interface Issued {
  id: string;
  key: string;
  tenant: string;
  role: Role;
}
interface Req {
  key?: string;
  headers?: Record<string, string | string[]>;
  body?: string;
}

const clip = (text: string, max = 200) => (text.length > max ? `${text.slice(0, max)}…` : text);
/** A secret as the learner sees it in a message: enough to recognise, not enough to use. */
const mask = (key: string) => (key.length > 16 ? `${key.slice(0, 12)}…(${key.length} chars)` : "(a short key)");
/** "a producer", "an operator", "an admin". */
const aRole = (role: string) => `${/^[aeiou]/.test(role) ? "an" : "a"} ${role}`;
const show = (a: Answer) => `${a.status} ${clip(a.body)}`;

const MATRIX_TABLE = [
  "POST /tasks: producer, admin (201)",
  "GET /tasks/:id: producer, operator, admin (200, own tenant's task)",
  "POST /tasks/:id/retry and DELETE /tasks/:id: operator, admin (200)",
  "GET /admin/stats, POST /admin/keys (201), DELETE /admin/keys/:id: admin",
].join("; ");
const ORDER_HINT =
  "Decide in this order: no valid key → 401; path matches no route → 404; path matches but not the method → 405; role not allowed on the route → 403; bad body → 400; task or key of another tenant, or none → 404.";

/** Starts server.ts in a process of its own (its output is judged) on an unpredictable port. */
async function startServer(t: CheckContext, name = "server"): Promise<Server> {
  for (let attempt = 1; ; attempt++) {
    const port = PORTS.from + Math.floor(t.unpredictable() * PORTS.count);
    const rpc = await t.load("server.ts", { name: attempt === 1 ? name : `${name}-${attempt}`, process: true, limits: { wallMs: 40_000, openFiles: 256 } });
    try {
      await rpc.call("start", [port], 2000);
      return { rpc, port };
    } catch (error) {
      const taken = error instanceof CheckFailure && /EADDRINUSE/.test(`${error.message} ${String(error.actual ?? "")}`);
      if (taken && attempt < 3) {
        await rpc.kill();
        continue;
      }
      throw error;
    }
  }
}

/** One request from inside the server's sandbox; no answer fails the check. */
async function send(t: CheckContext, server: Server, method: string, path: string, r: Req = {}): Promise<Answer> {
  const headers: Record<string, string | string[]> = {
    ...(r.key !== undefined ? { Authorization: `Bearer ${r.key}` } : {}),
    ...(r.body !== undefined ? { "content-type": "application/json" } : {}),
    ...r.headers,
  };
  try {
    return await server.rpc.http(server.port, path, { method, headers, body: r.body, timeoutMs: REQUEST_TIMEOUT_MS });
  } catch (error) {
    const raw = error instanceof Error ? error.message : String(error);
    return t.fail({
      message: `${method} ${path} got no answer within ${REQUEST_TIMEOUT_MS} ms${server.rpc.alive ? "" : " (the server process ended)"}.`,
      expected: "an answer to every request within 3 s",
      actual: [raw.replace(/^\$http\(\) threw \w*Error: /, ""), server.rpc.output().slice(-800)].filter(Boolean).join("\n"),
      hint: "Every request gets an answer: catch what a handler or Redis throws and answer it (503 when Redis fails), and never let the process die.",
    });
  }
}

/** createKey through the module, its answer's shape checked. */
async function issue(t: CheckContext, server: Server, tenant: string, role: Role): Promise<Issued> {
  const got = await server.rpc.call<unknown>("createKey", [tenant, role]);
  const r = got as { id?: unknown; key?: unknown } | null;
  if (!r || typeof r.id !== "string" || typeof r.key !== "string" || r.id === "" || r.key === "") {
    return t.fail({
      message: `createKey(${JSON.stringify(tenant)}, "${role}") returned ${clip(JSON.stringify(got) ?? String(got))}.`,
      expected: "{ id, key }: two non-empty strings, the key's id (not secret) and the plaintext key",
      hint: "Return { id, key } from createKey.",
    });
  }
  return { id: r.id, key: r.key, tenant, role };
}

/** A task of `tenant`, written straight into the lab's store with an id nobody can know in advance. */
async function seedTask(t: CheckContext, tenant: string): Promise<string> {
  const id = t.id("task").replace(/-/g, "_");
  await t.redis
    .multi()
    .hset(taskKey(id), { id, tenant, state: "queued", attempts: "0", payload: JSON.stringify({ n: t.unpredictable() }) })
    .sadd(`queue:tenant:${tenant}`, id)
    .lpush("queue:pending", id)
    .exec();
  return id;
}

async function taskState(t: CheckContext, id: string): Promise<string> {
  const f = await t.redis.hgetall(taskKey(id));
  return `${f.state ?? "gone"}/${f.attempts ?? "-"}`;
}

const parse = (body: string): unknown => {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
};

/** Every substring of `key` of SUBSTRING characters. */
const substrings = (key: string): string[] => Array.from({ length: Math.max(0, key.length - SUBSTRING + 1) }, (_, i) => key.slice(i, i + SUBSTRING));

/** Finds any SUBSTRING-long piece of the secrets in `text`: which secret, or null. */
function leaked(text: string, secrets: string[]): string | null {
  const pieces = new Map<string, string>();
  for (const s of secrets) for (const piece of s.length < SUBSTRING ? [s] : substrings(s)) pieces.set(piece, s);
  for (let i = 0; i + SUBSTRING <= text.length; i++) {
    const hit = pieces.get(text.slice(i, i + SUBSTRING));
    if (hit) return hit;
  }
  return null;
}

/** One cell of the route table: which routes exist, and who may use them. */
interface RouteSpec {
  method: string;
  /** The path as requested; `:id` filled in per cell. */
  name: string;
  allowed: Role[];
  ok: number;
}
const ROUTES: RouteSpec[] = [
  { method: "POST", name: "/tasks", allowed: ["producer", "admin"], ok: 201 },
  { method: "GET", name: "/tasks/:id", allowed: ["producer", "operator", "admin"], ok: 200 },
  { method: "POST", name: "/tasks/:id/retry", allowed: ["operator", "admin"], ok: 200 },
  { method: "DELETE", name: "/tasks/:id", allowed: ["operator", "admin"], ok: 200 },
  { method: "GET", name: "/admin/stats", allowed: ["admin"], ok: 200 },
  { method: "POST", name: "/admin/keys", allowed: ["admin"], ok: 201 },
  { method: "DELETE", name: "/admin/keys/:id", allowed: ["admin"], ok: 200 },
];
const PATHS = [...new Set(ROUTES.map((r) => r.name))];
const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"];
const ID_SEGMENT = /^[A-Za-z0-9_-]+$/;

/** The route a path and method name under the instructions' exact matching, or the status that refuses it. */
function routeOf(path: string, method: string): RouteSpec | 404 | 405 {
  const segs = path.split("/").slice(1);
  const shapes = PATHS.filter((p) => {
    const want = p.split("/").slice(1);
    return want.length === segs.length && want.every((w, i) => (w === ":id" ? ID_SEGMENT.test(segs[i]!) : w === segs[i]));
  });
  if (shapes.length === 0) return 404;
  return ROUTES.find((r) => shapes.includes(r.name) && r.method === method) ?? 405;
}

/** A tenant with a key of every role. */
async function tenantWithKeys(t: CheckContext, server: Server): Promise<{ tenant: string; keys: Record<Role, Issued> }> {
  const tenant = t.id("tenant");
  const [producer, operator, admin] = await Promise.all(ROLES.map((role) => issue(t, server, tenant, role)));
  return { tenant, keys: { producer: producer!, operator: operator!, admin: admin! } };
}

async function expectStatus(
  t: CheckContext,
  server: Server,
  method: string,
  path: string,
  r: Req,
  expected: number,
  what: string,
  hint: string,
): Promise<Answer> {
  const a = await send(t, server, method, path, r);
  if (a.status !== expected) t.fail({ message: `${method} ${path} ${what} answered ${show(a)}.`, expected: `${expected}`, actual: show(a), hint });
  return a;
}

export default defineChecks({
  timeoutMs: 30_000,
  concurrency: 3,
  playground: async (t) => {
    const server = await startServer(t, "api");
    const { tenant, keys } = await tenantWithKeys(t, server);
    const other = await issue(t, server, t.id("tenant"), "admin");
    t.note(
      `API on port ${server.port}; tenant ${tenant} has a producer, an operator and an admin key. Every 2 s: enqueue, read, retry, stats, each as every role, then another tenant's admin and an unknown key.`,
    );
    while (!t.signal.aborted) {
      const created = await send(t, server, "POST", "/tasks", {
        key: keys.producer.key,
        body: JSON.stringify({ payload: { n: Math.round(t.unpredictable() * 100) } }),
      });
      const id = (parse(created.body) as { id?: string } | undefined)?.id ?? "none";
      const line: string[] = [`POST /tasks as producer → ${created.status}`];
      for (const role of ROLES) {
        for (const [method, path] of [
          ["GET", `/tasks/${id}`],
          ["POST", `/tasks/${id}/retry`],
          ["GET", "/admin/stats"],
        ] as const) {
          const a = await send(t, server, method, path, { key: keys[role].key });
          line.push(`${method} ${path.replace(id, ":id")} as ${role} → ${a.status}`);
        }
      }
      line.push(`GET /tasks/:id as another tenant's admin → ${(await send(t, server, "GET", `/tasks/${id}`, { key: other.key })).status}`);
      line.push(`GET /admin/stats with an unknown key → ${(await send(t, server, "GET", "/admin/stats", { key: `fl_live_${t.id("guess")}` })).status}`);
      t.note(line.join(" · "));
      // A pause that ends early when the playground does, so no note lands after the run ended.
      await new Promise<void>((resolve) => {
        const done = () => (clearTimeout(timer), resolve());
        const timer = setTimeout(done, 2000);
        t.signal.addEventListener("abort", done, { once: true });
      });
    }
  },
  checks: {
    "keys-hashed": async (t) => {
      const server = await startServer(t);
      const hint =
        "Make a key from 32 bytes of crypto.randomBytes (hex or base64url, a short fixed prefix allowed), return it once from createKey, and store only its SHA-256: look keys up by the hash. The plaintext must not reach Redis, as a key name, a value or a command argument.";
      const n = 40 + Math.floor(t.random() * 20);
      const tenants = [t.id("tenant"), t.id("tenant"), t.id("tenant")];
      const issued: Issued[] = [];
      for (let i = 0; i < n; i += 10) {
        issued.push(
          ...(await Promise.all(
            Array.from({ length: Math.min(10, n - i) }, (_, j) => issue(t, server, tenants[(i + j) % 3]!, ROLES[Math.floor(t.random() * 3)]!)),
          )),
        );
      }
      // Keys issued over HTTP too: the same rules hold for them.
      const admin = issued.find((k) => k.role === "admin") ?? (await issue(t, server, tenants[0]!, "admin"));
      for (const role of ROLES) {
        const a = await expectStatus(
          t,
          server,
          "POST",
          "/admin/keys",
          { key: admin.key, body: JSON.stringify({ role }) },
          201,
          `as an admin, with {"role":"${role}"}`,
          hint,
        );
        const b = parse(a.body) as { id?: unknown; key?: unknown } | undefined;
        if (typeof b?.key !== "string" || typeof b.id !== "string")
          return t.fail({ message: `POST /admin/keys answered ${show(a)}.`, expected: '201 {"id":…,"key":…,"tenant":…,"role":…}', hint });
        issued.push({ id: b.id, key: b.key, tenant: admin.tenant, role });
      }
      t.note(`issued ${issued.length} keys (${n} with createKey, 3 with POST /admin/keys)`);

      const keys = issued.map((k) => k.key);
      if (new Set(keys).size !== keys.length) return t.fail({ message: "Two issued keys were the same.", expected: "every key different", hint });
      let prefix = keys[0]!;
      for (const k of keys) while (!k.startsWith(prefix)) prefix = prefix.slice(0, -1);
      const short = issued.find((k) => k.key.length - prefix.length < 32 || !/^[A-Za-z0-9_-]+$/.test(k.key.slice(prefix.length)));
      if (prefix.length > 16 || short) {
        return t.fail({
          message: `A key is too short or not random enough: ${short ? `one is ${short.key.length} characters (${mask(short.key)})` : `all ${keys.length} share a ${prefix.length}-character prefix`}.`,
          expected: "after a fixed prefix of at most 16 characters, at least 32 characters from A-Z a-z 0-9 _ - (128 bits or more from a CSPRNG)",
          hint: `${hint} An 8-digit key has 10^8 possibilities: anyone who sees its hash tries them all in a second.`,
        });
      }
      const seen = new Map<string, number>();
      for (const [i, k] of keys.entries()) {
        for (const piece of new Set(substrings(k.slice(prefix.length)))) {
          const other = seen.get(piece);
          if (other !== undefined && other !== i) {
            return t.fail({
              message: `Two different keys share the ${SUBSTRING}-character run "${piece.slice(0, 4)}…": keys are not drawn at random (a counter, a timestamp, a tenant name inside?).`,
              expected: "keys with nothing in common beyond a fixed prefix",
              hint,
            });
          }
          seen.set(piece, i);
        }
      }
      const alphabet = new Set(keys.flatMap((k) => [...k.slice(prefix.length)]));
      if (alphabet.size < 16)
        return t.fail({
          message: `All keys together use only ${alphabet.size} different characters after their prefix.`,
          expected: "hex (16) or base64url (64) characters, drawn at random",
          hint,
        });

      // The plaintext, or any long piece of it, nowhere in Redis and never sent to it.
      const wanted = keys.flatMap(substrings);
      const view = await t.viewRedis(wanted);
      const found = wanted.filter((w) => !view.missing.includes(w));
      if (found.length > 0) {
        const whose = issued.find((k) => k.key.includes(found[0]!))!;
        return t.fail({
          message: `Redis holds ${found.length === wanted.length ? "every key in plaintext" : "plaintext keys"}: ${SUBSTRING}-character pieces of ${new Set(found.map((f) => issued.find((k) => k.key.includes(f))!.key)).size} of ${keys.length} keys are stored (e.g. the key ${mask(whose.key)} of a ${whose.role}).`,
          expected: "only a hash of each key in Redis (key names, values, members)",
          hint,
        });
      }
      const sentKeys = keys.map((k) => k);
      for (const entry of t.commands()) {
        const hit = leaked(entry.args.join(" "), sentKeys);
        if (hit)
          return t.fail({
            message: `Your server sent a piece of the key ${mask(hit)} to Redis in ${entry.args[0]}.`,
            expected: "only the key's hash in any command",
            hint,
          });
      }

      // Something derived from each key is stored: a fresh process, with no memory of the keys, knows them all.
      await server.rpc.kill();
      t.note("killed the server; starting a fresh one: every key must still work, with its role");
      const fresh = await startServer(t, "server-restarted");
      const sample = issued.filter((_, i) => i % 4 === 0);
      for (const k of sample) {
        const a = await send(t, fresh, "GET", "/admin/stats", { key: k.key });
        const want = k.role === "admin" ? 200 : 403;
        if (a.status !== want) {
          return t.fail({
            message: `After a restart, the ${k.role} key ${mask(k.key)} on GET /admin/stats answered ${show(a)}.`,
            expected: `${want}: the key's hash, tenant and role are kept in Redis, so any process of the service knows it`,
            hint: "Store a record per key in Redis (the hash → tenant and role), not in the process's memory.",
          });
        }
      }
    },

    "no-secrets-in-logs": async (t) => {
      const server = await startServer(t);
      const { tenant, keys } = await tenantWithKeys(t, server);
      const sent = new Set<string>(Object.values(keys).map((k) => k.key));
      const secret = (s: string) => (sent.add(s), s);
      const hint =
        "Never print a request's headers, the Authorization value, the token or the key, not even when a request fails or is refused: log the method, the path and the reason. An error object from a failed handler can carry the request; log its message only.";
      const created = parse((await send(t, server, "POST", "/admin/keys", { key: keys.admin.key, body: JSON.stringify({ role: "operator" }) })).body) as
        { key?: string } | undefined;
      if (typeof created?.key === "string") sent.add(created.key);
      const task = await seedTask(t, tenant);
      const k = keys.admin.key;
      const near = [
        k.slice(0, -1),
        `${k}x`,
        k.slice(0, Math.ceil(k.length / 2)),
        `${k.slice(0, -2)}${k.at(-1) === "A" ? "B" : "A"}${k.at(-1)}`,
        t.id("guess").repeat(2),
      ];
      const shapes: Array<[string, string, Req]> = [
        ["GET", `/tasks/${task}`, { key: keys.producer.key }],
        ["GET", "/admin/stats", { key: keys.operator.key }],
        ["POST", `/tasks/${task}/retry`, { key: keys.producer.key }],
        ["POST", "/tasks", { key: keys.producer.key, body: "{not json" }],
        ["GET", "/nowhere", { key: keys.operator.key }],
        ...near.map((g): [string, string, Req] => ["GET", "/admin/stats", { key: secret(g) }]),
        ["GET", "/admin/stats", { headers: { authorization: `Basic ${secret(Buffer.from(`x:${keys.admin.key}`).toString("base64"))}` } }],
        ["GET", "/admin/stats", { headers: { authorization: `Bearer ${secret(Buffer.from(keys.operator.key).toString("hex"))}` } }],
        ["GET", "/admin/stats", { headers: { Authorization: [`Bearer ${k}`, `Bearer ${secret(t.id("other").repeat(2))}`] } }],
        ["GET", `/admin/stats?access_token=${keys.operator.key}`, {}],
      ];
      for (const [method, path, r] of shapes) await send(t, server, method, path, r);
      // Failures with the request in scope: the key lookup and then the store fail under a request.
      for (const role of ROLES) {
        t.proxy.failNext(1);
        await send(t, server, "GET", `/tasks/${task}`, { key: keys[role].key });
      }
      t.fault("dependency: the task store fails under POST /tasks/:id/retry and DELETE /tasks/:id (Redis answers an error to its first command)");
      for (const [method, path] of [
        ["POST", `/tasks/${task}/retry`],
        ["DELETE", `/tasks/${task}`],
      ] as const) {
        t.proxy.failNext(1, { match: "EXISTS" });
        await send(t, server, method, path, { key: keys.admin.key });
      }
      t.proxy.heal();
      // Revoked, then used.
      await send(t, server, "DELETE", `/admin/keys/${keys.producer.id}`, { key: keys.admin.key });
      await send(t, server, "GET", `/tasks/${task}`, { key: keys.producer.key });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const output = server.rpc.output();
      const hit = leaked(output, [...sent]);
      if (hit) {
        const at = output.indexOf(hit.slice(0, SUBSTRING));
        return t.fail({
          message: `Your server's output contains ${Object.values(keys).some((x) => x.key === hit) ? "an issued key" : "a token a request sent in its Authorization header"} (${mask(hit)}).`,
          expected: "no key and no Authorization value, or any 12-character piece of one, in anything the server prints",
          actual: at >= 0 ? `…${clip(output.slice(Math.max(0, at - 80), at).replace(hit, "<key>"), 80)}<key>…` : undefined,
          hint,
        });
      }
    },

    "roles-enforced": async (t) => {
      const server = await startServer(t);
      const { tenant, keys } = await tenantWithKeys(t, server);
      const hint = `The permission table: ${MATRIX_TABLE}. Keep it as one allow-list (route → roles) and check it for every request, after authentication and routing. ${ORDER_HINT}`;
      type Cell = { method: string; path: string; role: Role | null };
      const cells: Cell[] = [];
      for (const path of PATHS) for (const method of METHODS) for (const role of [null, ...ROLES]) cells.push({ method, path, role });
      for (let i = cells.length - 1; i > 0; i--) {
        const j = Math.floor(t.random() * (i + 1));
        [cells[i], cells[j]] = [cells[j]!, cells[i]!];
      }
      t.note(`${cells.length} cells: ${PATHS.length} paths × ${METHODS.length} methods × (3 roles + no key), in a random order`);
      for (const cell of cells) {
        const route = routeOf(cell.path.replace(":id", "x"), cell.method);
        const task = cell.path.includes("/tasks/") ? await seedTask(t, tenant) : null;
        const victim = cell.path === "/admin/keys/:id" ? await issue(t, server, tenant, "producer") : null;
        const path = cell.path.replace(":id", task ?? victim?.id ?? "");
        const body =
          cell.method === "POST" || cell.method === "PUT" || cell.method === "PATCH"
            ? JSON.stringify(cell.path === "/admin/keys" ? { role: "producer" } : { payload: { n: t.unpredictable() } })
            : undefined;
        const before = task ? await taskState(t, task) : null;
        const tasksBefore = await t.redis.scard(`queue:tenant:${tenant}`);
        const who = cell.role ? `as ${aRole(cell.role)}` : "with no Authorization header";
        const expected = cell.role === null ? 401 : typeof route === "number" ? route : route.allowed.includes(cell.role) ? route.ok : 403;
        const a = await send(t, server, cell.method, path, { key: cell.role ? keys[cell.role].key : undefined, body });
        if (a.status !== expected) {
          return t.fail({
            message: `${cell.method} ${cell.path} ${who} answered ${show(a)}.`,
            expected: `${expected}${expected === 403 ? ` (${aRole(cell.role!)} may not ${cell.method} ${cell.path})` : expected === 405 ? ` (${cell.path} has no ${cell.method})` : ""}`,
            actual: show(a),
            hint,
          });
        }
        if (expected === 403 || expected === 401 || expected === 405) {
          // Refused means nothing happened.
          if (task && (await taskState(t, task)) !== before)
            return t.fail({
              message: `${cell.method} ${cell.path} ${who} was refused with ${a.status}, but the task changed: ${before} → ${await taskState(t, task)} (state/attempts).`,
              expected: "a refused request changes nothing",
              hint: "Check the role before doing the work, not after.",
            });
          if ((await t.redis.scard(`queue:tenant:${tenant}`)) !== tasksBefore)
            return t.fail({
              message: `${cell.method} ${cell.path} ${who} was refused with ${a.status}, but a task was stored.`,
              expected: "a refused request changes nothing",
              hint: "Check the role before doing the work.",
            });
          if (victim)
            await expectStatus(
              t,
              server,
              "GET",
              `/tasks/${t.id("task")}`,
              { key: victim.key },
              404,
              `with a key whose revocation (${cell.method} ${cell.path} ${who}) was just refused with ${a.status}`,
              "A refused request changes nothing: check the role before doing the work, so a refused revocation leaves the key working.",
            );
        }
        if (victim && expected === 200)
          await expectStatus(
            t,
            server,
            "GET",
            `/tasks/${t.id("task")}`,
            { key: victim.key },
            401,
            `with a key an admin just revoked`,
            "DELETE /admin/keys/:id revokes the key at once.",
          );
      }
      // Roles are exactly the three names: nothing that merely contains or resembles one.
      const fake = ["not-admin", "admin ", "Admin", "ADMIN", "administrator", "superadmin", "admin,producer", "operator-admin", "", "root"];
      for (const role of fake.sort(() => t.random() - 0.5).slice(0, 6)) {
        const a = await send(t, server, "POST", "/admin/keys", { key: keys.admin.key, body: JSON.stringify({ role }) });
        if (a.status !== 400) {
          return t.fail({
            message: `POST /admin/keys with {"role":${JSON.stringify(role)}} as an admin answered ${show(a)}.`,
            expected: `400: ${JSON.stringify(role)} is not one of producer, operator, admin`,
            hint: 'Compare the role with the three names exactly (ROLES.includes(role)), never with includes/startsWith on a string: "not-admin" contains "admin".',
          });
        }
        try {
          await server.rpc.call("createKey", [tenant, role]);
        } catch {
          continue;
        }
        return t.fail({
          message: `createKey(tenant, ${JSON.stringify(role)}) returned a key.`,
          expected: "createKey throws for a role that is not exactly producer, operator or admin",
          hint: "Validate the role in createKey too: it is the one place every key comes from.",
        });
      }
    },

    idor: async (t) => {
      const server = await startServer(t);
      const a = await tenantWithKeys(t, server);
      const b = await tenantWithKeys(t, server);
      const hint =
        "Every task and key belongs to a tenant: after the role check, compare the task's tenant (store.getTask(id).tenant) with the caller's, and answer another tenant's task exactly as a task that does not exist: 404, same body. Keys an admin issues or revokes are always of the admin's own tenant.";
      const viaApi = await Promise.all(
        [0, 1].map(
          async () =>
            parse(
              (
                await expectStatus(
                  t,
                  server,
                  "POST",
                  "/tasks",
                  { key: a.keys.producer.key, body: JSON.stringify({ payload: { n: t.unpredictable() } }) },
                  201,
                  "as tenant A's producer",
                  hint,
                )
              ).body,
            ) as { id: string },
        ),
      );
      const victims = [...viaApi.map((x) => x.id), await seedTask(t, a.tenant), await seedTask(t, a.tenant)];
      t.note(`tenant A owns ${victims.length} tasks; tenant B's keys try to read, retry and cancel them by id`);
      const before = await Promise.all(victims.map((id) => taskState(t, id)));
      for (const role of ROLES) {
        for (const [method, suffix] of [
          ["GET", ""],
          ["POST", "/retry"],
          ["DELETE", ""],
        ] as const) {
          const allowed = ROUTES.find((r) => r.method === method && r.name === `/tasks/:id${suffix}`)!.allowed.includes(role);
          if (!allowed) continue;
          const missing = await send(t, server, method, `/tasks/${t.id("task")}${suffix}`, { key: b.keys[role].key });
          if (missing.status !== 404)
            return t.fail({
              message: `${method} /tasks/<an id that does not exist>${suffix} as ${aRole(role)} answered ${show(missing)}.`,
              expected: "404",
              hint,
            });
          for (const id of victims) {
            const got = await send(t, server, method, `/tasks/${id}${suffix}`, { key: b.keys[role].key });
            if (got.status !== 404 || got.body !== missing.body) {
              return t.fail({
                message: `${method} /tasks/${id}${suffix} with tenant B's ${role} key, on a task of tenant A, answered ${show(got)}.`,
                expected: `404 with exactly the body of a task that does not exist (${clip(missing.body, 80)}): another tenant's task must be indistinguishable from none`,
                actual: show(got),
                hint,
              });
            }
          }
        }
      }
      const after = await Promise.all(victims.map((id) => taskState(t, id)));
      const changed = victims.findIndex((_, i) => before[i] !== after[i]);
      if (changed >= 0)
        return t.fail({
          message: `Tenant A's task ${victims[changed]} changed (${before[changed]} → ${after[changed]}, state/attempts) while only tenant B's keys asked for it.`,
          expected: "another tenant's requests change nothing",
          hint,
        });
      for (const id of victims)
        await expectStatus(t, server, "GET", `/tasks/${id}`, { key: a.keys.operator.key }, 200, "as the owning tenant's operator", hint);

      // Stats are the caller's tenant's.
      const stats = parse((await expectStatus(t, server, "GET", "/admin/stats", { key: b.keys.admin.key }, 200, "as tenant B's admin", hint)).body) as
        { tenant?: unknown; total?: unknown } | undefined;
      if (stats?.tenant !== b.tenant || stats.total !== 0)
        return t.fail({
          message: `GET /admin/stats as tenant B's admin (B has no tasks) answered ${clip(JSON.stringify(stats))}.`,
          expected: `{"tenant":"${b.tenant}","total":0,…}: the store's stats(tenant) for the caller's tenant`,
          hint,
        });

      // Keys: B's admin can neither revoke A's keys nor issue keys for A.
      const unknownKey = await send(t, server, "DELETE", `/admin/keys/${t.id("key").replace(/-/g, "_")}`, { key: b.keys.admin.key });
      const foreign = await send(t, server, "DELETE", `/admin/keys/${a.keys.producer.id}`, { key: b.keys.admin.key });
      if (unknownKey.status !== 404 || foreign.status !== 404 || foreign.body !== unknownKey.body) {
        return t.fail({
          message: `DELETE /admin/keys/<tenant A's key id> as tenant B's admin answered ${show(foreign)} (an unknown key id: ${show(unknownKey)}).`,
          expected: "404 for both, with the same body",
          hint,
        });
      }
      await expectStatus(
        t,
        server,
        "GET",
        `/tasks/${victims[0]}`,
        { key: a.keys.producer.key },
        200,
        "with tenant A's producer key, after tenant B's admin tried to revoke it",
        hint,
      );
      const made = parse(
        (
          await expectStatus(
            t,
            server,
            "POST",
            "/admin/keys",
            { key: b.keys.admin.key, body: JSON.stringify({ role: "operator", tenant: a.tenant }) },
            201,
            `as tenant B's admin with {"role":"operator","tenant":"<tenant A>"}`,
            hint,
          )
        ).body,
      ) as { key?: string } | undefined;
      if (typeof made?.key !== "string") return t.fail({ message: "POST /admin/keys returned no key.", expected: '201 {"id":…,"key":…}', hint });
      const sneak = await send(t, server, "GET", `/tasks/${victims[0]}`, { key: made.key });
      if (sneak.status !== 404)
        return t.fail({
          message: `B's admin issued a key with {"tenant":"<tenant A>"} in the body, and that key read tenant A's task: ${show(sneak)}.`,
          expected: "404: an admin issues keys for its own tenant only, whatever the body says",
          hint,
        });
    },

    "key-guessing": async (t) => {
      const server = await startServer(t);
      const { tenant, keys } = await tenantWithKeys(t, server);
      const k = keys.admin.key;
      const hint =
        "Look the key up by its hash, exactly as sent: no trimming, no case folding, no prefix match. Every key that is not an issued, unrevoked one gets the same 401, same body, same headers, and a revoked key is refused at once: do not cache lookups (or bound the cache far below a second and drop entries on revocation).";
      const ref = await expectStatus(t, server, "GET", "/admin/stats", {}, 401, "with no Authorization header", hint);
      await expectStatus(t, server, "GET", "/admin/stats", { key: k }, 200, "as an admin", hint);
      const sha = createHash("sha256").update(k).digest();
      const mutation = fc
        .oneof(
          fc.integer({ min: 1, max: k.length - 1 }).map((n) => ({ what: `the key without its last ${n} characters`, key: k.slice(0, k.length - n) })),
          fc.integer({ min: 1, max: k.length - 1 }).map((n) => ({ what: `the key without its first ${n} characters`, key: k.slice(n) })),
          fc.tuple(fc.nat(k.length - 1), fc.constantFrom(..."ABCXYZabcxyz0189_-")).map(([i, c]) => ({
            what: `the key with character ${i + 1} changed`,
            key: `${k.slice(0, i)}${k[i] === c ? (c === "A" ? "B" : "A") : c}${k.slice(i + 1)}`,
          })),
          fc.nat(k.length - 1).map((i) => ({
            what: `the key with the case of character ${i + 1} changed`,
            key: `${k.slice(0, i)}${k[i] === k[i]!.toUpperCase() ? k[i]!.toLowerCase() : k[i]!.toUpperCase()}${k.slice(i + 1)}`,
          })),
          fc.constant({ what: "the key upper-cased", key: k.toUpperCase() }),
          fc.constant({ what: "the key lower-cased", key: k.toLowerCase() }),
          fc.stringMatching(/^[A-Za-z0-9_-]{1,4}$/).map((s) => ({ what: "the key with characters appended", key: `${k}${s}` })),
          fc.constant({ what: "the key's SHA-256 (hex), as stored", key: sha.toString("hex") }),
          fc.constant({ what: "the key's SHA-256 (base64url)", key: sha.toString("base64url") }),
          fc.constant({ what: "the key's id", key: keys.admin.id }),
          fc.constant({ what: "the operator's key id", key: keys.operator.id }),
        )
        .filter((m) => m.key !== k);
      await t.property(
        mutation,
        async (m) => {
          const a = await send(t, server, "GET", "/admin/stats", { key: m.key });
          if (a.status !== 401 || a.body !== ref.body || a.headers["www-authenticate"] !== ref.headers["www-authenticate"]) {
            t.fail({
              message: `GET /admin/stats with ${m.what} answered ${show(a)}${a.status === 401 ? ` (www-authenticate: ${a.headers["www-authenticate"] ?? "none"})` : ""}.`,
              expected: `401 exactly like a request with no key: ${show(ref)}, www-authenticate: ${ref.headers["www-authenticate"] ?? "none"}`,
              actual: show(a),
              hint,
            });
          }
        },
        { runs: 60, timeLimitMs: 8000, noun: "near-miss key", show: (m) => m.what },
      );

      // Revoked through this server: refused at the next request.
      const victim = await issue(t, server, tenant, "operator");
      const task = await seedTask(t, tenant);
      await expectStatus(t, server, "GET", `/tasks/${task}`, { key: victim.key }, 200, "with a fresh operator key", hint);
      await expectStatus(t, server, "DELETE", `/admin/keys/${victim.id}`, { key: k }, 200, "as an admin", hint);
      const gone = await send(t, server, "GET", `/tasks/${task}`, { key: victim.key });
      if (gone.status !== 401 || gone.body !== ref.body)
        return t.fail({
          message: `A key revoked with DELETE /admin/keys/:id was used right after: ${show(gone)}.`,
          expected: `401 ${ref.body}, at once`,
          hint,
        });

      // Revoked by another process of the service: refused within the stated bound.
      const other = await issue(t, server, tenant, "producer");
      await expectStatus(t, server, "GET", `/tasks/${task}`, { key: other.key }, 200, "with a fresh producer key", hint);
      const peer = await t.load("server.ts", { name: "other-replica" });
      const revoked = await peer.call<unknown>("revokeKey", [other.id]);
      const at = performance.now();
      t.note(`another replica revoked a producer key (revokeKey returned ${JSON.stringify(revoked)}); it must be refused within ${REVOKE_BOUND_MS} ms`);
      for (;;) {
        const a = await send(t, server, "GET", `/tasks/${task}`, { key: other.key });
        const since = performance.now() - at;
        if (a.status === 401) break;
        if (since > REVOKE_BOUND_MS + REVOKE_SLACK_MS) {
          return t.fail({
            message: `A key revoked by another replica (revokeKey in another process) still answered ${show(a)} ${Math.round(since)} ms later.`,
            expected: `401 within ${REVOKE_BOUND_MS} ms of revokeKey returning`,
            hint,
          });
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },

    "authn-vs-authz": async (t) => {
      const server = await startServer(t);
      const { tenant, keys } = await tenantWithKeys(t, server);
      const task = await seedTask(t, tenant);
      const hint = `401 means "who are you?" (no key, a malformed header, an unknown or revoked key), 403 means "I know you, and your role may not do this". ${ORDER_HINT} The scheme "Bearer" is case-insensitive and may be followed by several spaces; the key is exact; exactly one Authorization header.`;
      const p = keys.producer.key;
      const accepted: Array<[string, Req]> = [
        ["a lower-case authorization header", { headers: { authorization: `Bearer ${p}` } }],
        ["an upper-case AUTHORIZATION header", { headers: { AUTHORIZATION: `Bearer ${p}` } }],
        ['the scheme written "bearer"', { headers: { Authorization: `bearer ${p}` } }],
        ['the scheme written "BEARER"', { headers: { Authorization: `BEARER ${p}` } }],
        ["three spaces after Bearer", { headers: { Authorization: `Bearer   ${p}` } }],
      ];
      const refused: Array<[string, Req]> = [
        ["no Authorization header", {}],
        ["an empty Authorization header", { headers: { Authorization: "" } }],
        ['"Bearer" and no key', { headers: { Authorization: "Bearer " } }],
        ["the key without a scheme", { headers: { Authorization: p } }],
        ["the key in the Basic scheme", { headers: { Authorization: `Basic ${Buffer.from(`${tenant}:${p}`).toString("base64")}` } }],
        ["the key as a Token scheme", { headers: { Authorization: `Token ${p}` } }],
        ["two Authorization headers, the valid key first", { headers: { Authorization: [`Bearer ${p}`, `Bearer ${t.id("forged")}`] } }],
        ["two Authorization headers, the valid key second", { headers: { Authorization: [`Bearer ${t.id("forged")}`, `Bearer ${p}`] } }],
        ["the key in an X-Api-Key header", { headers: { "X-Api-Key": p } }],
        ["an unknown key", { key: `fl_${t.id("guess")}${t.id("guess")}` }],
      ];
      const order = [...accepted.map((x) => ({ ok: true, x })), ...refused.map((x) => ({ ok: false, x }))].sort(() => t.random() - 0.5);
      for (const {
        ok,
        x: [what, r],
      } of order) {
        const a = await send(t, server, "GET", `/tasks/${task}`, r);
        if (ok && a.status !== 200)
          return t.fail({
            message: `GET /tasks/:id with a valid producer key and ${what} answered ${show(a)}.`,
            expected: "200: header names and the Bearer scheme are case-insensitive, and 1 or more spaces may follow the scheme",
            hint,
          });
        if (!ok && (a.status !== 401 || !/^bearer/i.test(a.headers["www-authenticate"] ?? ""))) {
          return t.fail({
            message: `GET /tasks/:id with ${what} answered ${show(a)} (www-authenticate: ${a.headers["www-authenticate"] ?? "none"}).`,
            expected: "401 with a WWW-Authenticate: Bearer … header",
            hint,
          });
        }
      }
      const q = await send(t, server, "GET", `/tasks/${task}?access_token=${p}&api_key=${p}`, {});
      if (q.status !== 401)
        return t.fail({
          message: `GET /tasks/:id with the key in the query string answered ${show(q)}.`,
          expected: "401: keys in URLs end up in access logs, proxies and browser history, so only the Authorization header counts",
          hint,
        });
      // 401 before routing, 404/405 before 403.
      const unknown = `fl_${t.id("guess")}${t.id("guess")}`;
      const table: Array<[string, string, Req, number, string]> = [
        ["GET", "/admin/stats", { key: unknown }, 401, "with an unknown key"],
        ["GET", `/nowhere/${t.id("p")}`, {}, 401, "with no key, on a path that is no route"],
        ["DELETE", "/admin/stats", { key: unknown }, 401, "with an unknown key, on a method the route does not have"],
        ["GET", "/admin/stats", { key: keys.producer.key }, 403, "as a producer"],
        ["DELETE", `/tasks/${task}`, { key: keys.producer.key }, 403, "as a producer"],
        ["POST", "/tasks", { key: keys.operator.key, body: "{}" }, 403, "as an operator"],
        ["GET", `/nowhere/${t.id("p")}`, { key: keys.producer.key }, 404, "as a producer, on a path that is no route"],
        ["PUT", "/admin/stats", { key: keys.producer.key }, 405, "as a producer, on a method the route does not have"],
        ["POST", "/tasks", { key: keys.producer.key, body: "{oops" }, 400, "as a producer, with a body that is not JSON"],
        ["GET", "/admin/stats", { key: keys.admin.key }, 200, "as an admin"],
      ];
      let forbiddenBody: string | null = null;
      let unauthorizedBody: string | null = null;
      for (const [method, path, r, want, what] of table.sort(() => t.random() - 0.5)) {
        const a = await expectStatus(t, server, method, path, r, want, what, hint);
        if (want === 403) forbiddenBody ??= a.body;
        if (want === 401) unauthorizedBody ??= a.body;
      }
      if (forbiddenBody !== null && forbiddenBody === unauthorizedBody)
        return t.fail({
          message: `401 and 403 answered the same body (${clip(forbiddenBody)}).`,
          expected: '{"error":"unauthenticated"} for 401 and {"error":"forbidden"} for 403',
          hint,
        });
    },

    "deny-by-default": async (t) => {
      const server = await startServer(t);
      const { tenant, keys } = await tenantWithKeys(t, server);
      const own = await seedTask(t, tenant);
      const hint = `Route on the exact path (no trailing slash, no case folding, no prefix match) and the exact method, from an allow-list of routes each with its allowed roles: anything else is 404 (no such path) or 405 (the path exists, not the method), for every role. ${ORDER_HINT}`;
      const segment = fc.constantFrom(
        "tasks",
        "admin",
        "stats",
        "keys",
        "retry",
        "Tasks",
        "ADMIN",
        "Stats",
        "",
        own,
        keys.producer.id,
        "x",
        "admin.json",
        "stats.",
      );
      const request = fc.record({
        segs: fc.array(segment, { minLength: 1, maxLength: 4 }),
        slash: fc.boolean(),
        method: fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"),
        role: fc.constantFrom<Role>(...ROLES),
      });
      const pathOf = (r: { segs: string[]; slash: boolean }) => `/${r.segs.join("/")}${r.slash ? "/" : ""}`;
      let judged = 0;
      await t.property(
        request,
        async (r) => {
          const path = pathOf(r);
          if (path.startsWith("//")) return; // a URL parser reads //host/…: not a path this lab judges
          const route = routeOf(path, r.method);
          if (typeof route !== "number") return; // an exact route: roles-enforced judges it
          // An id with characters ids never have ("stats."): a server may route it as an id or not.
          if (
            routeOf(
              path.replace(/[^/]+/g, (seg) => seg.replace(/[^A-Za-z0-9_-]/g, "_")),
              r.method,
            ) !== route
          )
            return;
          judged++;
          const a = await send(t, server, r.method, path, { key: keys[r.role].key });
          if (a.status !== route) {
            t.fail({
              message: `${r.method} ${path} as ${aRole(r.role)} answered ${show(a)}${a.status >= 200 && a.status < 300 ? ": a request no route allows was served" : ""}.`,
              expected: `${route}: ${route === 404 ? "no route has this exact path" : `the path exists but has no ${r.method}`}`,
              actual: show(a),
              hint,
            });
          }
        },
        { runs: 120, timeLimitMs: 10_000, noun: "request", show: (r) => `${r.method} ${pathOf(r)} as ${aRole(r.role)}` },
      );
      t.note(`${judged} generated requests to paths or methods no route has`);
      // A query string is not part of the path: the route and its roles still apply.
      for (const role of ROLES) {
        const want = role === "admin" ? 200 : 403;
        await expectStatus(t, server, "GET", `/admin/stats?role=admin&as=${t.id("q")}`, { key: keys[role].key }, want, `as ${aRole(role)}`, hint);
      }
    },

    "fail-closed": async (t) => {
      const server = await startServer(t);
      const { tenant, keys } = await tenantWithKeys(t, server);
      const task = await seedTask(t, tenant);
      const hint =
        'When the key lookup fails (Redis answers an error, or is unreachable), the caller is neither authenticated nor refused: answer 503 {"error":"unavailable"}, never 200 (that is failing open) and never 401 (a client would throw away a key that is fine). Let the error reach one place that turns it into 503.';
      /** Whether a command the server sent after `mark` got the injected error. */
      const failed = (mark: number) => t.commands().some((e) => e.seq > mark && e.fault === "failNext");
      const cases: Array<[string, string, Req, number]> = [
        ["GET", "/admin/stats", { key: keys.admin.key }, 200],
        ["GET", "/admin/stats", { key: keys.producer.key }, 403],
        ["GET", `/tasks/${task}`, { key: keys.operator.key }, 200],
        ["POST", "/tasks", { key: keys.producer.key, body: JSON.stringify({ payload: { n: t.unpredictable() } }) }, 201],
        ["GET", "/admin/stats", { key: `fl_${t.id("guess")}${t.id("guess")}` }, 401],
      ];
      for (const [method, path, r, healthy] of cases.sort(() => t.random() - 0.5)) {
        const stored = await t.redis.scard(`queue:tenant:${tenant}`);
        const mark = t.logPosition();
        t.proxy.failNext(1);
        t.note(`Redis answers an error to the next command (the key lookup) of ${method} ${path}`);
        const a = await send(t, server, method, path, r);
        // Judged on what the proxy did: a request none of whose commands failed is judged as healthy.
        if (!failed(mark)) {
          if (a.status !== healthy) return t.fail({ message: `${method} ${path} answered ${show(a)}.`, expected: `${healthy}`, hint });
          continue;
        }
        if (a.status !== 503) {
          return t.fail({
            message: `${method} ${path} (${healthy === 200 || healthy === 201 ? "a valid key" : healthy === 403 ? "a key whose role may not" : "an unknown key"}), with the key lookup failing in Redis, answered ${show(a)}.`,
            expected: `503 {"error":"unavailable"}${a.status < 300 ? ": the request was served although nobody knew who sent it" : ""}`,
            actual: show(a),
            hint,
          });
        }
        if ((await t.redis.scard(`queue:tenant:${tenant}`)) !== stored)
          return t.fail({
            message: `${method} ${path} answered 503, but stored a task: the work ran while the key lookup had failed.`,
            expected: "nothing done for a request whose key could not be checked",
            hint,
          });
        await expectStatus(
          t,
          server,
          method,
          path,
          r,
          healthy,
          "once Redis answered again",
          "A failed lookup must not stick: the next request is looked up afresh.",
        );
      }
      t.fault("dependency: the task store fails (Redis answers an error to its EXISTS) under DELETE /tasks/:id");
      const mark = t.logPosition();
      t.proxy.failNext(1, { match: "EXISTS" });
      const del = await send(t, server, "DELETE", `/tasks/${task}`, { key: keys.operator.key });
      const want = failed(mark) ? 503 : 200;
      if (del.status !== want)
        return t.fail({
          message: `DELETE /tasks/:id as an operator${want === 503 ? ", with the task store failing in Redis," : ""} answered ${show(del)}.`,
          expected: `${want}`,
          hint,
        });
      const latency = { ms: 60 + Math.round(t.random() * 60), jitterMs: 30 };
      t.proxy.setLatency(latency);
      t.note(`Redis is slow: ${latency.ms} ± ${latency.jitterMs} ms a command`);
      await expectStatus(t, server, "GET", "/admin/stats", { key: keys.producer.key }, 403, "as a producer, with Redis slow", hint);
      await expectStatus(t, server, "GET", "/admin/stats", { key: keys.admin.key }, 200, "as an admin, with Redis slow", hint);
      await expectStatus(t, server, "GET", "/admin/stats", { key: `fl_${t.id("guess")}` }, 401, "with an unknown key, with Redis slow", hint);
    },
  },
});
