import { db } from "@/lib/db";
import { readiness } from "@/lib/health";
import { keys, redis } from "@/lib/redis";
import { route } from "../_lib/route";

export const dynamic = "force-dynamic";

export const GET = route(async () => {
  const result = await readiness(db(), redis(), keys());
  return Response.json(result, { status: result.ready ? 200 : 503 });
});
