import http from "node:http";
import { createRedis } from "@faultline/lab";

/** A PING slower than this counts as a failure: /readyz must answer well inside a 1 s probe timeout. */
const PING_DEADLINE_MS = 500;

// The readiness probe's own connection, tuned to fail fast rather than to deliver eventually:
// - enableOfflineQueue: false. While the connection is down, ioredis would otherwise park the
//   PING in its offline queue until it reconnects, and the probe would hang for the whole outage
//   (and every parked PING would reach Redis at once when it is back).
// - autoResendUnfulfilledCommands: false. A PING written just before the connection dropped would
//   otherwise be sent again after the reconnect, long after anyone waits for its answer.
// - commandTimeout: a PING that was written but never answered (the connection was cut under it,
//   or Redis is too slow to be useful) is rejected after the deadline instead of waiting forever.
// ioredis's default retryStrategy reconnects on its own, within a few hundred ms at most.
const redis = createRedis({ enableOfflineQueue: false, autoResendUnfulfilledCommands: false, commandTimeout: PING_DEADLINE_MS });

// Without a listener ioredis prints every connection error; the probes report the state instead.
redis.on("error", () => {});

interface Reply {
  status: number;
  body: unknown;
}

/** Liveness: is this process able to answer at all? Nothing outside it matters here. */
function healthz(): Reply {
  return { status: 200, body: { status: "ok" } };
}

/** One PING with a deadline, turned into the probe's answer. */
async function askRedis(): Promise<Reply> {
  try {
    await redis.ping();
    return { status: 200, body: { status: "ready" } };
  } catch (error) {
    // While disconnected, ioredis's rejection only says that its offline queue is off.
    const reason = redis.status === "ready" ? String(error instanceof Error ? error.message : error) : `no connection to Redis (${redis.status})`;
    return { status: 503, body: { status: "unavailable", failing: ["redis"], reason } };
  }
}

/**
 * Readiness from a flag a loop refreshes every 250 ms, so a probe never waits for Redis and a storm
 * of probes costs nothing.
 */
let latest: Reply = { status: 503, body: { status: "unavailable", failing: ["redis"], reason: "not checked yet" } };
setInterval(() => {
  void askRedis().then((reply) => {
    latest = reply;
  });
}, 250);

function readyz(): Promise<Reply> {
  return Promise.resolve(latest);
}

async function route(req: http.IncomingMessage): Promise<Reply> {
  const path = new URL(req.url ?? "/", "http://localhost").pathname;
  if (path !== "/healthz" && path !== "/readyz") return { status: 404, body: { error: `no route ${path}` } };
  if (req.method !== "GET") return { status: 405, body: { error: "use GET" } };
  return path === "/healthz" ? healthz() : readyz();
}

function send(res: http.ServerResponse, { status, body }: Reply): void {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
  res.end(JSON.stringify(body));
}

/** Starts the HTTP server on 127.0.0.1:port; resolves once it is listening. */
export async function start(port: number): Promise<void> {
  const server = http.createServer((req, res) => {
    route(req).then(
      (reply) => send(res, reply),
      (error: unknown) => send(res, { status: 500, body: { error: String(error) } }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
}
