import http from "node:http";
import { createRedis, sleep } from "@faultline/lab";
import { handle, parseTask } from "./handler.ts";
import { ack, claim } from "./queue.ts";

/** Upper bounds of the duration histogram, in seconds. */
const BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

// TODO: this process's metrics: tasks processed by status (ok, failed), tasks in flight, and the
// duration histogram (a count per bucket, a sum and a count).

/** Builds the text GET /metrics answers with. */
async function exposition(queue: string): Promise<string> {
  // TODO: every metric of the instructions, each with its # HELP and # TYPE lines, labelled
  // queue="<queue>" (escaped), and queue_depth read from Redis now.
  void queue;
  void BUCKETS;
  return "";
}

/** Runs one claimed task through the handler. */
async function runOne(raw: string): Promise<void> {
  // TODO: measure it and count it, whether it succeeds or fails.
  try {
    await handle(parseTask(raw));
  } catch {
    // a failed task
  }
}

async function work(queue: string): Promise<never> {
  const blocking = createRedis(); // BLMOVE blocks its connection
  blocking.on("error", () => {});
  for (;;) {
    // TODO: a claim or an ack that Redis fails must not stop this loop.
    const raw = await claim(blocking, queue, 1);
    if (raw === null) continue;
    await runOne(raw);
    await ack(blocking, queue, raw);
  }
}

/** Serves GET /metrics on 127.0.0.1:port and works the queue; resolves once the server listens. */
export async function start(port: number, queue: string): Promise<void> {
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    if (req.method !== "GET" || path !== "/metrics") return void res.writeHead(404).end();
    exposition(queue).then(
      (body) => res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }).end(body),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  void work(queue);
  void sleep;
}
