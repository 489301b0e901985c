/**
 * CPU used by a benchmark, whole process tree: web, runner, sandboxes, private Redis servers.
 * Read from the machine's own counters (/proc/stat), less what the machine uses when idle,
 * measured just before: cgroup CPU accounting is not available in every container (it reads 0
 * in this one), and a killed sandbox's CPU never reaches its grandparent's rusage. So run
 * benchmarks on an otherwise quiet machine; the benchmark's own client is counted too.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { readFileSync } from "node:fs";

/** Busy CPU time of the whole machine so far, in ms (all cores). */
export function busyMs(): number {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: everything but idle and iowait is busy.
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  return (user + nice + system + irq + softirq + steal) * 10; // USER_HZ is 100 on Linux
}

/** Busy ms per second of wall time while nothing of ours runs. */
export async function idleRate(ms = 3000): Promise<number> {
  const before = busyMs();
  const started = performance.now();
  await sleep(ms);
  return (busyMs() - before) / ((performance.now() - started) / 1000);
}

/** Starts measuring; `stop(runs)` gives CPU ms per run, the idle baseline taken off. */
export function cpuMeter(baselinePerSecond: number): { stop(runs: number): number } {
  const before = busyMs();
  const started = performance.now();
  return {
    stop(runs) {
      const seconds = (performance.now() - started) / 1000;
      return Math.max(0, busyMs() - before - baselinePerSecond * seconds) / Math.max(1, runs);
    },
  };
}
