import http from "node:http";
import { createRedis } from "@faultline/lab";

// TODO: which ioredis options make a PING fail fast while Redis is unreachable or slow, instead
// of waiting until it comes back? Read "Why a PING can hang" in the instructions.
const redis = createRedis();

interface Reply {
  status: number;
  /** Sent as JSON. */
  body: unknown;
}

/** Liveness: is this process able to answer at all? */
function healthz(): Reply {
  // TODO: answer 200. Think about what must NOT decide this answer.
  throw new Error("TODO: /healthz is not implemented yet");
}

/**
 * Readiness: can this process do its job right now? 200 when Redis answered a PING within 500 ms;
 * otherwise 503 with a JSON body naming the failing dependency. Always answer within 1 s, and
 * never have two PINGs waiting at once, however many probes arrive together.
 */
async function readyz(): Promise<Reply> {
  // TODO: ask Redis, with a deadline, and turn a failure into a 503 rather than a throw.
  await redis.ping();
  throw new Error("TODO: /readyz is not implemented yet");
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
