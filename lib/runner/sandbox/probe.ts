/**
 * Finds the strongest sandbox tier this host supports (ARCHITECTURE.md "The sandbox"), by
 * actually running a tiny program in it and checking what it can see: bubblewrap with every
 * namespace; else `unshare` for user, network and PID namespaces; else only the Node
 * permission model and limits. The runner reports the tier it got; it never pretends.
 */
import { spawn } from "node:child_process";

export type SandboxTier = "bubblewrap" | "unshare" | "process";

export interface ProbeResult {
  tier: SandboxTier;
  /** Why each stronger tier was not used; empty when bubblewrap works. */
  reasons: string[];
}

// Inside the sandbox: no network but loopback, and a PID namespace where we are near pid 1.
const check = `const n=require("net");const s=n.connect(6379,"127.0.0.1");s.on("error",()=>{process.stdout.write(process.pid<10?"isolated":"pid "+process.pid)});s.on("connect",()=>{process.stdout.write("network reachable");process.exit(3)})`;

export function bubblewrapArgs(extra: string[] = [], tmpBytes = 16 * 1024 * 1024): string[] {
  return [
    "--unshare-all", "--die-with-parent", "--new-session", "--clearenv", "--cap-drop", "ALL",
    "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin",
    "--proc", "/proc", "--dev", "/dev", "--size", String(tmpBytes), "--tmpfs", "/tmp",
    ...extra,
  ];
}

function attempt(command: string, args: string[], timeoutMs = 5000): Promise<string | null> {
  return new Promise((resolve) => {
    let out = "";
    let err = "";
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs });
    child.stdout.on("data", (d: Buffer) => (out += d));
    child.stderr.on("data", (d: Buffer) => (err += d));
    child.on("error", (e) => resolve(`${command}: ${e.message}`));
    child.on("close", (code) => resolve(code === 0 && out === "isolated" ? null : `${command} ${code === 0 ? out : `exited ${code}`}: ${(err || out).trim().split("\n")[0] ?? ""}`));
  });
}

export async function probeSandbox(node = process.execPath): Promise<ProbeResult> {
  const reasons: string[] = [];
  const bwrap = await attempt("bwrap", [...bubblewrapArgs(node.startsWith("/usr/") ? [] : ["--ro-bind", node, node]), "--", node, "-e", check]);
  if (bwrap === null) return { tier: "bubblewrap", reasons };
  reasons.push(bwrap);
  const unshare = await attempt("unshare", ["-r", "-n", "-p", "-f", "--mount-proc", node, "-e", check]);
  if (unshare === null) return { tier: "unshare", reasons };
  reasons.push(unshare);
  return { tier: "process", reasons };
}
