/**
 * Read-only: the report renderer your worker runs for each task, as a team's handler library
 * would be. It opens its own `render pdf` span under whatever span is active when it is called,
 * so it lands in the right trace only if your worker made the consumer span active around it.
 * It records the render in Redis (`effects:<id>`, which the grader reads) and throws when the
 * task's payload says the render fails (the grader's way to make a handler fail).
 */
import { SpanStatusCode, trace } from "@opentelemetry/api";
import { createRedis, sleep } from "@faultline/lab";

export interface ReportPayload {
  /** What to render. */
  report: string;
  /** How long the render takes, in ms. */
  ms: number;
  /** When true, the render throws. */
  fail?: boolean;
}

/** What the handler needs of a task. */
export interface Task {
  id: string;
  payload: ReportPayload;
}

const redis = createRedis();
const tracer = trace.getTracer("report-renderer");

export async function renderReport(task: Task): Promise<void> {
  await tracer.startActiveSpan("render pdf", { attributes: { "messaging.message.id": task.id } }, async (span) => {
    try {
      await sleep(Math.max(0, Math.min(Number(task.payload.ms) || 0, 500)));
      if (task.payload.fail === true) {
        await redis.hset(`effects:${task.id}`, "status", "failed");
        throw new Error(`rendering ${task.payload.report} failed: the PDF service answered 503`);
      }
      await redis.hset(`effects:${task.id}`, "status", "rendered", "report", String(task.payload.report));
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  });
}
