/**
 * A report queue whose tasks should carry W3C trace context. Today it moves tasks but no trace
 * crosses the queue: the worker knows nothing of the request that caused its task.
 */
import "./telemetry.ts"; // first: registers the tracer provider, propagator and context manager
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { createRedis, type Redis } from "@faultline/lab";
import { renderReport, type ReportPayload } from "./handler.ts";

/** The task as it travels through Redis: `meta` is its header block. */
export interface Envelope {
  id: string;
  payload: ReportPayload;
  meta: { traceparent?: string; tracestate?: string; enqueuedAt: number };
}

/** The incoming request's headers, lower-cased as Node gives them. */
export type Headers = Record<string, string | undefined>;

const tracer = trace.getTracer("report-queue");
const redis = createRedis();
const idle: Redis[] = [];

// Referenced so the starter compiles with the imports you will need.
void [context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, tracer];

export async function publish(queue: string, task: { id: string; payload: ReportPayload }, headers: Headers = {}): Promise<void> {
  void headers;
  // TODO: continue the request's trace (headers.traceparent) in a SERVER span "POST /<queue>",
  // open a PRODUCER span "publish <queue>" inside it, and inject its context into meta.
  const envelope: Envelope = { id: task.id, payload: task.payload, meta: { enqueuedAt: Date.now() } };
  await redis.lpush(queue, JSON.stringify(envelope));
}

export async function processOne(queue: string, timeoutSeconds: number): Promise<{ id: string; ok: boolean } | null> {
  const conn = idle.pop() ?? createRedis();
  let popped: [string, string] | null;
  try {
    popped = await conn.brpop(queue, timeoutSeconds);
  } finally {
    idle.push(conn);
  }
  if (!popped) return null;
  const envelope = JSON.parse(popped[1]) as Envelope;
  // TODO: extract meta's trace context, start a CONSUMER span "process <queue>" under it, run the
  // handler with that span active, record a failure on it, and end it when the work is done.
  try {
    await renderReport({ id: envelope.id, payload: envelope.payload });
    return { id: envelope.id, ok: true };
  } catch {
    return { id: envelope.id, ok: false };
  }
}
