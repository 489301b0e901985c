import { defineChecks, type CheckContext, type RpcModule } from "../../lib/grader/index.ts";
import type { SpanRecord } from "./solution/telemetry.ts";

// The grader plays the API's caller and the tracing backend. It starts each request's trace
// itself, with ids fresh from the runner's CSPRNG, and hands the learner's publish() the
// traceparent a request header would carry; telemetry.ts (read-only) exports every span, at
// its start and at its end, to the stream telemetry:spans, which the grader assembles into trees
// by id, as a backend does. The envelope is read from the queue (its key is fixed by the
// instructions) before any worker pops it.

const QUEUE_FILE = "queue.ts";
// A loaded two-core machine runs a check's dozens of calls slowly; the default 10 s of wall time
// per program is too tight for the longer checks.
const WALL = { wallMs: 28_000 };
const IGNORE = ["telemetry:*", "effects:*"];
const KIND = { INTERNAL: 0, SERVER: 1, CLIENT: 2, PRODUCER: 3, CONSUMER: 4 } as const;
const KIND_NAME = ["INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"];
const STATUS_ERROR = 2;
const MSG_ID = "messaging.message.id";
const VALID = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const zero = (s: string) => /^0+$/.test(s);

interface Payload {
  report: string;
  ms: number;
  fail?: boolean;
}
interface Sent {
  id: string;
  payload: Payload;
}
interface Incoming {
  traceId: string;
  parentId: string;
  flags: string;
  traceparent: string;
  tracestate?: string;
}
interface Envelope {
  id?: unknown;
  payload?: unknown;
  meta?: { traceparent?: unknown; tracestate?: unknown; enqueuedAt?: unknown };
}
type Processed = { id: string; ok: boolean } | null;

function hex(t: CheckContext, digits: number): string {
  for (;;) {
    const s = Array.from({ length: digits }, () => Math.floor(t.unpredictable() * 16).toString(16)).join("");
    if (!zero(s)) return s;
  }
}

/** A request's trace context, as its caller would send it: fresh ids, the flags given. */
function incoming(t: CheckContext, flags = "01", tracestate?: string): Incoming {
  const traceId = hex(t, 32);
  const parentId = hex(t, 16);
  return { traceId, parentId, flags, traceparent: `00-${traceId}-${parentId}-${flags}`, tracestate };
}

const headers = (i: Incoming | undefined) => (i ? { traceparent: i.traceparent, ...(i.tracestate ? { tracestate: i.tracestate } : {}) } : {});

function task(t: CheckContext, extra: Partial<Payload> = {}): Sent {
  return { id: t.id("task"), payload: { report: `report-${Math.floor(t.unpredictable() * 1e9)}`, ms: 5 + Math.floor(t.random() * 30), ...extra } };
}

const queueName = (t: CheckContext) => t.id("reports");

async function readSpans(t: CheckContext): Promise<{ ended: SpanRecord[]; open: SpanRecord[]; all: SpanRecord[] }> {
  const entries = await t.redis.xrange("telemetry:spans", "-", "+");
  const all: SpanRecord[] = [];
  for (const [, fields] of entries) {
    const at = fields.indexOf("span");
    if (at >= 0) all.push(JSON.parse(fields[at + 1]!) as SpanRecord);
  }
  const ended = all.filter((s) => s.event === "end");
  const endedIds = new Set(ended.map((s) => s.spanId));
  const open = all.filter((s) => s.event === "start" && !endedIds.has(s.spanId));
  return { ended, open, all };
}

type Spans = Awaited<ReturnType<typeof readSpans>>;

/** Polls the exported spans until `ready` holds of them, else fails with `details`. */
async function untilSpans(t: CheckContext, ready: (spans: Spans) => boolean, details: { message: string; hint: string; timeoutMs: number }): Promise<Spans> {
  const spans = await t.waitFor(async () => {
    const s = await readSpans(t);
    return ready(s) ? s : null;
  }, details);
  return spans ?? t.fail(details);
}

const describe = (s: SpanRecord | undefined) =>
  s ? `"${s.name}" [${KIND_NAME[s.kind] ?? s.kind}] span ${s.spanId} in trace ${s.traceId}, parent ${s.parentSpanId ?? "none (a root)"}` : "no such span";
const withId = (spans: SpanRecord[], id: string, kind: number) => spans.filter((s) => s.kind === kind && s.attributes[MSG_ID] === id);

/** Polls until the consumer span of every id has ended (and been exported), then a moment for its handler's span. */
async function waitForConsumers(t: CheckContext, ids: string[], what: string) {
  return untilSpans(
    t,
    (spans) =>
      ids.every((id) => withId(spans.ended, id, KIND.CONSUMER).length > 0 && spans.ended.some((s) => s.name === "render pdf" && s.attributes[MSG_ID] === id)),
    {
      message: `${what}: after the worker processed them, the exported spans never included, for every task, a CONSUMER span with ${MSG_ID} set to the task's id and the handler's "render pdf" span.`,
      hint: `In processOne, start a span named "process <queue>" with kind SpanKind.CONSUMER and the attribute ${MSG_ID}: envelope.id, run renderReport inside context.with(trace.setSpan(parent, span), …), and call span.end() once the handler has returned or thrown.`,
      timeoutMs: 4000,
    },
  );
}

async function envelopes(t: CheckContext, queue: string): Promise<Map<string, Envelope>> {
  const raw = await t.redis.lrange(queue, 0, -1);
  const found = new Map<string, Envelope>();
  for (const r of raw) {
    try {
      const e = JSON.parse(r) as Envelope;
      if (typeof e.id === "string") found.set(e.id, e);
    } catch {
      // judged below: the task is then not found
    }
  }
  return found;
}

async function envelopeOf(t: CheckContext, queue: string, id: string): Promise<Envelope> {
  const e = (await envelopes(t, queue)).get(id);
  if (!e) {
    const types = await t.viewRedis([id], { ignore: IGNORE });
    return t.fail({
      message: `After publish("${queue}", { id: "${id}", … }) returned, the list "${queue}" holds no JSON envelope with id "${id}"${types.missing.length === 0 ? " (the id is in Redis, but not as such an envelope in that list)" : ""}.`,
      expected: `LPUSH "${queue}" '{"id":"${id}","payload":…,"meta":{"traceparent":…,"enqueuedAt":…}}'`,
      hint: "publish() must LPUSH the task's envelope, JSON with id, payload and meta, onto the list named exactly like the queue, and return once Redis has it.",
    });
  }
  return e;
}

/** Checks one envelope's traceparent as the W3C rules and the instructions demand; returns its parts. */
function parseEnvelope(t: CheckContext, e: Envelope, id: string) {
  const tp = e.meta?.traceparent;
  if (typeof tp !== "string") {
    return t.fail({
      message: `The envelope of task ${id} has no meta.traceparent: ${JSON.stringify(e.meta)}. A worker has nothing to continue the trace from, so it starts a new one.`,
      expected: 'meta.traceparent = "00-<trace-id>-<producer span id>-<flags>"',
      hint: "Inside the producer span, call propagation.inject(context.active(), meta) before you push the envelope: the registered W3C propagator writes meta.traceparent (and meta.tracestate if there is one).",
    });
  }
  const m = VALID.exec(tp);
  if (!m || zero(m[1]!) || zero(m[2]!)) {
    return t.fail({
      message: `The envelope of task ${id} carries meta.traceparent "${tp}", which a W3C receiver must ignore: it needs version 00, a 32-digit and a 16-digit lower-case hex id (neither all zeros) and 2 hex digits of flags, 55 characters in all.`,
      expected: "/^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/",
      actual: tp,
      hint: "Do not build the header by hand: propagation.inject(context.active(), meta) inside the producer span writes it in exactly the format receivers accept.",
    });
  }
  return { traceId: m[1]!, parentId: m[2]!, flags: parseInt(m[3]!, 16) };
}

/**
 * The tree one task must form: [the caller's span →] POST /<queue> (SERVER) → publish <queue>
 * (PRODUCER) → process <queue> (CONSUMER) → render pdf, one trace, the consumer span open
 * around the handler's span. `from` is the caller's context, or null for a request without one.
 */
function assertTree(
  t: CheckContext,
  spans: SpanRecord[],
  queue: string,
  id: string,
  from: Incoming | null,
  envelope?: Envelope,
): { server: SpanRecord; producer: SpanRecord; consumer: SpanRecord; render: SpanRecord };
function assertTree(
  t: CheckContext,
  spans: SpanRecord[],
  queue: string,
  id: string,
  from: Incoming | null,
  envelope: Envelope | undefined,
  producerOnly: true,
): { server: SpanRecord; producer: SpanRecord };
function assertTree(t: CheckContext, spans: SpanRecord[], queue: string, id: string, from: Incoming | null, envelope?: Envelope, producerOnly = false) {
  const one = (kind: number, what: string, hint: string): SpanRecord => {
    const found = withId(spans, id, kind);
    if (found.length !== 1) {
      return t.fail({
        message: `Task ${id}: expected exactly one ended ${KIND_NAME[kind]} span with ${MSG_ID}="${id}" (${what}), found ${found.length}${found.length ? `: ${found.map(describe).join("; ")}` : ""}.`,
        hint,
      });
    }
    return found[0]!;
  };
  const producer = one(
    KIND.PRODUCER,
    `"publish ${queue}"`,
    `Wrap the LPUSH in a span "publish <queue>" with kind SpanKind.PRODUCER and the attribute ${MSG_ID}, and end it in a finally.`,
  );
  const server = spans.find((s) => s.spanId === producer.parentSpanId && s.traceId === producer.traceId);
  t.equal(producer.name, `publish ${queue}`, {
    message: `Task ${id}: its producer span is named "${producer.name}", the instructions name it "publish ${queue}".`,
    hint: "Name spans as OpenTelemetry's messaging conventions do: publish <queue> and process <queue>, with the queue's name.",
  });
  if (!server || server.kind !== KIND.SERVER || server.name !== `POST /${queue}`) {
    return t.fail({
      message: `Task ${id}: the producer span's parent is ${describe(server)}, not the request's SERVER span "POST /${queue}".`,
      hint: 'publish() is where a request arrives: start a SERVER span "POST /<queue>" first, and the producer span inside it (startActiveSpan makes it the active span, so the producer span becomes its child).',
    });
  }
  if (from) {
    if (server.traceId !== from.traceId || server.parentSpanId !== from.parentId) {
      return t.fail({
        message: `Task ${id}: the request came in with traceparent ${from.traceparent}, but its SERVER span is ${describe(server)}: it does not continue the caller's trace.`,
        expected: `trace ${from.traceId}, parent ${from.parentId}`,
        hint: "Extract the incoming context from the request's headers (propagation.extract(ROOT_CONTEXT, headers)) and start the server span with it as the parent context.",
      });
    }
  } else if (server.parentSpanId !== null) {
    return t.fail({
      message: `Task ${id}: the request carried no usable trace context, yet its SERVER span has a parent: ${describe(server)}.`,
      hint: "With no valid incoming traceparent, the server span is the root of a new trace.",
    });
  }
  if (envelope) {
    const tp = String(envelope.meta?.traceparent ?? "");
    if (!tp.includes(`-${producer.spanId}-`) || !tp.includes(`-${producer.traceId}-`)) {
      return t.fail({
        message: `Task ${id}: its envelope carries traceparent "${tp}", but the producer span is ${describe(producer)}. The parent-id must be the producer span's own id, so the worker's span hangs under the publish.`,
        expected: `00-${producer.traceId}-${producer.spanId}-…`,
        hint: "Inject while the producer span is the active one (inside its startActiveSpan callback, before the LPUSH), not from the request's context or from another span.",
      });
    }
  }
  if (producerOnly) return { server, producer };
  const consumer = one(
    KIND.CONSUMER,
    `"process ${queue}"`,
    `Start one CONSUMER span "process <queue>" per task processed, with the attribute ${MSG_ID}, and end it in a finally after the handler.`,
  );
  const render = spans.filter((s) => s.name === "render pdf" && s.attributes[MSG_ID] === id);
  const names: [SpanRecord, string][] = [[consumer, `process ${queue}`]];
  for (const [s, name] of names)
    t.equal(s.name, name, {
      message: `Task ${id}: a span is named "${s.name}", the instructions name it "${name}".`,
      hint: "Name spans as OpenTelemetry's messaging conventions do: publish <queue> and process <queue>, with the queue's name.",
    });
  if (consumer.traceId !== producer.traceId || consumer.parentSpanId !== producer.spanId) {
    return t.fail({
      message: `Task ${id}: the worker's span is ${describe(consumer)}; it should continue the producer's trace as a child of ${describe(producer)}.`,
      expected: `trace ${producer.traceId}, parent ${producer.spanId}`,
      hint: 'In processOne, parent = propagation.extract(ROOT_CONTEXT, envelope.meta), then tracer.startSpan("process <queue>", { kind: SpanKind.CONSUMER, … }, parent).',
    });
  }
  if (render.length !== 1 || render[0]!.parentSpanId !== consumer.spanId || render[0]!.traceId !== consumer.traceId) {
    return t.fail({
      message: `Task ${id}: the handler's "render pdf" span is ${render.length === 1 ? describe(render[0]) : `${render.length} spans`}; it should be a child of the worker's span ${consumer.spanId} in trace ${consumer.traceId}.`,
      hint: "The handler opens its span under the active context. Run it as context.with(trace.setSpan(parent, span), () => renderReport(task)): the consumer span is then active for everything the handler awaits.",
    });
  }
  const r = render[0]!;
  if (consumer.endMs === null || r.endMs === null || r.startMs < consumer.startMs - 1 || r.endMs > consumer.endMs + 1) {
    return t.fail({
      message: `Task ${id}: the consumer span ran from ${consumer.startMs.toFixed(1)} to ${consumer.endMs?.toFixed(1)} ms, the handler's span from ${r.startMs.toFixed(1)} to ${r.endMs?.toFixed(1)} ms; a parent's span must enclose its child's (within 1 ms).`,
      hint: "End the consumer span after the handler has finished (await it, then span.end() in a finally), not before the work starts.",
    });
  }
  return { server, producer, consumer, render: r };
}

function assertNoneOpen(t: CheckContext, open: SpanRecord[]) {
  if (open.length > 0) {
    t.fail({
      message: `${open.length} span(s) started and never ended: ${open.slice(0, 4).map(describe).join("; ")}. A span never ended is never exported: backends show a hole, and its memory is held forever.`,
      hint: "End every span you start, in a finally, on success and on failure alike (startActiveSpan does not end the span for you).",
    });
  }
}

async function drain(t: CheckContext, worker: RpcModule, queue: string, n: number): Promise<Processed[]> {
  const results: Processed[] = [];
  for (let i = 0; i < n; i++) results.push(await worker.call<Processed>("processOne", [queue, 2], 5000));
  for (const r of results) {
    if (!r || typeof r.id !== "string") {
      t.fail({
        message: `processOne("${queue}", 2) returned ${JSON.stringify(r)} while tasks were waiting in the queue.`,
        expected: "{ id, ok }",
        hint: "processOne pops one envelope with BRPOP (waiting up to timeoutSeconds), runs the handler, and returns { id, ok }; null only when nothing arrived in time.",
      });
    }
  }
  return results;
}

/** Malformed traceparents, one of each kind a receiver must ignore; fresh values every time. */
function malformed(t: CheckContext): { kind: string; value: string; traceId: string }[] {
  const tr = hex(t, 32);
  const sp = hex(t, 16);
  return [
    {
      kind: "upper-case hex",
      value: `00-${tr.toUpperCase().replace(/^[0-9]/, "A")}-${sp.toUpperCase().replace(/^[0-9]/, "B")}-01`,
      traceId: tr.replace(/^[0-9]/, "a"),
    },
    { kind: "version ff", value: `ff-${tr}-${sp}-01`, traceId: tr },
    { kind: "all-zero trace id", value: `00-${"0".repeat(32)}-${sp}-01`, traceId: "0".repeat(32) },
    { kind: "all-zero parent id", value: `00-${tr}-${"0".repeat(16)}-01`, traceId: tr },
    { kind: "a 31-digit trace id", value: `00-${tr.slice(1)}-${sp}-01`, traceId: tr.slice(1) },
    { kind: "no flags", value: `00-${tr}-${sp}`, traceId: tr },
    { kind: "version 00 with a fifth field", value: `00-${tr}-${sp}-01-${hex(t, 4)}`, traceId: tr },
    { kind: "not a traceparent at all", value: `trace=${tr}`, traceId: tr },
  ];
}

export default defineChecks({
  timeoutMs: 30_000,
  concurrency: 3,
  checks: {
    "traceparent-injected": async (t) => {
      const api = await t.load(QUEUE_FILE, { name: "api", limits: WALL });
      const queue = queueName(t);
      const n = 3 + Math.floor(t.random() * 3);
      const sent = Array.from({ length: n }, () => ({ task: task(t), from: incoming(t, ["01", "09", "03"][Math.floor(t.random() * 3)]) }));
      // One request without any trace context: publish() must then start the trace itself.
      const bare = task(t);
      t.note(`publishing ${n} tasks, each from a request of its own trace, and ${bare.id} from a request with no traceparent`);
      for (const { task: s, from } of sent) await api.call("publish", [queue, s, headers(from)]);
      await api.call("publish", [queue, bare, {}]);
      const spans = await untilSpans(t, (all) => [...sent.map((s) => s.task.id), bare.id].every((id) => withId(all.ended, id, KIND.PRODUCER).length > 0), {
        message: `Not every publish produced an ended PRODUCER span with ${MSG_ID} set to the task's id.`,
        hint: `Wrap the LPUSH in tracer.startActiveSpan("publish <queue>", { kind: SpanKind.PRODUCER, attributes: { "${MSG_ID}": task.id } }, …) and end it in a finally.`,
        timeoutMs: 4000,
      });
      for (const { task: s, from } of sent) {
        const e = await envelopeOf(t, queue, s.id);
        const tp = parseEnvelope(t, e, s.id);
        if (typeof e.meta?.enqueuedAt !== "number")
          t.fail({
            message: `The envelope of task ${s.id} has meta.enqueuedAt = ${JSON.stringify(e.meta?.enqueuedAt)}.`,
            expected: "Date.now() at publish, a number",
            hint: "Keep meta.enqueuedAt beside the trace context: the worker measures the queue wait from it.",
          });
        if (tp.traceId !== from.traceId) {
          t.fail({
            message: `Task ${s.id} was published by a request of trace ${from.traceId} (traceparent ${from.traceparent}), but its envelope names trace ${tp.traceId}: the worker would continue a different trace.`,
            expected: from.traceId,
            actual: tp.traceId,
            hint: "Continue the request's trace: extract its headers with propagation.extract(ROOT_CONTEXT, headers) and start the server span with that context.",
          });
        }
        if ((tp.flags & 1) !== 1)
          t.fail({
            message: `Task ${s.id}'s request was sampled (flags ${from.flags}), but its envelope's flags are ${tp.flags.toString(16).padStart(2, "0")}.`,
            hint: "Let the propagator write the flags of the active span; a sampled request stays sampled.",
          });
        assertTree(t, spans.ended, queue, s.id, from, e, true);
      }
      const e = await envelopeOf(t, queue, bare.id);
      const tp = parseEnvelope(t, e, bare.id);
      const producer = withId(spans.ended, bare.id, KIND.PRODUCER)[0]!;
      t.equal(`${tp.traceId}-${tp.parentId}`, `${producer.traceId}-${producer.spanId}`, {
        message: `Task ${bare.id}, published by a request without trace context: its envelope's traceparent should name the new trace and the producer span (${describe(producer)}).`,
        hint: "Inject inside the producer span even when the request brought no context: it then starts the trace, and the worker continues it.",
      });
    },

    "span-tree": async (t) => {
      const api = await t.load(QUEUE_FILE, { name: "api", limits: WALL });
      // The worker is a process of its own, as a real one is.
      const worker = await t.load(QUEUE_FILE, { name: "worker", process: true, limits: WALL });
      const queue = queueName(t);
      const sent = Array.from({ length: 3 }, () => ({ task: task(t), from: incoming(t) }));
      for (const { task: s, from } of sent) await api.call("publish", [queue, s, headers(from)]);
      const seen = await envelopes(t, queue);
      t.note(`worker (a process) processes ${sent.length} tasks, one at a time`);
      const results = await drain(t, worker, queue, sent.length);
      t.equal(
        results.map((r) => r?.ok),
        sent.map(() => true),
        { message: "processOne should report every task handled successfully.", hint: "Return { id, ok: true } once the handler has returned." },
      );
      const spans = await waitForConsumers(
        t,
        sent.map((s) => s.task.id),
        "span-tree",
      );
      for (const { task: s, from } of sent) {
        assertTree(t, spans.ended, queue, s.id, from, seen.get(s.id));
        t.equal(await t.redis.hget(`effects:${s.id}`, "status"), "rendered", {
          message: `Task ${s.id} was not rendered.`,
          hint: "processOne must call renderReport({ id, payload }) for every task it pops.",
        });
      }
      // A moment for any late start/end records to land before judging leaks.
      await t.sleep(100);
      assertNoneOpen(t, (await readSpans(t)).open);
    },

    "concurrent-traces": async (t) => {
      const apis = await t.loadMany(QUEUE_FILE, 2, { limits: WALL });
      const workers = await t.loadMany(QUEUE_FILE, 2, { limits: WALL });
      const queue = queueName(t);
      const latency = { ms: 1 + Math.floor(t.random() * 3), jitterMs: 6 + Math.floor(t.random() * 6) };
      t.proxy.setLatency(latency);
      const n = 10 + Math.floor(t.random() * 4);
      const sent = Array.from({ length: n }, () => ({ task: task(t), from: incoming(t), by: apis[Math.floor(t.random() * apis.length)]! }));
      t.note(
        `latency ${latency.ms}±${latency.jitterMs} ms; ${n} tasks published at once by 2 producers, then processed by 2 workers with 3 tasks in flight each`,
      );
      await Promise.all(sent.map(({ task: s, from, by }) => by.call("publish", [queue, s, headers(from)])));
      const seen = await envelopes(t, queue);
      await Promise.all(
        workers.flatMap((w) =>
          [0, 1, 2].map(async () => {
            for (;;) {
              const r = await w.call<Processed>("processOne", [queue, 0.3], 5000);
              if (!r) return;
            }
          }),
        ),
      );
      const spans = await waitForConsumers(
        t,
        sent.map((s) => s.task.id),
        "concurrent-traces",
      );
      for (const { task: s, from } of sent) assertTree(t, spans.ended, queue, s.id, from, seen.get(s.id));
    },

    "sampled-flag": async (t) => {
      const api = await t.load(QUEUE_FILE, { name: "api", limits: WALL });
      const worker = await t.load(QUEUE_FILE, { name: "worker", limits: WALL });
      const queue = queueName(t);
      const n = 4 + Math.floor(t.random() * 3);
      const unsampledAt = Math.floor(t.random() * n);
      const sent = Array.from({ length: n }, (_, i) => {
        const sampled = i === unsampledAt ? false : i === (unsampledAt + 1) % n ? true : t.random() < 0.5;
        // Flags are a bit field: 02 and 08 have the sampled bit clear, 09 has it set.
        const flags = sampled ? ["01", "09"][Math.floor(t.random() * 2)]! : ["00", "02", "08"][Math.floor(t.random() * 3)]!;
        return { task: task(t), from: incoming(t, flags), sampled };
      });
      t.note(
        `requests ${sent
          .filter((s) => !s.sampled)
          .map((s) => `${s.task.id} (flags ${s.from.flags})`)
          .join(", ")} were not sampled`,
      );
      for (const { task: s, from } of sent) await api.call("publish", [queue, s, headers(from)]);
      const seen = await envelopes(t, queue);
      for (const { task: s, from, sampled } of sent) {
        const tp = parseEnvelope(t, seen.get(s.id) ?? (await envelopeOf(t, queue, s.id)), s.id);
        t.equal(tp.traceId, from.traceId, {
          message: `Task ${s.id}: its envelope should carry the request's trace id even when the request is not sampled, so its logs can still name the trace.`,
          hint: "Extract the request's context whatever its flags; the SDK's parent-based sampler decides whether to record.",
        });
        t.equal((tp.flags & 1) === 1, sampled, {
          message: `Task ${s.id}: the request's flags were ${from.flags} (${sampled ? "sampled" : "not sampled"}), its envelope's are ${tp.flags.toString(16).padStart(2, "0")}.`,
          hint: "The sampling decision is made once, at the root, and travels in the flags: let the propagator write the active span's flags instead of writing 01.",
        });
      }
      const results = await drain(t, worker, queue, n);
      t.equal(
        results.map((r) => r?.ok).sort(),
        sent.map(() => true),
        { message: "Every task, sampled or not, should be processed.", hint: "Sampling decides what is recorded, never what is done." },
      );
      const spans = await waitForConsumers(
        t,
        sent.filter((s) => s.sampled).map((s) => s.task.id),
        "sampled-flag",
      );
      await t.sleep(150);
      const all = (await readSpans(t)).all;
      for (const { task: s, from, sampled } of sent) {
        if (sampled) {
          assertTree(t, spans.ended, queue, s.id, from, seen.get(s.id));
          continue;
        }
        const recorded = all.filter((x) => x.traceId === from.traceId || x.attributes[MSG_ID] === s.id);
        if (recorded.length > 0) {
          t.fail({
            message: `Task ${s.id} came from a request whose flags (${from.flags}) say it was not sampled, yet ${recorded.length} span(s) of it were recorded: ${recorded.slice(0, 3).map(describe).join("; ")}. Half-recorded traces are what head sampling exists to avoid.`,
            hint: "Follow the flag you receive: keep the extracted context's flags (the parent-based sampler then records nothing), on the producer side and in the worker alike.",
          });
        }
        t.equal(await t.redis.hget(`effects:${s.id}`, "status"), "rendered", {
          message: `Unsampled task ${s.id} was not rendered.`,
          hint: "Process every task; only recording depends on the flag.",
        });
      }
    },

    "malformed-traceparent": async (t) => {
      const api = await t.load(QUEUE_FILE, { name: "api", limits: WALL });
      const worker = await t.load(QUEUE_FILE, { name: "worker", limits: WALL });
      const queue = queueName(t);
      // The producer side: requests whose traceparent a receiver must ignore.
      const bad = malformed(t);
      const published = bad.map((b) => ({ ...b, task: task(t), tracestate: `vendor=${hex(t, 8)}` }));
      for (const p of published) {
        t.note(`publishing ${p.task.id} from a request with a traceparent of ${p.kind}: ${p.value}`);
        await api.call("publish", [queue, p.task, { traceparent: p.value, tracestate: p.tracestate }]);
      }
      const seen = await envelopes(t, queue);
      for (const p of published) {
        const e = seen.get(p.task.id) ?? (await envelopeOf(t, queue, p.task.id));
        const tp = parseEnvelope(t, e, p.task.id);
        if (tp.traceId === p.traceId.toLowerCase() || tp.traceId === p.traceId) {
          t.fail({
            message: `Task ${p.task.id}: the request's traceparent had ${p.kind} ("${p.value}"), yet the envelope continues its trace id ${tp.traceId}. A value that breaks the format is ignored, not repaired: the request starts a new trace.`,
            hint: "Use propagation.extract, which applies the W3C rules; never lower-case, pad or trim a traceparent into shape.",
          });
        }
        if (e.meta?.tracestate !== undefined && e.meta.tracestate !== "") {
          t.fail({
            message: `Task ${p.task.id}: the request's traceparent had ${p.kind}, so its tracestate must be dropped too, yet the envelope carries tracestate "${String(e.meta.tracestate)}".`,
            hint: "A receiver that could not parse traceparent must not use tracestate either; propagation.extract already ignores both.",
          });
        }
      }
      // The worker side: envelopes written by a buggy producer, straight into the queue.
      const pushed = malformed(t).map((b) => ({ ...b, task: task(t), tracestate: `vendor=${hex(t, 8)}` }));
      const nometa = task(t);
      for (const p of pushed)
        await t.redis.lpush(
          queue,
          JSON.stringify({ id: p.task.id, payload: p.task.payload, meta: { traceparent: p.value, tracestate: p.tracestate, enqueuedAt: Date.now() } }),
        );
      await t.redis.lpush(queue, JSON.stringify({ id: nometa.id, payload: nometa.payload, meta: { enqueuedAt: Date.now() } }));
      t.note(`${pushed.length} envelopes with malformed meta.traceparent (${pushed.map((p) => p.kind).join(", ")}) and one with none, pushed for the worker`);
      const total = published.length + pushed.length + 1;
      // Four at a time, as a worker with concurrency would; each call pops whichever task is next.
      const results = (
        await Promise.all(
          [0, 1, 2, 3].map(async (lane) => {
            const mine: Processed[] = [];
            for (let i = lane; i < total; i += 4) {
              mine.push(
                await worker.call<Processed>("processOne", [queue, 2], 5000).catch((error: unknown) => {
                  const p = pushed.find((x) => String(error).includes(x.task.id));
                  return t.fail({
                    message: `processOne failed on a task whose envelope carries a malformed traceparent${p ? ` (${p.kind}: "${p.value}")` : ""}: ${String(error)}`,
                    hint: "Tracing must never decide whether work gets done: an envelope whose traceparent does not parse is processed normally, in a new trace.",
                  });
                }),
              );
            }
            return mine;
          }),
        )
      ).flat();
      const notOk = results.filter((r) => !r || !r.ok);
      if (notOk.length > 0)
        t.fail({
          message: `processOne reported ${notOk.length} of ${total} tasks not handled: ${JSON.stringify(notOk.slice(0, 3))}. Their handler never failed; only their trace context was malformed.`,
          hint: "A malformed traceparent means a new trace, never a failed or dropped task.",
        });
      for (const p of [...pushed, { kind: "no meta.traceparent", value: "(none)", traceId: "", task: nometa, tracestate: "" }]) {
        t.equal(await t.redis.hget(`effects:${p.task.id}`, "status"), "rendered", {
          message: `The task with ${p.kind} (${p.value}) was not rendered.`,
          hint: "Process the task whatever its trace context looks like.",
        });
      }
      const spans = await waitForConsumers(
        t,
        [...published, ...pushed].map((p) => p.task.id),
        "malformed-traceparent",
      );
      for (const p of pushed) {
        const c = withId(spans.ended, p.task.id, KIND.CONSUMER)[0]!;
        if (c.parentSpanId !== null || !/^[0-9a-f]{32}$/.test(c.traceId) || zero(c.traceId) || c.traceId === p.traceId.toLowerCase()) {
          t.fail({
            message: `Task ${p.task.id}'s envelope carried a traceparent of ${p.kind} ("${p.value}"); the worker's span is ${describe(c)}. It should be the root of a new, valid trace.`,
            hint: "Extract with propagation.extract(ROOT_CONTEXT, envelope.meta): an invalid value yields no parent, and the consumer span starts a new trace. Do not repair the value.",
          });
        }
        if (c.traceState)
          t.fail({
            message: `Task ${p.task.id}: the traceparent was invalid (${p.kind}), yet the worker's span kept the envelope's tracestate "${c.traceState}".`,
            hint: "When traceparent does not parse, tracestate is ignored as well.",
          });
        const r = spans.ended.find((s) => s.name === "render pdf" && s.attributes[MSG_ID] === p.task.id);
        t.equal(r?.parentSpanId, c.spanId, {
          message: `Task ${p.task.id}: in the new trace, the handler's span should still be a child of the worker's span.`,
          hint: "Run the handler inside context.with(trace.setSpan(parent, span), …) whatever the parent context turned out to be.",
        });
      }
    },

    "failure-status": async (t) => {
      const api = await t.load(QUEUE_FILE, { name: "api", limits: WALL });
      const worker = await t.load(QUEUE_FILE, { name: "worker", limits: WALL });
      const queue = queueName(t);
      const n = 3 + Math.floor(t.random() * 2);
      const failAt = Math.floor(t.random() * n);
      const sent = Array.from({ length: n }, (_, i) => ({
        task: task(t, i === failAt || (i !== (failAt + 1) % n && t.random() < 0.3) ? { fail: true } : {}),
        from: incoming(t),
      }));
      for (const { task: s, from } of sent) {
        if (s.payload.fail) t.fault(`handler renderReport throws for task ${s.id}`);
        await api.call("publish", [queue, s, headers(from)]);
      }
      const results: Processed[] = [];
      for (const _ of sent) {
        results.push(
          await worker.call<Processed>("processOne", [queue, 2], 5000).catch((error: unknown) =>
            t.fail({
              message: `processOne threw when the handler failed: ${String(error)}`,
              expected: "{ id, ok: false }",
              hint: "Catch the handler's error in processOne: record it on the consumer span and return { id, ok: false }. A worker loop that dies on one bad task stops every other one.",
            }),
          ),
        );
      }
      const spans = await waitForConsumers(
        t,
        sent.map((s) => s.task.id),
        "failure-status",
      );
      for (const { task: s } of sent) {
        const r = results.find((x) => x?.id === s.id);
        t.equal(r?.ok, !s.payload.fail, {
          message: `processOne's result for task ${s.id} (handler ${s.payload.fail ? "threw" : "succeeded"}) was ${JSON.stringify(r)}.`,
          hint: "Return { id, ok: false } when the handler throws, { id, ok: true } when it returns.",
        });
        const c = withId(spans.ended, s.id, KIND.CONSUMER)[0]!;
        if (s.payload.fail) {
          if (c.status.code !== STATUS_ERROR)
            t.fail({
              message: `The handler threw for task ${s.id}, but the worker's span ended with status ${["UNSET", "OK", "ERROR"][c.status.code] ?? c.status.code}. A backend then shows the failed task as a success, and tail sampling, which keeps errors, drops it.`,
              expected: "status ERROR",
              hint: "In the catch: span.setStatus({ code: SpanStatusCode.ERROR, message: error.message }).",
            });
          if (!c.events.some((e) => e.name === "exception"))
            t.fail({
              message: `The handler threw for task ${s.id}, but the worker's span has no "exception" event, so the trace does not say what went wrong.`,
              hint: "In the catch: span.recordException(error).",
            });
        } else if (c.status.code === STATUS_ERROR) {
          t.fail({ message: `Task ${s.id} succeeded, yet the worker's span has status ERROR.`, hint: "Set ERROR only when the handler throws." });
        }
      }
      // A producer whose LPUSH fails: the publish fails, and its spans say so and still end.
      const doomed = task(t);
      t.proxy.failNext(1, { match: "LPUSH", owner: "api" });
      t.note(`the LPUSH of ${doomed.id} fails (the proxy answers it with an error)`);
      const published = await api.call("publish", [queue, doomed, headers(incoming(t))]).then(
        () => "returned",
        () => "threw",
      );
      t.equal(published, "threw", {
        message: `publish() of ${doomed.id} returned although its LPUSH failed.`,
        hint: "Let the error reach the caller after recording it on the span.",
      });
      const after = await untilSpans(t, (s) => withId(s.ended, doomed.id, KIND.PRODUCER).length > 0, {
        message: `After its LPUSH failed, the producer span of ${doomed.id} was never ended (so never exported).`,
        hint: "End the producer span in a finally, so a failed publish still ends it.",
        timeoutMs: 3000,
      });
      const p = withId(after.ended, doomed.id, KIND.PRODUCER)[0]!;
      if (p.status.code !== STATUS_ERROR || !p.events.some((e) => e.name === "exception")) {
        t.fail({
          message: `The LPUSH of ${doomed.id} failed, but its producer span ended with status ${["UNSET", "OK", "ERROR"][p.status.code] ?? p.status.code} and ${p.events.length} event(s).`,
          expected: "status ERROR and an exception event",
          hint: "Record the failure on the producer span (recordException, setStatus ERROR) before rethrowing.",
        });
      }
      await t.sleep(100);
      assertNoneOpen(t, (await readSpans(t)).open);
    },

    "tracestate-carried": async (t) => {
      const api = await t.load(QUEUE_FILE, { name: "api", limits: WALL });
      const worker = await t.load(QUEUE_FILE, { name: "worker", limits: WALL });
      const queue = queueName(t);
      const entries = 1 + Math.floor(t.random() * 3);
      const state = Array.from({ length: entries }, (_, i) => `${["vendor", "congo", "rojo"][i]}${hex(t, 3)}=${hex(t, 6 + Math.floor(t.random() * 8))}`).join(
        ",",
      );
      const withState = { task: task(t), from: incoming(t, "01", state) };
      const without = { task: task(t), from: incoming(t, "01") };
      t.note(`${withState.task.id} comes with tracestate "${state}", ${without.task.id} with none`);
      for (const { task: s, from } of [withState, without]) await api.call("publish", [queue, s, headers(from)]);
      const seen = await envelopes(t, queue);
      const e = seen.get(withState.task.id) ?? (await envelopeOf(t, queue, withState.task.id));
      t.equal(e.meta?.tracestate, state, {
        message: `The request carried tracestate "${state}"; the envelope of ${withState.task.id} should pass it on unchanged in meta.tracestate.`,
        hint: "tracestate travels beside traceparent: propagation.inject writes both into meta when the active span has one.",
      });
      const bare = seen.get(without.task.id) ?? (await envelopeOf(t, queue, without.task.id));
      if (bare.meta?.tracestate !== undefined && bare.meta.tracestate !== "")
        t.fail({
          message: `The request of ${without.task.id} carried no tracestate, yet its envelope has meta.tracestate "${String(bare.meta.tracestate)}".`,
          hint: "Only pass tracestate on when one came in.",
        });
      await drain(t, worker, queue, 2);
      const spans = await waitForConsumers(t, [withState.task.id, without.task.id], "tracestate-carried");
      const c = assertTree(t, spans.ended, queue, withState.task.id, withState.from, e).consumer;
      t.equal(c.traceState, state, {
        message: `The worker's span for ${withState.task.id} should continue with the envelope's tracestate.`,
        hint: "Extract meta with propagation.extract: the parent context then holds the trace state, and the consumer span inherits it.",
      });
    },
  },
});
