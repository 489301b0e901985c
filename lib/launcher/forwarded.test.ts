import { expect, test } from "vitest";
import { trustedClientIp } from "./forwarded.ts";

test("without a trusted proxy a client cannot choose its address", () => {
  expect(trustedClientIp("6.6.6.6", "10.0.0.7", 0)).toBe("10.0.0.7");
});

test("with one trusted proxy the address it appended is used, not what the client sent", () => {
  expect(trustedClientIp("6.6.6.6, 203.0.113.9", "10.0.0.2", 1)).toBe("203.0.113.9");
});

test("a header shorter than the proxy count falls back to its first entry", () => {
  expect(trustedClientIp("203.0.113.9", "10.0.0.2", 2)).toBe("203.0.113.9");
  expect(trustedClientIp(undefined, "10.0.0.2", 1)).toBe("10.0.0.2");
});
