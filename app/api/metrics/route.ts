import { timingSafeEqual } from "node:crypto";
import { env } from "@/lib/env";
import { collect } from "@/lib/metrics/store";
import { render } from "@/lib/metrics/exposition";
import { keys, redis } from "@/lib/redis";
import { liveRunners } from "@/lib/runner/heartbeat";
import { webRunQueues } from "@/lib/runs/queue";
import { route } from "../_lib/route";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

function authorised(request: Request, token: string | undefined): boolean {
  if (!token) return true;
  const given = Buffer.from(request.headers.get("authorization")?.replace(/^Bearer\s+/i, "") ?? "");
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

/** Prometheus metrics for the whole platform (every runner and web replica), from any replica. */
export const GET = route(async (request) => {
  if (!authorised(request, env().METRICS_TOKEN)) {
    return Response.json({ error: "Send the metrics token as `Authorization: Bearer <METRICS_TOKEN>`." }, { status: 401, headers: { "www-authenticate": "Bearer" } });
  }
  const families = await collect({ redis: redis(), keys: keys(), queues: webRunQueues(), runners: await liveRunners(redis(), keys()) });
  return new Response(render(families), { headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8", "cache-control": "no-store" } });
});
