import http from "node:http";
import { createRedis, sleep } from "@faultline/lab";
import { handle, parseTask } from "./handler.ts";
import { ack, claim } from "./queue.ts";

/** Upper bounds of the duration histogram, in seconds (the lesson's, with a bucket at the 0.5 s objective). */
const BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
/** A depth read slower than this is given up: /metrics must answer within 1 s whatever Redis does. */
const DEPTH_DEADLINE_MS = 500;

// ---- this process's metrics: plain numbers in memory ----
// Counters live in memory and start at 0 with the process: rate() treats a restart as a reset, so
// they need no persistence. Both statuses exist from the start, so the first failure is a change
// from 0 to 1 that rate() can see, not a series appearing out of nowhere.
const processed = { ok: 0, failed: 0 };
let inFlight = 0;
const bucketCounts = BUCKETS.map(() => 0); // cumulative: observations <= each bound
let durationSum = 0;
let durationCount = 0;

/**
 * Counts one finished task. Synchronous on purpose: the counter and the histogram change in the
 * same turn of the event loop, so no scrape can see one updated without the other.
 */
function record(status: "ok" | "failed", seconds: number): void {
  processed[status]++;
  BUCKETS.forEach((le, i) => {
    if (seconds <= le) bucketCounts[i]!++;
  });
  durationSum += seconds;
  durationCount++;
}

/** Label values may hold anything; these three characters would end the value or the line. */
const escapeLabel = (value: string) => value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

/**
 * Depth is a fact about Redis, not about this process (other workers take tasks, producers add
 * them), so it is read at scrape time. Its own client, with a deadline: a stalled Redis must not
 * hold up the scrape, and the blocking claim's connection is busy anyway.
 */
const scrapeRedis = createRedis({ commandTimeout: DEPTH_DEADLINE_MS });
scrapeRedis.on("error", () => {}); // reported through a missing queue_depth, not printed

async function readDepth(queue: string): Promise<number | null> {
  try {
    const [waiting, running] = await Promise.all([scrapeRedis.llen(queue), scrapeRedis.llen(`${queue}:processing`)]);
    return waiting + running; // everything not yet done
  } catch {
    // No fresh number: leave the sample out. An old value would look current and be wrong.
    return null;
  }
}

async function exposition(queue: string): Promise<string> {
  const q = `queue="${escapeLabel(queue)}"`;
  const depth = await readDepth(queue);
  // Read every in-memory number after the await, in one synchronous run, so the scrape is one
  // consistent snapshot even while tasks finish.
  const lines = [
    "# HELP tasks_processed_total Tasks this worker finished, by outcome.",
    "# TYPE tasks_processed_total counter",
    `tasks_processed_total{${q},status="ok"} ${processed.ok}`,
    `tasks_processed_total{${q},status="failed"} ${processed.failed}`,
    "# HELP tasks_in_flight Tasks this worker is handling right now.",
    "# TYPE tasks_in_flight gauge",
    `tasks_in_flight{${q}} ${inFlight}`,
    "# HELP queue_depth Tasks waiting in the queue, read from Redis at scrape time.",
    "# TYPE queue_depth gauge",
    ...(depth === null ? [] : [`queue_depth{${q}} ${depth}`]),
    "# HELP task_duration_seconds How long handlers took, succeeded or failed.",
    "# TYPE task_duration_seconds histogram",
    // String(0.025) is "0.025" on every scrape: the le value is part of the series' identity.
    ...BUCKETS.map((le, i) => `task_duration_seconds_bucket{${q},le="${le}"} ${bucketCounts[i]}`),
    `task_duration_seconds_bucket{${q},le="+Inf"} ${durationCount}`,
    `task_duration_seconds_sum{${q}} ${durationSum}`,
    `task_duration_seconds_count{${q}} ${durationCount}`,
  ];
  return `${lines.join("\n")}\n`; // the last line ends with a line feed too
}

/** Runs one claimed task through the handler and counts it, whatever it does. */
async function runOne(raw: string): Promise<void> {
  inFlight++;
  const started = performance.now();
  let status: "ok" | "failed" = "ok";
  try {
    // Inside the try: the handler may throw synchronously, before it returns a promise.
    await handle(parseTask(raw));
  } catch {
    status = "failed";
  }
  // The duration includes the await: that is the time the task took.
  record(status, (performance.now() - started) / 1000);
  inFlight--;
}

/** Acks until Redis takes it: the task ran once and is counted once; only the ack is repeated. */
async function ackUntilDone(redis: ReturnType<typeof createRedis>, queue: string, raw: string): Promise<void> {
  for (;;) {
    try {
      return await ack(redis, queue, raw);
    } catch {
      await sleep(50);
    }
  }
}

async function work(queue: string): Promise<never> {
  const blocking = createRedis(); // BLMOVE blocks its connection
  blocking.on("error", () => {});
  for (;;) {
    let raw: string | null;
    try {
      raw = await claim(blocking, queue, 1);
    } catch {
      // A failed claim moved nothing: wait a moment and claim again. The counters are untouched.
      await sleep(50);
      continue;
    }
    if (raw === null) continue;
    await runOne(raw);
    await ackUntilDone(blocking, queue, raw);
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
}
