/**
 * `setpriv --pdeathsig SIGKILL -- …`: a child started through it is killed when the process that
 * started it dies, even by SIGKILL. A runner that crashes must not leave its runs' Redis servers
 * or sandboxes behind (a parked sandbox has no deadline until it is used, so it would live on).
 */
import { spawnSync } from "node:child_process";

let available: boolean | undefined;

export function dieWithOwner(argv: string[]): string[] {
  available ??= spawnSync("setpriv", ["--help"], { stdio: "ignore" }).status === 0;
  return available ? ["setpriv", "--pdeathsig", "SIGKILL", "--", ...argv] : argv;
}
