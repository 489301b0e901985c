/**
 * What the grader calls (read-only): your getQuote, its outcome reported as data, and many calls
 * at once. `abortAfterMs` aborts the caller's own signal that long after the call starts.
 */
import { getQuote } from "./retry.ts";
import type { RetryPolicy } from "./policy.ts";

export interface Outcome {
  ok: boolean;
  quote?: unknown;
  name?: string;
  message?: string;
  status?: number;
  reason?: string;
  attempts?: number;
  /** How long getQuote took, measured here. */
  ms: number;
}

export async function quote(sku: string, policy: RetryPolicy, abortAfterMs?: number): Promise<Outcome> {
  const controller = new AbortController();
  const timer = abortAfterMs === undefined ? undefined : setTimeout(() => controller.abort(), abortAfterMs);
  const started = performance.now();
  try {
    const value = await getQuote(sku, policy, { signal: controller.signal });
    return { ok: true, quote: value, ms: performance.now() - started };
  } catch (error) {
    const e = (error ?? {}) as { name?: unknown; message?: unknown; status?: unknown; reason?: unknown; attempts?: unknown };
    return {
      ok: false,
      name: typeof e.name === "string" ? e.name : typeof error,
      message: typeof e.message === "string" ? e.message : String(error),
      status: typeof e.status === "number" ? e.status : undefined,
      reason: typeof e.reason === "string" ? e.reason : undefined,
      attempts: typeof e.attempts === "number" ? e.attempts : undefined,
      ms: performance.now() - started,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Several calls at once from this one program. */
export function quotes(skus: string[], policy: RetryPolicy): Promise<Outcome[]> {
  return Promise.all(skus.map((sku) => quote(sku, policy)));
}
