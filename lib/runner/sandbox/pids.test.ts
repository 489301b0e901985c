import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { expect, test } from "vitest";
import { programPids } from "./pids.ts";

const state = (pid: number) => /\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, "utf8"))?.[1];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(get: () => T, ok: (v: T) => boolean): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const value = get();
    if (ok(value)) return value;
    await sleep(20);
  }
  return get();
}

test("the program is found by ancestry under its wrappers, whatever it calls itself", async () => {
  // A shell that stays as the parent stands in for bwrap; the program renames itself as bwrap.
  const root = spawn("/bin/sh", ["-c", `${process.execPath} -e 'process.title = "bwrap"; setInterval(() => {}, 1000)'; exit 0`], {
    stdio: "ignore",
    detached: true,
  });
  try {
    const pids = await until(
      () => programPids(root.pid!),
      (p) => p.length === 1 && p[0] !== root.pid && readFileSync(`/proc/${p[0]}/stat`, "utf8").includes("(bwrap)"),
    );
    expect(pids).toHaveLength(1);
    const [program] = pids as [number];
    expect(program).not.toBe(root.pid);
    process.kill(program, "SIGSTOP");
    expect(
      await until(
        () => state(program),
        (s) => s === "T",
      ),
    ).toBe("T");
    process.kill(program, "SIGCONT");
    expect(
      await until(
        () => state(program),
        (s) => s !== "T",
      ),
    ).not.toBe("T");
  } finally {
    process.kill(-root.pid!, "SIGKILL");
  }
});

test("a process with no children is its own program, and a gone one has none", async () => {
  const lone = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
  await sleep(50);
  expect(programPids(lone.pid!)).toEqual([lone.pid]);
  lone.kill("SIGKILL");
  await new Promise((resolve) => lone.once("exit", resolve));
  expect(programPids(lone.pid!)).toEqual([]);
});
