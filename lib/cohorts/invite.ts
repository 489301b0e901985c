/**
 * Invite codes: short enough to read out in a classroom, long enough not to be guessed. Eight
 * characters from an alphabet without look-alikes (no 0/O, 1/I/L) give 32^8 ≈ 10^12 codes; joining
 * is rate-limited per account, so guessing one is not a practical way into a class.
 */
import { randomInt } from "node:crypto";

const alphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
export const INVITE_LENGTH = 8;

export function newInviteCode(): string {
  let code = "";
  for (let i = 0; i < INVITE_LENGTH; i++) code += alphabet[randomInt(alphabet.length)];
  return code;
}

/** What a person typed or pasted (a code, "ab cd-ef gh", or a whole /join/ link) as a code, or null. */
export function parseInviteCode(input: string): string | null {
  const fromLink = /\/join\/([^/?#\s]+)/.exec(input)?.[1];
  const code = (fromLink ?? input).toUpperCase().replace(/[\s-]/g, "");
  if (code.length !== INVITE_LENGTH) return null;
  return [...code].every((c) => alphabet.includes(c)) ? code : null;
}

/** "K7M2Q9XD" → "K7M2-Q9XD", the way it is shown. */
export const formatInviteCode = (code: string) => `${code.slice(0, 4)}-${code.slice(4)}`;
