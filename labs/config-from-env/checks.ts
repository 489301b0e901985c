import { isDeepStrictEqual } from "node:util";
import { defineChecks, fc, type CheckContext, type RpcModule } from "../../lib/grader/index.ts";
import type { Case, Outcome } from "./starter/probe.ts";

// Every call goes through probe.ts (read-only), in the learner's sandbox: it serves the case's
// secret files through readFile (failing some, as a badly mounted secret does), sets process.env
// to decoys, calls loadConfig(env, readFile) and
// describes the result (its fields, whether it is frozen, which fields an assignment changed) or
// the error (ConfigError or not, its problems and message). The grader computes what the
// instructions demand for the same env with its own model (below) and compares.

const PROBE = "probe.ts";
const INSTANCE = { limits: { wallMs: 28_000 } };

type Env = Record<string, string>;
interface IntVar {
  name: string;
  key: string;
  def: number;
  min: number;
  max: number;
}
const INTS: IntVar[] = [
  { name: "WORKER_CONCURRENCY", key: "concurrency", def: 4, min: 1, max: 64 },
  { name: "LEASE_MS", key: "leaseMs", def: 30_000, min: 1_000, max: 3_600_000 },
  { name: "HEARTBEAT_MS", key: "heartbeatMs", def: 10_000, min: 100, max: 600_000 },
  { name: "SHUTDOWN_DEADLINE_MS", key: "shutdownDeadlineMs", def: 8_000, min: 0, max: 600_000 },
];
const LEVELS = ["debug", "info", "warn", "error"];

// ---------------------------------------------------------------------------------------------
// The model: instructions.md, as code.

interface Problem {
  vars: string[];
  fix: string[];
  what: string;
}
type Expected = { ok: true; config: Record<string, unknown> } | { ok: false; problems: Problem[] };

/** Files the case writes, so the model knows what a path holds. */
type Files = Map<string, string>;

function model(env: Env, files: Files): Expected {
  const problems: Problem[] = [];
  const raw = (name: string) => env[name]?.trim() || undefined;
  const ints: Record<string, number | undefined> = {};
  for (const v of INTS) {
    const value = raw(v.name);
    if (value === undefined) ints[v.key] = v.def;
    else if (!/^[0-9]+$/.test(value)) problems.push({ vars: [v.name], fix: [String(v.min), String(v.max)], what: `${v.name} is not a whole number` });
    else if (Number(value) < v.min || Number(value) > v.max)
      problems.push({ vars: [v.name], fix: [String(v.min), String(v.max)], what: `${v.name} is out of range` });
    else ints[v.key] = Number(value);
  }
  let redisUrl = "";
  const url = raw("REDIS_URL");
  if (url === undefined) problems.push({ vars: ["REDIS_URL"], fix: ["redis://"], what: "REDIS_URL is missing" });
  else {
    const parsed = URL.canParse(url) ? new URL(url) : undefined;
    if (parsed?.password) problems.push({ vars: ["REDIS_URL"], fix: [], what: "REDIS_URL holds a password" });
    else if (!parsed || (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") || !parsed.hostname)
      problems.push({ vars: ["REDIS_URL"], fix: ["redis://"], what: "REDIS_URL is not a redis:// or rediss:// URL with a host" });
    else redisUrl = url;
  }
  let redisPassword: string | undefined;
  const inline = raw("REDIS_PASSWORD");
  const file = raw("REDIS_PASSWORD_FILE");
  if (inline !== undefined && file !== undefined)
    problems.push({ vars: ["REDIS_PASSWORD", "REDIS_PASSWORD_FILE"], fix: [], what: "REDIS_PASSWORD and REDIS_PASSWORD_FILE are both set" });
  else if (file !== undefined) {
    const content = files.get(file)?.trim();
    if (content === undefined)
      problems.push({ vars: ["REDIS_PASSWORD_FILE"], fix: [], what: "REDIS_PASSWORD_FILE names a file that does not exist or cannot be read" });
    else if (!content) problems.push({ vars: ["REDIS_PASSWORD_FILE"], fix: [], what: "REDIS_PASSWORD_FILE names an empty file" });
    else redisPassword = content;
  } else redisPassword = inline;
  let logLevel = "info";
  const level = raw("LOG_LEVEL");
  if (level !== undefined) {
    if (LEVELS.includes(level.toLowerCase())) logLevel = level.toLowerCase();
    else problems.push({ vars: ["LOG_LEVEL"], fix: LEVELS, what: "LOG_LEVEL is not a log level" });
  }
  let metricsEnabled = false;
  const metrics = raw("METRICS_ENABLED");
  if (metrics === "true" || metrics === "1") metricsEnabled = true;
  else if (metrics !== undefined && metrics !== "false" && metrics !== "0")
    problems.push({ vars: ["METRICS_ENABLED"], fix: ["true", "false"], what: "METRICS_ENABLED is not one of true, false, 1, 0" });
  const lease = ints.leaseMs;
  const heartbeat = ints.heartbeatMs;
  if (lease !== undefined && heartbeat !== undefined && heartbeat * 3 > lease)
    problems.push({ vars: ["HEARTBEAT_MS", "LEASE_MS"], fix: [], what: `HEARTBEAT_MS (${heartbeat}) is more than a third of LEASE_MS (${lease})` });
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    config: { redisUrl, redisPassword: redisPassword === undefined ? { $undefined: true } : redisPassword, ...ints, logLevel, metricsEnabled },
  };
}

// ---------------------------------------------------------------------------------------------
// Showing a case to the learner.

const esc = (s: string) => JSON.stringify(s).replace(/[^\x20-\x7e]/gu, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
function showEnv(env: Env): string {
  const entries = Object.entries(env);
  return entries.length === 0 ? "{} (nothing set)" : `{ ${entries.map(([k, v]) => `${k}: ${esc(v)}`).join(", ")} }`;
}
const showCase = (c: Case) =>
  `loadConfig(${showEnv(c.env)})${c.files.length ? `, with ${c.files.map(([p, content]) => `${p} holding ${esc(content)}`).join(" and ")}` : ""}${c.unreadable?.length ? `, with ${c.unreadable.map(([p, code]) => `${p} failing to read (${code || "an error without a code"})`).join(" and ")}` : ""}`;

/** A variable named as a whole word (REDIS_PASSWORD is not named by REDIS_PASSWORD_FILE). */
const names = (text: string, name: string) => new RegExp(`(?<![A-Z0-9_])${name}(?![A-Z0-9_])`).test(text);

// ---------------------------------------------------------------------------------------------
// Running and judging.

interface Setup {
  t: CheckContext;
  probe: RpcModule;
  decoy: Env;
  secrets: string[];
}

async function setup(t: CheckContext): Promise<Setup> {
  const probe = await t.load(PROBE, INSTANCE);
  const n = (lo: number, hi: number) => String(lo + Math.floor(t.unpredictable() * (hi - lo + 1)));
  // process.env during every call: valid values unlike anything the checks pass in env. Code that
  // reads process.env instead of its argument gets these (or their effects) back.
  const decoy: Env = {
    REDIS_URL: `redis://${t.id("decoy")}:${n(20_000, 29_999)}`,
    WORKER_CONCURRENCY: n(40, 63),
    LEASE_MS: n(2_000_001, 3_000_000),
    HEARTBEAT_MS: n(300_001, 500_000),
    SHUTDOWN_DEADLINE_MS: n(500_001, 599_999),
    LOG_LEVEL: "debug",
    METRICS_ENABLED: "true",
    REDIS_PASSWORD: t.id("decoy-secret"),
  };
  return { t, probe, decoy, secrets: [] };
}

async function load(s: Setup, cases: Case[]): Promise<Outcome[]> {
  const json = JSON.stringify(cases.map((c) => ({ ...c, processEnv: s.decoy })));
  return s.probe.call<Outcome[]>("tryLoad", [Buffer.from(json, "utf8").toString("base64")], 10_000);
}

const HINT_DECOY = "loadConfig must read only the env object it is given, every call afresh: the grader sets process.env to other values during each call.";

/** Judges one outcome against the model; returns nothing when right, throws a CheckFailure when not. */
function judge(s: Setup, c: Case, out: Outcome, secrets: string[] = []): void {
  const { t } = s;
  const expected = model(c.env, new Map(c.files));
  const call = showCase(c);
  if (expected.ok) {
    if (!out.ok) {
      return t.fail({
        message: `The grader called ${call}. Every value in it is valid (or unset, or empty, which counts as unset), but loadConfig threw ${out.name}: ${out.message.slice(0, 600)}`,
        expected: expected.config,
        hint: "Empty or whitespace-only values count as unset; numbers may have whitespace around them and leading zeros; LOG_LEVEL is case-insensitive; variables the worker does not know are ignored.",
      });
    }
    const got = out.config;
    const fromDecoy = Object.keys(expected.config).filter((k) => !isDeepStrictEqual(got[k], expected.config[k]));
    if (fromDecoy.length > 0) {
      const decoyed = fromDecoy.some((k) => {
        const v = got[k];
        return typeof v === "string" ? Object.values(s.decoy).includes(v) : typeof v === "number" ? Object.values(s.decoy).includes(String(v)) : false;
      });
      return t.fail({
        message: `The grader called ${call}. The config it returned differs in ${fromDecoy.join(", ")}.${decoyed ? " Those values are the ones the grader had put in process.env, not the ones in the env argument." : ""}`,
        expected: expected.config,
        actual: got,
        hint: decoyed
          ? HINT_DECOY
          : "Apply a default only when the variable is unset, empty or whitespace; parse the text that is there (trimmed) into exactly the value the instructions give.",
      });
    }
    const extra = Object.keys(got).filter((k) => !(k in expected.config));
    if (extra.length > 0)
      return t.fail({
        message: `The grader called ${call}. The config it returned has fields the instructions do not name: ${extra.join(", ")}.`,
        expected: Object.keys(expected.config),
        actual: Object.keys(got),
        hint: "Return exactly the eight fields of Config.",
      });
    if (!out.frozen || out.mutable.length > 0) {
      return t.fail({
        message: `The grader called ${call} and then assigned to the returned config's fields: ${out.mutable.length > 0 ? `${out.mutable.join(", ")} changed` : "nothing changed, but Object.isFrozen says it is not frozen"}. The rest of the worker shares this object, so one module could change another's settings.`,
        hint: "Return Object.freeze({ ... }).",
      });
    }
    return;
  }
  if (out.ok) {
    return t.fail({
      message: `The grader called ${call}, which has ${expected.problems.length === 1 ? "a problem" : `${expected.problems.length} problems`}: ${expected.problems.map((p) => p.what).join("; ")}. loadConfig returned a config instead of throwing a ConfigError.`,
      actual: out.config,
      hint: "Check the text against the exact format (digits only for whole numbers), the ranges and the rule between HEARTBEAT_MS and LEASE_MS; never fall back to a default for a value that is set but wrong.",
    });
  }
  if (!out.isConfigError || out.problems === null) {
    return t.fail({
      message: `The grader called ${call}. loadConfig threw ${out.isConfigError ? "a ConfigError without a problems array of strings" : `${out.name}, not a ConfigError (exported from config.ts)`}: ${out.message.slice(0, 400)}`,
      hint: "Collect every problem as a string in an array, and throw one new ConfigError(problems) at the end.",
    });
  }
  for (const secret of secrets) {
    const where = out.message.includes(secret) ? "the error's message" : out.problems.some((p) => p.includes(secret)) ? "a problem" : undefined;
    if (where)
      return t.fail({
        message: `The grader called ${call}. ${where[0]!.toUpperCase()}${where.slice(1)} contains the Redis password ${esc(secret)}. Error messages go to logs, crash reports and screens: a password in one is leaked.`,
        actual: out.problems,
        hint: "Never put the value of REDIS_PASSWORD, the content of the password file, or REDIS_URL when it holds a password into a message. Name the variable and say what is wrong.",
      });
  }
  // Pair every expected problem with a distinct problem of the learner's that names its variables
  // (and, if possible, contains its fix): a maximum bipartite matching.
  const texts = out.problems;
  const pair = (fits: (p: Problem, text: string) => boolean): (number | undefined)[] => {
    const owner: (number | undefined)[] = texts.map(() => undefined);
    const tryAssign = (pi: number, seen: Set<number>): boolean => {
      for (let ti = 0; ti < texts.length; ti++) {
        if (seen.has(ti) || !fits(expected.problems[pi]!, texts[ti]!)) continue;
        seen.add(ti);
        if (owner[ti] === undefined || tryAssign(owner[ti]!, seen)) {
          owner[ti] = pi;
          return true;
        }
      }
      return false;
    };
    expected.problems.forEach((_, pi) => tryAssign(pi, new Set()));
    return expected.problems.map((_, pi) => {
      const ti = owner.indexOf(pi);
      return ti < 0 ? undefined : ti;
    });
  };
  const namesAll = (p: Problem, text: string) => p.vars.every((v) => names(text, v));
  let match = pair((p, text) => namesAll(p, text) && p.fix.every((f) => text.includes(f)));
  if (match.some((m) => m === undefined)) match = pair(namesAll);
  for (const [pi, p] of expected.problems.entries()) {
    const ti = match[pi];
    if (ti === undefined) {
      return t.fail({
        message: `The grader called ${call}. It expected a problem for this: ${p.what}, naming ${p.vars.join(" and ")}, but no problem ${expected.problems.length > 1 ? "left over " : ""}names ${p.vars.length > 1 ? "both" : "it"}.`,
        expected: expected.problems.map((q) => q.what),
        actual: out.problems,
        hint: "Check every variable and collect a problem for each one that is wrong, instead of stopping at the first; each problem names its variable (and a rule between two names both).",
      });
    }
    const missing = p.fix.filter((token) => !texts[ti]!.includes(token));
    if (missing.length > 0) {
      return t.fail({
        message: `The grader called ${call}. The problem about ${p.vars.join(" and ")} ("${texts[ti]!.slice(0, 300)}") does not say how to fix it: it should contain ${p.fix.map((f) => `"${f}"`).join(", ")}, and lacks ${missing.map((f) => `"${f}"`).join(", ")}.`,
        hint: "Say what is accepted: a number's range as plain digits (from 1 to 64), the allowed words, or an example redis:// URL.",
      });
    }
  }
  const left = texts.filter((_, ti) => !match.includes(ti));
  if (left.length > 0) {
    return t.fail({
      message: `The grader called ${call}. It expected exactly ${expected.problems.length} problem(s) (${expected.problems.map((q) => q.what).join("; ")}), but the ConfigError lists ${out.problems.length}; these are extra: ${left.map((l) => `"${l.slice(0, 200)}"`).join(", ")}.`,
      expected: expected.problems.map((q) => q.what),
      actual: out.problems,
      hint: "One problem per wrong variable, plus one for the HEARTBEAT_MS/LEASE_MS rule only when both values are themselves valid. Unset, empty and whitespace-only values are not problems (except REDIS_URL); unknown variables are ignored.",
    });
  }
}

async function check(s: Setup, c: Case, secrets: string[] = []): Promise<void> {
  const [out] = await load(s, [c]);
  judge(s, c, out!, secrets);
}

// ---------------------------------------------------------------------------------------------
// Generated values.

/** Every character String.prototype.trim removes, as whitespace around values. */
const WS = [" ", "\t", "\n", "\r", "\v", "\f", "\u00a0", "\u1680", "\u2003", "\u2028", "\u2029", "\u202f", "\u3000", "\ufeff"];
const ws = fc.array(fc.constantFrom(...WS), { maxLength: 3 }).map((a) => a.join(""));
const blank = fc.oneof(
  fc.constant(""),
  fc.array(fc.constantFrom(...WS), { minLength: 1, maxLength: 3 }).map((a) => a.join("")),
);
const padded = (value: fc.Arbitrary<string>) => fc.tuple(ws, value, ws).map(([a, v, b]) => a + v + b);
/** Absent, empty or blank: all mean unset. */
const unset = fc.oneof(fc.constant(undefined), blank);

function intText(v: IntVar, lo = v.min, hi = v.max): fc.Arbitrary<string> {
  const n = fc.oneof(fc.constantFrom(lo, hi, Math.min(lo + 1, hi), Math.max(hi - 1, lo)), fc.integer({ min: lo, max: hi }));
  return padded(fc.tuple(fc.nat({ max: 2 }), n).map(([zeros, x]) => "0".repeat(zeros) + String(x)));
}
const urlText = padded(
  fc
    .tuple(
      fc.constantFrom("redis", "rediss"),
      fc.constantFrom("redis", "127.0.0.1", "cache.internal", "[::1]", "queue-redis.prod.example.com"),
      fc.constantFrom("", ":6379", ":6380", ":1"),
      fc.constantFrom("", "/", "/0", "/15"),
      fc.constantFrom("", "user@"),
    )
    .map(([s, h, p, db, u]) => `${s}://${u}${h}${p}${db}`),
);
const levelText = padded(
  fc
    .constantFrom(...LEVELS)
    .chain((l) =>
      fc.array(fc.boolean(), { minLength: l.length, maxLength: l.length }).map((up) => [...l].map((c, i) => (up[i] ? c.toUpperCase() : c)).join("")),
    ),
);
const boolText = padded(fc.constantFrom("true", "false", "1", "0"));
const UNKNOWN = [
  "WORKER_CONCURENCY",
  "worker_concurrency",
  "log_level",
  "REDIS_HOST",
  "CONCURRENCY",
  "LEASE",
  "HEARTBEAT_MS_",
  "NODE_ENV",
  "METRICS",
  "REDIS_URL_FILE",
];
const unknownVars = fc.dictionary(fc.constantFrom(...UNKNOWN), fc.constantFrom("", "12abc", "-1", "verbose", "TRUE", "http://x", "999999999"), { maxKeys: 3 });

/** A whole valid env, every variable in any valid form or unset; the heartbeat rule kept. */
function validEnv(): fc.Arbitrary<Env> {
  return fc
    .record({
      REDIS_URL: urlText,
      WORKER_CONCURRENCY: fc.oneof(unset, intText(INTS[0]!)),
      LEASE_MS: fc.oneof(unset, intText(INTS[1]!)),
      HEARTBEAT_MS: fc.oneof(unset, intText(INTS[2]!)),
      SHUTDOWN_DEADLINE_MS: fc.oneof(unset, intText(INTS[3]!)),
      LOG_LEVEL: fc.oneof(unset, levelText),
      METRICS_ENABLED: fc.oneof(unset, boolText),
      extra: unknownVars,
      _ratio: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
    })
    .map(({ extra, _ratio, ...vars }) => {
      const env: Env = { ...extra };
      for (const [k, v] of Object.entries(vars)) if (v !== undefined) env[k] = v;
      // Keep HEARTBEAT_MS at most a third of LEASE_MS: lower the heartbeat (or set one) if needed.
      const m = model(env, new Map());
      if (!m.ok && m.problems.some((p) => p.vars.length === 2)) {
        const lease = Number(env.LEASE_MS?.trim() || 30_000);
        const most = Math.floor(lease / 3);
        env.HEARTBEAT_MS = String(Math.max(100, Math.floor(most * (_ratio ?? 1))));
      }
      return env;
    });
}

// ---------------------------------------------------------------------------------------------

const RUNS = 80;
const prop = { runs: RUNS, timeLimitMs: 9000, noun: "env" } as const;

export default defineChecks({
  timeoutMs: 25_000,
  checks: {
    defaults: async (t) => {
      const s = await setup(t);
      t.note("process.env holds other values (decoys) during every call; only the env argument counts");
      // Only REDIS_URL set; everything else absent, empty or blank; unknown variables besides.
      const arb = fc.record({ url: urlText, others: fc.array(unset, { minLength: 6, maxLength: 6 }), extra: unknownVars }).map(({ url, others, extra }) => {
        const env: Env = { ...extra, REDIS_URL: url };
        ["WORKER_CONCURRENCY", "LEASE_MS", "HEARTBEAT_MS", "SHUTDOWN_DEADLINE_MS", "LOG_LEVEL", "METRICS_ENABLED"].forEach((k, i) => {
          if (others[i] !== undefined) env[k] = others[i]!;
        });
        return env;
      });
      await t.property(arb, (env) => check(s, { env, processEnv: {}, files: [] }), { ...prop, show: showEnv });
    },

    "valid-values": async (t) => {
      const s = await setup(t);
      await t.property(validEnv(), (env) => check(s, { env, processEnv: {}, files: [] }), { ...prop, show: showEnv });
    },

    "rejects-malformed": async (t) => {
      const s = await setup(t);
      const badInt = padded(
        fc.oneof(
          fc.constantFrom(
            "12abc",
            "30s",
            "1e3",
            "0x10",
            "0b1",
            "0o7",
            "Infinity",
            "-Infinity",
            "NaN",
            "-0",
            "-1",
            "+5",
            "1.0",
            "5.",
            ".5",
            "1_000",
            "1,000",
            "12 34",
            "\u0661\u0662",
            "\uff11\uff12",
            "\u0967",
            "four",
            "null",
            "undefined",
            "true",
            "[]",
          ),
          fc.tuple(fc.integer({ min: 1, max: 64 }), fc.constantFrom("ms", "s", "abc", ".0", "e1", "%", "\u0661")).map(([n, tail]) => `${n}${tail}`),
        ),
      );
      const badUrl = padded(
        fc.constantFrom(
          "localhost:6379",
          "redis:6379",
          "http://redis:6379",
          "tcp://redis:6379",
          "redis//redis:6379",
          "redis://",
          "rediss://",
          "://redis",
          "redis-server",
          "6379",
        ),
      );
      const badLevel = padded(fc.constantFrom("verbose", "trace", "inf", "warning", "information", "fatal", "debug,info", "0", "in fo"));
      const badBool = padded(fc.constantFrom("TRUE", "True", "FALSE", "False", "yes", "no", "on", "off", "Y", "t", "2", "01", "enabled", "-1"));
      const bad: [string, fc.Arbitrary<string | undefined>][] = [
        ...INTS.map((v): [string, fc.Arbitrary<string | undefined>] => [v.name, badInt]),
        ["REDIS_URL", fc.oneof(badUrl, unset)],
        ["LOG_LEVEL", badLevel],
        ["METRICS_ENABLED", badBool],
      ];
      const arb = fc
        .tuple(
          validEnv(),
          fc
            .subarray(
              bad.map((_, i) => i),
              { minLength: 1 },
            )
            .chain((idx) => fc.tuple(...idx.map((i) => bad[i]![1].map((v) => [bad[i]![0], v] as const)))),
        )
        .map(([env, changes]) => {
          const out: Env = { ...env };
          for (const [k, v] of changes) {
            if (v === undefined) delete out[k];
            else out[k] = v;
          }
          return out;
        });
      await t.property(arb, (env) => check(s, { env, processEnv: {}, files: [] }), { ...prop, runs: 120, show: showEnv });
    },

    "rejects-out-of-range": async (t) => {
      const s = await setup(t);
      const beyond = (v: IntVar) =>
        fc.oneof(
          ...(v.min > 0 ? [fc.constant(String(v.min - 1)), fc.integer({ min: 0, max: v.min - 1 }).map(String)] : []),
          fc.constant(String(v.max + 1)),
          fc.integer({ min: v.max + 1, max: v.max * 10 + 10 }).map(String),
          fc.constantFrom("99999999999999999999", "9007199254740993", "1" + "0".repeat(30)),
        );
      const change = fc.tuple(
        ...INTS.map((v) => fc.oneof(fc.constant(undefined), fc.constant(undefined), padded(beyond(v)), intText(v, v.min, v.min), intText(v, v.max, v.max))),
      );
      // The rule between the two: HEARTBEAT_MS at a third of LEASE_MS (allowed) or just above it.
      const rule = fc.option(fc.tuple(fc.integer({ min: 1_000, max: 1_800_000 }), fc.constantFrom(0, 1, 2, 1000)), { nil: undefined });
      const arb = fc.tuple(validEnv(), change, rule).map(([env, values, r]) => {
        const out: Env = { ...env };
        INTS.forEach((v, i) => {
          if (values[i] !== undefined) out[v.name] = values[i]!;
        });
        if (r !== undefined) {
          out.LEASE_MS = String(r[0]);
          out.HEARTBEAT_MS = String(Math.max(100, Math.floor(r[0] / 3)) + r[1]);
        }
        return out;
      });
      await t.property(arb, (env) => check(s, { env, processEnv: {}, files: [] }), { ...prop, runs: 120, show: showEnv });
    },

    secrets: async (t) => {
      const s = await setup(t);
      const secret = `${t.id("pw")}-${Math.floor(t.unpredictable() * 1e9)}`;
      const dir = `/tmp/${t.id("secrets")}`;
      t.note("the Redis password in these cases is unpredictable; it must come back as redisPassword and never appear in a message");
      // A secret mounted wrongly is read and fails: no permission, a directory, too many open
      // files, an I/O error, or a library error without a code. Each is a problem to report.
      t.fault("dependency readFile fails on some password files (EACCES, EISDIR, EMFILE, EIO, an error without a code)");
      const form = fc.constantFrom("inline", "file", "file-crlf", "missing-file", "empty-file", "unreadable-file", "both", "url", "none");
      const failure = fc.constantFrom("EACCES", "EISDIR", "EMFILE", "EIO", "");
      const arb = fc
        .tuple(validEnv(), form, fc.boolean(), fc.constantFrom("WORKER_CONCURRENCY", "LOG_LEVEL", "METRICS_ENABLED", "REDIS_URL"), failure)
        .map(([env, f, breakOther, other, code]): Case => {
          const out: Env = { ...env };
          const files: [string, string][] = [];
          const unreadable: [string, string][] = [];
          const path = `${dir}/redis_password`;
          if (f === "inline") out.REDIS_PASSWORD = ` ${secret} `;
          if (f === "file") files.push([path, `${secret}\n`]);
          if (f === "file-crlf") files.push([path, `${secret}\r\n`]);
          if (f === "empty-file") files.push([path, " \n"]);
          if (f === "unreadable-file") unreadable.push([path, code]);
          if (f.includes("file")) out.REDIS_PASSWORD_FILE = path;
          if (f === "both") {
            out.REDIS_PASSWORD = secret;
            out.REDIS_PASSWORD_FILE = path;
            files.push([path, `${secret}\n`]);
          }
          if (f === "url") out.REDIS_URL = `redis://worker:${secret}@redis:6379`;
          if (breakOther && f !== "url")
            out[other] = other === "REDIS_URL" ? `http://worker:${secret}@redis:6379` : other === "WORKER_CONCURRENCY" ? "65" : "nope";
          return { env: out, processEnv: {}, files, unreadable };
        });
      await t.property(arb, (c) => check(s, c, [secret]), { ...prop, show: showCase });
    },

    "env-argument": async (t) => {
      const s = await setup(t);
      t.note("several calls in a row in one module instance, each with a different env, process.env holding decoys");
      const arb = fc.array(
        fc.oneof(
          validEnv(),
          validEnv().map((e) => ({ ...e, WORKER_CONCURRENCY: "0" })),
        ),
        { minLength: 3, maxLength: 6 },
      );
      await t.property(
        arb,
        async (envs) => {
          const cases = envs.map((env): Case => ({ env, processEnv: {}, files: [] }));
          const outs = await load(s, cases);
          cases.forEach((c, i) => judge(s, c, outs[i]!));
        },
        { runs: 40, timeLimitMs: 9000, noun: "sequence of envs", show: (envs) => envs.map((e, i) => `call ${i + 1}: ${showEnv(e)}`).join("\n") },
      );
    },
  },
});
