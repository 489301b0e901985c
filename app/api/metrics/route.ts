import { env } from "@/lib/env";
import { collect } from "@/lib/metrics/store";
import { render } from "@/lib/metrics/exposition";
import { processFamilies } from "@/lib/metrics/process";
import { keys, redis } from "@/lib/redis";
import { liveRunners } from "@/lib/runner/heartbeat";
import { laneDepths } from "@/lib/runs/dispatch";
import { webRunQueues } from "@/lib/runs/queue";
import { isOperator } from "../_lib/operator";
import { route } from "../_lib/route";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

/**
 * Prometheus metrics for the whole platform (every runner and web replica), from any replica, and
 * this web process's own memory. With METRICS_TOKEN set, only the scraper holding it (or an admin
 * following the admin page's link) may read them; unset, anyone who can reach the server may.
 */
export const GET = route(async (request) => {
  if (env().METRICS_TOKEN && !(await isOperator(request))) {
    return Response.json(
      { error: "Send the metrics token as `Authorization: Bearer <METRICS_TOKEN>`." },
      { status: 401, headers: { "www-authenticate": "Bearer" } },
    );
  }
  const [depths, runners] = await Promise.all([laneDepths(webRunQueues()), liveRunners(redis(), keys())]);
  const families = await collect({ redis: redis(), keys: keys(), depths, runners });
  return new Response(render([...families, ...processFamilies()]), {
    headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8", "cache-control": "no-store" },
  });
});
