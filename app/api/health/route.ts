// Liveness: the process is up and serving. Readiness (dependencies) is /api/ready.
export const dynamic = "force-dynamic";

export function GET() {
  return Response.json({ status: "ok", uptimeSeconds: Math.round(process.uptime()) });
}
