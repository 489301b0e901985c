import { expect, test } from "vitest";
import type { Lane } from "../runner/pod.ts";
import { CheckContext } from "./context.ts";
import { GraderError } from "./result.ts";

// t.source needs no sandbox or Redis: a lane with an empty command log is enough to build a context.
const lane = { admin: {}, proxy: { log: [] } } as unknown as Lane;

test("t.source returns a submitted file exactly as the learner wrote it", () => {
  const compose = "services:\r\n  redis:\r\n    image: redis:7.4\t# tabs, CRLF and all\r\n";
  const t = new CheckContext(lane, 1, { log: () => {}, sources: { "docker-compose.yml": compose, Dockerfile: "" } });
  expect(t.source("docker-compose.yml")).toBe(compose);
  expect(t.source("Dockerfile")).toBe("");
});

test("t.source of a file the run does not have is the check's error, naming the files it has", () => {
  const t = new CheckContext(lane, 1, { log: () => {}, sources: { "docker-compose.yml": "services: {}\n" } });
  expect(() => t.source("compose.yaml")).toThrow(GraderError);
  expect(() => t.source("compose.yaml")).toThrow(/no such file; its files are docker-compose.yml/);
  expect(() => new CheckContext(lane, 1, { log: () => {} }).source("x.ts")).toThrow(/none were given/);
});
