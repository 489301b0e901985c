/**
 * `mode: "run"`: the learner's program runs against the lab's background traffic for up to a
 * minute while the live view gets a snapshot of their Redis a few times a second. It ends when
 * the time is up, the learner cancels, or (with no lab playground) their program exits.
 */
import { addAbortListener } from "node:events";
import { isModule } from "../runner/files.ts";
import { snapshotRedis } from "../runner/snapshot.ts";
import { CheckContext } from "./context.ts";
import type { RunSession } from "./grade.ts";
import type { PlaygroundContext } from "./define.ts";
import { describeOutcome } from "./process.ts";
import { CheckFailure, type Verdict } from "./result.ts";

export interface PlaygroundOptions extends RunSession {
  /** @default 60000 */
  durationMs?: number;
  /** @default 300 */
  snapshotEveryMs?: number;
  /** Where the playground starts on the run's clock, so snapshots line up with the command log. */
  offsetMs?: number;
}

export async function runPlayground(session: PlaygroundOptions): Promise<{ status: Verdict; message: string }> {
  const started = performance.now();
  const at = () => Math.round(performance.now() - started + (session.offsetMs ?? 0));
  const time = AbortSignal.timeout(session.durationMs ?? 60_000);
  const signal = session.signal ? AbortSignal.any([time, session.signal]) : time;
  const base = new CheckContext(session.pod.lane, session.seed, {
    log: (stream, text, process) => session.emit({ type: "log", stream, text: process ? `[${process}] ${text}` : text }),
    sources: session.sources,
  });
  const t = Object.assign(base, { signal }) as PlaygroundContext;
  const snapshots = setInterval(() => {
    snapshotRedis(session.pod.lane.admin).then(
      (keys) => session.emit({ type: "snapshot", at: at(), keys }),
      () => {}, // a busy script or a full Redis: skip this frame
    );
  }, session.snapshotEveryMs ?? 300);
  // addAbortListener, not addEventListener: it also fires for a signal aborted before this line
  // (a run cancelled while its pod was starting), whose abort event will not fire again.
  const stopped = new Promise<void>((resolve) => addAbortListener(signal, () => resolve()));
  try {
    if (session.definition.playground) {
      await Promise.race([session.definition.playground(t), stopped]);
      await stopped;
      return { status: "pass", message: "Your program ran for the playground's full time." };
    }
    // The lab's first module runs; a lab whose files are only read (a compose file) has none.
    const entry = session.lab.files.find((f) => isModule(f.path))?.path;
    if (!entry) return { status: "pass", message: "This lab's files are read by the checks, not run: press Check to grade them." };
    const program = t.spawn(entry, { name: "main", limits: { wallMs: (session.durationMs ?? 60_000) + 1000, cpuSeconds: 30 } });
    const outcome = await Promise.race([program.exited, stopped.then(() => null)]);
    if (!outcome) return { status: "pass", message: "Your program was still running when the playground's time was up." };
    if (outcome.kind === "exited" && outcome.code === 0) return { status: "pass", message: "Your program finished." };
    return { status: outcome.kind === "sandbox" ? "error" : "fail", message: `Your program ${describeOutcome(outcome)}.` };
  } catch (error) {
    if (error instanceof CheckFailure) return { status: "fail", message: error.message };
    throw error;
  } finally {
    clearInterval(snapshots);
    await t.cleanup();
    const final = await snapshotRedis(session.pod.lane.admin).catch(() => null);
    if (final) session.emit({ type: "snapshot", at: at(), keys: final });
  }
}
