// Read-only: the task handler the grader's tasks run, and the task envelope. It logs through
// your logger.ts with no task context of its own: its lines carry the task's ids only if your
// worker's context (withContext) reaches them, across its awaits.
import { sleep } from "@faultline/lab";
import { createLogger } from "./logger.ts";

export interface Task {
  id: string;
  name: string;
  payload: unknown;
  meta: { correlationId: string; enqueuedAt: number };
}

/** What the grader's tasks carry. */
export interface Payload {
  contactId: string;
  /** One "crm request" line per step, then a wait of that many milliseconds. */
  steps: number[];
  /** The handler fails after its steps: throws, or returns a rejected promise. */
  fail?: "throw" | "reject";
  crm: { url: string; apiToken: string };
  /** Logged on the first step, with a bigint, a Date and a reference back to itself added. */
  profile?: Record<string, unknown>;
}

const log = createLogger({ service: "handler" });

export async function handle(task: Task): Promise<void> {
  const p = task.payload as Payload;
  const headers = { Authorization: `Bearer ${p.crm.apiToken}` };
  for (const [step, ms] of p.steps.entries()) {
    const fields: Record<string, unknown> = { contactId: p.contactId, step, url: p.crm.url, headers };
    if (step === 0 && p.profile) {
      const profile: Record<string, unknown> = { ...p.profile, visits: 2n ** 64n + BigInt(p.steps.length), seenAt: new Date(task.meta.enqueuedAt) };
      profile.self = profile;
      fields.profile = profile;
    }
    log.info("crm request", fields);
    await sleep(ms);
  }
  if (p.fail) {
    const cause = Object.assign(new Error(`CRM unreachable at ${p.crm.url}`), { code: "ECONNREFUSED", config: { url: p.crm.url, headers } });
    const error = new Error(`contact ${p.contactId} not synced`, { cause });
    if (p.fail === "throw") throw error;
    return Promise.reject(error);
  }
}
