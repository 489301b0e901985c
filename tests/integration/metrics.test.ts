/**
 * /api/metrics's numbers as runners and web processes leave them in the real platform Redis:
 * runs by lab and verdict, duration and wait histograms, sandbox kills by reason, queue depth from
 * the real BullMQ queue, and open SSE streams summed over live web processes only.
 */
import { expect, test } from "vitest";
import { render } from "../../lib/metrics/exposition.ts";
import { collect, recordRun, recordSandboxKill, StreamGauge } from "../../lib/metrics/store.ts";
import { enqueueRun, laneDepths, openRunQueue } from "../../lib/runs/dispatch.ts";
import { REDIS_TEST_URL, testRedis } from "./support/namespaces.ts";

test("metrics recorded by runners and web processes come out as Prometheus text", async () => {
  await using r = await testRedis();
  const queue = openRunQueue(REDIS_TEST_URL, r.prefix, "check");
  const playground = openRunQueue(REDIS_TEST_URL, r.prefix, "run");
  try {
    await recordRun(r.redis, r.keys, { lab: "priority-queue", mode: "check", verdict: "pass", durationMs: 1600, queueMs: 40 });
    await recordRun(r.redis, r.keys, { lab: "priority-queue", mode: "check", verdict: "fail", durationMs: 900, queueMs: 3000 });
    await recordRun(r.redis, r.keys, { lab: "saga", mode: "run", verdict: "error", durationMs: 70_000, queueMs: 10 });
    await recordSandboxKill(r.redis, r.keys, "cpu");
    await recordSandboxKill(r.redis, r.keys, "cpu");
    await recordSandboxKill(r.redis, r.keys, "output");
    await enqueueRun(queue, "sub-1");
    await enqueueRun(queue, "sub-2");
    await enqueueRun(playground, "sub-3");

    const web1 = new StreamGauge(
      () => r.redis,
      () => r.keys,
      "web-1",
    );
    web1.opened();
    web1.opened();
    web1.closed();
    // A web process that died 2 minutes ago with streams open: its count must not linger.
    await r.redis.hset(r.keys.metrics("sse"), "web-dead", `7\t${Date.now() - 120_000}`);
    await new Promise((res) => setTimeout(res, 100)); // the gauge publishes without waiting

    const runners = [{ id: "r1", host: "h", pid: 1, startedAt: "", concurrency: 2, sandbox: "bubblewrap", beatAt: "" }];
    const text = render(await collect({ redis: r.redis, keys: r.keys, depths: await laneDepths({ check: queue, run: playground }), runners }));
    const line = (prefix: string) => text.split("\n").find((l) => l.startsWith(prefix));

    expect(line('faultline_runs_total{lab="priority-queue",mode="check",verdict="pass"}')).toMatch(/ 1$/);
    expect(line('faultline_runs_total{lab="saga",mode="run",verdict="error"}')).toMatch(/ 1$/);
    expect(line('faultline_run_duration_seconds_bucket{lab="priority-queue",mode="check",le="1"}')).toMatch(/ 1$/);
    expect(line('faultline_run_duration_seconds_bucket{lab="priority-queue",mode="check",le="2"}')).toMatch(/ 2$/);
    expect(line('faultline_run_duration_seconds_bucket{lab="saga",mode="run",le="60"}')).toMatch(/ 0$/);
    expect(line('faultline_run_duration_seconds_bucket{lab="saga",mode="run",le="+Inf"}')).toMatch(/ 1$/);
    expect(line('faultline_run_duration_seconds_sum{lab="priority-queue",mode="check"}')).toMatch(/ 2\.5$/);
    expect(line('faultline_queue_wait_seconds_bucket{le="0.05"}')).toMatch(/ 2$/);
    expect(line("faultline_queue_wait_seconds_count")).toMatch(/ 3$/);
    expect(line('faultline_sandbox_kills_total{reason="cpu"}')).toMatch(/ 2$/);
    expect(line('faultline_queue_depth{lane="check",state="waiting"}')).toMatch(/ 2$/);
    expect(line('faultline_queue_depth{lane="run",state="waiting"}')).toMatch(/ 1$/);
    expect(line('faultline_sse_streams_active{instance="web-1"}')).toMatch(/ 1$/);
    expect(line('faultline_sse_streams_active{instance="web-dead"}')).toBeUndefined();
    expect(line('faultline_runners{sandbox="bubblewrap"}')).toMatch(/ 1$/);
    expect(line("faultline_runner_slots")).toMatch(/ 2$/);
    web1.closed();
  } finally {
    for (const q of [queue, playground]) {
      await q.obliterate({ force: true });
      await q.close();
    }
  }
});
