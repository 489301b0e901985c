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

/** The one text a JSON value signs as, whatever order its keys were inserted in. */
export function canonicalize(value: unknown): string {
  // TODO: sort every object's keys (at every depth), refuse what is not plain JSON data.
  return JSON.stringify(value);
}

export function sign(payload: Json, key: SigningKey, now: number): Envelope {
  const fields = { v: 1 as const, kid: key.kid, iat: now, exp: now + LIFETIME_MS, nonce: randomBytes(16).toString("base64url"), payload };
  // TODO: which fields must the signature cover?
  const sig = createHmac("sha256", key.secret).update(canonicalize(payload), "utf8").digest("base64url");
  return { ...fields, sig };
}

export function verify(envelope: unknown, keys: Keyring, now: number): Verdict {
  // TODO: shape (malformed), kid (unknown-key), signature with timingSafeEqual (bad-signature),
  // then the time window (not-yet-valid, expired).
  void envelope;
  void keys;
  void now;
  void timingSafeEqual;
  return { ok: false, reason: "malformed" };
}
