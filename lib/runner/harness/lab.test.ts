import { readFileSync } from "node:fs";
import path from "node:path";
import { expect, test } from "vitest";

const source = (file: string) => readFileSync(path.join(import.meta.dirname, file), "utf8");
const exported = (text: string) => [...text.matchAll(/export (?:const|function|async function) (\w+)|export \{ (\w+)/g)].map((m) => m[1] ?? m[2]).sort();

test("the editor's @faultline/lab declarations name exactly what the sandbox harness exports", () => {
  expect(exported(source("faultline-lab.d.ts"))).toEqual(exported(source("lab.ts")));
  expect(exported(source("lab.ts"))).toEqual(["Redis", "createRedis", "dependency", "dependencySocketPath", "redisSocketPath", "sleep", "workerName"]);
});
