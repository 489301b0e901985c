import { db } from "@/lib/db";
import { readiness } from "@/lib/health";
import { keys, redis } from "@/lib/redis";
import { isOperator } from "../_lib/operator";
import { route } from "../_lib/route";

export const dynamic = "force-dynamic";

/**
 * Public, for load balancers and status pages: ready or not, each dependency's check, and how
 * many runners run which sandbox tier. Which hosts and processes those are is for an operator
 * only (an admin session, or the metrics token), as it maps the deployment for an attacker.
 */
export const GET = route(async (request) => {
  const result = await readiness(db(), redis(), keys(), { details: await isOperator(request) });
  return Response.json(result, { status: result.ready ? 200 : 503, headers: { "cache-control": "no-store" } });
});
