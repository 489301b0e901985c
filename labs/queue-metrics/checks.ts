// eslint-disable-next-line @typescript-eslint/triple-slash-reference -- the parser ships no types, and labs:verify type-checks checks.ts on its own
/// <reference path="./parse-prometheus-text-format.d.ts" />
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { CheckFailure, defineChecks, type CheckContext, type RpcModule } from "../../lib/grader/index.ts";

/** The histogram's bounds, exactly as the instructions (and the lesson) write them. */
const LE = ["0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "+Inf"];
/** A scrape with no answer by now has failed (instructions: 1 s; the rest is for a loaded machine). */
const SCRAPE_TIMEOUT_MS = 1500;
/**
 * A task told to take `ms` must be observed between ms - EARLY_MS and ms + LATE_MS (instructions):
 * a timer never fires early by more than its rounding, and may fire late on a busy machine.
 */
const EARLY_MS = 2;
const LATE_MS = 60;
/**
 * With Redis healthy a scrape answers within 250 ms (instructions); the grader allows this much on
 * a loaded machine, and forgives this many slower ones out of twenty (a two-core machine stalls
 * now and then). Waiting behind a blocked claim is slow on most scrapes.
 */
const FAST_SCRAPE_MS = 600;
const FORGIVEN_SLOW = 2;
/** How long a check waits for a workload to be acked: generous, the work itself is short. */
const DRAIN_MS = 12_000;
/** Ports below Linux's ephemeral range, drawn from the CSPRNG (see health-readiness). */
const PORTS = { from: 10_000, count: 22_000 };

type Outcome = "ok" | "reject" | "throw";
interface Task {
  id: string;
  name: string;
  ms: number;
  outcome: Outcome;
}

interface Worker {
  rpc: RpcModule;
  port: number;
  name: string;
}

/** One parsed sample line. `le` keeps the label's text as written. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A scrape that passed the format rules. */
interface Scrape {
  text: string;
  samples: Sample[];
  types: Map<string, string>;
  /** When the request was sent and answered (performance.now()). */
  sentAt: number;
  at: number;
}

/** What the grader reads off one scrape of one worker. */
interface Reading {
  ok: number;
  failed: number;
  inFlight: number;
  depth: number | null;
  buckets: number[];
  sum: number;
  count: number;
  series: string[];
}

const clip = (text: string, max = 1500) => (text.length > max ? `${text.slice(0, max)}…` : text);
const between = (t: CheckContext, low: number, high: number) => Math.round(low + t.unpredictable() * (high - low));
const pick = <T>(t: CheckContext, items: readonly T[]): T => items[Math.floor(t.random() * items.length)]!;

const formatHint =
  "Write the exposition exactly as the lesson's worker does: for each metric a `# HELP` and a `# TYPE` line, then its samples, one group per metric; label values escaped (\\\\, \\\", \\n); every line, the last one too, ending with a line feed; served with content-type text/plain; version=0.0.4.";

// ---------------------------------------------------------------------------------------------
// The strict exposition parser: what Prometheus's own parser refuses, and what the library lets by.
// ---------------------------------------------------------------------------------------------

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const KINDS = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

function parseValue(text: string): number | null {
  if (text === "+Inf" || text === "Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return null;
  return Number(text);
}

/** Parses `{a="x",b="y"}` starting at `i` (on the `{`); returns the labels and where it ended, or a problem. */
function parseLabels(line: string, start: number): { labels: Record<string, string>; end: number } | string {
  const labels: Record<string, string> = {};
  let i = start + 1;
  for (;;) {
    if (line[i] === "}") return { labels, end: i + 1 };
    const name = /^[^=]*/.exec(line.slice(i))![0];
    if (!LABEL_NAME.test(name)) return `label name ${JSON.stringify(name)} is not [a-zA-Z_][a-zA-Z0-9_]*`;
    if (name in labels) return `label ${name} appears twice`;
    i += name.length;
    if (line.slice(i, i + 2) !== '="') return `label ${name} is not followed by ="`;
    i += 2;
    let value = "";
    for (;;) {
      const c = line[i];
      if (c === undefined) return `the value of label ${name} never ends (a line feed or quote inside a label value must be escaped as \\n or \\")`;
      if (c === '"') break;
      if (c === "\\") {
        const next = line[i + 1];
        if (next === "\\") value += "\\";
        else if (next === '"') value += '"';
        else if (next === "n") value += "\n";
        else return `label ${name} has an invalid escape \\${next ?? ""} (only \\\\, \\" and \\n exist)`;
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    labels[name] = value;
    i++;
    if (line[i] === ",") i++;
    else if (line[i] !== "}") return `after label ${name}, expected , or } but found ${JSON.stringify(line[i] ?? "end of line")}`;
  }
}

/** The family a sample belongs to, given the TYPE lines so far. */
function familyOf(name: string, types: Map<string, string>): string {
  if (types.has(name)) return name;
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  if (m && (types.get(m[1]!) === "histogram" || types.get(m[1]!) === "summary")) return m[1]!;
  return name;
}

const seriesKey = (s: Sample) =>
  `${s.name}{${Object.keys(s.labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(s.labels[k])}`)
    .join(",")}}`;

/** Returns the problems of one exposition text, by the format's rules, or the parsed samples. */
function strictParse(text: string): { samples: Sample[]; types: Map<string, string> } | string {
  if (text.length > 0 && !text.endsWith("\n")) return "the last line does not end with a line feed";
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const samples: Sample[] = [];
  const seen = new Set<string>();
  const done = new Set<string>(); // families whose group has ended
  const started = new Set<string>(); // families with samples
  let current: string | null = null;
  const lines = text.split("\n");
  lines.pop();
  for (const [n, line] of lines.entries()) {
    const where = `line ${n + 1} (${JSON.stringify(clip(line, 120))})`;
    if (line.trim() === "") continue;
    if (line.startsWith("#")) {
      const meta = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s+(.*))?$/.exec(line);
      if (!meta) continue; // a plain comment
      const [, kind, name, rest = ""] = meta as unknown as [string, "HELP" | "TYPE", string, string | undefined];
      if (!METRIC_NAME.test(name)) return `${where}: ${JSON.stringify(name)} is not a valid metric name`;
      if (current !== null && current !== name) done.add(current);
      if (done.has(name)) return `${where}: metric ${name} has lines in two separate groups; all of one metric's lines must be together`;
      current = name;
      if (kind === "HELP") {
        if (helps.has(name)) return `${where}: a second HELP line for ${name}`;
        helps.add(name);
      } else {
        if (types.has(name)) return `${where}: a second TYPE line for ${name}`;
        if (started.has(name)) return `${where}: the TYPE line of ${name} comes after its samples; it must come before the first one`;
        if (!KINDS.has(rest.trim())) return `${where}: ${JSON.stringify(rest)} is not a metric type (counter, gauge, histogram, summary, untyped)`;
        types.set(name, rest.trim());
      }
      continue;
    }
    const name = /^[^{\s]*/.exec(line)![0];
    if (!METRIC_NAME.test(name)) return `${where}: ${JSON.stringify(name)} is not a valid metric name`;
    let i = name.length;
    let labels: Record<string, string> = {};
    if (line[i] === "{") {
      const parsed = parseLabels(line, i);
      if (typeof parsed === "string") return `${where}: ${parsed}`;
      labels = parsed.labels;
      i = parsed.end;
    }
    const rest = line.slice(i);
    const m = /^[ \t]+(\S+)(?:[ \t]+(-?\d+))?[ \t]*$/.exec(rest);
    if (!m) return `${where}: expected a space and a value after the name and labels`;
    const value = parseValue(m[1]!);
    if (value === null) return `${where}: ${JSON.stringify(m[1])} is not a number`;
    const family = familyOf(name, types);
    if (!types.has(family)) return `${where}: sample of ${family} with no # TYPE line before it`;
    if (current !== null && current !== family) done.add(current);
    if (done.has(family)) return `${where}: metric ${family} has lines in two separate groups; all of one metric's lines must be together`;
    current = family;
    started.add(family);
    const sample = { name, labels, value };
    const key = seriesKey(sample);
    if (seen.has(key)) return `${where}: the series ${key} appears twice`;
    seen.add(key);
    samples.push(sample);
  }
  // Histograms: per label set, buckets in increasing le, cumulative, ending in +Inf equal to _count.
  for (const [family, kind] of types) {
    if (kind !== "histogram") continue;
    const groups = new Map<string, { le: string; value: number }[]>();
    const labelKey = (labels: Record<string, string>) =>
      JSON.stringify(
        Object.entries(labels)
          .filter(([k]) => k !== "le")
          .sort(),
      );
    for (const s of samples.filter((x) => x.name === `${family}_bucket`)) {
      if (!("le" in s.labels)) return `${family}_bucket has a sample without an le label`;
      const list = groups.get(labelKey(s.labels)) ?? [];
      list.push({ le: s.labels.le!, value: s.value });
      groups.set(labelKey(s.labels), list);
    }
    for (const [key, buckets] of groups) {
      const shown = buckets.map((b) => `le="${b.le}" ${b.value}`).join(", ");
      for (const [j, b] of buckets.entries()) {
        const le = parseValue(b.le);
        if (le === null || Number.isNaN(le)) return `${family}_bucket has le="${b.le}", which is not a number`;
        if (j > 0) {
          const prev = buckets[j - 1]!;
          if (le <= parseValue(prev.le)!) return `${family}_bucket's le values are not in increasing order (${shown})`;
          if (b.value < prev.value)
            return `${family}'s buckets are not cumulative: le="${b.le}" counts ${b.value}, fewer than le="${prev.le}" with ${prev.value}; each bucket counts every observation up to its bound (${shown})`;
        }
      }
      const last = buckets.at(-1)!;
      if (parseValue(last.le) !== Infinity) return `${family} has no le="+Inf" bucket (${shown})`;
      const count = samples.find((s) => s.name === `${family}_count` && labelKey(s.labels) === key);
      const sum = samples.find((s) => s.name === `${family}_sum` && labelKey(s.labels) === key);
      if (!count) return `${family} has buckets but no ${family}_count with the same labels`;
      if (!sum) return `${family} has buckets but no ${family}_sum with the same labels`;
      if (count.value !== last.value)
        return `${family}'s le="+Inf" bucket (${last.value}) differs from ${family}_count (${count.value}); both count every observation`;
    }
  }
  for (const s of samples) {
    const family = familyOf(s.name, types);
    if ((types.get(family) === "counter" || types.get(family) === "histogram") && !(s.value >= 0))
      return `${s.name} is ${s.value}; counters and histogram counts are never negative`;
  }
  return { samples, types };
}

/** The library's view (a real parser, as a scraper would run it): must accept it, and agree on label values. */
interface LibFamily {
  name: string;
  type: string;
  metrics: { value?: string; labels?: Record<string, string> }[];
}

// ---------------------------------------------------------------------------------------------
// Starting workers, enqueuing, scraping.
// ---------------------------------------------------------------------------------------------

function describeEnd(rpc: RpcModule): string {
  const outcome = rpc.outcome;
  if (!outcome) return "is running";
  return outcome.kind === "exited" ? `exited with code ${outcome.code}` : outcome.kind === "signalled" ? `was stopped by ${outcome.signal}` : outcome.message;
}

async function startWorker(t: CheckContext, queue: string, name = "worker"): Promise<Worker> {
  for (let attempt = 1; ; attempt++) {
    const port = PORTS.from + Math.floor(t.unpredictable() * PORTS.count);
    const rpc = await t.load("worker.ts", { name: attempt === 1 ? name : `${name}-${attempt}`, process: true, limits: { wallMs: 40_000, openFiles: 256 } });
    try {
      await rpc.call("start", [port, queue], 3000);
      return { rpc, port, name: rpc.name };
    } catch (error) {
      if (error instanceof CheckFailure && /EADDRINUSE/.test(`${error.message} ${String(error.actual ?? "")}`) && attempt < 3) {
        await rpc.kill();
        continue;
      }
      throw error;
    }
  }
}

function makeTask(t: CheckContext, outcome: Outcome, ms: number): Task {
  // Short, made-up type names: a label built from them would grow with every task.
  return { id: t.id("task"), name: `type-${t.id("t").slice(-6)}`, ms: outcome === "throw" ? 0 : ms, outcome };
}

async function enqueue(t: CheckContext, queue: string, tasks: Task[]): Promise<void> {
  if (tasks.length) await t.redis.lpush(queue, ...tasks.map((task) => JSON.stringify(task)));
}

/** Fetches /metrics and holds it to the format; fails the check with the text when it breaks a rule. */
async function scrape(t: CheckContext, w: Worker, when = ""): Promise<Scrape> {
  const sentAt = performance.now();
  let res: { status: number; body: string; headers: Record<string, string> };
  try {
    res = await w.rpc.http(w.port, "/metrics", { timeoutMs: SCRAPE_TIMEOUT_MS });
  } catch (error) {
    const raw = error instanceof Error ? error.message : String(error);
    if (!w.rpc.alive) {
      return t.fail({
        message: `${w.name} ${describeEnd(w.rpc)} while the grader was scraping /metrics${when}.`,
        actual: [raw, w.rpc.output().slice(-1500)].filter(Boolean).join("\n"),
        hint: "A failing handler or a failed Redis command must never take the worker down: catch what handle() throws (also synchronously), what claim() and ack() reject with, and listen for ioredis 'error' events.",
      });
    }
    return t.fail({
      message: `GET /metrics on ${w.name} got no answer within ${SCRAPE_TIMEOUT_MS} ms${when}.`,
      expected: "an answer within 1 s, whatever Redis does",
      actual: raw.replace(/^\$http\(\) threw \w*Error: /, ""),
      hint: "Look for an await in the /metrics handler that waits on Redis without a deadline: give the depth read its own client with commandTimeout (500 ms), and leave queue_depth out when it fails.",
    });
  }
  const at = performance.now();
  const where = `GET /metrics on ${w.name}${when}`;
  if (res.status !== 200)
    t.fail({
      message: `${where} answered ${res.status}.`,
      expected: "200",
      actual: clip(res.body),
      hint: "Serve GET /metrics with status 200 (and 404 for other paths).",
    });
  const type = res.headers["content-type"] ?? "";
  if (!/^text\/plain\b/.test(type) || !/version=0\.0\.4/.test(type)) {
    t.fail({
      message: `${where} was served as ${JSON.stringify(type || "(no content-type)")}.`,
      expected: "content-type: text/plain; version=0.0.4 (a charset may follow)",
      actual: type,
      hint: formatHint,
    });
  }
  const parsed = strictParse(res.body);
  if (typeof parsed === "string")
    t.fail({ message: `${where} is not valid exposition format: ${parsed}.`, expected: "text Prometheus parses", actual: clip(res.body), hint: formatHint });
  const strict = parsed as Exclude<typeof parsed, string>;
  let lib: LibFamily[];
  try {
    lib = parsePrometheusTextFormat(res.body) as LibFamily[];
  } catch (error) {
    return t.fail({ message: `${where}: a Prometheus text parser refused it: ${String(error)}.`, actual: clip(res.body), hint: formatHint });
  }
  // The library and the strict parser must read the same label values (escaping done right).
  const counters = lib.find((f) => f.name === "tasks_processed_total");
  for (const m of counters?.metrics ?? []) {
    const mine = strict.samples.find((s) => s.name === "tasks_processed_total" && s.labels.status === m.labels?.status);
    if (mine && m.labels && mine.labels.queue !== m.labels.queue) {
      t.fail({
        message: `${where}: two parsers read different queue labels: ${JSON.stringify(mine.labels.queue)} and ${JSON.stringify(m.labels.queue)}.`,
        actual: clip(res.body),
        hint: formatHint,
      });
    }
  }
  return { text: res.body, samples: strict.samples, types: strict.types, sentAt, at };
}

/** Holds a scrape to the lab's metrics (names, types, labels, bounds) and reads their values. */
/**
 * queue_depth may be missing where a check is not about it: a solution's 500 ms deadline can pass on
 * a loaded machine. depth-gauge requires it, and exposition-format requires it on some scrape.
 */
function read(t: CheckContext, s: Scrape, w: Worker, queue: string, { depthOptional = true } = {}): Reading {
  const where = `GET /metrics on ${w.name}`;
  const fail = (message: string, hint: string): never => t.fail({ message: `${where}: ${message}`, actual: clip(s.text), hint }) as never;
  const want: [string, string][] = [
    ["tasks_processed_total", "counter"],
    ["tasks_in_flight", "gauge"],
    ["queue_depth", "gauge"],
    ["task_duration_seconds", "histogram"],
  ];
  for (const [name, kind] of want) {
    if (s.types.get(name) !== kind)
      fail(
        `the metric ${name} is ${s.types.has(name) ? `declared as ${s.types.get(name)}` : "missing"}; expected # TYPE ${name} ${kind}.`,
        "The instructions list the four metrics, their types and labels.",
      );
  }
  const ours = s.samples.filter((x) => want.some(([name]) => familyOf(x.name, s.types) === name));
  for (const x of ours) {
    if (x.labels.queue !== queue)
      fail(
        `${x.name} has queue=${JSON.stringify(x.labels.queue)}, not the queue's name ${JSON.stringify(queue)}.`,
        'Every sample carries queue="<the queue name start() got>", escaped as the format says (\\\\, \\", \\n), so a parser reads back exactly the name.',
      );
    const allowed = x.name === "tasks_processed_total" ? ["queue", "status"] : x.name === "task_duration_seconds_bucket" ? ["queue", "le"] : ["queue"];
    const extra = Object.keys(x.labels).filter((k) => !allowed.includes(k));
    if (extra.length)
      fail(
        `${x.name} has the label(s) ${extra.join(", ")}; its labels are exactly ${allowed.join(" and ")}.`,
        "Labels come from a small closed set known in advance. A task's id, type name or error message makes a new series per task: those belong in logs.",
      );
  }
  const one = (name: string, labels: Record<string, string> = {}) => {
    const found = ours.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
    return found.length === 1 ? found[0]!.value : null;
  };
  const ok = one("tasks_processed_total", { status: "ok" });
  const failed = one("tasks_processed_total", { status: "failed" });
  const statuses = ours.filter((x) => x.name === "tasks_processed_total").map((x) => x.labels.status);
  if (ok === null || failed === null || statuses.length !== 2) {
    fail(
      `tasks_processed_total has the status values [${statuses.join(", ")}]; expected exactly ok and failed, both present from the first scrape (at 0).`,
      "Create both series when the process starts, at 0: a series that first appears at 1 has no earlier sample, so rate() and increase() miss the first failure.",
    );
  }
  const inFlight = one("tasks_in_flight");
  if (inFlight === null) fail("no tasks_in_flight sample.", "Export tasks_in_flight{queue=…}, the tasks this worker is running now.");
  const depth = one("queue_depth");
  if (depth === null && !depthOptional)
    fail("no queue_depth sample while Redis answers.", "Read LLEN of the queue at scrape time and export it as queue_depth{queue=…}.");
  const les = ours.filter((x) => x.name === "task_duration_seconds_bucket").map((x) => x.labels.le!);
  if (les.join(",") !== LE.join(",")) {
    fail(
      `task_duration_seconds has buckets le=[${les.map((l) => `"${l}"`).join(", ")}]; expected exactly [${LE.map((l) => `"${l}"`).join(", ")}], written the same way on every scrape.`,
      'Write each bound as String(number) would (0.01, 0.025, …, 1, +Inf): the le text is part of the series\' identity, so "0.10" and "0.1" are two different series to Prometheus.',
    );
  }
  const buckets = LE.map((le) => one("task_duration_seconds_bucket", { le })!);
  return {
    ok: ok!,
    failed: failed!,
    inFlight: inFlight!,
    depth,
    buckets,
    sum: one("task_duration_seconds_sum")!,
    count: one("task_duration_seconds_count")!,
    series: s.samples.map(seriesKey),
  };
}

/** Waits until every task of `tasks` was acked (the LREM that removed it is in the log) and the queue is empty. */
async function drained(t: CheckContext, queue: string, tasks: Task[], what: string, workers: Worker[] = []): Promise<void> {
  const ids = tasks.map((x) => x.id);
  const start = performance.now();
  for (;;) {
    const dead = workers.find((w) => !w.rpc.alive);
    if (dead) {
      t.fail({
        message: `${what}: ${dead.name} ${describeEnd(dead.rpc)} before its tasks were done.`,
        actual: dead.rpc.output().slice(-1500),
        hint: "A failing handler or a failed Redis command must never take the worker down: catch what handle() throws (also synchronously), what claim() and ack() reject with, and listen for ioredis 'error' events.",
      });
    }
    const acked = new Set<string>();
    for (const e of t.commands("LREM")) if (e.reply?.summary === "1") for (const id of ids) if (e.args.some((a) => a.includes(id))) acked.add(id);
    const [waiting, processing] = await Promise.all([t.redis.llen(queue), t.redis.llen(`${queue}:processing`)]);
    if (acked.size === ids.length && waiting === 0 && processing === 0) return;
    if (performance.now() - start > DRAIN_MS) {
      const missing = tasks.filter((x) => !acked.has(x.id));
      t.fail({
        message: `${what}: after ${DRAIN_MS / 1000} s, ${missing.length} of ${ids.length} tasks were never acked (${waiting} still waiting, ${processing} in the processing list).`,
        expected: "every task claimed, run once and acked",
        actual: missing
          .slice(0, 5)
          .map((x) => `${x.id} (outcome ${x.outcome}, ${x.ms} ms)`)
          .join("; "),
        hint: "Keep the worker loop alive whatever happens: catch a handler that throws synchronously or rejects (both are failed tasks), a claim() that rejects (claim again), and an ack() that rejects (ack again; do not run the task again).",
      });
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The acks each worker made, from the command log (who sent each LREM that removed a task). */
function acksBy(t: CheckContext, tasks: Task[]): Map<string, Task[]> {
  const byId = new Map(tasks.map((x) => [x.id, x]));
  const out = new Map<string, Task[]>();
  for (const e of t.commands("LREM")) {
    if (e.reply?.summary !== "1") continue;
    const task = [...byId.values()].find((x) => e.args.some((a) => a.includes(x.id)));
    if (!task) continue;
    const list = out.get(e.owner ?? "?") ?? [];
    list.push(task);
    out.set(e.owner ?? "?", list);
  }
  return out;
}

function expectCounts(t: CheckContext, w: Worker, r: Reading, done: Task[], when: string): void {
  const ok = done.filter((x) => x.outcome === "ok").length;
  const failed = done.length - ok;
  const detail = `${done.length} tasks acked by ${w.name}: ${ok} succeeded, ${done.filter((x) => x.outcome === "reject").length} rejected, ${done.filter((x) => x.outcome === "throw").length} threw synchronously`;
  if (r.ok !== ok || r.failed !== failed) {
    t.fail({
      message: `${when}: ${w.name} reports tasks_processed_total ok=${r.ok} failed=${r.failed}, but the command log shows ${detail}.`,
      expected: `ok=${ok} failed=${failed}`,
      actual: `ok=${r.ok} failed=${r.failed}`,
      hint: "Count each task once, when its handler settles: ok when it resolves, failed when it rejects or throws (also synchronously, before returning a promise). A counter only grows: never reset it on a scrape or an error.",
    });
  }
  if (r.inFlight !== 0) {
    t.fail({
      message: `${when}: every task is acked and ${w.name} runs nothing, but reports tasks_in_flight ${r.inFlight}.`,
      expected: "0",
      hint: "Take a task out of tasks_in_flight when its handler settles, whether it resolved, rejected or threw.",
    });
  }
  if (r.count !== done.length) {
    t.fail({
      message: `${when}: ${w.name} reports task_duration_seconds_count ${r.count}, but ${detail}.`,
      expected: String(done.length),
      actual: String(r.count),
      hint: "Observe every task's duration once, succeeded or failed.",
    });
  }
}

/** A queue name with the three characters a label value must escape, and more. */
function oddQueueName(t: CheckContext): string {
  const parts = [
    `q:${t.id("q")}`,
    pick(t, [' "eu"', ' say "hi"']),
    pick(t, ["\\west", "\\\\share"]),
    pick(t, ["\nline2", "\n"]),
    pick(t, [" ß", " 🚀", " ä,b=c}"]),
  ];
  return parts.join("");
}

const DEPTH_NONE = "(none)";

export default defineChecks({
  timeoutMs: 30_000,
  concurrency: 2,
  checks: {
    "exposition-format": async (t) => {
      const queue = oddQueueName(t);
      t.note(`queue name ${JSON.stringify(queue)}: a label value with a quote, a backslash and a line feed in it`);
      const w = await startWorker(t, queue);
      // Before any task: every series is there, at zero.
      const first = read(t, await scrape(t, w, " before any task"), w, queue);
      if (first.ok !== 0 || first.failed !== 0 || first.count !== 0 || first.buckets.some((b) => b !== 0)) {
        t.fail({
          message: `Before any task, /metrics shows ok=${first.ok} failed=${first.failed} count=${first.count}.`,
          expected: "every counter and bucket at 0",
          hint: "Start every series at 0 when the process starts.",
        });
      }
      // A few tasks across the buckets, then several scrapes.
      const slots: [Outcome, number][] = [
        ["ok", between(t, 0, 3)],
        ["ok", between(t, 30, 40)],
        ["reject", between(t, 110, 180)],
        ["throw", 0],
        ["ok", between(t, 260, 330)],
        [pick(t, ["ok", "reject"] as const), between(t, 60, 80)],
      ];
      const tasks = slots.map(([o, ms]) => makeTask(t, o, ms));
      await enqueue(t, queue, tasks);
      const scrapes = [first];
      const seenLe = new Set<string>();
      const until = performance.now() + DRAIN_MS;
      while (performance.now() < until) {
        const s = await scrape(t, w, " while it works");
        for (const x of s.samples) if (x.name === "task_duration_seconds_bucket") seenLe.add(x.labels.le!);
        scrapes.push(read(t, s, w, queue));
        const [waiting, processing] = await Promise.all([t.redis.llen(queue), t.redis.llen(`${queue}:processing`)]);
        if (waiting === 0 && processing === 0) break;
        await new Promise((r) => setTimeout(r, 60));
      }
      await drained(t, queue, tasks, "exposition-format", [w]);
      if (scrapes.every((x) => x.depth === null)) {
        t.fail({
          message: `No scrape of ${w.name} had a queue_depth sample, with Redis answering.`,
          expected: "queue_depth{queue=…} on every scrape while Redis answers",
          hint: "Read LLEN of the queue at scrape time and export it as queue_depth{queue=…}.",
        });
      }
      for (let i = 0; i < 3; i++) scrapes.push(read(t, await scrape(t, w, " after its tasks"), w, queue));
      const last = scrapes.at(-1)!;
      expectCounts(t, w, last, tasks, "After 6 tasks");
      // Counters never go down between scrapes.
      for (let i = 1; i < scrapes.length; i++) {
        const [a, b] = [scrapes[i - 1]!, scrapes[i]!];
        if (b.ok < a.ok || b.failed < a.failed || b.count < a.count) {
          t.fail({
            message: `A counter went down between two scrapes: ok ${a.ok}→${b.ok}, failed ${a.failed}→${b.failed}, count ${a.count}→${b.count}.`,
            expected: "counters that only grow",
            hint: "A counter only grows for the life of the process; a scrape reads it and changes nothing.",
          });
        }
      }
    },

    "counts-match": async (t) => {
      const queue = `queue:${t.id("q")}`;
      const n = 2;
      const total = 24 + Math.floor(t.random() * 14);
      const tasks = Array.from({ length: total }, () => {
        const r = t.random();
        const outcome: Outcome = r < 0.55 ? "ok" : r < 0.8 ? "reject" : "throw";
        return makeTask(t, outcome, between(t, 0, 30));
      });
      const early = Math.floor(t.random() * 6);
      t.note(
        `${total} tasks (${tasks.filter((x) => x.outcome === "ok").length} succeed, ${tasks.filter((x) => x.outcome === "reject").length} reject, ${tasks.filter((x) => x.outcome === "throw").length} throw synchronously), ${early} of them enqueued before ${n} workers start`,
      );
      for (const x of tasks)
        if (x.outcome !== "ok") t.fault(`handler ${x.outcome === "throw" ? "throws synchronously" : `rejects after ${x.ms} ms`} for ${x.id}`);
      await enqueue(t, queue, tasks.slice(0, early));
      const workers = [await startWorker(t, queue, "worker-1"), await startWorker(t, queue, "worker-2")];
      const firstBatch = tasks.slice(0, Math.ceil(total / 2));
      await enqueue(t, queue, firstBatch.slice(early));
      await drained(t, queue, firstBatch, "counts-match, first batch", workers);
      const before = new Map<string, Reading>();
      for (const w of workers) {
        const r = read(t, await scrape(t, w), w, queue);
        expectCounts(t, w, r, acksBy(t, firstBatch).get(w.name) ?? [], "After the first batch");
        before.set(w.name, r);
        // Scraped again at once with no work between: the same numbers, not a fresh count.
        const again = read(t, await scrape(t, w), w, queue);
        if (again.ok !== r.ok || again.failed !== r.failed || again.count !== r.count) {
          t.fail({
            message: `Two scrapes of ${w.name} in a row, with no task between them, differ: ok ${r.ok}→${again.ok}, failed ${r.failed}→${again.failed}, count ${r.count}→${again.count}.`,
            expected: "the same values",
            hint: "A scrape reads the counters; it must not reset them. Prometheus computes rates from the differences itself.",
          });
        }
      }
      await enqueue(t, queue, tasks.slice(firstBatch.length));
      await drained(t, queue, tasks, "counts-match, second batch", workers);
      const acks = acksBy(t, tasks);
      let sum = 0;
      for (const w of workers) {
        const r = read(t, await scrape(t, w), w, queue);
        expectCounts(t, w, r, acks.get(w.name) ?? [], "After both batches");
        sum += r.ok + r.failed;
      }
      t.equal(sum, total, {
        message: `The workers' tasks_processed_total add up to ${sum}, but the grader enqueued ${total} tasks and each was acked once.`,
        hint: "Count each task once, in the worker that ran it.",
      });
    },

    "duration-histogram": async (t) => {
      const queue = `queue:${t.id("q")}`;
      // Durations away from every bucket edge by the stated tolerance: each lands in one bucket.
      const slots: [number, number][] = [
        [0, 0],
        [30, 36],
        [110, 185],
        [110, 185],
        [260, 430],
        [260, 430],
        [520, 900],
      ];
      const tasks: Task[] = [];
      for (const [low, high] of slots)
        for (let k = 0; k < 1 + Math.floor(t.random() * 2); k++) tasks.push(makeTask(t, t.random() < 0.3 ? "reject" : "ok", between(t, low, high)));
      for (const x of tasks) if (x.outcome === "reject") t.fault(`handler rejects after ${x.ms} ms for ${x.id}`);
      t.note(`${tasks.length} tasks taking ${tasks.map((x) => `${x.ms} ms`).join(", ")}`);
      const workers = [await startWorker(t, queue, "worker-1"), await startWorker(t, queue, "worker-2")];
      await enqueue(t, queue, tasks);
      await drained(t, queue, tasks, "duration-histogram", workers);
      const acks = acksBy(t, tasks);
      for (const w of workers) {
        const done = acks.get(w.name) ?? [];
        const r = read(t, await scrape(t, w), w, queue);
        expectCounts(t, w, r, done, "After the tasks");
        const shown = `${w.name} ran tasks of ${done.map((x) => `${x.ms} ms`).join(", ") || "nothing"}; it reports ${LE.map((le, i) => `le="${le}" ${r.buckets[i]}`).join(", ")}, sum ${r.sum}, count ${r.count}`;
        for (const [i, le] of LE.entries()) {
          const bound = le === "+Inf" ? Infinity : Number(le) * 1000;
          const least = done.filter((x) => x.ms + LATE_MS <= bound).length;
          const most = done.filter((x) => x.ms - EARLY_MS <= bound).length;
          const got = r.buckets[i]!;
          if (got < least || got > most) {
            t.fail({
              message: `task_duration_seconds_bucket{le="${le}"} on ${w.name} is ${got}; with each task observed between its duration −${EARLY_MS} ms and +${LATE_MS} ms it must be ${least === most ? least : `between ${least} and ${most}`}.`,
              actual: shown,
              hint:
                got > most
                  ? "Tasks land in buckets too small: measure from just before calling handle() to after its promise settles (await it), in seconds."
                  : "Tasks land in buckets too large, or are missing: the buckets are cumulative and in seconds; a task is counted in every bucket whose bound it does not exceed.",
            });
          }
        }
        const least = done.reduce((a, x) => a + Math.max(0, x.ms - EARLY_MS), 0) / 1000;
        const most = done.reduce((a, x) => a + x.ms + LATE_MS, 0) / 1000;
        if (!(r.sum >= least && r.sum <= most)) {
          t.fail({
            message: `task_duration_seconds_sum on ${w.name} is ${r.sum}; its tasks took ${least.toFixed(3)} to ${most.toFixed(3)} s in all.`,
            actual: shown,
            hint: "The sum is the total of the observed durations, in seconds like the buckets (not milliseconds).",
          });
        }
      }
    },

    "depth-gauge": async (t) => {
      const queue = `queue:${t.id("q")}`;
      const workers = [await startWorker(t, queue, "worker-1"), await startWorker(t, queue, "worker-2")];
      // Two long tasks keep both workers busy while the grader changes the queue behind them.
      const long = [makeTask(t, "ok", between(t, 3500, 4000)), makeTask(t, "ok", between(t, 3500, 4000))];
      await enqueue(t, queue, long);
      await t.waitFor(async () => (await t.redis.llen(`${queue}:processing`)) === 2, {
        message: "Two workers were started and two tasks enqueued, but after 5 s they had not both been claimed.",
        hint: "start() starts the worker loop, which claims with claim(redis, queue, timeout) from queue.ts.",
        timeoutMs: 5000,
      });
      const check = async (what: string) => {
        for (const w of workers) {
          let before = await t.redis.llen(queue);
          let r = read(t, await scrape(t, w, ` ${what}`), w, queue);
          if (r.depth === null) {
            // One miss is forgiven (a depth read past its deadline on a loaded machine), not two.
            before = await t.redis.llen(queue);
            r = read(t, await scrape(t, w, ` ${what}`), w, queue, { depthOptional: false });
          }
          const after = await t.redis.llen(queue);
          if (r.depth !== before || before !== after) {
            t.fail({
              message: `${what}, Redis held ${before} waiting tasks, but ${w.name} reports queue_depth ${r.depth ?? DEPTH_NONE}.`,
              expected: String(before),
              actual: String(r.depth ?? DEPTH_NONE),
              hint: "The depth is a fact about Redis, changed by producers and by every worker: read LLEN of the queue when /metrics is requested, not a number kept in memory or refreshed now and then. Tasks being run (in the processing list) are not waiting.",
            });
          }
          if (r.inFlight !== 1)
            t.fail({
              message: `${what}, ${w.name} is running a long task but reports tasks_in_flight ${r.inFlight}.`,
              expected: "1",
              hint: "tasks_in_flight goes up when a task starts and down when it settles.",
            });
        }
      };
      const push = async (k: number) => {
        const more = Array.from({ length: k }, () => makeTask(t, "ok", 0));
        await enqueue(t, queue, more);
        t.note(`the grader pushed ${k} tasks straight into Redis`);
      };
      await check("With both workers busy and nothing waiting");
      await push(2 + Math.floor(t.random() * 6));
      await check("After the grader pushed tasks behind the workers' backs");
      await push(1 + Math.floor(t.random() * 4));
      await check("After a second push");
      const taken = await t.redis.rpop(queue);
      t.note(`another consumer (the grader) took ${taken ? "a task" : "nothing"} from the queue`);
      await check("After another consumer took a task");
    },

    "scrapes-during-burst": async (t) => {
      const queue = `queue:${t.id("q")}`;
      const total = 40 + Math.floor(t.random() * 20);
      const tasks = Array.from({ length: total }, () => makeTask(t, t.random() < 0.6 ? "ok" : t.random() < 0.5 ? "reject" : "throw", between(t, 0, 15)));
      const workers = [await startWorker(t, queue, "worker-1"), await startWorker(t, queue, "worker-2")];
      t.proxy.setLatency({ ms: 10 + Math.floor(t.random() * 10), jitterMs: 8 });
      t.note(`${total} short tasks; Redis slowed by ~15 ms; two scrapers per worker scrape without pause`);
      await enqueue(t, queue, tasks);
      let stop = false;
      const scrapers = workers.flatMap((w) =>
        [1, 2].map(async (k) => {
          let prev: Reading | null = null;
          let n = 0;
          while (!stop) {
            const r = read(t, await scrape(t, w, ` (scraper ${k}, in the middle of the burst)`), w, queue);
            n++;
            if (r.ok + r.failed !== r.count) {
              t.fail({
                message: `A scrape of ${w.name} in the middle of the burst shows tasks_processed_total ok ${r.ok} + failed ${r.failed} = ${r.ok + r.failed}, but task_duration_seconds_count ${r.count}.`,
                expected: "every task counted in both, at once",
                hint: "Update the counter and the histogram together, in one synchronous step after the handler settles (no await between them), so no scrape sees one without the other.",
              });
            }
            if (r.inFlight !== 0 && r.inFlight !== 1)
              t.fail({
                message: `${w.name} reports tasks_in_flight ${r.inFlight}; it runs one task at a time.`,
                expected: "0 or 1",
                hint: "Count a task in flight from when it starts until it settles.",
              });
            if (prev && (r.ok < prev.ok || r.failed < prev.failed || r.count < prev.count)) {
              t.fail({
                message: `A counter of ${w.name} went down between two scrapes: ok ${prev.ok}→${r.ok}, failed ${prev.failed}→${r.failed}, count ${prev.count}→${r.count}.`,
                expected: "counters that only grow",
                hint: "A scrape reads the counters and changes nothing.",
              });
            }
            prev = r;
          }
          return n;
        }),
      );
      // A scraper that fails ends the check at once, not after the drain.
      const scraping = Promise.all(scrapers);
      scraping.catch(() => {});
      try {
        await Promise.race([drained(t, queue, tasks, "scrapes-during-burst", workers), scraping]);
      } finally {
        stop = true;
      }
      const counts = await scraping;
      t.note(`${counts.reduce((a, b) => a + b, 0)} scrapes during the burst`);
      t.proxy.setLatency({ ms: 0 });
      const acks = acksBy(t, tasks);
      for (const w of workers) expectCounts(t, w, read(t, await scrape(t, w), w, queue), acks.get(w.name) ?? [], "After the burst");
    },

    "redis-faults": async (t) => {
      const queue = `queue:${t.id("q")}`;
      const w = await startWorker(t, queue, "worker");
      const batch1 = Array.from({ length: 6 }, () => makeTask(t, t.random() < 0.7 ? "ok" : "reject", between(t, 0, 20)));
      // Acks, then claims, fail: the worker must ride them out, count each task once, and keep its counters.
      const ackFails = 1 + Math.floor(t.random() * 3);
      t.proxy.failNext(ackFails, { match: "LREM", owner: w.name });
      t.note(`the next ${ackFails} acks (LREM) of ${w.name} fail`);
      await enqueue(t, queue, batch1);
      await drained(t, queue, batch1, `redis-faults, with ${ackFails} failed acks`, [w]);
      const claimFails = 1 + Math.floor(t.random() * 3);
      const mark = t.logPosition();
      t.proxy.failNext(claimFails, { match: "BLMOVE", owner: w.name });
      t.note(`the next ${claimFails} claims (BLMOVE) of ${w.name} fail`);
      const batch2 = Array.from({ length: 5 }, () => makeTask(t, t.random() < 0.7 ? "ok" : "reject", between(t, 0, 20)));
      await t.waitFor(() => t.commands("BLMOVE").filter((e) => e.seq > mark).length >= claimFails, {
        message: `After ${ackFails} failed acks, the worker sent fewer than ${claimFails} claims in 5 s (the grader had set its next ${claimFails} claims to fail).`,
        hint: "After a failed command, keep the loop going: claim again.",
        timeoutMs: 5000,
      });
      await enqueue(t, queue, batch2);
      const done = [...batch1, ...batch2];
      await drained(t, queue, done, `redis-faults, with ${claimFails} failed claims`, [w]);
      const before = read(t, await scrape(t, w, " after failed acks and claims"), w, queue);
      expectCounts(t, w, before, done, `After ${ackFails} failed acks and ${claimFails} failed claims`);

      // Redis stops answering. /metrics still answers, with counters as they were and no stale depth.
      t.proxy.stall();
      t.note("Redis stalls: connections stay open, nothing is answered");
      const pushed = 2 + Math.floor(t.random() * 4);
      const held = Array.from({ length: pushed }, () => makeTask(t, "ok", 0));
      await enqueue(t, queue, held);
      t.note(`the grader pushed ${pushed} tasks straight into Redis while it is stalled for everyone else`);
      for (let i = 0; i < 3; i++) {
        const earlier = await t.redis.llen(queue);
        const s = await scrape(t, w, " while Redis is stalled");
        const r = read(t, s, w, queue);
        const later = await t.redis.llen(queue);
        const real = earlier === later ? `${later}` : `between ${later} and ${earlier}`;
        // A claim already blocked in Redis may still take one of the pushed tasks, so the counters
        // may grow by those; they never go down.
        if (r.ok < before.ok || r.failed < before.failed || r.count < before.count || r.count > before.count + pushed) {
          t.fail({
            message: `While Redis was stalled, ${w.name} reported ok=${r.ok} failed=${r.failed} count=${r.count}; before the stall it had counted ok=${before.ok} failed=${before.failed} count=${before.count}.`,
            expected: `the same counts, or a little more (a claim already blocked in Redis may take one of the ${pushed} pushed tasks)`,
            hint: "Counters live in memory and only grow: a Redis outage does not change them.",
          });
        }
        if (r.depth !== null && (r.depth > earlier || r.depth < later)) {
          t.fail({
            message: `While Redis was stalled, ${w.name} reported queue_depth ${r.depth}, but Redis held ${real} waiting tasks (the grader pushed ${pushed}).`,
            expected: `queue_depth left out (it cannot be read now), or ${real}`,
            hint: "When the depth cannot be read within its deadline, leave the queue_depth sample out: an old value looks current and is wrong.",
          });
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      t.proxy.unstall();
      t.note("Redis answers again");
      await drained(t, queue, [...done, ...held], "redis-faults, after the stall", [w]);
      let after = read(t, await scrape(t, w, " after the stall"), w, queue);
      if (after.depth === null) {
        await new Promise((r) => setTimeout(r, 300));
        after = read(t, await scrape(t, w, " after the stall"), w, queue);
      }
      expectCounts(t, w, after, [...done, ...held], "After the stall");
      if (after.depth !== 0)
        t.fail({
          message: `After the stall, with the queue empty, ${w.name} reports queue_depth ${after.depth ?? DEPTH_NONE}.`,
          expected: "0",
          hint: "Read the depth afresh on every scrape; do not keep the failure.",
        });
    },

    "scrape-fast": async (t) => {
      const queue = `queue:${t.id("q")}`;
      const w = await startWorker(t, queue, "worker");
      const times: { ms: number; when: string }[] = [];
      const timed = async (when: string) => {
        const s = await scrape(t, w, ` ${when}`);
        read(t, s, w, queue);
        times.push({ ms: s.at - s.sentAt, when });
      };
      // Idle (the worker waits in its claim) and busy (it runs tasks), with Redis answering at once.
      for (let i = 0; i < 10; i++) {
        await timed("while the worker is idle");
        await new Promise((r) => setTimeout(r, Math.floor(t.random() * 250)));
      }
      const tasks = Array.from({ length: 6 }, () => makeTask(t, "ok", between(t, 60, 160)));
      await enqueue(t, queue, tasks);
      for (let i = 0; i < 10; i++) {
        await timed("while the worker runs tasks");
        await new Promise((r) => setTimeout(r, Math.floor(t.random() * 100)));
      }
      await drained(t, queue, tasks, "scrape-fast", [w]);
      const slow = times.filter((x) => x.ms > FAST_SCRAPE_MS);
      t.note(`scrapes took ${times.map((x) => Math.round(x.ms)).join(", ")} ms`);
      if (slow.length > FORGIVEN_SLOW) {
        t.fail({
          message: `${slow.length} of ${times.length} scrapes took longer than ${FAST_SCRAPE_MS} ms with Redis answering at once (${slow
            .map((x) => `${Math.round(x.ms)} ms ${x.when}`)
            .slice(0, 4)
            .join("; ")}).`,
          expected: "every scrape within 250 ms while Redis is healthy",
          hint: "A scrape must not wait behind anything: read the depth on a connection of its own, never on the one blocked in claim() (BLMOVE holds its connection until a task arrives or it times out).",
        });
      }
    },

    "bounded-labels": async (t) => {
      const queue = `queue:${t.id("q")}`;
      const w = await startWorker(t, queue, "worker");
      const batch = () => Array.from({ length: 8 }, () => makeTask(t, pick(t, ["ok", "reject", "throw"] as const), between(t, 0, 10)));
      const one = batch();
      await enqueue(t, queue, one);
      await drained(t, queue, one, "bounded-labels, first batch");
      const first = read(t, await scrape(t, w, " after 8 tasks"), w, queue);
      const two = batch();
      await enqueue(t, queue, two);
      await drained(t, queue, [...one, ...two], "bounded-labels, second batch");
      const s = await scrape(t, w, " after 16 tasks");
      const second = read(t, s, w, queue);
      const added = second.series.filter((x) => !first.series.includes(x));
      if (added.length) {
        t.fail({
          message: `8 more tasks, each with a new id, type name and error message, added ${added.length} new series to /metrics: ${clip(added.slice(0, 4).join("; "), 400)}.`,
          expected: "the same set of series however many tasks run",
          hint: "Every distinct label value is a series Prometheus keeps forever. Label only by values from a small closed set (the queue, ok/failed); task ids, type names and error messages belong in logs.",
        });
      }
      for (const x of [...one, ...two]) {
        for (const needle of [x.id, x.name]) {
          if (s.text.includes(needle))
            t.fail({
              message: `/metrics contains ${needle}, taken from a task.`,
              actual: clip(s.text),
              hint: "No label value (and no metric name) may come from a task's contents.",
            });
        }
      }
    },
  },
});
