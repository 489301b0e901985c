import { hash, verify } from "@node-rs/argon2";

// OWASP's argon2id baseline (19 MiB, 2 passes): about 30 ms a hash on this hardware.
const options = {
  algorithm: 2 /* Algorithm.Argon2id; a const enum, unusable under isolatedModules */,
  memoryCost: 19456,
  timeCost: 2,
  parallelism: 1,
} as const;

export function hashPassword(password: string): Promise<string> {
  return hash(password, options);
}

export async function verifyPassword(hashed: string, password: string): Promise<boolean> {
  try {
    return await verify(hashed, password);
  } catch {
    return false; // a malformed stored hash is a failed sign-in, not a crash
  }
}

// A hash of a random password, verified when the email is unknown so that a wrong email takes
// as long as a wrong password and the timing does not reveal which accounts exist.
let decoy: Promise<string> | undefined;
export function decoyHash(): Promise<string> {
  decoy ??= hashPassword(`decoy-${Math.random()}`);
  return decoy;
}

const common = new Set([
  "password",
  "password1",
  "password12",
  "password123",
  "passw0rd",
  "qwerty",
  "qwertyuiop",
  "123456",
  "12345678",
  "123456789",
  "1234567890",
  "letmein",
  "welcome",
  "iloveyou",
  "admin",
  "administrator",
  "monkey",
  "dragon",
  "football",
  "baseball",
  "sunshine",
  "princess",
  "trustno1",
  "abc123",
  "changeme",
  "faultline",
  "starwars",
  "qwerty123",
  "1q2w3e4r",
  "zaq12wsx",
  "11111111",
  "00000000",
  "superman",
  "batman",
  "whatever",
  "computer",
]);

/** Returns why a password is too weak, or null. The message says what to change. */
export function passwordProblem(password: string, email: string): string | null {
  if (password.length < 10) return "Use at least 10 characters for your password.";
  if (password.length > 200) return "Use at most 200 characters for your password.";
  const lower = password.toLowerCase();
  if (common.has(lower) || common.has(lower.replace(/[^a-z0-9]/g, ""))) return "That password is one of the most common ones; choose another.";
  if (new Set(password).size < 4) return "Use a password with more variety than a few repeated characters.";
  const local = email.split("@")[0]?.toLowerCase() ?? "";
  if (local.length >= 4 && lower.includes(local)) return "Do not build your password from your email address.";
  return null;
}
