/**
 * The lab's hints, without React. The server decides what is unlocked (lib/labs/hints.ts): one
 * more hint per request, in order, the last only after enough failed checks. This asks it for the
 * next hint and, after a graded run, again for what is unlocked; hintControl says what the hints
 * section offers next. useHints wraps it; tests drive it with a fake fetch.
 */
import type { HintsState } from "@/lib/labs/hints";
import { readJson } from "./lab-api";

/** What the hints section offers under the hints shown so far. */
export type HintControl = { kind: "button"; label: string } | { kind: "locked"; failedChecksToGo: number } | null;

export function hintControl({ unlocked, total, finalLockedFor }: HintsState): HintControl {
  if (unlocked.length >= total) return null;
  if (unlocked.length === total - 1 && finalLockedFor > 0) return { kind: "locked", failedChecksToGo: finalLockedFor };
  return { kind: "button", label: unlocked.length === 0 ? "Show a hint" : "Show the next hint" };
}

/** A graded run that fails (or passes) may be the one that opens the last hint: worth asking only while it is locked. */
export const refreshAfterRun = (signedIn: boolean, hints: HintsState): boolean => signedIn && hints.finalLockedFor !== 0;

export class HintRequests {
  private readonly url: string;
  private readonly fetch: typeof globalThis.fetch;

  constructor({ api, fetch }: { api: string; fetch?: typeof globalThis.fetch }) {
    this.url = `${api}/hints`;
    this.fetch = fetch ?? ((...args) => globalThis.fetch(...args));
  }

  /** Unlocks the next hint: the hints as they are now, or the message to show when the server could not. */
  async next(): Promise<{ hints: HintsState } | { notice: string }> {
    try {
      return { hints: await readJson<HintsState>(await this.fetch(this.url, { method: "POST" })) };
    } catch (error) {
      return { notice: `Could not show a hint: ${(error as Error).message}` };
    }
  }

  /** The hints unlocked now; null when the answer did not come, which the page passes over in silence. */
  unlocked(signal: AbortSignal): Promise<HintsState | null> {
    return this.fetch(this.url, { signal })
      .then((response) => readJson<HintsState>(response))
      .catch(() => null);
  }
}
