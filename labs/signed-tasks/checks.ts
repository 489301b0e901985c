import { createHmac } from "node:crypto";
import { defineChecks, fc, type CheckContext, type RpcModule } from "../../lib/grader/index.ts";
import type { Outcome, Placed, Special } from "./starter/probe.ts";

// What instructions.md fixes: the envelope, its canonical form, the windows and the reasons.
const LIFETIME_MS = 60_000;
const MAX_LIFETIME_MS = 300_000;
const SKEW_MS = 5_000;
/** A nonce mark may outlive its envelope's last acceptable moment by at most this much. */
const MARK_MAX_MS = 600_000;
const FIELDS = ["v", "kid", "iat", "exp", "nonce", "payload", "sig"] as const;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Keyring = Record<string, string>;
interface Envelope {
  v: number;
  kid: string;
  iat: number;
  exp: number;
  nonce: string;
  payload: Json;
  sig: string;
}
type Reason = "malformed" | "unknown-key" | "bad-signature" | "expired" | "not-yet-valid" | "replayed" | "unavailable";

const PROBE = "probe.ts";
const ACCEPT = "accept.ts";
const INSTANCE = { limits: { wallMs: 60_000 } };

// ---------------------------------------------------------------------------------------------
// The grader's own canonical JSON and HMAC: the instructions, as code.

function canon(value: unknown): string {
  if (value === null || typeof value === "boolean") return String(value);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError("not finite");
    return JSON.stringify(value);
  }
  if (typeof value === "string") {
    if (/[\uD800-\uDFFF]/u.test(value)) throw new TypeError("lone surrogate");
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canon).join(",")}]`;
  if (typeof value === "object") {
    const o = value as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${canon(k)}:${canon(o[k])}`)
      .join(",")}}`;
  }
  throw new TypeError(`not JSON: ${typeof value}`);
}

const hmac = (secret: string, text: string) => createHmac("sha256", secret).update(text, "utf8").digest();
const sigOf = (secret: string, e: Omit<Envelope, "sig">) =>
  hmac(secret, canon({ v: e.v, kid: e.kid, iat: e.iat, exp: e.exp, nonce: e.nonce, payload: e.payload })).toString("base64url");
const seal = (secret: string, e: Omit<Envelope, "sig">): Envelope => ({ ...e, sig: sigOf(secret, e) });

/** The same JSON with every object's keys inserted in another order (what a proxy or a re-serialiser does). */
function shuffled(value: Json, random: () => number): Json {
  if (Array.isArray(value)) return value.map((v) => shuffled(v, random));
  if (value === null || typeof value !== "object") return value;
  const entries = Object.entries(value);
  for (let i = entries.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [entries[i], entries[j]] = [entries[j]!, entries[i]!];
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, shuffled(v, random)]));
}

/** JSON with every non-ASCII character as \u{…}, so the learner sees exactly which one. */
const show = (value: unknown): string => {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.replace(/[^\x20-\x7e]/gu, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
};

// ---------------------------------------------------------------------------------------------
// Generated JSON: Unicode keys (integer-like ones, astral ones, ones above U+E000 that sort
// differently by code point than by code unit, "__proto__"), strings with every escape, numbers
// of every kind.

const KEYS = [
  "",
  "a",
  "b",
  "B",
  "_",
  "$",
  "1",
  "2",
  "10",
  "01",
  "-1",
  "1.5",
  "é",
  "e\u0301",
  "\u00c5",
  "\u212b",
  "\uff61",
  "\ue000",
  "\ud83d\ude00",
  "\ud834\udd1e",
  "\u0000",
  '"',
  "\\",
  "\n",
  "\u2028",
  "\u007f",
  "__proto__",
  "constructor",
  "toString",
  "a b",
  "a\u0000b",
  "Z",
];
const STRINGS = [
  "",
  "\u0000",
  "\u001f",
  "\b\f\n\r\t",
  '"',
  "\\",
  "/",
  "\u007f",
  "\u0080",
  "\u2028\u2029",
  "\ud83d\ude00",
  "\ufeff",
  "<script>",
  "\u00e9",
  "e\u0301",
  "\ud834\udd1e",
];
const NUMBERS = [
  0,
  -0,
  1,
  -1,
  0.1,
  0.5,
  1 / 3,
  5e-324,
  1e-7,
  1e-6,
  1e21,
  1e20,
  123456789012345680000,
  9007199254740991,
  9007199254740993,
  -9007199254740991,
  1.7976931348623157e308,
  2 ** -1074,
  1e300,
  4.35,
  0.000001,
  100,
  1e-300,
];

const key = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...KEYS) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 4 }) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 3 }) },
);
const text = fc.oneof(
  fc.constantFrom(...STRINGS),
  fc.string({ unit: "binary", maxLength: 8 }),
  fc.string({ unit: "grapheme", maxLength: 6 }),
  fc.array(fc.constantFrom(...STRINGS), { maxLength: 4 }).map((a) => a.join("")),
);
const number = fc.oneof(
  fc.constantFrom(...NUMBERS),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer({ min: -1e6, max: 1e6 }).map((n) => n / 100),
);
const leaf: fc.Arbitrary<Json> = fc.oneof(fc.constant(null), fc.boolean(), number, text);
const { json } = fc.letrec<{ json: Json; arr: Json[]; obj: { [k: string]: Json } }>((tie) => ({
  json: fc.oneof({ depthSize: "small", withCrossShrink: true }, leaf, tie("arr"), tie("obj")),
  arr: fc.array(tie("json"), { maxLength: 4 }),
  obj: fc.array(fc.tuple(key, tie("json")), { maxLength: 5 }).map((entries) => Object.fromEntries(entries)),
}));
/** A task payload: always an object with a few fields, nested JSON inside. */
const payloadArb: fc.Arbitrary<{ [k: string]: Json }> = fc
  .array(fc.tuple(key, json), { minLength: 1, maxLength: 5 })
  .map((entries) => Object.fromEntries(entries));

// ---------------------------------------------------------------------------------------------

interface Bench {
  t: CheckContext;
  probe: RpcModule;
  keys: Keyring;
  kids: string[];
}

/** A secret no program can know, with non-ASCII in it: the HMAC key is its UTF-8 bytes. */
const secretOf = (t: CheckContext) => `${t.id("secret")}-\u00fc\u20ac-${Math.floor(t.unpredictable() * 1e12)}`;
/** "now" as the grader passes it: its own clock, in ms, an integer. */
const clock = () => Date.now();

async function bench(t: CheckContext, nKeys = 2): Promise<Bench> {
  const probe = await t.load(PROBE, INSTANCE);
  const kids = Array.from({ length: nKeys }, () => t.id("kid"));
  const keys: Keyring = Object.fromEntries(kids.map((k) => [k, secretOf(t)]));
  return { t, probe, keys, kids };
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value), "utf8").toString("base64");

async function canonicalizeMany(b: Bench, cases: { value: unknown; placed?: Placed }[]): Promise<Outcome[]> {
  return b.probe.call<Outcome[]>("canonicalizeMany", [b64(cases)], 10_000);
}
async function signMany(
  b: Bench,
  cases: { payload: unknown; placed?: Placed; key: { kid: string; secret: string }; now: number }[],
  probe = b.probe,
): Promise<Outcome[]> {
  return probe.call<Outcome[]>("signMany", [b64(cases)], 10_000);
}
async function verifyMany(b: Bench, cases: { envelope: unknown; keys: Keyring; now: number }[]): Promise<Outcome[]> {
  return b.probe.call<Outcome[]>("verifyMany", [b64(cases)], 10_000);
}

/** A valid envelope the grader signs itself, its fields in a shuffled order. */
function envelopeFor(
  b: Pick<Bench, "t" | "keys" | "kids">,
  payload: Json,
  opts: { kid?: string; iat?: number; lifetimeMs?: number; nonce?: string } = {},
): Envelope {
  const kid = opts.kid ?? b.kids[0]!;
  const iat = opts.iat ?? clock();
  const e = seal(b.keys[kid]!, { v: 1, kid, iat, exp: iat + (opts.lifetimeMs ?? LIFETIME_MS), nonce: opts.nonce ?? t_nonce(b.t), payload });
  return reorder(e, b.t.random);
}
/** A nonce as the instructions allow (16 to 64 of A-Z a-z 0-9 - _), unpredictable. */
const t_nonce = (t: CheckContext) => t.id("nonce");
function reorder<T extends object>(e: T, random: () => number): T {
  return shuffled(e as unknown as Json, random) as unknown as T;
}

const verdictText = (o: Outcome) => (o.ok ? show(o.value) : `a thrown ${o.threw}: ${o.message.slice(0, 300)}`);
const reasonOf = (o: Outcome): string | undefined =>
  o.ok && typeof o.value === "object" && o.value !== null && (o.value as { ok?: unknown }).ok === false
    ? String((o.value as { reason?: unknown }).reason)
    : undefined;
const isAccepted = (o: Outcome) => o.ok && typeof o.value === "object" && o.value !== null && (o.value as { ok?: unknown }).ok === true;

const HINT_REASONS =
  "verify returns { ok: false, reason } and never throws; the reasons are tried in the order the instructions give: malformed, unknown-key, bad-signature, then not-yet-valid and expired.";

// ---------------------------------------------------------------------------------------------
// Tampering: each takes a valid envelope and returns a changed one with the reason it must get.

type Path = (string | number)[];
function leaves(value: Json, path: Path = []): Path[] {
  if (Array.isArray(value)) return value.length === 0 ? [path] : value.flatMap((v, i) => leaves(v, [...path, i]));
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value);
    return keys.length === 0 ? [path] : keys.flatMap((k) => leaves(value[k]!, [...path, k]));
  }
  return [path];
}
function objects(value: Json, path: Path = []): Path[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => objects(v, [...path, i]));
  if (value !== null && typeof value === "object") return [path, ...Object.keys(value).flatMap((k) => objects(value[k]!, [...path, k]))];
  return [];
}
function at(value: Json, path: Path): Json {
  return path.reduce<Json>((v, step) => (v as Record<string | number, Json>)[step]!, value);
}
function setAt(root: Json, path: Path, next: Json): Json {
  if (path.length === 0) return next;
  const copy = structuredClone(root) as Record<string | number, Json>;
  const parent = at(copy as Json, path.slice(0, -1)) as Record<string | number, Json>;
  parent[path[path.length - 1]!] = next;
  return copy as Json;
}
/** A different value of the same kind, changed as little as possible (one character, one unit). */
function nudge(v: Json): Json {
  if (v === null) return 0;
  if (typeof v === "boolean") return !v;
  if (typeof v === "number") return v === 0 ? 1 : Number.isSafeInteger(v) && Number.isSafeInteger(v + 1) ? v + 1 : 0;
  if (typeof v === "string") {
    const cps = [...v];
    if (cps.length === 0) return "a";
    const i = Math.floor(cps.length / 2);
    cps[i] = cps[i] === "a" ? "b" : "a";
    return cps.join("");
  }
  if (Array.isArray(v)) return [...v, 0];
  return { ...v, [`x${Object.keys(v).length}`]: 0 };
}

const SIG_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const PROTOTYPE_KIDS = ["toString", "constructor", "__proto__", "hasOwnProperty", "valueOf", "isPrototypeOf"];

const TAMPERS = [
  "payload-value",
  "payload-nested",
  "payload-add-key",
  "payload-drop-key",
  "payload-replaced",
  "swap-sig",
  "kid-other-key",
  "kid-unknown",
  "kid-prototype",
  "exp-extended",
  "iat-changed",
  "nonce-changed",
  "v-changed",
  "sig-truncated",
  "sig-extended",
  "sig-hex",
  "sig-base64-padded",
  "sig-case",
  "sig-last-char-bits",
  "sig-multibyte",
  "sig-empty",
  "sig-not-string",
  "extra-field",
  "missing-field",
  "exp-not-integer",
  "exp-as-string",
  "tampered-and-expired",
] as const;
type Tamper = (typeof TAMPERS)[number];

function tamper(
  b: Bench,
  e: Envelope,
  kind: Tamper,
  pick: number,
  other: Envelope,
): { envelope: Record<string, unknown>; reason: Reason; what: string; now?: number } {
  const m = { ...e } as Record<string, unknown>;
  const resign = (changes: Partial<Envelope>, what: string) => ({ envelope: { ...m, ...changes }, reason: "bad-signature" as Reason, what });
  const raw = Buffer.from(e.sig, "base64url");
  switch (kind) {
    case "payload-value":
    case "payload-nested": {
      const all = leaves(e.payload);
      const deep = all.filter((p) => p.length > 1);
      const path = (kind === "payload-nested" && deep.length > 0 ? deep : all)[pick % (kind === "payload-nested" && deep.length > 0 ? deep : all).length]!;
      return resign(
        { payload: setAt(e.payload, path, nudge(at(e.payload, path))) },
        `the value at payload${path.map((p) => `[${JSON.stringify(p)}]`).join("")} changed from ${show(at(e.payload, path))} to ${show(nudge(at(e.payload, path)))}`,
      );
    }
    case "payload-add-key": {
      const objs = objects(e.payload);
      const path = objs[pick % objs.length]!;
      const target = at(e.payload, path) as Record<string, Json>;
      let k = "admin";
      while (Object.hasOwn(target, k)) k += "_";
      return resign(
        { payload: setAt(e.payload, path, { ...target, [k]: true }) },
        `a key ${show(k)} added to payload${path.map((p) => `[${JSON.stringify(p)}]`).join("")}`,
      );
    }
    case "payload-drop-key": {
      const objs = objects(e.payload).filter((p) => Object.keys(at(e.payload, p) as object).length > 0);
      const path = objs[pick % objs.length]!;
      const target = { ...(at(e.payload, path) as Record<string, Json>) };
      const keys = Object.keys(target);
      const drop = keys[pick % keys.length]!;
      delete target[drop];
      return resign(
        { payload: setAt(e.payload, path, target) },
        `the key ${show(drop)} dropped from payload${path.map((p) => `[${JSON.stringify(p)}]`).join("")}`,
      );
    }
    case "payload-replaced":
      return resign({ payload: other.payload }, "the payload replaced by another signed envelope's payload");
    case "swap-sig":
      return resign({ sig: other.sig }, "sig replaced by another valid envelope's signature (same key)");
    case "kid-other-key":
      return resign({ kid: b.kids.find((k) => k !== e.kid)! }, "kid changed to another key the verifier trusts");
    case "kid-unknown":
      return { envelope: { ...m, kid: b.t.id("kid") }, reason: "unknown-key", what: "kid changed to a key id the keyring does not hold" };
    case "kid-prototype": {
      const kid = PROTOTYPE_KIDS[pick % PROTOTYPE_KIDS.length]!;
      return {
        envelope: { ...m, kid },
        reason: "unknown-key",
        what: `kid changed to ${show(kid)}, a property every object inherits but no key in the keyring`,
      };
    }
    case "exp-extended": {
      const by = 1 + (pick % (MAX_LIFETIME_MS - (e.exp - e.iat)));
      return resign({ exp: e.exp + by }, `exp extended by ${by} ms (still within the longest lifetime)`);
    }
    case "iat-changed":
      return resign({ iat: e.iat - 1 - (pick % 1000) }, "iat moved earlier");
    case "nonce-changed":
      return resign({ nonce: b.t.id("nonce") }, "nonce replaced by a fresh one (what a replay under a new nonce would need)");
    case "v-changed":
      return { envelope: { ...m, v: 2 }, reason: "malformed", what: "v changed to 2" };
    case "sig-truncated": {
      const keep = pick % 43;
      return resign({ sig: e.sig.slice(0, keep) }, `sig truncated to its first ${keep} characters`);
    }
    case "sig-extended":
      return resign({ sig: `${e.sig}${SIG_ALPHABET[pick % 64]}` }, "a character appended to sig");
    case "sig-hex":
      return resign({ sig: raw.toString("hex") }, "sig written in hex (the same HMAC bytes)");
    case "sig-base64-padded":
      return resign({ sig: raw.toString("base64") }, "sig written in standard base64 with padding (the same HMAC bytes)");
    case "sig-case": {
      const letters = [...e.sig].map((c, i) => [c, i] as const).filter(([c]) => c.toLowerCase() !== c.toUpperCase());
      const [c, i] = letters[pick % letters.length]!;
      const flipped = c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase();
      return resign({ sig: e.sig.slice(0, i) + flipped + e.sig.slice(i + 1) }, `one letter of sig in the other case (position ${i})`);
    }
    case "sig-last-char-bits": {
      // The last of 43 characters carries 4 bits of the MAC and 2 unused ones: another character
      // with other unused bits decodes to the very same bytes.
      const last = SIG_ALPHABET.indexOf(e.sig[42]!);
      const next = SIG_ALPHABET[(last & ~3) | ((last + 1 + (pick % 3)) & 3)]!;
      return resign({ sig: e.sig.slice(0, 42) + next }, `sig's last character ${e.sig[42]} replaced by ${next}, which base64url-decodes to the same bytes`);
    }
    case "sig-multibyte": {
      const i = pick % 43;
      return resign({ sig: `${e.sig.slice(0, i)}\u00e9${e.sig.slice(i + 1)}` }, `one character of sig replaced by "\u00e9": 43 characters, 44 UTF-8 bytes`);
    }
    case "sig-empty":
      return resign({ sig: "" }, "sig empty");
    case "sig-not-string": {
      const values: unknown[] = [null, 0, [e.sig], { sig: e.sig }, true];
      const value = values[pick % values.length];
      return { envelope: { ...m, sig: value }, reason: "malformed", what: `sig replaced by ${show(value)}, not a string` };
    }
    case "extra-field": {
      const names = ["admin", "sig2", "alg", "role"];
      const name = names[pick % names.length]!;
      return { envelope: { ...m, [name]: name === "alg" ? "none" : true }, reason: "malformed", what: `an unsigned field ${name} added to the envelope` };
    }
    case "missing-field": {
      const name = FIELDS[pick % FIELDS.length]!;
      const { [name]: _, ...rest } = m;
      return { envelope: rest, reason: "malformed", what: `the field ${name} removed from the envelope` };
    }
    case "exp-not-integer":
      return { envelope: { ...m, exp: e.exp + 0.5 }, reason: "malformed", what: "exp made fractional (exp + 0.5)" };
    case "exp-as-string":
      return { envelope: { ...m, exp: String(e.exp) }, reason: "malformed", what: "exp written as a string of digits" };
    case "tampered-and-expired": {
      const late = 1 + (pick % 100_000);
      return {
        envelope: { ...m, payload: other.payload },
        reason: "bad-signature",
        now: e.exp + SKEW_MS + late,
        what: `the payload replaced, and verified ${late} ms after exp + ${SKEW_MS} (the signature is judged before the time)`,
      };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Reading the learner's source for comparisons of signatures (constant-time).

/** The code with comments removed and every string, template and regex literal emptied. */
function codeOnly(source: string): string {
  let out = "";
  let i = 0;
  let last = ""; // the last significant character written, to tell a regex from a division
  while (i < source.length) {
    const c = source[i]!;
    const n = source[i + 1];
    if (c === "/" && n === "/") {
      while (i < source.length && source[i] !== "\n") i++;
      continue;
    }
    if (c === "/" && n === "*") {
      const end = source.indexOf("*/", i + 2);
      i = end < 0 ? source.length : end + 2;
      out += " ";
      continue;
    }
    if (c === '"' || c === "'" || c === "`" || (c === "/" && (last === "" || "(,=:[!&|?{};+-*%<>~^".includes(last) || /\breturn\s*$/.test(out)))) {
      const quote = c;
      let inClass = false;
      i++;
      while (i < source.length) {
        const d = source[i]!;
        if (d === "\\") {
          i += 2;
          continue;
        }
        if (quote === "/" && d === "[") inClass = true;
        else if (quote === "/" && d === "]") inClass = false;
        else if (d === quote && !inClass) break;
        else if (quote !== "`" && d === "\n") break;
        i++;
      }
      i++;
      out += quote === "/" ? "/r/" : '""';
      last = '"';
      continue;
    }
    out += c;
    if (!/\s/.test(c)) last = c;
    i++;
  }
  return out;
}

const OPERAND = String.raw`(?:typeof\s+)?[\w$][\w$.?!\[\]]*(?:\([^()]*\))?(?:\.[\w$]+(?:\([^()]*\))?)*`;
const COMPARISON = new RegExp(`(${OPERAND})\\s*(===|!==|==|!=)\\s*(${OPERAND}|"")`, "g");
const SIGNATURE_NAME = /(?:\b|_)(?:sig|mac|hmac|digest)|Sig|Mac|Hmac|Digest|SIG|MAC/;
const LITERAL = /^(?:""|-?\d[\d_.eExXa-fA-F]*n?|null|undefined|true|false|NaN)$/;

function unsafeComparisons(code: string): string[] {
  const found: string[] = [];
  for (const m of code.matchAll(COMPARISON)) {
    const [whole, left, , right] = m as unknown as [string, string, string, string];
    const operands = [left.trim(), right.trim()];
    if (operands.some((o) => LITERAL.test(o) || o.startsWith("typeof") || /\b(?:length|byteLength)\b/.test(o))) continue;
    if (operands.some((o) => SIGNATURE_NAME.test(o))) found.push(whole.replace(/\s+/g, " "));
  }
  // Buffer equality stops at the first difference too; only on a line about a signature, since a
  // sort comparator's .compare() is another matter (and canonical-json judges that one).
  for (const line of code.split("\n")) {
    if (!SIGNATURE_NAME.test(line)) continue;
    for (const m of line.matchAll(/[\w$.\])]*\.(?:equals|compare)\s*\(/g)) found.push(`${m[0]}…)`);
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// accept(): instances of accept.ts, called as a worker would.

async function accept(
  t: CheckContext,
  w: RpcModule,
  envelope: unknown,
  keys: Keyring,
  now: number,
  what: string,
): Promise<{ ok: boolean; reason?: string; payload?: unknown }> {
  let out: unknown;
  try {
    out = await w.call("accept", [envelope, keys, now], 8_000);
  } catch (error) {
    return t.fail({
      message: `${what}: accept() did not return a verdict: ${error instanceof Error ? error.message : String(error)}`,
      expected: "{ ok: true, payload } or { ok: false, reason }",
      hint: 'accept must return a verdict every time, and never throw: a Redis error is { ok: false, reason: "unavailable" }, so the delivery is retried.',
    });
  }
  if (typeof out !== "object" || out === null || typeof (out as { ok?: unknown }).ok !== "boolean") {
    return t.fail({
      message: `${what}: accept() returned ${show(out)}, not a verdict.`,
      expected: "{ ok: true, payload } or { ok: false, reason }",
      hint: "Return the verdict object the instructions describe.",
    });
  }
  return out as { ok: boolean; reason?: string; payload?: unknown };
}

/** Every key in Redis: its remaining life and whether it holds one of `nonces`. */
async function marks(t: CheckContext): Promise<{ key: string; pttl: number; text: string }[]> {
  const out: { key: string; pttl: number; text: string }[] = [];
  for (const key of await t.redis.keys("*")) {
    const type = await t.redis.type(key);
    const text = [key];
    if (type === "string") text.push((await t.redis.getrange(key, 0, 4096)) ?? "");
    else if (type === "hash") text.push(...(await t.redis.hkeys(key)), ...(await t.redis.hvals(key)));
    else if (type === "set") text.push(...(await t.redis.smembers(key)));
    else if (type === "zset") text.push(...(await t.redis.zrange(key, 0, -1)));
    else if (type === "list") text.push(...(await t.redis.lrange(key, 0, -1)));
    out.push({ key, pttl: await t.redis.pttl(key), text: text.join("\u0000") });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

const between = (t: CheckContext, lo: number, hi: number) => lo + Math.floor(t.random() * (hi - lo + 1));

export default defineChecks({
  timeoutMs: 25_000,
  // Two workers take a stream of signed tasks: some delivered twice or to both at once, some
  // tampered with, some stale. The live view shows each accepted nonce's mark and its expiry.
  playground: async (t) => {
    const kid = t.id("kid");
    const b = { t, keys: { [kid]: secretOf(t) }, kids: [kid] };
    const limits = { wallMs: 70_000 };
    const workers = [await t.load(ACCEPT, { name: "worker-1", limits }), await t.load(ACCEPT, { name: "worker-2", limits })];
    for (let i = 1; !t.signal.aborted; i++) {
      const roll = t.random();
      let e: unknown = envelopeFor(b, { task: t.id(`task${i}`), amount: Math.floor(t.unpredictable() * 1000) });
      let deliveries = 1;
      if (roll < 0.25) {
        deliveries = 3;
        t.note(`task ${i}: delivered to both workers at once, 3 times: one accept, two replays`);
      } else if (roll < 0.4) {
        e = { ...(e as Envelope), payload: { task: t.id(`task${i}`), amount: 1_000_000 } };
        t.note(`task ${i}: its payload changed after signing: bad-signature`);
      } else if (roll < 0.5) {
        e = envelopeFor(b, { task: t.id(`task${i}`) }, { iat: clock() - 2 * LIFETIME_MS });
        t.note(`task ${i}: signed two minutes ago: expired`);
      }
      const outs = await Promise.all(
        Array.from({ length: deliveries }, (_, d) =>
          workers[d % 2]!.call<{ ok: boolean; reason?: string }>("accept", [e, b.keys, clock()]).catch((error: unknown) => ({
            ok: false,
            reason: String(error),
          })),
        ),
      );
      t.note(`task ${i}: ${outs.map((o) => (o?.ok ? "accepted" : (o?.reason ?? "no verdict"))).join(", ")}`);
      await t.sleep(700);
    }
  },
  checks: {
    "canonical-json": async (t) => {
      const b = await bench(t, 1);
      const kid = b.kids[0]!;
      const secret = b.keys[kid]!;
      t.note("generated JSON with Unicode, integer-like and astral keys in shuffled orders, escapes and numbers of every kind");
      // The orders every canonicaliser gets wrong one way or another, with fresh values.
      const fixed: Json = {
        z: t.id("task"),
        b: Math.floor(t.unpredictable() * 1e6),
        "10": 1,
        "2": 2,
        B: 3,
        a: 4,
        "\ud83d\ude00": 5,
        "\uff61": 6,
        "\u00e9": 7,
        "e\u0301": 8,
        "": 9,
        nested: { y: [{ d: t.unpredictable(), c: null, "1": "\n\u2028\u0000" }], x: { "\ue000": true, "\ud834\udd1e": false, A: -0, __proto__x: 1e21 } },
      };
      const checkOne = async (value: Json) => {
        const orders = [value, shuffled(value, t.random), shuffled(value, t.random)];
        const expected = canon(value);
        const outs = await canonicalizeMany(
          b,
          orders.map((v) => ({ value: v })),
        );
        for (const [i, out] of outs.entries()) {
          if (out.ok && out.value === expected) continue;
          const got = out.ok ? String(out.value) : undefined;
          const stringify = got !== undefined && got === JSON.stringify(orders[i]);
          return t.fail({
            message: `canonicalize(${show(orders[i])}) ${got === undefined ? `threw ${out.ok ? "" : out.threw}: ${out.ok ? "" : out.message}` : `returned ${show(got)}`}.${i > 0 ? " (The same object as the first call, its keys inserted in another order.)" : ""}`,
            expected: show(expected),
            actual: got === undefined ? undefined : show(got),
            hint: stringify
              ? "That is JSON.stringify's output: keys in insertion order, so the same object sent through another serialiser signs differently. Sort every object's keys, at every depth, and build the text yourself."
              : 'Sort the keys of every object at every depth by UTF-16 code units (plain .sort() on strings, never localeCompare or a code-point/UTF-8 comparison), build the text as a string (a rebuilt object puts integer-like keys such as "10" and "2" first), write strings and numbers with JSON.stringify, and no whitespace.',
          });
        }
        // sign() signs exactly that text, whatever order the payload's keys arrived in.
        const now = clock();
        const signed = await signMany(
          b,
          orders.map((payload) => ({ payload, key: { kid, secret }, now })),
        );
        for (const [i, out] of signed.entries()) {
          if (!out.ok)
            return t.fail({
              message: `sign(${show(orders[i])}, key, ${now}) threw ${out.threw}: ${out.message}`,
              hint: "sign must accept every JSON payload.",
            });
          const e = out.value as Envelope;
          const want = typeof e === "object" && e !== null ? sigOf(secret, e) : "";
          if (e?.sig !== want) {
            // Name the likely mistake from what the signature turns out to be over.
            const fields = typeof e === "object" && e !== null ? { v: e.v, kid: e.kid, iat: e.iat, exp: e.exp, nonce: e.nonce, payload: e.payload } : {};
            const tryMac = (text: string) => hmac(secret, text).toString("base64url") === e?.sig;
            const payloadOnly = tryMac(canon(orders[i])) || tryMac(JSON.stringify(orders[i]));
            const stringified = tryMac(JSON.stringify(fields)) || tryMac(JSON.stringify(e?.payload));
            return t.fail({
              message: `sign(${show(orders[i])}, key, ${now}) returned an envelope whose sig is not the HMAC-SHA256 of the canonical JSON of { v, kid, iat, exp, nonce, payload } (with the envelope's own values)${payloadOnly ? ": it is the HMAC of the payload alone" : stringified ? ": it is the HMAC of JSON.stringify's text, keys in insertion order" : ""}.`,
              expected: want,
              actual: show(e?.sig),
              hint: payloadOnly
                ? "Sign every field but sig: canonicalize({ v, kid, iat, exp, nonce, payload }). A signature over the payload alone lets anyone extend exp, swap the nonce (a replay under a new nonce) or change kid without breaking it."
                : stringified
                  ? 'The envelope\'s own keys must be sorted too: canonical JSON of { v, kid, iat, exp, nonce, payload } starts {"exp":…,"iat":…,"kid":…. Use canonicalize, not JSON.stringify, for the whole text.'
                  : "sig = base64url (no padding) of HMAC-SHA256, keyed with the secret's UTF-8 bytes, over canonicalize({ v, kid, iat, exp, nonce, payload }): every field but sig.",
            });
          }
        }
      };
      // Generated first, so a failure shows a shrunk input; the fixed one backs it up under load.
      await t.property(payloadArb, checkOne, { runs: 100, timeLimitMs: 12_000, noun: "payload", show });
      await checkOne(fixed);

      // What JSON cannot carry exactly is refused, not silently changed; -0 is written as 0.
      const specials: Special[] = ["NaN", "Infinity", "-Infinity", "undefined", "bigint", "Date", "Map", "function", "null-prototype"];
      const base = { task: t.id("task"), n: Math.floor(t.unpredictable() * 1e6), nested: { list: [1, 2, 3] } };
      const where: Path[] = [["n"], ["nested", "list", 1], ["nested", "extra"], []];
      // Every special at every kind of place: an object's property, an array item, a new property, the top level.
      const cases: { value: unknown; placed?: Placed; lone?: string }[] = specials
        .flatMap((special) => where.map((path) => ({ value: base, placed: { path, special } })))
        .sort(() => t.random() - 0.5);
      cases.push(
        { value: { ...base, note: `ok\ud800` }, lone: "a lone high surrogate in a string" },
        { value: { ...base, ["\udc00k"]: 1 }, lone: "a lone low surrogate in a key" },
      );
      const outs = await canonicalizeMany(b, cases);
      for (const [i, out] of outs.entries()) {
        const c = cases[i]!;
        const what =
          c.lone ??
          `${c.placed!.special} at ${c.placed!.path.length ? `value${c.placed!.path.map((p) => `[${JSON.stringify(p)}]`).join("")}` : "the top level"}`;
        if (out.ok)
          return t.fail({
            message: `canonicalize(${show(c.value)} with ${what}) returned ${show(out.value)} instead of throwing.`,
            expected: "a thrown TypeError",
            hint: "Only plain JSON data has one canonical form: null, booleans, finite numbers, well-formed strings, arrays and plain objects. Throw a TypeError for anything else (NaN, Infinity, undefined, bigint, Date, Map, functions, objects without Object.prototype, lone surrogates) instead of letting JSON.stringify drop or change it.",
          });
      }
      const zero = await canonicalizeMany(b, [{ value: base, placed: { path: ["nested", "list", 0], special: "-0" } }]);
      const wantZero = canon({ ...base, nested: { list: [0, 2, 3] } });
      if (!zero[0]!.ok || zero[0]!.value !== wantZero)
        return t.fail({
          message: `canonicalize(${show(base)} with -0 as nested.list[0]) gave ${verdictText(zero[0]!)}.`,
          expected: wantZero,
          hint: "-0 is written as 0, as JSON.stringify writes it.",
        });
    },

    "accepts-valid": async (t) => {
      const b = await bench(t, 3);
      const other = await t.load(PROBE, { ...INSTANCE, name: "probe-2" });
      const arb = fc.record({
        payload: payloadArb,
        lifetime: fc.oneof(fc.constantFrom(1, LIFETIME_MS, MAX_LIFETIME_MS), fc.integer({ min: 1, max: MAX_LIFETIME_MS })),
        when: fc.constantFrom("iat", "exp", "inside", "iat-skew", "exp-skew"),
        k: fc.nat({ max: 2 }),
      });
      await t.property(
        arb,
        async ({ payload, lifetime, when, k }) => {
          const kid = b.kids[k]!;
          const iat = clock() - Math.floor(t.unpredictable() * 1e9);
          const e = envelopeFor(b, shuffled(payload, t.random), { kid, iat, lifetimeMs: lifetime });
          const now =
            when === "iat"
              ? iat
              : when === "exp"
                ? e.exp
                : when === "iat-skew"
                  ? iat - SKEW_MS
                  : when === "exp-skew"
                    ? e.exp + SKEW_MS
                    : iat + Math.floor(lifetime / 2);
          // The learner's own envelope, verified by the learner's verify.
          const signedAt = clock();
          const [mine] = await signMany(b, [{ payload, key: { kid, secret: b.keys[kid]! }, now: signedAt }]);
          if (!mine!.ok)
            return t.fail({
              message: `sign(${show(payload)}, { kid, secret }, ${signedAt}) threw ${mine!.threw}: ${mine!.message}`,
              hint: "sign must accept every JSON payload.",
            });
          const env = mine!.value as Envelope;
          const keys = Object.keys(env ?? {}).sort();
          if (keys.join() !== [...FIELDS].sort().join())
            return t.fail({
              message: `sign() returned an envelope with the fields ${keys.join(", ")}.`,
              expected: FIELDS.join(", "),
              hint: "An envelope has exactly v, kid, iat, exp, nonce, payload and sig.",
            });
          const header = { v: env.v, kid: env.kid, iat: env.iat, exp: env.exp };
          const wantHeader = { v: 1, kid, iat: signedAt, exp: signedAt + LIFETIME_MS };
          if (JSON.stringify(header) !== JSON.stringify(wantHeader))
            return t.fail({
              message: `sign(payload, { kid: ${show(kid)}, secret }, ${signedAt}) returned ${show(header)}.`,
              expected: show(wantHeader),
              hint: `v is 1, kid is the key's id, iat is the now argument and exp is now + ${LIFETIME_MS}, both in milliseconds.`,
            });
          if (typeof env.nonce !== "string" || !/^[A-Za-z0-9_-]{16,64}$/.test(env.nonce))
            return t.fail({
              message: `sign() returned the nonce ${show(env.nonce)}.`,
              expected: "16 to 64 characters of A-Z a-z 0-9 - _ (e.g. 16 random bytes in base64url)",
              hint: 'randomBytes(16).toString("base64url").',
            });
          if (canon(env.payload) !== canon(payload))
            return t.fail({
              message: "sign() changed the payload it carries.",
              expected: show(payload),
              actual: show(env.payload),
              hint: "Carry the payload as it is; canonical JSON is only what is signed.",
            });
          const cases = [
            {
              envelope: e,
              keys: b.keys,
              now,
              what: `an envelope the grader signed with kid ${kid} (lifetime ${lifetime} ms, fields and keys in a shuffled order), verified at ${when === "iat-skew" ? `iat - ${SKEW_MS}` : when === "exp-skew" ? `exp + ${SKEW_MS}` : when}`,
            },
            {
              envelope: reorder(env, t.random),
              keys: b.keys,
              now: signedAt + between(t, 0, LIFETIME_MS),
              what: "your own sign()'s envelope, fields reordered, within its lifetime",
            },
          ];
          const outs = await verifyMany(b, cases);
          for (const [i, out] of outs.entries()) {
            const c = cases[i]!;
            const got = out.ok ? (out.value as { ok?: unknown; payload?: unknown }) : undefined;
            if (got?.ok === true && canon(got.payload as Json) === canon(payload)) continue;
            return t.fail({
              message: `verify(${c.what}, keyring, ${c.now}) gave ${verdictText(out)}. The envelope is valid: iat ${(c.envelope as Envelope).iat}, exp ${(c.envelope as Envelope).exp}.`,
              expected: `{ ok: true, payload: ${show(payload).slice(0, 400)} }`,
              actual: out.ok ? show(out.value).slice(0, 600) : verdictText(out),
              hint:
                got?.ok === true
                  ? "Return the envelope's payload as it is."
                  : `Check your canonical JSON against the field order and key order (the grader sends both shuffled); pick the secret by kid; allow ${SKEW_MS} ms of clock skew at both ends: valid while iat - ${SKEW_MS} <= now <= exp + ${SKEW_MS}.`,
            });
          }
        },
        { runs: 60, timeLimitMs: 12_000, noun: "case", show },
      );

      // Nonces: unique across calls in the same millisecond and across instances.
      const now = clock();
      const batch = Array.from({ length: 25 }, () => ({ payload: { same: true }, key: { kid: b.kids[0]!, secret: b.keys[b.kids[0]!]! }, now }));
      const [x, y] = await Promise.all([signMany(b, batch), signMany(b, batch, other)]);
      const nonces = [...x, ...y].map((o) => (o.ok ? (o.value as Envelope).nonce : undefined));
      const dup = nonces.find((n, i) => nonces.indexOf(n) !== i);
      if (dup !== undefined)
        return t.fail({
          message: `sign() was called 25 times in each of two instances with the same payload and the same now (${now}), and gave the nonce ${show(dup)} more than once.`,
          expected: "50 different nonces",
          hint: "A nonce must be unique across every signer and every call: draw it from a CSPRNG (randomBytes), not from the time or a counter, or two tasks signed at once refuse each other as replays.",
        });
    },

    "rejects-tampered": async (t) => {
      const b = await bench(t, 2);
      t.note("valid envelopes signed by the grader, each changed in one way: payload, headers, signature text and encoding, fields");
      const arb = fc.record({
        payload: payloadArb,
        kinds: fc.array(fc.tuple(fc.constantFrom(...TAMPERS), fc.nat()), { minLength: 1, maxLength: 4 }),
        lateMs: fc.nat({ max: 2 * MAX_LIFETIME_MS }),
      });
      await t.property(
        arb,
        async ({ payload, kinds }) => {
          const iat = clock() - Math.floor(t.unpredictable() * 1e6);
          const e = envelopeFor(b, payload, { kid: b.kids[0]!, iat, lifetimeMs: between(t, 1_000, LIFETIME_MS) });
          const other = envelopeFor(b, { other: t.id("task") }, { kid: b.kids[0]!, iat });
          const now = iat + 500;
          const changes = kinds.map(([kind, pick]) => ({ kind, ...tamper(b, e, kind, pick, other) }));
          const cases = [{ envelope: e, keys: b.keys, now }, ...changes.map((c) => ({ envelope: c.envelope, keys: b.keys, now: c.now ?? now }))];
          const outs = await verifyMany(b, cases);
          if (!isAccepted(outs[0]!))
            return t.fail({
              message: `verify() rejected a valid envelope the grader signed (before any tampering): ${verdictText(outs[0]!)}.`,
              expected: "{ ok: true, payload }",
              hint: "Get accepts-valid and canonical-json passing first.",
            });
          for (const [i, c] of changes.entries()) {
            const out = outs[i + 1]!;
            if (reasonOf(out) === c.reason) continue;
            return t.fail({
              message: `A valid envelope was tampered with: ${c.what}. verify() ${out.ok ? `returned ${show(out.value).slice(0, 400)}` : `threw ${out.threw}: ${out.message}`}.`,
              expected: `{ ok: false, reason: "${c.reason}" }`,
              actual: out.ok ? show(out.value).slice(0, 400) : `a thrown ${out.threw}`,
              hint: isAccepted(out)
                ? c.kind.startsWith("sig-")
                  ? "Compare the signature text exactly as given with the base64url text you compute (no padding): decoding it first forgives padding, the other alphabet, hex and unused bits."
                  : c.reason === "malformed"
                    ? "Check the envelope's shape before anything else: exactly the seven fields, v === 1, iat and exp safe integers, sig a string."
                    : "Sign and verify every field but sig (v, kid, iat, exp, nonce, payload), not the payload alone: otherwise exp can be extended or a new nonce put in without breaking the signature."
                : out.ok
                  ? HINT_REASONS
                  : "verify must never throw: timingSafeEqual throws on buffers of different lengths (compare their byte lengths first), and keys[kid] finds inherited properties such as toString (use Object.hasOwn).",
            });
          }
        },
        { runs: 100, timeLimitMs: 12_000, noun: "envelope and tampering", show },
      );

      // Then every kind of tampering, three ways each, on one nested task: none left to chance.
      const payload: Json = {
        task: t.id("task"),
        amount: Math.floor(t.unpredictable() * 1e6),
        meta: { tags: [t.id("tag"), "\u00e9\ud83d\ude00"], "10": { deep: t.unpredictable() }, "2": null },
      };
      const iat = clock() - Math.floor(t.unpredictable() * 1e6);
      const e = envelopeFor(b, payload, { kid: b.kids[0]!, iat, lifetimeMs: LIFETIME_MS });
      const other = envelopeFor(b, { other: t.id("task") }, { kid: b.kids[0]!, iat });
      const changes = TAMPERS.flatMap((kind) => [0, 1, 2].map((k) => ({ kind, ...tamper(b, e, kind, k * 7919 + Math.floor(t.random() * 1000), other) })));
      const outs = await verifyMany(
        b,
        changes.map((c) => ({ envelope: c.envelope, keys: b.keys, now: c.now ?? iat + 500 })),
      );
      for (const [i, c] of changes.entries()) {
        const out = outs[i]!;
        if (reasonOf(out) === c.reason) continue;
        return t.fail({
          message: `A valid envelope carrying ${show(payload)} was tampered with: ${c.what}. verify() ${out.ok ? `returned ${show(out.value).slice(0, 400)}` : `threw ${out.threw}: ${out.message}`}.`,
          expected: `{ ok: false, reason: "${c.reason}" }`,
          hint: out.ok ? HINT_REASONS : "verify must never throw.",
        });
      }
    },

    "rejects-expired": async (t) => {
      const b = await bench(t, 1);
      const kid = b.kids[0]!;
      t.note(`edges held exactly: valid while iat - ${SKEW_MS} <= now <= exp + ${SKEW_MS}; lifetime (exp - iat) from 1 to ${MAX_LIFETIME_MS} ms`);
      const arb = fc.record({
        lifetime: fc.oneof(fc.constantFrom(1, LIFETIME_MS, MAX_LIFETIME_MS), fc.integer({ min: 1, max: MAX_LIFETIME_MS })),
        when: fc.constantFrom(
          "exp",
          "exp+skew",
          "exp+skew+1",
          "exp+skew+far",
          "iat-skew",
          "iat-skew-1",
          "iat-skew-far",
          "inside",
          "lifetime-too-long",
          "exp-before-iat",
          "seconds",
        ),
        far: fc.integer({ min: 2, max: 10 * 86_400_000 }),
      });
      await t.property(
        arb,
        async ({ lifetime, when, far }) => {
          const iat = clock() - Math.floor(t.unpredictable() * 1e9);
          let life = lifetime;
          if (when === "lifetime-too-long") life = MAX_LIFETIME_MS + 1 + (far % MAX_LIFETIME_MS);
          if (when === "exp-before-iat") life = -(far % MAX_LIFETIME_MS);
          let e = seal(b.keys[kid]!, { v: 1, kid, iat, exp: iat + life, nonce: t.id("nonce"), payload: { task: t.id("task") } });
          let now = iat + Math.floor(life / 2);
          let reason: Reason | "ok" = "ok";
          let what = "";
          switch (when) {
            case "exp":
              now = e.exp;
              what = "now is exactly exp";
              break;
            case "exp+skew":
              now = e.exp + SKEW_MS;
              what = `now is exactly exp + ${SKEW_MS}`;
              break;
            case "exp+skew+1":
              now = e.exp + SKEW_MS + 1;
              reason = "expired";
              what = `now is exp + ${SKEW_MS} + 1 ms`;
              break;
            case "exp+skew+far":
              now = e.exp + SKEW_MS + far;
              reason = "expired";
              what = `now is ${far} ms past exp + ${SKEW_MS}`;
              break;
            case "iat-skew":
              now = iat - SKEW_MS;
              what = `now is iat - ${SKEW_MS} (the signer's clock ${SKEW_MS} ms ahead)`;
              break;
            case "iat-skew-1":
              now = iat - SKEW_MS - 1;
              reason = "not-yet-valid";
              what = `now is iat - ${SKEW_MS} - 1 ms (iat too far in the future)`;
              break;
            case "iat-skew-far":
              now = iat - SKEW_MS - far;
              reason = "not-yet-valid";
              what = `now is ${far} ms before iat - ${SKEW_MS}`;
              break;
            case "inside":
              what = "now is halfway between iat and exp";
              break;
            case "lifetime-too-long":
              reason = "malformed";
              what = `exp - iat is ${life} ms, above ${MAX_LIFETIME_MS}`;
              break;
            case "exp-before-iat":
              reason = "malformed";
              what = `exp - iat is ${life} ms (exp not after iat)`;
              break;
            case "seconds": {
              // A signer that writes seconds: exp is far before now in milliseconds.
              const s = Math.floor(iat / 1000);
              e = seal(b.keys[kid]!, { v: 1, kid, iat: s, exp: s + 60, nonce: t.id("nonce"), payload: { task: t.id("task") } });
              now = iat;
              reason = "expired";
              what = "iat and exp are in seconds (a signer's unit mistake), now in milliseconds";
              break;
            }
          }
          const [out] = await verifyMany(b, [{ envelope: reorder(e, t.random), keys: b.keys, now }]);
          const got = isAccepted(out!) ? "ok" : reasonOf(out!);
          if (got === reason) return;
          t.fail({
            message: `verify() of a correctly signed envelope (iat ${e.iat}, exp ${e.exp}) at now = ${now}: ${what}. It ${out!.ok ? `returned ${show(out!.value).slice(0, 300)}` : `threw ${out!.threw}: ${out!.message}`}.`,
            expected: reason === "ok" ? "{ ok: true, payload }" : `{ ok: false, reason: "${reason}" }`,
            hint: `All times are milliseconds. The envelope is valid while iat - ${SKEW_MS} <= now <= exp + ${SKEW_MS} (both edges included): "not-yet-valid" before, "expired" after; exp - iat must be from 1 to ${MAX_LIFETIME_MS}, else "malformed".`,
          });
        },
        { runs: 100, timeLimitMs: 10_000, noun: "case" },
      );

      // Through accept(): an expired delivery is refused and leaves nothing behind.
      const w = await t.load(ACCEPT, { ...INSTANCE, name: "worker" });
      const iat = clock() - LIFETIME_MS - SKEW_MS - between(t, 1, 60_000);
      const e = envelopeFor(b, { task: t.id("task") }, { kid, iat });
      const out = await accept(t, w, e, b.keys, clock(), "accept() of an envelope that expired a moment ago");
      if (out.ok || out.reason !== "expired")
        return t.fail({
          message: `accept() of an envelope whose exp + ${SKEW_MS} passed ${clock() - e.exp - SKEW_MS} ms ago returned ${show(out)}.`,
          expected: '{ ok: false, reason: "expired" }',
          hint: "accept() runs verify() first and returns its verdict when it rejects.",
        });
      const left = await t.viewRedis([e.nonce]);
      if (left.missing.length === 0)
        return t.fail({
          message: `accept() refused an expired envelope but stored its nonce ${e.nonce} in Redis.`,
          hint: "Write nothing for an envelope that does not verify: anyone can send those, as many as they like.",
        });
    },

    "key-rotation": async (t) => {
      const b = await bench(t, 2);
      const [oldKid, newKid] = b.kids as [string, string];
      t.note(`keyring { ${oldKid}: old secret, ${newKid}: new secret }, then the old key retired`);
      const now = clock();
      const payload = { task: t.id("task"), amount: Math.floor(t.unpredictable() * 1e6) };
      const signed = await signMany(
        b,
        [oldKid, newKid].map((kid) => ({ payload, key: { kid, secret: b.keys[kid]! }, now })),
      );
      if (!signed.every((o) => o.ok))
        return t.fail({ message: `sign() threw: ${signed.map(verdictText).join("; ")}`, hint: "sign must accept every JSON payload." });
      const [byOld, byNew] = signed.map((o) => o.value as Envelope) as [Envelope, Envelope];
      const retired: Keyring = { [newKid]: b.keys[newKid]! };
      const rotatedSecret: Keyring = { [oldKid]: secretOf(t), [newKid]: b.keys[newKid]! };
      const forged = seal(b.keys[oldKid]!, { v: 1, kid: newKid, iat: now, exp: now + LIFETIME_MS, nonce: t.id("nonce"), payload });
      const cases: { envelope: unknown; keys: Keyring; want: Reason | "ok"; what: string }[] = [
        { envelope: byOld, keys: b.keys, want: "ok", what: `signed with the old key ${oldKid}, keyring holding both keys` },
        { envelope: byNew, keys: b.keys, want: "ok", what: `signed with the new key ${newKid}, keyring holding both keys` },
        { envelope: byOld, keys: retired, want: "unknown-key", what: `signed with the old key ${oldKid}, after it was retired from the keyring` },
        { envelope: byNew, keys: retired, want: "ok", what: `signed with the new key ${newKid}, after the old one was retired` },
        { envelope: byOld, keys: rotatedSecret, want: "bad-signature", what: `signed with ${oldKid}, whose secret the keyring now holds a different one for` },
        { envelope: forged, keys: b.keys, want: "bad-signature", what: `claiming kid ${newKid} but signed with ${oldKid}'s secret` },
        ...PROTOTYPE_KIDS.map((kid) => ({
          envelope: seal(b.keys[oldKid]!, { ...byOld, kid }),
          keys: b.keys,
          want: "unknown-key" as const,
          what: `with kid ${show(kid)} (an inherited property of every object, no key of the keyring)`,
        })),
        { envelope: byOld, keys: {}, want: "unknown-key", what: "with an empty keyring" },
      ];
      const outs = await verifyMany(
        b,
        cases.map((c) => ({ envelope: reorder(c.envelope as object, t.random), keys: c.keys, now })),
      );
      for (const [i, c] of cases.entries()) {
        const out = outs[i]!;
        const got = isAccepted(out) ? "ok" : reasonOf(out);
        if (got === c.want) continue;
        return t.fail({
          message: `verify() of an envelope ${c.what} ${out.ok ? `returned ${show(out.value).slice(0, 300)}` : `threw ${out.threw}: ${out.message}`}.`,
          expected: c.want === "ok" ? "{ ok: true, payload }" : `{ ok: false, reason: "${c.want}" }`,
          hint: 'Pick the one secret the envelope\'s kid names, and only if the keyring itself holds that kid (Object.hasOwn(keys, kid): keys["toString"] is a function on every object); no such kid is "unknown-key". Never try the other keys: the kid is signed, and a signature made with any other key is "bad-signature".',
        });
      }
    },

    "constant-time": async (t) => {
      const b = await bench(t, 1);
      const files = ["sign.ts", "accept.ts"];
      const code = files.map((f) => ({ f, code: codeOnly(t.source(f)) }));
      t.note("reading sign.ts and accept.ts: the signature must be compared with timingSafeEqual, never with ==, ===, !=, !==, .equals() or .compare()");
      if (!code.some((c) => /\btimingSafeEqual\s*\(/.test(c.code))) {
        return t.fail({
          message: "Neither sign.ts nor accept.ts calls timingSafeEqual (comments and strings aside).",
          expected: "verify compares the signature with crypto.timingSafeEqual",
          hint: "=== and Buffer.equals stop at the first byte that differs, so how long a wrong signature takes to reject tells an attacker how many of its first bytes are right. timingSafeEqual(a, b) always looks at every byte.",
        });
      }
      for (const c of code) {
        const bad = unsafeComparisons(c.code);
        if (bad.length > 0)
          return t.fail({
            message: `${c.f} compares a signature with an operator or method that stops at the first difference: ${bad
              .slice(0, 3)
              .map((x) => `\`${x}\``)
              .join(", ")}.`,
            expected: "signatures compared only with timingSafeEqual (their lengths may be compared with ===)",
            hint: "Compare Buffer.from(sig) with Buffer.from(expected) using timingSafeEqual, after checking that their byte lengths are equal; remove every ==, ===, .equals() and .compare() between signature values (the grader looks for names containing sig, mac, hmac or digest).",
          });
      }
      // Signatures of every wrong length and encoding: rejected, never thrown.
      const now = clock();
      const e = envelopeFor(b, { task: t.id("task") }, { kid: b.kids[0]!, iat: now });
      const raw = Buffer.from(e.sig, "base64url");
      const sigs: [string, string][] = [
        ["empty", ""],
        ["1 character", e.sig[0]!],
        ["42 characters", e.sig.slice(0, 42)],
        ["44 characters", `${e.sig}A`],
        ["86 characters", e.sig + e.sig],
        ["hex", raw.toString("hex")],
        ["padded base64", raw.toString("base64")],
        ["43 characters with an \u00e9 (44 bytes)", `\u00e9${e.sig.slice(1)}`],
        ["42 characters and an emoji (43 UTF-16 units, 45 bytes)", `${e.sig.slice(0, 41)}\ud83d\ude00`],
        ["4096 characters", "A".repeat(4096)],
        ["a NUL and 42 characters", `\u0000${e.sig.slice(1)}`],
      ];
      const order = sigs.map((s) => s).sort(() => t.random() - 0.5);
      const outs = await verifyMany(
        b,
        order.map(([, sig]) => ({ envelope: { ...e, sig }, keys: b.keys, now })),
      );
      for (const [i, [what, sig]] of order.entries()) {
        const out = outs[i]!;
        if (reasonOf(out) === "bad-signature") continue;
        return t.fail({
          message: `verify() of a valid envelope whose sig was replaced by one of the wrong length or encoding (${what}: ${show(sig).slice(0, 100)}) ${out.ok ? `returned ${show(out.value).slice(0, 300)}` : `threw ${out.threw}: ${out.message}`}.`,
          expected: '{ ok: false, reason: "bad-signature" }',
          hint: out.ok
            ? "Compare the given sig text with the base64url text you compute, byte for byte."
            : "timingSafeEqual throws a RangeError when its buffers differ in length. Compare the byte lengths (Buffer.from(sig).length, not sig.length: a character can take several bytes) and reject a mismatch before calling it.",
        });
      }
    },

    "rejects-replayed": async (t) => {
      const b = await bench(t, 1);
      const kid = b.kids[0]!;
      const [wa, wb] = [await t.load(ACCEPT, { ...INSTANCE, name: "worker-a" }), await t.load(ACCEPT, { ...INSTANCE, name: "worker-b" })];
      const payload = { task: t.id("task"), amount: Math.floor(t.unpredictable() * 1e6) };
      const e1 = envelopeFor(b, payload, { kid });
      const first = await accept(t, wa, e1, b.keys, clock(), "the first delivery");
      if (!first.ok || canon(first.payload as Json) !== canon(payload))
        return t.fail({
          message: `accept() of a valid, never-seen envelope on worker-a returned ${show(first)}.`,
          expected: `{ ok: true, payload: ${show(payload)} }`,
          hint: "Verify, then record the nonce; accept when it was not recorded before.",
        });
      await t.expectInRedis([e1.nonce], {
        message: `accept() returned ok for nonce ${e1.nonce}, but the nonce is nowhere in Redis.`,
        hint: "Record each accepted nonce in Redis, where every worker sees it, not in the worker's memory.",
      });
      const again = [
        { w: wa, name: "worker-a", what: "the same envelope delivered again to worker-a" },
        { w: wb, name: "worker-b", what: "the same envelope delivered to another worker, worker-b" },
        { w: wb, name: "worker-b", what: "the same envelope, its fields in another order, to worker-b", e: reorder(e1, t.random) },
      ].sort(() => t.random() - 0.5);
      for (const a of again) {
        const out = await accept(t, a.w, a.e ?? e1, b.keys, clock() + between(t, 0, 2000), a.what);
        if (out.ok || out.reason !== "replayed")
          return t.fail({
            message: `${a.what} (accepted once already) returned ${show(out)}.`,
            expected: '{ ok: false, reason: "replayed" }',
            hint: "Keep the nonces in Redis (every worker shares it) and refuse an envelope whose nonce is already there.",
          });
      }
      // Same payload, another nonce: another task.
      const e2 = envelopeFor(b, payload, { kid });
      const second = await accept(t, wb, e2, b.keys, clock(), "another envelope");
      if (!second.ok)
        return t.fail({
          message: `accept() of a second envelope with the same payload but its own nonce returned ${show(second)}.`,
          expected: "{ ok: true, payload }",
          hint: "A replay is the same nonce, not the same payload: the same task may legitimately be sent twice, each time signed anew.",
        });
      // A forgery carrying a genuine envelope's nonce, delivered first, must not burn the nonce.
      const e3 = envelopeFor(b, { task: t.id("task") }, { kid });
      const forgery = { ...e3, payload: { task: t.id("task") } };
      const f = await accept(t, wa, forgery, b.keys, clock(), "a forged envelope");
      if (f.ok || f.reason !== "bad-signature")
        return t.fail({
          message: `accept() of a forgery (a genuine envelope's nonce and signature, another payload) returned ${show(f)}.`,
          expected: '{ ok: false, reason: "bad-signature" }',
          hint: "accept() runs verify() first.",
        });
      const genuine = await accept(t, wb, e3, b.keys, clock(), "the genuine envelope after its forgery");
      if (!genuine.ok)
        return t.fail({
          message: `A forged envelope carrying nonce ${e3.nonce} was refused; then the genuine envelope with that nonce, never accepted before, returned ${show(genuine)}.`,
          expected: "{ ok: true, payload }",
          hint: "Record a nonce only after the envelope verified: otherwise anyone who sees a nonce can block the task by sending garbage with it first.",
        });
    },

    "replay-race": async (t) => {
      const b = await bench(t, 1);
      const kid = b.kids[0]!;
      const n = between(t, 3, 4);
      const workers = await t.loadMany(ACCEPT, n, INSTANCE);
      // Warm every connection up first, so the race below is between commands, not connects.
      for (const w of workers) await accept(t, w, envelopeFor(b, { warm: t.id("task") }, { kid }), b.keys, clock(), "a warm-up delivery");
      t.proxy.setLatency({ ms: between(t, 2, 5), jitterMs: between(t, 5, 15) });
      const rounds = 6;
      t.note(`${rounds} envelopes, each delivered ${n} workers x 2-3 times at once, latency with jitter on every command`);
      for (let r = 0; r < rounds; r++) {
        const payload = { task: t.id("task"), round: r };
        const e = envelopeFor(b, payload, { kid });
        const deliveries = workers.flatMap((w) => Array.from({ length: between(t, 2, 3) }, () => w));
        const now = clock();
        const outs = await Promise.all(deliveries.map((w) => accept(t, w, e, b.keys, now, `a concurrent delivery of envelope ${r + 1}`)));
        const accepted = outs.filter((o) => o.ok).length;
        const others = outs.filter((o) => !o.ok && o.reason !== "replayed");
        if (accepted !== 1 || others.length > 0) {
          return t.fail({
            message: `One envelope (nonce ${e.nonce}) was delivered ${deliveries.length} times at once across ${n} workers. ${accepted} deliveries were accepted${others.length ? `, and ${others.length} refused for another reason than "replayed" (${show(others[0])})` : ""}.`,
            expected: `exactly 1 accepted, ${deliveries.length - 1} { ok: false, reason: "replayed" }`,
            actual: outs.map((o) => (o.ok ? "ok" : o.reason)).join(", "),
            hint:
              accepted > 1
                ? "Looking the nonce up and then recording it are two steps another worker can run between. Make test-and-record one atomic command whose reply says which worker was first."
                : "Exactly one delivery must win: the one whose command recorded the nonce.",
          });
        }
      }
    },

    "redis-faults": async (t) => {
      const b = await bench(t, 1);
      const kid = b.kids[0]!;
      const w = await t.load(ACCEPT, { ...INSTANCE, name: "worker" });
      await accept(t, w, envelopeFor(b, { warm: t.id("task") }, { kid }), b.keys, clock(), "a warm-up delivery");
      const rounds = ["fail", "duplicate", "fail", "fail", "duplicate"].sort(() => t.random() - 0.5);
      for (const [r, fault] of rounds.entries()) {
        const payload = { task: t.id("task"), round: r };
        const e = envelopeFor(b, payload, { kid });
        if (fault === "fail") {
          t.proxy.failNext(1, { owner: "worker" });
          t.note(`envelope ${r + 1}: Redis refuses accept()'s next command; the delivery is then retried twice`);
        } else {
          t.proxy.duplicateNext(1, { owner: "worker" });
          t.note(`envelope ${r + 1}: accept()'s next command reaches Redis twice (answered once); the delivery is then retried`);
        }
        const outs = [];
        for (let d = 0; d < 3; d++)
          outs.push(
            await accept(
              t,
              w,
              e,
              b.keys,
              clock(),
              `delivery ${d + 1} of envelope ${r + 1} (${fault === "fail" ? "a refused command" : "a duplicated command"})`,
            ),
          );
        const seq = outs.map((o) => (o.ok ? "ok" : o.reason));
        const accepted = outs.filter((o) => o.ok).length;
        const allowed =
          fault === "fail"
            ? [
                ["unavailable", "ok", "replayed"],
                ["ok", "replayed", "replayed"],
              ]
            : [["ok", "replayed", "replayed"]];
        if (allowed.some((a) => a.join() === seq.join())) continue;
        return t.fail({
          message: `Envelope ${r + 1} was delivered 3 times in a row ${fault === "fail" ? "after Redis refused the first delivery's command" : "with the first delivery's command reaching Redis twice"}; accept() returned ${seq.join(", ")}.`,
          expected: allowed.map((a) => a.join(", ")).join("  or  "),
          hint:
            accepted > 1
              ? 'When Redis fails, you do not know whether the nonce is new: never accept then. Return { ok: false, reason: "unavailable" } so the delivery is retried.'
              : accepted === 0
                ? "A valid task was lost: a failed or duplicated command must not leave the nonce recorded without the task accepted. Record and test in one atomic command, and record nothing when it fails."
                : 'accept() must catch a Redis error and return { ok: false, reason: "unavailable" }, and refuse later deliveries as "replayed".',
        });
      }
    },

    "nonce-ttl": async (t) => {
      const b = await bench(t, 1);
      const kid = b.kids[0]!;
      const w = await t.load(ACCEPT, { ...INSTANCE, name: "worker" });
      t.note(`each nonce must be remembered at least until exp + ${SKEW_MS} ms and at most ${MARK_MAX_MS / 1000} s from now; rejected envelopes leave nothing`);
      const accepted: Envelope[] = [];
      const lifetimes = [1_000, LIFETIME_MS, MAX_LIFETIME_MS, between(t, 1_000, MAX_LIFETIME_MS), between(t, 1_000, MAX_LIFETIME_MS)].sort(
        () => t.random() - 0.5,
      );
      for (const life of lifetimes) {
        // Signed a while ago: what is left of its life varies.
        const now = clock();
        const iat = now - Math.floor(t.random() * (life - 1));
        const e = envelopeFor(b, { task: t.id("task") }, { kid, iat, lifetimeMs: life });
        const out = await accept(t, w, e, b.keys, now, "a valid delivery");
        if (!out.ok)
          return t.fail({
            message: `accept() of a valid envelope (iat ${iat}, exp ${e.exp}, now ${now}) returned ${show(out)}.`,
            expected: "{ ok: true, payload }",
            hint: "Get accepts-valid passing first.",
          });
        accepted.push(e);
      }
      const junk = [
        { ...envelopeFor(b, { task: t.id("task") }, { kid }), sig: "A".repeat(43) },
        envelopeFor(b, { task: t.id("task") }, { kid, iat: clock() - 3 * MAX_LIFETIME_MS }),
        { ...envelopeFor(b, { task: t.id("task") }, { kid }), v: 2 },
      ];
      for (const j of junk) await accept(t, w, j, b.keys, clock(), "a rejected delivery");
      const found = await marks(t);
      const after = clock();
      for (const e of accepted) {
        const mark = found.find((m) => m.text.includes(e.nonce));
        if (!mark)
          return t.fail({
            message: `accept() returned ok for nonce ${e.nonce} (exp ${e.exp}, ${e.exp + SKEW_MS - after} ms before exp + ${SKEW_MS}), but no key in Redis holds it any more.`,
            expected: `the nonce in Redis until at least exp + ${SKEW_MS}`,
            hint: "The mark must live as long as the envelope could still be accepted: exp + skew - now, in milliseconds (PX), or in seconds rounded up (EX).",
          });
        const least = e.exp + SKEW_MS - after - 2;
        if (mark.pttl === -1 || mark.pttl < least || mark.pttl > MARK_MAX_MS) {
          return t.fail({
            message: `The key ${mark.key} holding nonce ${e.nonce} (exp ${e.exp}) ${mark.pttl === -1 ? "never expires" : `expires in ${mark.pttl} ms`}.`,
            expected: `an expiry from ${Math.max(0, least)} ms (exp + ${SKEW_MS} from now) to ${MARK_MAX_MS} ms`,
            actual: `PTTL ${mark.key} = ${mark.pttl}`,
            hint:
              mark.pttl === -1
                ? "A key per task forever is a leak that grows with every task. Give the mark its expiry in the command that creates it (SET … NX PX ttl)."
                : "Keep the mark exactly as long as the envelope could be accepted again: exp + skew - now milliseconds (PX takes milliseconds, EX seconds).",
          });
        }
      }
      for (const m of found) {
        if (m.pttl === -1 || m.pttl > MARK_MAX_MS)
          return t.fail({
            message: `The key ${m.key} ${m.pttl === -1 ? "never expires" : `expires in ${m.pttl} ms`}.`,
            expected: `every key accept() writes expiring within ${MARK_MAX_MS} ms`,
            hint: "Every key written per task needs an expiry, or Redis grows with every task.",
          });
      }
      const stored = junk.filter((j) => found.some((m) => m.text.includes(j.nonce)));
      if (stored.length > 0)
        return t.fail({
          message: `accept() refused ${junk.length} envelopes (a bad signature, expired, malformed) but stored ${stored.length} of their nonces in Redis.`,
          hint: "Write nothing for an envelope that does not verify: anyone can send those, as many as they like.",
        });
    },
  },
});
