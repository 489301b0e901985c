/**
 * Finds the learner's program under a sandbox's root process by walking /proc: bwrap and unshare
 * stand between the runner and the program, so its pid is not the child's pid. The program is
 * found by ancestry, never by name: learner code can rename itself (`process.title`) to anything,
 * including "bwrap", but it cannot change where it sits in the tree.
 */
import { readFileSync, readdirSync } from "node:fs";

function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The name is in parentheses and may itself contain spaces or parentheses: skip past the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ppid = Number(fields[1]);
    return Number.isInteger(ppid) ? ppid : null;
  } catch {
    return null; // exited meanwhile
  }
}

/**
 * Pids of the processes at the bottom of root's tree: root's descendants (or root itself) that
 * have no children. The sandbox's own processes (bwrap, its pid-namespace init, unshare) each
 * have a child below them until the program exits, and the program cannot start processes of
 * its own (the permission model denies them), so this is the learner's program.
 */
export function programPids(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const ppid = parentOf(pid);
    if (ppid === null) continue;
    const siblings = children.get(ppid);
    if (siblings) siblings.push(pid);
    else children.set(ppid, [pid]);
  }
  if (parentOf(root) === null) return [];
  const found: number[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    const below = children.get(pid);
    if (below) stack.push(...below);
    else found.push(pid);
  }
  return found;
}
