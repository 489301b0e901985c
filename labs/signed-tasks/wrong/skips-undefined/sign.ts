import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** Plain JSON data: what a payload may hold. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface Envelope {
  v: 1;
  kid: string;
  iat: number;
  exp: number;
  nonce: string;
  payload: Json;
  sig: string;
}

/** The key sign() uses: its id goes into the envelope, its secret (UTF-8) is the HMAC key. */
export interface SigningKey {
  kid: string;
  secret: string;
}

/** kid → secret: every key a verifier still trusts (the current one and those being retired). */
export type Keyring = Record<string, string>;

export type Reason = "malformed" | "unknown-key" | "bad-signature" | "expired" | "not-yet-valid";
export type Verdict = { ok: true; payload: Json } | { ok: false; reason: Reason };

export const LIFETIME_MS = 60_000;
export const MAX_LIFETIME_MS = 300_000;
export const SKEW_MS = 5_000;

const FIELDS = ["exp", "iat", "kid", "nonce", "payload", "sig", "v"];
const NONCE = /^[A-Za-z0-9_-]{16,64}$/;

/**
 * Canonical JSON: one text per value, whatever order its keys were inserted in. Keys are sorted by
 * UTF-16 code units (what Array.prototype.sort does with strings, and what RFC 8785 says), at every
 * depth; strings and numbers are written as JSON.stringify writes them. Anything JSON cannot carry
 * exactly is refused rather than silently changed, because a signer and a verifier that changed it
 * differently would disagree about the bytes that were signed.
 */
export function canonicalize(value: unknown): string {
  if (value === null || typeof value === "boolean") return String(value);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError(`canonicalize: ${value} is not a finite number`);
    return JSON.stringify(value); // -0 becomes "0", like every JSON serialiser
  }
  if (typeof value === "string") {
    // In a u-flag regex a surrogate range matches only surrogates that are not part of a pair.
    if (/[\uD800-\uDFFF]/u.test(value)) throw new TypeError("canonicalize: a string holds a lone surrogate");
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((item) => canonicalize(item)).join(",")}]`;
  if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    // Built as a string, never as an object: an object would put integer-like keys ("10", "2")
    // first in numeric order, and would turn a "__proto__" key into a prototype.
    // Like JSON.stringify, a property holding undefined is left out.
    const keys = Object.keys(value).filter((k) => (value as Record<string, unknown>)[k] !== undefined).sort();
    return `{${keys.map((key) => `${canonicalize(key)}:${canonicalize((value as Record<string, unknown>)[key])}`).join(",")}}`;
  }
  throw new TypeError(`canonicalize: ${value === undefined ? "undefined" : typeof value === "object" ? (value.constructor?.name ?? "an object without a prototype") : typeof value} is not JSON data`);
}

/** The signature covers every field but sig itself, so no header (kid, exp…) can be changed unnoticed. */
function mac(secret: string, fields: Omit<Envelope, "sig">): string {
  const { v, kid, iat, exp, nonce, payload } = fields;
  return createHmac("sha256", secret).update(canonicalize({ v, kid, iat, exp, nonce, payload }), "utf8").digest("base64url");
}

export function sign(payload: Json, key: SigningKey, now: number): Envelope {
  const fields = { v: 1 as const, kid: key.kid, iat: now, exp: now + LIFETIME_MS, nonce: randomBytes(16).toString("base64url"), payload };
  return { ...fields, sig: mac(key.secret, fields) };
}

export function verify(envelope: unknown, keys: Keyring, now: number): Verdict {
  if (typeof envelope !== "object" || envelope === null || Array.isArray(envelope)) return { ok: false, reason: "malformed" };
  const e = envelope as Record<string, unknown>;
  // Exactly these fields: an extra one would be carried along unsigned.
  if (Object.keys(e).sort().join() !== FIELDS.join()) return { ok: false, reason: "malformed" };
  const { v, kid, iat, exp, nonce, payload, sig } = e;
  if (v !== 1 || typeof kid !== "string" || kid === "" || typeof nonce !== "string" || !NONCE.test(nonce) || typeof sig !== "string") return { ok: false, reason: "malformed" };
  if (!Number.isSafeInteger(iat) || !Number.isSafeInteger(exp)) return { ok: false, reason: "malformed" };
  const lifetime = (exp as number) - (iat as number);
  if (lifetime <= 0 || lifetime > MAX_LIFETIME_MS) return { ok: false, reason: "malformed" };
  let expected: string;
  // Own keys only: keys["toString"] is a function on every object.
  if (!Object.hasOwn(keys, kid)) return { ok: false, reason: "unknown-key" };
  try {
    expected = mac(keys[kid]!, { v, kid, iat: iat as number, exp: exp as number, nonce, payload: payload as Json });
  } catch {
    return { ok: false, reason: "malformed" }; // a payload that is not canonical JSON data
  }
  // Compare the encoded text, not decoded bytes: base64url decoding forgives padding, the other
  // alphabet and stray bits, so several texts decode to the same bytes. timingSafeEqual throws
  // on buffers of different lengths, so lengths (of bytes, not characters) are compared first:
  // the length of a valid signature is public anyway.
  const given = Buffer.from(sig, "utf8");
  const wanted = Buffer.from(expected, "utf8");
  if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) return { ok: false, reason: "bad-signature" };
  // Time only once the signature holds: iat and exp are only worth reading when they are the signer's.
  if ((iat as number) > now + SKEW_MS) return { ok: false, reason: "not-yet-valid" };
  if (now > (exp as number) + SKEW_MS) return { ok: false, reason: "expired" };
  return { ok: true, payload: payload as Json };
}
