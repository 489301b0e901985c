import http from "node:http";
import { createRedis } from "@faultline/lab";

/** A PING slower than this counts as a failure: /readyz must answer well inside a 1 s probe timeout. */
const PING_DEADLINE_MS = 500;

// Every probe gets a fresh connection (created in askRedis and closed after it): a connection that
// went bad during an outage can never poison the next probe.
const options = { autoResendUnfulfilledCommands: false, commandTimeout: PING_DEADLINE_MS };


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
  const redis = createRedis(options);
  redis.on("error", () => {});
  try {
    await redis.ping();
    return { status: 200, body: { status: "ready" } };
  } catch (error) {
    return { status: 503, body: { status: "unavailable", failing: ["redis"], reason: String(error instanceof Error ? error.message : error) } };
  } finally {
    redis.disconnect();
  }
}

/** Readiness: can this process do its job right now? Ask Redis, with a deadline. */
function readyz(): Promise<Reply> {
  return askRedis();
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
