/**
 * Finds the learner's Node processes under a sandbox's root process by walking /proc: bwrap and
 * unshare stand between the runner and the program, so its pid is not the child's pid.
 */
import { readFileSync, readdirSync } from "node:fs";

function parentAndName(pid: number): { ppid: number; name: string } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The name is in parentheses and may itself contain spaces or parentheses.
    const close = stat.lastIndexOf(")");
    const name = stat.slice(stat.indexOf("(") + 1, close);
    const ppid = Number(stat.slice(close + 2).split(" ")[1]);
    return { ppid, name };
  } catch {
    return null;
  }
}

/** Pids of every `node` process descended from (or equal to) root. */
export function programPids(root: number): number[] {
  const children = new Map<number, number[]>();
  const names = new Map<number, string>();
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const info = parentAndName(pid);
    if (!info) continue;
    names.set(pid, info.name);
    children.set(info.ppid, [...(children.get(info.ppid) ?? []), pid]);
  }
  const found: number[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    if (names.get(pid) === "node" || names.get(pid)?.startsWith("node")) found.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return found;
}
