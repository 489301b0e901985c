import { expect, test } from "vitest";
import { bucketOf, histogramSamples, render } from "./exposition.ts";

test("counters and gauges render as Prometheus text, label values escaped", () => {
  const text = render([
    { name: "faultline_runs_total", help: "Runs finished.", type: "counter", samples: [{ labels: { lab: 'a"b\\c', verdict: "pass" }, value: 3 }] },
    { name: "faultline_queue_depth", help: "Runs waiting.", type: "gauge", samples: [{ labels: {}, value: 0 }] },
  ]);
  expect(text).toBe(
    [
      "# HELP faultline_runs_total Runs finished.",
      "# TYPE faultline_runs_total counter",
      'faultline_runs_total{lab="a\\"b\\\\c",verdict="pass"} 3',
      "# HELP faultline_queue_depth Runs waiting.",
      "# TYPE faultline_queue_depth gauge",
      "faultline_queue_depth 0",
      "",
    ].join("\n"),
  );
});

test("a histogram's stored buckets become cumulative lines with +Inf, sum and count", () => {
  const bounds = [0.5, 1, 2];
  expect([100, 500, 501, 1999, 2001].map((ms) => bucketOf(bounds, ms))).toEqual(["0.5", "0.5", "1", "2", "+Inf"]);
  const samples = histogramSamples(bounds, [
    {
      labels: { lab: "pq" },
      buckets: new Map([
        ["0.5", 2],
        ["2", 1],
        ["+Inf", 1],
      ]),
      sum: 5.1,
    },
  ]);
  expect(samples.map((s) => [s.suffix, s.labels.le ?? "", s.value])).toEqual([
    ["_bucket", "0.5", 2],
    ["_bucket", "1", 2],
    ["_bucket", "2", 3],
    ["_bucket", "+Inf", 4],
    ["_sum", "", 5.1],
    ["_count", "", 4],
  ]);
});
