/**
 * A report queue whose tasks carry W3C trace context: publish() runs where an API request
 * arrives, processOne() in the workers, and one request and everything it caused read as one
 * trace: POST /<queue> (server) → publish <queue> (producer) → process <queue> (consumer) →
 * render pdf.
 */
import "./telemetry.ts"; // first: registers the tracer provider, propagator and context manager
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span } from "@opentelemetry/api";
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

// A blocked connection can send nothing else, so each BRPOP in flight gets a connection of its
// own; idle ones are kept for the next call.
const idle: Redis[] = [];

function fail(span: Span, error: unknown): void {
  // A failure must show in the trace: the exception as an event, the span's status as ERROR.
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

export async function publish(queue: string, task: { id: string; payload: ReportPayload }, headers: Headers = {}): Promise<void> {
  // The request's own context: the caller's span if its traceparent parses, else nothing, and
  // the server span then starts a new trace. OTel's propagator applies the W3C rules for us.
  const incoming = propagation.extract(ROOT_CONTEXT, headers);
  await tracer.startActiveSpan(`POST /${queue}`, { kind: SpanKind.SERVER }, incoming, async (server) => {
    try {
      await tracer.startActiveSpan(`publish ${queue}`, { kind: SpanKind.PRODUCER, attributes: { "messaging.message.id": task.id } }, async (producer) => {
        try {
          const meta: Envelope["meta"] = { enqueuedAt: Date.now() };
          // The worker reads the task; it does not need to know where it came from.
          const envelope: Envelope = { id: task.id, payload: task.payload, meta };
          await redis.lpush(queue, JSON.stringify(envelope));
        } catch (error) {
          fail(producer, error);
          throw error;
        } finally {
          producer.end();
        }
      });
    } catch (error) {
      fail(server, error);
      throw error;
    } finally {
      server.end();
    }
  });
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
  // The envelope is input: a traceparent that does not parse yields an empty context, and the
  // consumer span becomes the root of a new trace. Never a reason to fail the task.
  const meta: unknown = envelope.meta;
  const parent = propagation.extract(ROOT_CONTEXT, typeof meta === "object" && meta !== null ? meta : {});
  const span = tracer.startSpan(`process ${queue}`, { kind: SpanKind.CONSUMER, attributes: { "messaging.message.id": envelope.id } }, parent);
  try {
    // The context is passed down, never kept in a module-level variable: several tasks are in
    // flight at once, and each handler must see its own consumer span as the active one.
    await context.with(trace.setSpan(parent, span), () => renderReport({ id: envelope.id, payload: envelope.payload }));
    return { id: envelope.id, ok: true };
  } catch (error) {
    fail(span, error);
    return { id: envelope.id, ok: false };
  } finally {
    // After the work, success or not: the span's duration is the processing time.
    span.end();
  }
}
