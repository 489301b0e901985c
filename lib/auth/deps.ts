import "server-only";
import { db } from "../db/index.ts";
import { env } from "../env.ts";
import { keys, redis } from "../redis/index.ts";
import type { AccountDeps } from "./accounts.ts";

export function accountDeps(): AccountDeps {
  const e = env();
  return {
    db: db(),
    redis: redis(),
    keys: keys(),
    limits: {
      loginPerEmail: e.RATE_LIMIT_LOGIN_PER_EMAIL,
      loginPerIp: e.RATE_LIMIT_LOGIN_PER_IP,
      signupPerIp: e.RATE_LIMIT_SIGNUP_PER_IP,
      signupPerInvite: e.RATE_LIMIT_SIGNUP_PER_INVITE,
    },
  };
}

/**
 * The client's address. The web server (scripts/web.ts) rewrites X-Forwarded-For to the one
 * address it trusts, so the first entry is never a value the client chose.
 */
export function clientIp(headers: { get(name: string): string | null } | Record<string, unknown> | undefined): string {
  const raw =
    headers && "get" in headers && typeof headers.get === "function"
      ? headers.get("x-forwarded-for")
      : (headers as Record<string, unknown> | undefined)?.["x-forwarded-for"];
  const first = typeof raw === "string" ? raw.split(",")[0]?.trim() : undefined;
  return first || "unknown";
}
