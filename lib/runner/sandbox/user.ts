/**
 * Who learner code runs as (docs/architecture.md "The sandbox": learner code never runs as root). A
 * runner started as root (as `npm start` on a server often is) starts every learner process as
 * FAULTLINE_SANDBOX_USER (65534:65534 by default) with no supplementary groups, before any tier.
 * A runner that is not root cannot change uid, so its learner processes keep its own uid.
 *
 * A run's directory is then shared with that uid through its group (rwx for the runner, r-x for
 * the group, nothing for anyone else), so learner code can read /lab and connect to the proxy
 * socket while other users of the host cannot even list the directory.
 */
import { chmodSync, chownSync } from "node:fs";
import { env } from "../../env.ts";

export interface SandboxUser {
  uid: number;
  gid: number;
}

const runnerIsRoot = () => process.geteuid?.() === 0;

/** The uid/gid learner processes are dropped to, or null when they keep the runner's own (not root). */
export function sandboxUser(): SandboxUser | null {
  return runnerIsRoot() ? env().FAULTLINE_SANDBOX_USER : null;
}

/** The uid learner code has on the host, for logs and the admin page. */
export function describeSandboxUser(): string {
  const user = sandboxUser();
  return user
    ? `${user.uid}:${user.gid} (the runner is root; FAULTLINE_SANDBOX_USER)`
    : `${process.geteuid?.() ?? "?"}:${process.getegid?.() ?? "?"} (the runner's own uid)`;
}

/** Lets learner processes traverse and read `dir` through its group; others get nothing. */
export function shareDirWithSandbox(dir: string): void {
  const user = sandboxUser();
  if (!user) return; // learner code runs as the owner already
  chownSync(dir, process.geteuid!(), user.gid);
  chmodSync(dir, 0o750);
}

/** Lets learner processes connect to a Unix socket the runner listens on (connect needs write). */
export function shareSocketWithSandbox(socket: string): void {
  const user = sandboxUser();
  if (!user) return;
  chownSync(socket, process.geteuid!(), user.gid);
  chmodSync(socket, 0o660);
}
