/**
 * The learner's code beside the lab's reference solution, without React. The page offers the
 * comparison once the learner passed (or teaches); the server decides whether to send the
 * solution, and its refusal is shown in its own words. The solution is fetched once and kept.
 * useSolution wraps it; tests drive it with a fake fetch.
 */
import type { RunState } from "@/lib/runs/run-state";
import { readJson } from "./lab-api";

type Files = Record<string, string>;

export interface ComparisonState {
  open: boolean;
  solution: Files | null;
  /** The learner's files as they were when the comparison opened. */
  mine: Files;
}

/** A run that just ended opens the comparison if it was a real graded pass: a replay of a seed the learner chose never does. */
export const opensSolution = (run: Pick<RunState, "mode" | "verdict" | "replay">): boolean =>
  run.mode === "check" && run.verdict?.status === "pass" && !run.replay;

export class SolutionCompare {
  private state: ComparisonState = { open: false, solution: null, mine: {} };
  private readonly listeners = new Set<() => void>();
  private readonly url: string;
  private readonly fetch: typeof fetch;

  constructor({ api, fetch }: { api: string; fetch?: typeof globalThis.fetch }) {
    this.url = `${api}/solution`;
    this.fetch = fetch ?? ((...args) => globalThis.fetch(...args));
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getState = (): ComparisonState => this.state;

  /** Opens the comparison with the learner's files as `mine()` has them once the solution is here. Returns the server's refusal, else null. */
  async open(mine: () => Files): Promise<string | null> {
    try {
      const solution = this.state.solution ?? (await readJson<{ files: Files }>(await this.fetch(this.url))).files;
      this.set({ solution, mine: mine(), open: true });
      return null;
    } catch (error) {
      return (error as Error).message;
    }
  }

  close(): void {
    if (this.state.open) this.set({ open: false });
  }

  /** The reference solution as the learner's editable files, to check it the way their own code is checked. */
  reference(editable: readonly string[]): Files {
    return Object.fromEntries(editable.map((p) => [p, this.state.solution?.[p] ?? ""]));
  }

  private set(change: Partial<ComparisonState>): void {
    this.state = { ...this.state, ...change };
    for (const listener of this.listeners) listener();
  }
}
