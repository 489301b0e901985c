import path from "node:path";
import { z } from "zod";

/**
 * Faultline's configuration, read from the environment once and validated. Every variable is
 * documented in `.env.example`; a bad value stops start-up with the variable's name and the fix.
 * No `server-only` marker: the launcher and runner (plain Node) import this too.
 */
const flag = (fix: string) =>
  z
    .enum(["0", "1", "true", "false", "yes", "no"], { error: `expected 1/0, true/false or yes/no. ${fix}` })
    .transform((v) => v === "1" || v === "true" || v === "yes");

export const EnvSchema = z
  .object({
    NODE_ENV: z.enum(["development", "production", "test"]).default("development").describe("Node environment; `npm start` sets production."),
    PORT: z.coerce
      .number({ error: "expected a port number. Fix: set PORT to a free TCP port such as 3000." })
      .int()
      .min(1, "expected a port from 1 to 65535")
      .max(65535, "expected a port from 1 to 65535")
      .default(3000)
      .describe("HTTP port of the web server. @default 3000"),
    HOST: z.string().min(1).default("127.0.0.1").describe("Address the web server binds. Use 0.0.0.0 in a container. @default 127.0.0.1"),
    FAULTLINE_URL: z
      .url({ error: "expected an absolute URL such as https://faultline.example.org" })
      .optional()
      .describe("Public URL of the site, used in links and auth callbacks. @default http://localhost:PORT"),
    FAULTLINE_COURSE_DIR: z
      .string()
      .min(1)
      .default("content")
      .describe("The course: milestone folders with milestone.json and lessons. Point it at your own copy to teach your own course. @default content"),
    FAULTLINE_DATA_DIR: z
      .string()
      .min(1)
      .default(".data")
      .describe("Directory for the SQLite database, a private Redis, logs and generated secrets. @default .data"),
    FAULTLINE_CACHE_DIR: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Compiled lessons, keyed by content hash: safe to share between replicas and data directories, and to delete. @default <FAULTLINE_DATA_DIR>/cache",
      ),
    DATABASE_URL: z
      .string()
      .regex(/^(file:|postgres(ql)?:\/\/)/, "expected file:<path> for SQLite or postgresql://user@host:port/db for PostgreSQL")
      .optional()
      .describe("Database. @default file:<FAULTLINE_DATA_DIR>/faultline.db (SQLite)"),
    REDIS_URL: z
      .string()
      .regex(/^rediss?:\/\//, "expected redis://[user:password@]host:port[/db]")
      .optional()
      .describe("Platform Redis (jobs, run events, rate limits). @default a local Redis on 6379, else a private redis-server under FAULTLINE_DATA_DIR"),
    FAULTLINE_REDIS_PREFIX: z
      .string()
      .regex(/^[a-z0-9:_-]{1,32}$/i, "use 1-32 letters, digits, ':', '_' or '-'")
      .default("fl:")
      .describe("Prefix of every platform Redis key, so several installs can share one Redis. @default fl:"),
    AUTH_SECRET: z
      .string()
      .min(32, "must be at least 32 characters. Fix: generate one with `openssl rand -base64 32`")
      .optional()
      .describe("Signs session tokens; all web replicas must share it. Required in production; generated under FAULTLINE_DATA_DIR otherwise."),
    FAULTLINE_AUTH: z
      .enum(["accounts", "local"], { error: "expected 'accounts' (sign up and sign in) or 'local' (one learner signed in automatically)" })
      .default("accounts")
      .describe("accounts: email and password; local: one learner signed in automatically, for a laptop. @default accounts"),
    FAULTLINE_ALLOW_LOCAL_AUTH_IN_PRODUCTION: flag("Set it to 1 only if this server is reachable by you alone.")
      .default(false)
      .describe("Lets FAULTLINE_AUTH=local run with NODE_ENV=production. @default 0"),
    FAULTLINE_TRUSTED_PROXIES: z.coerce
      .number({ error: "expected a whole number of proxy hops" })
      .int()
      .min(0)
      .max(5)
      .default(0)
      .describe("How many reverse proxies in front of the web server append to X-Forwarded-For; 0 ignores the header. @default 0"),
    RUNNER_CONCURRENCY: z.coerce
      .number({ error: "expected a whole number" })
      .int()
      .min(1)
      .max(64)
      .default(4)
      .describe("Checks (graded runs) one runner process grades at once. @default 4"),
    RUNNER_PLAYGROUND_CONCURRENCY: z.coerce
      .number({ error: "expected a whole number" })
      .int()
      .min(1)
      .max(64)
      .default(2)
      .describe(
        "Playground runs (the Run button, up to a minute each) one runner process hosts at once, in slots of their own so they never delay a check. @default 2",
      ),
    RUNNER_LOCK_MS: z.coerce
      .number({ error: "expected milliseconds" })
      .int()
      .min(1000)
      .max(300_000)
      .default(10_000)
      .describe(
        "How long a runner's claim on a run lasts without renewal; a runner that dies is noticed within about 1.5 times this, and another takes its run over. @default 10000",
      ),
    FAULTLINE_SANDBOX_USER: z
      .string()
      .regex(/^\d{1,10}:\d{1,10}$/, "expected uid:gid as two numbers, such as 65534:65534")
      .transform((v) => v.split(":").map(Number) as [number, number])
      .refine(([uid, gid]) => uid > 0 && gid > 0, "learner code must never run as root: choose a uid and gid other than 0, such as 65534:65534")
      .refine(([uid, gid]) => uid < 4294967295 && gid < 4294967295, "expected a uid and gid below 4294967295")
      .transform(([uid, gid]) => ({ uid, gid }))
      .default({ uid: 65534, gid: 65534 })
      .describe(
        "uid:gid learner code runs as when the runner runs as root (with no supplementary groups); a runner that is not root runs learner code as its own uid. Best a dedicated user that owns nothing. @default 65534:65534",
      ),
    FAULTLINE_ALLOW_WEAK_SANDBOX: flag("Set it to 1 only if you accept that learner code can see this host's files and sockets.")
      .default(false)
      .describe(
        "Lets runs use a sandbox tier that cannot hide the host's /tmp and sockets (no bubblewrap, no usable unshare); logged loudly and noted on each run. @default 0",
      ),
    METRICS_TOKEN: z
      .string()
      .min(16, "must be at least 16 characters. Fix: generate one with `openssl rand -hex 24`")
      .optional()
      .describe("When set, /api/metrics asks for `Authorization: Bearer <token>`; unset, it is open to anyone who can reach the web server. @default unset"),
    LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info").describe("Least severe log level printed. @default info"),
    RATE_LIMIT_LOGIN_PER_EMAIL: z.coerce.number().int().min(1).default(10).describe("Sign-in attempts per email per 15 minutes. @default 10"),
    RATE_LIMIT_LOGIN_PER_IP: z.coerce.number().int().min(1).default(50).describe("Sign-in attempts per address per 15 minutes. @default 50"),
    RATE_LIMIT_SIGNUP_PER_IP: z.coerce.number().int().min(1).default(20).describe("Sign-ups per address per hour. @default 20"),
    RATE_LIMIT_SIGNUP_PER_INVITE: z.coerce
      .number({ error: "expected a whole number" })
      .int()
      .min(1)
      .default(100)
      .describe(
        "Sign-ups per hour through one valid cohort invite, counted instead of the per-address limit, so a class behind one address can sign up together. @default 100",
      ),
    RUN_RATE_LIMIT_PER_MINUTE: z.coerce
      .number({ error: "expected a whole number" })
      .int()
      .min(1)
      .default(30)
      .describe("Runs and checks one learner may start per minute. @default 30"),
    SSE_STREAMS_PER_LEARNER: z.coerce
      .number({ error: "expected a whole number" })
      .int()
      .min(1)
      .max(1000)
      .default(10)
      .describe("Live run views (event streams) one account may hold open at once, over all web replicas. @default 10"),
    SSE_STREAMS_PER_RUN: z.coerce
      .number({ error: "expected a whole number" })
      .int()
      .min(1)
      .max(1000)
      .default(5)
      .describe("Live views open at once on one run, over all web replicas. @default 5"),
  })
  .superRefine((env, ctx) => {
    if (env.NODE_ENV === "production" && env.FAULTLINE_AUTH === "local" && !env.FAULTLINE_ALLOW_LOCAL_AUTH_IN_PRODUCTION) {
      ctx.addIssue({
        code: "custom",
        path: ["FAULTLINE_AUTH"],
        message:
          "'local' signs every visitor in as the same learner, which is unsafe on a production server. Fix: use FAULTLINE_AUTH=accounts, or set FAULTLINE_ALLOW_LOCAL_AUTH_IN_PRODUCTION=1 if only you can reach this server",
      });
    }
  });

export type Env = z.infer<typeof EnvSchema> & { DATABASE_URL: string; FAULTLINE_URL: string; dataDir: string; courseDir: string; mdxCacheDir: string };

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Parses an environment; throws a ConfigError whose message names each bad variable and its fix. */
export function parseEnv(source: Record<string, string | undefined>): Env {
  // An empty variable means "not set", as in most shells' `VAR= cmd`.
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ""));
  const result = EnvSchema.safeParse(cleaned);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const name = issue.path.join(".") || "(environment)";
      const got = typeof issue.path[0] === "string" ? cleaned[issue.path[0]] : undefined;
      return `  ${name}: ${issue.message}${got !== undefined && !/SECRET|TOKEN/.test(name) ? ` (got "${got}")` : ""}`;
    });
    throw new ConfigError(`Invalid configuration:\n${lines.join("\n")}\nSee .env.example for every variable.`);
  }
  const env = result.data;
  const dataDir = path.resolve(env.FAULTLINE_DATA_DIR);
  return {
    ...env,
    dataDir,
    courseDir: path.resolve(env.FAULTLINE_COURSE_DIR),
    mdxCacheDir: path.join(path.resolve(env.FAULTLINE_CACHE_DIR ?? path.join(dataDir, "cache")), "mdx"),
    DATABASE_URL: env.DATABASE_URL ?? `file:${path.join(dataDir, "faultline.db")}`,
    FAULTLINE_URL: env.FAULTLINE_URL ?? `http://localhost:${env.PORT}`,
  };
}

let cached: Env | undefined;

/** The process's configuration, parsed on first use. */
export function env(): Env {
  cached ??= parseEnv(process.env);
  return cached;
}
