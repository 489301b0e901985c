/**
 * `setpriv --pdeathsig SIGKILL -- …`: a child started through it is killed when the process that
 * started it dies, even by SIGKILL. A runner that crashes must not leave its runs' Redis servers
 * or sandboxes behind (a parked sandbox has no deadline until it is used, so it would live on).
 *
 * With `as`, the same setpriv also drops to that uid/gid with no supplementary groups and sets
 * no_new_privs. One setpriv for both on purpose: the kernel clears a process's parent-death
 * signal when its credentials change, so a second setpriv changing the uid after the first set
 * the signal would silently undo it. setpriv changes the ids first and sets the signal last
 * (util-linux 2.38; tests/security/sandbox-escapes.test.ts proves a sandbox still dies with its
 * runner).
 */
import { spawnSync } from "node:child_process";

let available: boolean | undefined;

export function dieWithOwner(argv: string[], as?: { uid: number; gid: number } | null): string[] {
  if (as) {
    // No fallback without setpriv: starting learner code as root is never the lesser evil. A
    // missing setpriv makes the spawn fail, and the run ends as the platform's error.
    return ["setpriv", `--reuid=${as.uid}`, `--regid=${as.gid}`, "--clear-groups", "--no-new-privs", "--pdeathsig", "SIGKILL", "--", ...argv];
  }
  available ??= spawnSync("setpriv", ["--help"], { stdio: "ignore" }).status === 0;
  return available ? ["setpriv", "--pdeathsig", "SIGKILL", "--", ...argv] : argv;
}
