/**
 * The Prometheus text format (version 0.0.4), written by hand: a few counters, gauges and
 * histograms do not need a client library, and the values come from Redis, not from this process.
 */

export type Labels = Record<string, string>;

export interface Sample {
  labels: Labels;
  value: number;
  /** `_bucket`, `_sum` or `_count` for a histogram's lines. */
  suffix?: string;
}

export interface Family {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  samples: Sample[];
}

/** Label values escaped as the format requires: backslash, double quote and newline. */
const escape = (v: string) => v.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
const labelText = (labels: Labels) => {
  const entries = Object.entries(labels);
  return entries.length === 0 ? "" : `{${entries.map(([k, v]) => `${k}="${escape(v)}"`).join(",")}}`;
};
const num = (v: number) => (v === Infinity ? "+Inf" : Number.isFinite(v) ? String(v) : "NaN");

export function render(families: Family[]): string {
  const lines = families.flatMap((f) => [
    `# HELP ${f.name} ${f.help.replaceAll("\\", "\\\\").replaceAll("\n", "\\n")}`,
    `# TYPE ${f.name} ${f.type}`,
    ...f.samples.map((s) => `${f.name}${s.suffix ?? ""}${labelText(s.labels)} ${num(s.value)}`),
  ]);
  return lines.join("\n") + "\n";
}

/** Where an observation in milliseconds falls among bounds in seconds: the first bound it fits under. */
export function bucketOf(bounds: number[], ms: number): string {
  const bound = bounds.find((b) => ms <= b * 1000);
  return bound === undefined ? "+Inf" : String(bound);
}

export interface HistogramSeries {
  labels: Labels;
  /** Non-cumulative counts per upper bound ("0.5", …, "+Inf"), as stored. */
  buckets: Map<string, number>;
  /** Sum of observations, in seconds. */
  sum: number;
}

/** Prometheus wants cumulative `_bucket{le}` lines, then `_sum` and `_count`, per label set. */
export function histogramSamples(bounds: number[], series: HistogramSeries[]): Sample[] {
  return series.flatMap(({ labels, buckets, sum }) => {
    let running = 0;
    const cumulative = [...bounds.map(String), "+Inf"].map((le): Sample => {
      running += buckets.get(le) ?? 0;
      return { labels: { ...labels, le }, value: running, suffix: "_bucket" };
    });
    return [...cumulative, { labels, value: sum, suffix: "_sum" }, { labels, value: running, suffix: "_count" }];
  });
}
