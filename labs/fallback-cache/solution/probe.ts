/**
 * What the grader calls (read-only): your getRate, its outcome reported as data, and many calls
 * at once.
 */
import { getRate } from "./cache.ts";
import type { CachePolicy } from "./policy.ts";

export interface Outcome {
  ok: boolean;
  value?: unknown;
  stale?: unknown;
  ageMs?: unknown;
  /** The error's name, message and reason when getRate threw. */
  name?: string;
  message?: string;
  reason?: string;
  /** How long getRate took, measured here. */
  ms: number;
}

export async function rate(pair: string, policy: CachePolicy): Promise<Outcome> {
  const started = performance.now();
  try {
    const result = await getRate(pair, policy);
    const r = (result ?? {}) as { value?: unknown; stale?: unknown; ageMs?: unknown };
    return { ok: true, value: r.value ?? null, stale: r.stale ?? null, ageMs: r.ageMs ?? null, ms: performance.now() - started };
  } catch (error) {
    const e = (error ?? {}) as { name?: unknown; message?: unknown; reason?: unknown };
    return {
      ok: false,
      name: typeof e.name === "string" ? e.name : typeof error,
      message: typeof e.message === "string" ? e.message : String(error),
      reason: typeof e.reason === "string" ? e.reason : undefined,
      ms: performance.now() - started,
    };
  }
}

/** Several calls at once from this one program. */
export function rates(pairs: string[], policy: CachePolicy): Promise<Outcome[]> {
  return Promise.all(pairs.map((pair) => rate(pair, policy)));
}
