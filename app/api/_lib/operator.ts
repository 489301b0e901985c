import { timingSafeEqual } from "node:crypto";
import { currentUser } from "@/lib/auth/session";
import { env } from "@/lib/env";

/** True when METRICS_TOKEN is set and the request sends it as `Authorization: Bearer <token>`. */
export function hasMetricsToken(request: Request): boolean {
  const token = env().METRICS_TOKEN;
  if (!token) return false;
  const given = Buffer.from(request.headers.get("authorization")?.replace(/^Bearer\s+/i, "") ?? "");
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

/** Someone who may see how the platform is deployed (runner hosts and pids): the scraper with the metrics token, or an admin. */
export async function isOperator(request: Request): Promise<boolean> {
  if (hasMetricsToken(request)) return true;
  if (env().FAULTLINE_AUTH === "local") return false; // the one local learner is no admin
  // A database outage must not turn /api/ready's 503 into a 500: without the user, no details.
  return (await currentUser().catch(() => null))?.role === "admin";
}
