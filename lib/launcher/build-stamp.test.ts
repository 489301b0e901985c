import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, expect, test } from "vitest";
import { buildIsCurrent, sourceHash, stampFile } from "./build-stamp.ts";

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

function project(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "fl-stamp-"));
  dirs.push(dir);
  mkdirSync(path.join(dir, "app"));
  writeFileSync(path.join(dir, "app/page.tsx"), "export default 1");
  return dir;
}

test("a fresh checkout has no current build", () => {
  expect(buildIsCurrent(project())).toBe(false);
});

test("a build stamped with the source hash is current until a source file changes", () => {
  const dir = project();
  mkdirSync(path.join(dir, ".next"));
  writeFileSync(path.join(dir, ".next/BUILD_ID"), "x");
  writeFileSync(stampFile(dir), sourceHash(dir));
  expect(buildIsCurrent(dir)).toBe(true);
  writeFileSync(path.join(dir, "app/page.tsx"), "export default 2");
  expect(buildIsCurrent(dir)).toBe(false);
});

test("unit tests do not count as build input", () => {
  const dir = project();
  const before = sourceHash(dir);
  writeFileSync(path.join(dir, "app/page.test.ts"), "test");
  expect(sourceHash(dir)).toBe(before);
});
