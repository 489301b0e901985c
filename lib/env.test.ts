import { expect, test } from "vitest";
import { ConfigError, parseEnv } from "./env.ts";

test("an empty environment gives the embedded defaults", () => {
  const env = parseEnv({});
  expect(env.PORT).toBe(3000);
  expect(env.DATABASE_URL).toMatch(/^file:.*\.data\/faultline\.db$/);
  expect(env.FAULTLINE_URL).toBe("http://localhost:3000");
  expect(env.FAULTLINE_AUTH).toBe("accounts");
  expect(env.REDIS_URL).toBeUndefined();
  expect(env.mdxCacheDir).toMatch(/\.data\/cache\/mdx$/);
});

test("compiled lessons follow the data directory unless FAULTLINE_CACHE_DIR puts them elsewhere", () => {
  expect(parseEnv({ FAULTLINE_DATA_DIR: "/srv/fl" }).mdxCacheDir).toBe("/srv/fl/cache/mdx");
  expect(parseEnv({ FAULTLINE_DATA_DIR: "/srv/fl", FAULTLINE_CACHE_DIR: "/var/cache/fl" }).mdxCacheDir).toBe("/var/cache/fl/mdx");
});

test("a bad value names the variable, what it got and the fix", () => {
  expect(() => parseEnv({ PORT: "abc" })).toThrow(ConfigError);
  expect(() => parseEnv({ PORT: "abc" })).toThrow(/PORT: expected a port number\. Fix: .*\(got "abc"\)/);
  expect(() => parseEnv({ DATABASE_URL: "mysql://x" })).toThrow(/DATABASE_URL: expected file:<path> for SQLite or postgresql:/);
  expect(() => parseEnv({ REDIS_URL: "localhost:6379" })).toThrow(/REDIS_URL: expected redis:\/\//);
});

test("every bad variable is reported at once", () => {
  const error = (() => {
    try {
      parseEnv({ PORT: "70000", FAULTLINE_AUTH: "magic" });
    } catch (e) {
      return e as Error;
    }
  })();
  expect(error?.message).toContain("PORT");
  expect(error?.message).toContain("FAULTLINE_AUTH");
});

test("a short secret is refused without echoing it", () => {
  const message = (() => {
    try {
      parseEnv({ AUTH_SECRET: "tooshort" });
    } catch (e) {
      return (e as Error).message;
    }
  })();
  expect(message).toMatch(/AUTH_SECRET: must be at least 32 characters/);
  expect(message).not.toContain("tooshort");
});

test("local auth refuses production unless explicitly allowed", () => {
  expect(() => parseEnv({ NODE_ENV: "production", FAULTLINE_AUTH: "local" })).toThrow(
    /FAULTLINE_AUTH: 'local' signs every visitor in.*FAULTLINE_ALLOW_LOCAL_AUTH_IN_PRODUCTION=1/s,
  );
  expect(parseEnv({ NODE_ENV: "production", FAULTLINE_AUTH: "local", FAULTLINE_ALLOW_LOCAL_AUTH_IN_PRODUCTION: "1" }).FAULTLINE_AUTH).toBe("local");
  expect(parseEnv({ NODE_ENV: "development", FAULTLINE_AUTH: "local" }).FAULTLINE_AUTH).toBe("local");
});

test("an empty variable counts as unset", () => {
  expect(parseEnv({ PORT: "", REDIS_URL: "" }).PORT).toBe(3000);
});
