/**
 * Platform-wide metrics kept in the platform Redis, so that any web replica's /api/metrics tells
 * the whole story whichever runner graded a run: counters and histogram buckets are hash fields
 * incremented by the runners; each web process publishes its own count of open SSE streams.
 * A Redis restart resets the counters, which Prometheus handles as a counter reset.
 */
import type { Redis } from "ioredis";
import type { RedisKeys } from "../redis/keys.ts";
import type { RunnerInfo } from "../runner/heartbeat.ts";
import { bucketOf, histogramSamples, type Family, type HistogramSeries } from "./exposition.ts";

/** Seconds. Runs take from ~0.1 s (a build error) to the 60 s playground limit. */
export const RUN_BOUNDS = [0.25, 0.5, 1, 2, 4, 8, 15, 30, 60];
export const WAIT_BOUNDS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];
const SEP = "\t";
/** An SSE count not refreshed for this long belongs to a web process that died. */
const SSE_STALE_MS = 60_000;

export interface FinishedRun {
  lab: string;
  mode: "run" | "check";
  verdict: string;
  durationMs: number;
  queueMs: number;
}

export async function recordRun(redis: Redis, keys: RedisKeys, run: FinishedRun): Promise<void> {
  const series = [run.lab, run.mode].join(SEP);
  await redis
    .multi()
    .hincrby(keys.metrics("runs"), [run.lab, run.mode, run.verdict].join(SEP), 1)
    .hincrby(keys.metrics("run_seconds"), [series, bucketOf(RUN_BOUNDS, run.durationMs)].join(SEP), 1)
    .hincrbyfloat(keys.metrics("run_seconds"), [series, "sum"].join(SEP), run.durationMs / 1000)
    .hincrby(keys.metrics("queue_wait_seconds"), bucketOf(WAIT_BOUNDS, run.queueMs), 1)
    .hincrbyfloat(keys.metrics("queue_wait_seconds"), "sum", run.queueMs / 1000)
    .exec();
}

export async function recordSandboxKill(redis: Redis, keys: RedisKeys, reason: string): Promise<void> {
  await redis.hincrby(keys.metrics("sandbox_kills"), reason, 1);
}

/** This web process's open SSE streams, published under its instance name for the others to read. */
export class StreamGauge {
  private open = 0;
  private timer: NodeJS.Timeout | undefined;
  constructor(
    private readonly redis: () => Redis,
    private readonly keys: () => RedisKeys,
    readonly instance: string,
  ) {}

  opened(): void {
    this.open++;
    this.publish();
    // While streams are open, keep the published count fresh so it is not taken for a dead process's.
    this.timer ??= setInterval(() => this.publish(), SSE_STALE_MS / 3).unref();
  }

  closed(): void {
    this.open = Math.max(0, this.open - 1);
    this.publish();
    if (this.open === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  get count(): number {
    return this.open;
  }

  private publish(): void {
    this.redis()
      .hset(this.keys().metrics("sse"), this.instance, `${this.open}${SEP}${Date.now()}`)
      .catch(() => {}); // metrics never fail a request
  }
}

const split = (field: string) => field.split(SEP);
const numbers = (hash: Record<string, string>) => Object.entries(hash).map(([k, v]) => [k, Number(v)] as const);

function histogram(hash: Record<string, string>, labelNames: string[]): HistogramSeries[] {
  const series = new Map<string, HistogramSeries>();
  for (const [field, value] of numbers(hash)) {
    const parts = split(field);
    const bucket = parts.pop()!;
    const key = parts.join(SEP);
    const s = series.get(key) ?? { labels: Object.fromEntries(labelNames.map((n, i) => [n, parts[i] ?? ""])), buckets: new Map(), sum: 0 };
    if (bucket === "sum") s.sum = value;
    else s.buckets.set(bucket, value);
    series.set(key, s);
  }
  return [...series.values()];
}

/** A run queue's depth as the caller read it: queued and not started, and being run now. */
export interface QueueDepth {
  waiting: number;
  active: number;
}

export interface MetricsSources {
  redis: Redis;
  keys: RedisKeys;
  /** Each run lane's depth, by lane name, read by the caller from the queue at scrape time. */
  depths: Record<string, QueueDepth>;
  runners: RunnerInfo[];
  now?: number;
}

/** Every metric, read from Redis and the queue at scrape time. */
export async function collect({ redis, keys, depths, runners, now = Date.now() }: MetricsSources): Promise<Family[]> {
  const [runs, runSeconds, wait, kills, sse] = await Promise.all([
    redis.hgetall(keys.metrics("runs")),
    redis.hgetall(keys.metrics("run_seconds")),
    redis.hgetall(keys.metrics("queue_wait_seconds")),
    redis.hgetall(keys.metrics("sandbox_kills")),
    redis.hgetall(keys.metrics("sse")),
  ]);
  const streams = Object.entries(sse).flatMap(([instance, value]) => {
    const [count, at] = split(value).map(Number);
    return count !== undefined && at !== undefined && now - at < SSE_STALE_MS ? [[instance, count] as const] : [];
  });
  const tiers = new Map<string, number>();
  for (const r of runners) tiers.set(r.sandbox, (tiers.get(r.sandbox) ?? 0) + 1);
  return [
    {
      name: "faultline_runs_total",
      help: "Runs finished and stored, by lab, mode (run or check) and verdict (pass, fail, error).",
      type: "counter",
      samples: numbers(runs).map(([field, value]) => {
        const [lab = "", mode = "", verdict = ""] = split(field);
        return { labels: { lab, mode, verdict }, value };
      }),
    },
    {
      name: "faultline_run_duration_seconds",
      help: "How long runs took on a runner, from start to verdict.",
      type: "histogram",
      samples: histogramSamples(RUN_BOUNDS, histogram(runSeconds, ["lab", "mode"])),
    },
    {
      name: "faultline_queue_wait_seconds",
      help: "How long runs waited in the queue before a runner started them.",
      type: "histogram",
      samples: histogramSamples(WAIT_BOUNDS, histogram(wait, [])),
    },
    {
      name: "faultline_queue_depth",
      help: "Runs in the queue, by lane (check or run) and state: waiting (for a runner) or active (being graded).",
      type: "gauge",
      samples: Object.entries(depths).flatMap(([lane, depth]) => [
        { labels: { lane, state: "waiting" }, value: depth.waiting },
        { labels: { lane, state: "active" }, value: depth.active },
      ]),
    },
    {
      name: "faultline_sandbox_kills_total",
      help: "Learner processes stopped by a sandbox limit, by reason.",
      type: "counter",
      samples: numbers(kills).map(([reason, value]) => ({ labels: { reason }, value })),
    },
    {
      name: "faultline_sse_streams_active",
      help: "Live run streams (server-sent events) open, per web process.",
      type: "gauge",
      samples: streams.map(([instance, value]) => ({ labels: { instance }, value })),
    },
    {
      name: "faultline_runners",
      help: "Runner processes with a live heartbeat, by sandbox tier.",
      type: "gauge",
      samples: [...tiers].map(([sandbox, value]) => ({ labels: { sandbox }, value })),
    },
    {
      name: "faultline_runner_slots",
      help: "Runs the live runners can grade at once (sum of their concurrency).",
      type: "gauge",
      samples: [{ labels: {}, value: runners.reduce((n, r) => n + r.concurrency, 0) }],
    },
  ];
}
