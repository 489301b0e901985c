/**
 * Accounts: sign-up and credential checks, with the rate limits and the messages a person sees.
 * Dependencies are passed in, so integration tests run this against a real database and Redis.
 */
import type { Redis } from "ioredis";
import { z } from "zod";
import { Prisma, type Db } from "../db/client.ts";
import { exclusive } from "../db/exclusive.ts";
import type { RedisKeys } from "../redis/keys.ts";
import { enforce, type Limit } from "../redis/rate-limit.ts";
import { decoyHash, hashPassword, passwordProblem, verifyPassword } from "./password.ts";
import { INVALID_CREDENTIALS } from "./messages.ts";
import type { RoleName } from "./roles.ts";
import { RequestError } from "../errors.ts";

export interface AccountDeps {
  db: Db;
  redis: Redis;
  keys: RedisKeys;
  /** signupPerInvite: sign-ups per hour through one valid cohort invite, counted instead of signupPerIp. */
  limits: { loginPerEmail: number; loginPerIp: number; signupPerIp: number; signupPerInvite: number };
  /**
   * The cohort a sign-up's invite (a code or a pasted link) belongs to, or null for none or a
   * replaced one (lib/cohorts' previewInvite; cohorts build on accounts, so it is handed in).
   * Without it every sign-up counts against its address.
   */
  inviteCohort?: (invite: string) => Promise<{ code: string } | null>;
}

export interface AccountUser {
  id: string;
  email: string;
  name: string | null;
  role: RoleName;
}

const ACCOUNT_STATUS = { email_taken: 409, weak_password: 422, invalid_credentials: 401 } as const;

export class AccountError extends RequestError {
  override name = "AccountError";
  constructor(
    readonly code: keyof typeof ACCOUNT_STATUS,
    message: string,
    readonly field?: "email" | "password",
  ) {
    super(ACCOUNT_STATUS[code], message, { field });
  }
}

export const SignUpSchema = z.object({
  email: z
    .string({ error: "Enter your email address." })
    .trim()
    .toLowerCase()
    .pipe(z.email({ error: "Enter a valid email address, like ada@example.org." }).max(254, "Use an email address of at most 254 characters.")),
  password: z.string({ error: "Choose a password." }),
  name: z.string().trim().max(80, "Use a name of at most 80 characters.").optional(),
  invite: z.string().max(200).optional().describe("The cohort invite code (or link) the person is signing up to join, if any."),
});

export const CredentialsSchema = z.object({
  email: z.string().trim().toLowerCase().max(254),
  password: z.string().max(200),
});

const fifteenMinutes = 15 * 60_000;
const hour = 60 * 60_000;

/** Creates an account. The first account ever created becomes the admin. */
export async function signUp(deps: AccountDeps, input: unknown, ip: string): Promise<AccountUser> {
  const { email, password, name, invite } = SignUpSchema.parse(input);
  await enforce(deps.redis, deps.keys, [await signUpLimit(deps, invite, ip)]);
  const problem = passwordProblem(password, email);
  if (problem) throw new AccountError("weak_password", problem, "password");

  const passwordHash = await hashPassword(password);
  let created;
  try {
    created = await deps.db.user.create({ data: { email, name: name || null, passwordHash } });
  } catch (error) {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2002") {
      throw new AccountError("email_taken", "An account with this email already exists. Sign in instead, or use another email.", "email");
    }
    throw error;
  }
  const role = await promoteFirstUser(deps.db, created.id);
  return { id: created.id, email: created.email, name: created.name, role };
}

/**
 * A class signing up together often shares one address (a school's NAT), so a sign-up through a
 * cohort's current invite counts against that invite instead; an invalid or replaced code, or
 * none, counts against the address.
 */
async function signUpLimit(deps: AccountDeps, invite: string | undefined, ip: string): Promise<[Limit, string]> {
  const cohort = invite && deps.inviteCohort ? await deps.inviteCohort(invite) : null;
  if (cohort) return [{ bucket: "signup-invite", max: deps.limits.signupPerInvite, windowMs: hour }, cohort.code];
  return [{ bucket: "signup-ip", max: deps.limits.signupPerIp, windowMs: hour }, ip];
}

/**
 * Makes the earliest account admin while no admin exists. Exclusive, because concurrent first
 * sign-ups can each miss the other's uncommitted account and promote different "earliest" ones.
 */
async function promoteFirstUser(db: Db, userId: string): Promise<RoleName> {
  return exclusive(db, "admins", async (tx) => {
    if ((await tx.user.count({ where: { role: "admin" } })) === 0) {
      const first = await tx.user.findFirst({ orderBy: [{ createdAt: "asc" }, { id: "asc" }], select: { id: true } });
      if (first) await tx.user.update({ where: { id: first.id }, data: { role: "admin" } });
    }
    const me = await tx.user.findUniqueOrThrow({ where: { id: userId }, select: { role: true } });
    return me.role;
  });
}

/** Checks an email and password. Never says which of the two was wrong. */
export async function authenticate(deps: AccountDeps, input: unknown, ip: string): Promise<AccountUser> {
  const parsed = CredentialsSchema.safeParse(input);
  const wrong = new AccountError("invalid_credentials", INVALID_CREDENTIALS);
  if (!parsed.success) throw wrong;
  const { email, password } = parsed.data;
  await enforce(deps.redis, deps.keys, [
    [{ bucket: "login-email", max: deps.limits.loginPerEmail, windowMs: fifteenMinutes }, email],
    [{ bucket: "login-ip", max: deps.limits.loginPerIp, windowMs: fifteenMinutes }, ip],
  ]);
  const user = await deps.db.user.findUnique({ where: { email } });
  const ok = await verifyPassword(user?.passwordHash ?? (await decoyHash()), password);
  if (!user || !user.passwordHash || !ok) throw wrong;
  return { id: user.id, email: user.email, name: user.name, role: user.role };
}
