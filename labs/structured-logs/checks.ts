import { isDeepStrictEqual } from "node:util";
import { defineChecks, fc, type CheckContext, type LearnerProcess, type RpcModule } from "../../lib/grader/index.ts";
import type { Payload } from "./starter/handler.ts";
import type { Call, Case, Desc } from "./starter/probe.ts";

// The grader reads what your programs print, every line of it (stdout and stderr alike), and
// judges it as the log store would: one JSON object per line with ts, level, msg and service.
// The producer runs as an instance; workers are processes of their own (t.spawn → main).

const LEVELS = ["debug", "info", "warn", "error"] as const;
type Level = (typeof LEVELS)[number];
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const SECRET_KEY = /passw(or)?d|secret|token|authorization|api[-_]?key|cookie/i;
const LIMITS = { wallMs: 30_000 };
const ENDED = new Set(["task completed", "task failed"]);

type Obj = Record<string, unknown>;
interface Line {
  program: string;
  n: number;
  raw: string;
  obj: Obj;
}
interface BadLine {
  program: string;
  n: number;
  raw: string;
  why: string;
}

const between = (t: CheckContext, min: number, max: number) => min + Math.floor(t.random() * (max - min + 1));
const show = (raw: string, max = 300) => JSON.stringify(raw.length > max ? `${raw.slice(0, max)}…` : raw);
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** Why a parsed line is not a valid event, or null. */
function invalid(obj: unknown, startedAt: number): string | null {
  if (!isObj(obj)) return `it is JSON but not an object (${Array.isArray(obj) ? "an array" : typeof obj})`;
  if (typeof obj.ts !== "string" || !ISO_UTC.test(obj.ts))
    return `its ts is ${JSON.stringify(obj.ts)}, not an ISO 8601 UTC time like "2026-12-04T23:50:58.468Z" (new Date().toISOString())`;
  const ts = Date.parse(obj.ts);
  if (Number.isNaN(ts) || ts < startedAt - 60_000 || ts > Date.now() + 60_000)
    return `its ts ${obj.ts} is not the time the line was written (the grader's clock says ${new Date().toISOString()})`;
  if (typeof obj.level !== "string" || !(LEVELS as readonly string[]).includes(obj.level))
    return `its level is ${JSON.stringify(obj.level)}, not one of "debug", "info", "warn", "error"`;
  if (typeof obj.msg !== "string") return `its msg is ${JSON.stringify(obj.msg)}, not a string`;
  if (typeof obj.service !== "string" || obj.service === "") return `its service is ${JSON.stringify(obj.service)}, not a non-empty string`;
  return null;
}

/** Every line a program printed: the valid ones, and the first one that is not. */
function parse(text: string, program: string, startedAt: number, partial = false): { lines: Line[]; bad: BadLine | null; objects: Obj[] } {
  const raws = text.split("\n");
  // The last piece has no newline yet: empty, or (while the program runs) a line still being written.
  if (raws.at(-1) === "" || partial) raws.pop();
  const lines: Line[] = [];
  const objects: Obj[] = [];
  let bad: BadLine | null = null;
  for (const [i, raw] of raws.entries()) {
    let obj: unknown;
    try {
      obj = JSON.parse(raw);
    } catch {
      bad ??= { program, n: i + 1, raw, why: raw.trim() === "" ? "it is empty" : "it is not JSON" };
      continue;
    }
    if (isObj(obj)) objects.push(obj);
    const why = invalid(obj, startedAt);
    if (why) bad ??= { program, n: i + 1, raw, why };
    else lines.push({ program, n: i + 1, raw, obj: obj as Obj });
  }
  return { lines, bad, objects };
}

function readAll(t: CheckContext, startedAt: number, partial = false): { lines: Line[]; bad: BadLine | null } {
  const lines: Line[] = [];
  let bad: BadLine | null = null;
  for (const p of t.processes) {
    const r = parse(p.output(), p.name, startedAt, partial);
    lines.push(...r.lines);
    bad ??= r.bad;
  }
  return { lines, bad };
}

const jsonHint =
  'Write every line with JSON.stringify of one object, {ts, level, msg, service, ...fields}, followed by "\\n" — never console.log of a string, never indented JSON, and catch what could be printed raw (an ioredis "error" event nobody listens to, an uncaught error).';

function failBad(t: CheckContext, bad: BadLine): never {
  return t.fail({
    message: `Line ${bad.n} that ${bad.program} printed is not a log event: ${bad.why}.`,
    expected: "every line one JSON object with ts (ISO 8601 UTC), level (debug, info, warn or error), msg (a string) and service (a string)",
    actual: show(bad.raw),
    hint: jsonHint,
  });
}

// ---------------------------------------------------------------------------------------------
// Tasks: the grader's payloads for handler.ts, and a bench that runs them through your programs.

interface Sent {
  taskId: string;
  correlationId: string;
  contactId: string;
  steps: number;
  fail?: "throw" | "reject";
  secrets: string[];
}

const SECRET_KEYS = [
  "password",
  "Password",
  "PASSWORD",
  "user_password",
  "passwd",
  "secret",
  "clientSecret",
  "client_secret",
  "CLIENT_SECRET",
  "token",
  "accessToken",
  "refresh_token",
  "X-Auth-Token",
  "authorization",
  "Authorization",
  "proxyAuthorization",
  "apiKey",
  "api_key",
  "API_KEY",
  "api-key",
  "x-api-key",
  "ApiKey",
  "cookie",
  "Cookie",
  "set-cookie",
  "sessionCookie",
];

class Bench {
  readonly startedAt = Date.now();
  producer: RpcModule | undefined;
  workers: LearnerProcess[] = [];
  sent: Sent[] = [];
  constructor(readonly t: CheckContext) {}

  async load(): Promise<void> {
    this.producer = await this.t.load("worker.ts", { name: "producer", limits: LIMITS });
  }

  secret(): string {
    return `${this.t.id("s")}${Math.floor(this.t.unpredictable() * 1e12).toString(36)}`;
  }

  /** A profile with secrets planted under secret keys at depth 1 to 4, inside arrays, and under a secret key holding an object. */
  profile(secrets: string[]): Record<string, unknown> {
    const t = this.t;
    const key = () => SECRET_KEYS[Math.floor(t.random() * SECRET_KEYS.length)]!;
    const plant = () => {
      const s = this.secret();
      secrets.push(s);
      return s;
    };
    const deep = (depth: number): Record<string, unknown> =>
      depth === 0 ? { [key()]: plant(), plan: "pro" } : { [`level${depth}`]: deep(depth - 1), visible: depth };
    return {
      name: `ada-${t.id("n")}`,
      account: deep(between(t, 1, 4)),
      sessions: [{ device: "phone", [key()]: plant() }, [{ [key()]: plant() }]],
      [key()]: { nested: plant(), list: [plant()] },
      [key()]: plant(),
    };
  }

  payload(opts: { steps: number; minMs: number; maxMs: number; fail?: "throw" | "reject"; profile?: boolean }): {
    payload: Payload;
    sent: Omit<Sent, "taskId" | "correlationId">;
  } {
    const t = this.t;
    const token = this.secret();
    const password = this.secret();
    const secrets = [token, password];
    const payload: Payload = {
      contactId: t.id("contact"),
      steps: Array.from({ length: opts.steps }, () => between(t, opts.minMs, opts.maxMs)),
      crm: { url: `https://svc-${between(t, 1, 9)}:${password}@crm.example/v1/contacts`, apiToken: token },
      ...(opts.fail ? { fail: opts.fail } : {}),
      ...(opts.profile ? { profile: this.profile(secrets) } : {}),
    };
    return { payload, sent: { contactId: payload.contactId, steps: opts.steps, ...(opts.fail ? { fail: opts.fail } : {}), secrets } };
  }

  async enqueue(payload: Payload, sent: Omit<Sent, "taskId" | "correlationId">, correlationId: string): Promise<Sent> {
    const taskId = await this.producer!.call<unknown>("enqueue", ["sync-contact", payload, correlationId]);
    if (typeof taskId !== "string" || taskId === "") {
      return this.t.fail({
        message: `enqueue returned ${JSON.stringify(taskId)} instead of the new task's id.`,
        expected: "a non-empty string: the task id",
        hint: "Return task.id from enqueue.",
      });
    }
    const full = { ...sent, taskId, correlationId };
    this.sent.push(full);
    return full;
  }

  spawn(n: number): void {
    for (let i = 1; i <= n; i++) this.workers.push(this.t.spawn("worker.ts", { name: `worker-${i}`, limits: LIMITS }));
  }

  /** Waits until the workers wrote as many "task completed"/"task failed" lines as tasks were sent, or a worker died. */
  async untilEnded(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const dead = this.workers.find((w) => !w.alive);
      if (dead) {
        return this.t.fail({
          message: `${dead.name} stopped while tasks were running (${dead.outcome ? dead.outcome.kind : "ended"}).`,
          expected: "workers that run forever, whatever a handler, a log call or Redis throws at them",
          actual: dead.output().slice(-1500),
          hint: "Catch what a task's handler throws and what a Redis command rejects with, log it, and go on; make sure the logger itself never throws.",
        });
      }
      const { bad } = readAll(this.t, this.startedAt, true);
      if (bad) failBad(this.t, bad);
      const ended = this.workers.flatMap((w) => parse(w.output(), w.name, this.startedAt, true).objects).filter((o) => ENDED.has(o.msg as string)).length;
      if (ended >= this.sent.length) {
        // A moment for lines still in the pipe, then everything is judged whole.
        await new Promise((resolve) => setTimeout(resolve, 150));
        return;
      }
      if (performance.now() > deadline) {
        const { bad } = readAll(this.t, this.startedAt);
        if (bad) failBad(this.t, bad);
        return this.t.fail({
          message: `After ${(timeoutMs / 1000).toFixed(0)} s the workers had written ${ended} "task completed" or "task failed" lines for the ${this.sent.length} tasks enqueued.`,
          expected: `one "task completed" (info) or "task failed" (error) line per task, from the worker that ran it`,
          hint: "Each worker takes tasks from the queue the producer pushes to, runs handle(task) and logs exactly one of those two lines when it settles.",
        });
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** Lines about a task are those naming its task id or its handler's contactId. */
function judgeTask(t: CheckContext, lines: Line[], s: Sent, workers: Set<string>): void {
  const about = lines.filter((l) => l.obj.taskId === s.taskId || l.obj.contactId === s.contactId);
  const where = (l: Line) => `line ${l.n} of ${l.program}: ${show(l.raw, 400)}`;
  for (const l of about) {
    if (l.obj.taskId !== s.taskId || l.obj.correlationId !== s.correlationId) {
      const other = lines.find((o) => o.obj.taskId !== s.taskId && o.obj.correlationId === l.obj.correlationId && o.obj.correlationId !== undefined);
      return t.fail({
        message: `A "${String(l.obj.msg)}" line about task ${s.taskId} (contact ${s.contactId}) carries taskId ${JSON.stringify(l.obj.taskId)} and correlationId ${JSON.stringify(l.obj.correlationId)}${other ? `, which belong to another task (${String(other.obj.taskId)})` : ""}.`,
        expected: `taskId "${s.taskId}" and correlationId "${s.correlationId}", the one passed to enqueue, on every line about that task`,
        actual: where(l),
        hint: "Read the correlation id from the envelope's meta in the worker and give every line written while the task runs its own context (AsyncLocalStorage.run), not a module-level variable that the next task overwrites.",
      });
    }
  }
  const enq = about.find((l) => l.obj.msg === "task enqueued");
  if (!enq)
    return t.fail({
      message: `The producer wrote no "task enqueued" line with taskId ${s.taskId} and correlationId ${s.correlationId}.`,
      expected: `{"msg":"task enqueued","taskId":"${s.taskId}","correlationId":"${s.correlationId}",…}`,
      hint: 'enqueue logs "task enqueued" at info with the new task\'s taskId and its correlationId.',
    });
  for (const msg of ["task started", s.fail ? "task failed" : "task completed"]) {
    const l = about.find((x) => x.obj.msg === msg && workers.has(x.program));
    if (!l) {
      return t.fail({
        message: `No worker wrote a "${msg}" line with taskId ${s.taskId} and correlationId ${s.correlationId} (the task's handler ${s.fail ? `${s.fail === "throw" ? "threw" : "rejected"}` : "succeeded"}).`,
        expected: `a "${msg}" line carrying the task's id and the correlation id the producer was given`,
        actual: about.map(where).join("\n") || "no line about this task from any worker",
        hint: 'Log "task started" before handle(task), then "task completed" (info) or "task failed" (error, with the error) after it, inside the task\'s context.',
      });
    }
  }
  const steps = about.filter((l) => l.obj.msg === "crm request");
  if (steps.length !== s.steps) {
    return t.fail({
      message: `The handler of task ${s.taskId} logged ${s.steps} "crm request" lines, and ${steps.length} of them came out with its task id and correlation id.`,
      expected: `${s.steps} lines with contactId ${s.contactId}, taskId ${s.taskId} and correlationId ${s.correlationId}`,
      hint: "handler.ts logs through your createLogger with no ids of its own: the ids must come from the context your worker sets around handle(task), and it must survive the handler's awaits.",
    });
  }
}

async function runWorkload(t: CheckContext, b: Bench, opts: { tasks: number; workers: number; profile: boolean; faults?: boolean }): Promise<void> {
  await b.load();
  for (let i = 0; i < opts.tasks; i++) {
    const r = t.random();
    const fail = r < 0.2 ? "throw" : r < 0.35 ? "reject" : undefined;
    if (fail) t.fault(`handler ${fail === "throw" ? "throws" : "rejects"} for task ${i + 1}, with a cause that holds secrets`);
    const { payload, sent } = b.payload({ steps: between(t, 2, 4), minMs: 10, maxMs: 90, ...(fail ? { fail } : {}), profile: opts.profile });
    await b.enqueue(payload, sent, t.id("corr"));
  }
}

// ---------------------------------------------------------------------------------------------
// Probe cases: generated values for the logger alone.

type Expect = { present: false } | { present: true; value: unknown } | { symbolic: true };

/** What instructions.md says a described value becomes in the line. */
function expected(d: Desc): Expect {
  switch (d.t) {
    case "str":
    case "num":
    case "bool":
      return { present: true, value: d.v };
    case "null":
      return { present: true, value: null };
    case "nonfinite":
      return { symbolic: true };
    case "bigint":
      return { present: true, value: d.v };
    case "undef":
      return { present: false };
    case "symbol":
    case "fn":
      return { symbolic: true };
    case "date":
      return d.v === null ? { symbolic: true } : { present: true, value: new Date(d.v).toISOString() };
    case "cycle":
      return { present: true, value: "[circular]" };
    case "arr":
    case "obj":
    case "error":
      return { present: true, value: d };
  }
}

/** Compares a logged value with its description; returns where they differ, or null. */
function compare(actual: unknown, d: Desc, path: string, inArray: boolean): string | null {
  const e = expected(d);
  if ("symbolic" in e) {
    // NaN/Infinity, symbols, functions, invalid Dates: null, a string, or (not in arrays) left out.
    if (actual === undefined || actual === null || typeof actual === "string") return null;
    return `${path} is ${JSON.stringify(actual)}; a ${d.t} is written as null, a string, or left out`;
  }
  if (!e.present) {
    if (inArray ? actual === null : actual === undefined) return null;
    return `${path} is ${JSON.stringify(actual)}; undefined is left out of an object${inArray ? " (null in an array)" : ""}`;
  }
  if (d.t === "arr") {
    if (!Array.isArray(actual) || actual.length !== d.v.length)
      return `${path} is ${JSON.stringify(actual)?.slice(0, 200)}; expected an array of ${d.v.length}`;
    for (const [i, item] of d.v.entries()) {
      const why = compare(actual[i], item, `${path}[${i}]`, true);
      if (why) return why;
    }
    return null;
  }
  if (d.t === "obj") {
    if (!isObj(actual)) return `${path} is ${JSON.stringify(actual)?.slice(0, 200)}; expected an object`;
    for (const [key, item] of d.v) {
      // Own keys only: a key named valueOf or constructor must not find Object.prototype's.
      const why = compare(Object.hasOwn(actual, key) ? actual[key] : undefined, item, `${path}.${key}`, false);
      if (why) return why;
    }
    return null;
  }
  if (d.t === "error") {
    if (!isObj(actual)) return `${path} is ${JSON.stringify(actual)?.slice(0, 200)}; expected the error as an object {type, message, …}`;
    if (actual.type !== d.name) return `${path}.type is ${JSON.stringify(actual.type)}; expected the error's name ${JSON.stringify(d.name)}`;
    if (actual.message !== d.message)
      return `${path}.message is ${JSON.stringify(actual.message)?.slice(0, 200)}; expected ${JSON.stringify(d.message).slice(0, 200)}`;
    if (actual.stack !== undefined && typeof actual.stack !== "string") return `${path}.stack is ${JSON.stringify(actual.stack)}; expected a string or nothing`;
    for (const [key, item] of d.props) {
      const why = compare(Object.hasOwn(actual, key) ? actual[key] : undefined, item, `${path}.${key}`, false);
      if (why) return why;
    }
    if (d.cause !== undefined) return compare(actual.cause, d.cause, `${path}.cause`, false);
    return null;
  }
  if (typeof e.value === "string" && typeof actual === "string" && e.value.length > 10_000) {
    // The truncation rule: at least the first 10,000 characters kept.
    if (actual === e.value || (actual.length >= 10_000 && actual.startsWith(e.value.slice(0, 10_000)))) return null;
    return `${path} is a string of ${actual.length} characters that does not start with the first 10,000 of the ${e.value.length} logged`;
  }
  if (isDeepStrictEqual(actual, e.value)) return null;
  return `${path} is ${JSON.stringify(actual)?.slice(0, 200)}; expected ${JSON.stringify(e.value)?.slice(0, 200)}`;
}

const encode = (c: Case) => Buffer.from(JSON.stringify(c), "utf8").toString("base64");

/** Runs a case on the probe and returns, per call, its lines (parsed) and what it threw. */
async function probeRun(t: CheckContext, probe: RpcModule, c: Case): Promise<{ lines: string[]; threw: (string | null)[] }> {
  const before = probe.output().length;
  const threw = await probe.call<(string | null)[]>("logCalls", [encode(c)], 10_000);
  const text = probe.output().slice(before);
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return { lines, threw };
}

function parseOne(t: CheckContext, raw: string, context: string): Obj {
  let obj: unknown;
  try {
    obj = JSON.parse(raw);
  } catch {
    return t.fail({ message: `A line your logger printed ${context} is not JSON.`, expected: "one JSON object per line", actual: show(raw), hint: jsonHint });
  }
  const why = invalid(obj, Date.now() - 120_000);
  if (why) return t.fail({ message: `A line your logger printed ${context} is not a valid event: ${why}.`, actual: show(raw), hint: jsonHint });
  return obj as Obj;
}

// Generated values. Keys never match the secret pattern nor name a core field; strings hold no
// "://" (credentials in URLs are scrubbed, which would change them).
const CORE = new Set(["ts", "level", "msg", "service", "correlationId", "taskId", "__proto__"]);
const text = (maxLength: number) =>
  fc
    .string({
      unit: fc.oneof(
        {
          weight: 4,
          arbitrary: fc.constantFrom(
            "a",
            "Z",
            "0",
            " ",
            "é",
            "日",
            "😀",
            "\u{1F469}\u200D\u{1F4BB}",
            '"',
            "\\",
            "/",
            "{",
            "}",
            "\n",
            "\r",
            "\t",
            "\u0000",
            "\u001b",
            "\u007f",
            "\u2028",
            "\u2029",
            "\uFEFF",
            "\uD800",
            "\uDFFF",
          ),
        },
        { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 1 }) },
      ),
      maxLength,
    })
    .filter((s) => !s.includes("://"));
const fieldKey = fc
  .oneof(fc.constantFrom("user", "count", "durationMs", "tags", "when", "attempt", "payloadBytes", "nested"), text(8))
  .filter((k) => !CORE.has(k) && !SECRET_KEY.test(k));
const leaf: fc.Arbitrary<Desc> = fc.oneof(
  { weight: 3, arbitrary: text(30).map((v): Desc => ({ t: "str", v })) },
  {
    weight: 2,
    arbitrary: fc
      .oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }))
      .filter((v) => !Object.is(v, -0))
      .map((v): Desc => ({ t: "num", v })),
  },
  fc.boolean().map((v): Desc => ({ t: "bool", v })),
  fc.constant<Desc>({ t: "null" }),
  fc.constantFrom<Desc>({ t: "nonfinite", v: "NaN" }, { t: "nonfinite", v: "Infinity" }, { t: "nonfinite", v: "-Infinity" }),
  fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map((v): Desc => ({ t: "bigint", v: v.toString() })),
  fc.constant<Desc>({ t: "undef" }),
  fc.string({ maxLength: 6 }).map((v): Desc => ({ t: "symbol", v })),
  fc.oneof(fc.integer({ min: -8_640_000_000_000, max: 8_640_000_000_000 }), fc.constant(null)).map((v): Desc => ({ t: "date", v })),
  fc.constant<Desc>({ t: "fn" }),
);
const { value: valueArb } = fc.letrec<{ value: Desc }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leaf,
    fc.array(tie("value"), { maxLength: 4 }).map((v): Desc => ({ t: "arr", v })),
    fc.uniqueArray(fc.tuple(fieldKey, tie("value")), { maxLength: 4, selector: ([k]) => k }).map((v): Desc => ({ t: "obj", v })),
    fc.integer({ min: 0, max: 3 }).map((up): Desc => ({ t: "cycle", up })),
  ),
}));
const fieldsArb = fc.uniqueArray(fc.tuple(fieldKey, valueArb), { maxLength: 5, selector: ([k]) => k }).map((v): Desc => ({ t: "obj", v }));

/** A cycle whose target is above the fields object is clamped to it by build(); describe it the same way. */
function clampCycles(d: Desc, depth = 0): Desc {
  if (d.t === "cycle") return { t: "cycle", up: Math.min(d.up, depth - 1) };
  if (d.t === "arr") return { t: "arr", v: d.v.map((x) => clampCycles(x, depth + 1)) };
  if (d.t === "obj") return { t: "obj", v: d.v.map(([k, x]) => [k, clampCycles(x, depth + 1)]) };
  return d;
}

export default defineChecks({
  timeoutMs: 30_000,
  concurrency: 3,
  playground: async (t) => {
    const b = new Bench(t);
    await b.load();
    b.spawn(2);
    while (!t.signal.aborted) {
      const fail = t.random() < 0.3 ? "throw" : undefined;
      const { payload, sent } = b.payload({ steps: between(t, 1, 3), minMs: 100, maxMs: 600, ...(fail ? { fail } : {}), profile: t.random() < 0.3 });
      if (fail) t.fault("handler throws for the next task");
      await b.enqueue(payload, sent, t.id("corr")).catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  },
  checks: {
    "json-lines": async (t) => {
      const b = new Bench(t);
      const n = between(t, 5, 8);
      await b.load();
      b.spawn(2);
      // Redis errors on the worker's own path, while the queue is empty (a BRPOP whose reply a cut
      // loses takes its task with it, which is the reliable-delivery lab's subject, not this one's).
      await t.waitFor(() => t.commands("BRPOP").length >= 2, {
        message: "The workers sent no BRPOP within 8 s of starting.",
        hint: "main(workerName) loops: BRPOP the queue, run the task, log.",
        timeoutMs: 8000,
      });
      const refusal = t.id("refused");
      t.proxy.failNext(between(t, 2, 4), { match: "BRPOP", message: `ERR ${refusal} the grader refused this BRPOP` });
      t.note(
        "Redis refuses the workers' next BRPOPs, then cuts every connection and refuses new ones for 0.3-0.6 s: each must be logged as a JSON line, and the workers go on",
      );
      const refusedAt = performance.now() + 5000;
      const refused = () => t.commands("BRPOP").some((e) => e.reply?.summary.includes(refusal) === true);
      while (!refused() && performance.now() < refusedAt) await new Promise((resolve) => setTimeout(resolve, 25));
      // A short outage: connections cut and refused for a while, as in a failover.
      t.proxy.partition();
      await new Promise((resolve) => setTimeout(resolve, between(t, 300, 600)));
      t.proxy.heal();
      for (let i = 0; i < n; i++) {
        const r = t.random();
        const fail = r < 0.2 ? "throw" : r < 0.35 ? "reject" : undefined;
        if (fail) t.fault(`handler ${fail === "throw" ? "throws" : "rejects"} for task ${i + 1}, with a cause that holds secrets`);
        const { payload, sent } = b.payload({ steps: between(t, 2, 4), minMs: 10, maxMs: 90, ...(fail ? { fail } : {}), profile: true });
        await b.enqueue(payload, sent, t.id("corr"));
      }
      await b.untilEnded(15_000);
      const { lines, bad } = readAll(t, b.startedAt);
      if (bad) failBad(t, bad);
      // Judged only when the command log shows a refusal was delivered.
      const warned =
        !refused() ||
        lines.some((l) => b.workers.some((w) => w.name === l.program) && (l.obj.level === "warn" || l.obj.level === "error") && l.raw.includes(refusal));
      if (!warned) {
        return t.fail({
          message: `Redis refused some of the workers' BRPOPs with "ERR ${refusal} the grader refused this BRPOP", and no worker wrote a warn or error line with that error.`,
          expected: "a warn (or error) line with the error, its message included, for each failed dequeue",
          hint: 'Catch the rejected BRPOP and log it at warn with { error }, and listen for the client\'s "error" event and log it too.',
        });
      }
      for (const l of lines) {
        if (l.obj.msg === "" || /\n/.test(l.obj.msg as string))
          return t.fail({
            message: `Line ${l.n} of ${l.program} has msg ${JSON.stringify(l.obj.msg)}.`,
            expected: 'a short constant message such as "task started"',
            hint: "Put what varies into fields, keep msg constant.",
          });
      }
    },

    "correlation-id": async (t) => {
      const b = new Bench(t);
      const n = between(t, 8, 12);
      await runWorkload(t, b, { tasks: n, workers: 2, profile: false });
      // Two more: one without a correlation id, and one with an id no log should carry verbatim.
      const minted = b.payload({ steps: 2, minMs: 10, maxMs: 60 });
      const mintedTask = await b.producer!.call<string>("enqueue", ["sync-contact", minted.payload]);
      const bad = `${t.id("corr")}\n{"level":"error","msg":"forged"}`;
      const forged = b.payload({ steps: 2, minMs: 10, maxMs: 60 });
      const forgedTask = await b.producer!.call<string>("enqueue", ["sync-contact", forged.payload, bad]);
      await t.expectInRedis(
        b.sent.map((s) => s.correlationId),
        {
          message: "After enqueue returned, the correlation ids the grader passed are not in Redis.",
          hint: "Store the correlation id in the task envelope, task.meta.correlationId, in the JSON you push to the queue.",
        },
      );
      t.note(`${n} tasks enqueued with fresh correlation ids, one without any and one with a malformed one; 2 workers run up to 4 tasks each at once`);
      b.spawn(2);
      b.sent.push({ ...minted.sent, taskId: mintedTask, correlationId: "" }, { ...forged.sent, taskId: forgedTask, correlationId: "" });
      await b.untilEnded(15_000);
      const { lines, bad: badLine } = readAll(t, b.startedAt);
      if (badLine) failBad(t, badLine);
      // The producer mints the ids of the last two: learn them from its "task enqueued" line.
      for (const s of b.sent.slice(-2)) {
        const enq = lines.find((l) => l.program === "producer" && l.obj.msg === "task enqueued" && l.obj.taskId === s.taskId);
        const id = enq?.obj.correlationId;
        if (typeof id !== "string" || id === "" || id.length > 128 || /[\s"{}]/.test(id)) {
          return t.fail({
            message: `enqueue was called ${s === b.sent.at(-1) ? `with the correlation id ${JSON.stringify(bad)} (a newline and a forged event in it)` : "without a correlation id"}, and its "task enqueued" line carries correlationId ${JSON.stringify(id)}.`,
            expected: "a fresh id (randomUUID()) when none is given or the given one is not 1 to 128 letters, digits, dots, dashes, underscores or colons",
            hint: "Reuse a correlation id from outside only after checking its format and length; otherwise mint one with randomUUID().",
          });
        }
        s.correlationId = id;
      }
      const workers = new Set(b.workers.map((w) => w.name));
      for (const s of b.sent) judgeTask(t, lines, s, workers);
      // The context must hold with tasks interleaved in one process: that is where it breaks.
      let most = 0;
      for (const w of workers) {
        let running = 0;
        for (const l of lines.filter((x) => x.program === w)) {
          if (l.obj.msg === "task started") most = Math.max(most, ++running);
          else if (ENDED.has(l.obj.msg as string)) running -= 1;
        }
      }
      if (most < 2) {
        return t.fail({
          message: `With ${b.sent.length} tasks waiting, no worker had more than ${most} task running at once (by its "task started" and "task completed"/"task failed" lines).`,
          expected: "each worker running up to 4 tasks at once",
          hint: "Start 4 loops in main, each with its own connection, and await them all.",
        });
      }
    },

    "no-secrets": async (t) => {
      const b = new Bench(t);
      const n = between(t, 4, 6);
      await b.load();
      for (let i = 0; i < n; i++) {
        const fail = i % 2 === 0 ? (t.random() < 0.5 ? "throw" : "reject") : undefined;
        if (fail)
          t.fault(
            `handler ${fail === "throw" ? "throws" : "rejects"} for task ${i + 1}: its cause's message holds a URL with a password and its config.headers.Authorization a token`,
          );
        const { payload, sent } = b.payload({ steps: between(t, 1, 3), minMs: 10, maxMs: 60, ...(fail ? { fail } : {}), profile: true });
        await b.enqueue(payload, sent, t.id("corr"));
      }
      t.note(
        "secrets planted under secret keys at depth 1 to 5, in arrays, under a secret key holding an object, in URLs and in errors' causes and properties",
      );
      b.spawn(2);
      await b.untilEnded(15_000);
      const { lines, bad } = readAll(t, b.startedAt);
      const all = t.processes.map((p) => p.output()).join("\n");
      for (const s of b.sent) {
        for (const secret of s.secrets) {
          const forms: [string, string][] = [
            ["as it is", secret],
            ["in base64", Buffer.from(secret).toString("base64").replace(/=+$/, "")],
            ["in base64url", Buffer.from(secret).toString("base64url")],
            ["in hex", Buffer.from(secret).toString("hex")],
            ["upper-cased", secret.toUpperCase()],
          ];
          for (const [how, form] of forms) {
            const at = all.indexOf(form);
            if (at === -1) continue;
            const line = all.slice(all.lastIndexOf("\n", at) + 1, all.indexOf("\n", at) === -1 ? undefined : all.indexOf("\n", at));
            return t.fail({
              message: `A secret the grader planted in task ${s.taskId}'s payload appears ${how} in what your programs printed.`,
              expected:
                'no secret anywhere in the output: values under keys matching /passw(or)?d|secret|token|authorization|api[-_]?key|cookie/i at any depth (arrays, errors, causes included) written as "[redacted]", credentials in URLs as scheme://[redacted]@host',
              actual: show(line.replace(form, "‹SECRET›"), 600),
              hint: "Redact in the logger, the one place every line passes through: walk every value (objects, arrays, an Error's message, stack, own properties and cause), replace the value of every secret key, and scrub scheme://user:password@ out of every string.",
            });
          }
        }
      }
      if (bad) failBad(t, bad);
      // The lines must still be there, with the secret fields marked: dropping a line hides a secret too.
      for (const s of b.sent) {
        const first = lines.find((l) => l.obj.msg === "crm request" && l.obj.contactId === s.contactId && l.obj.step === 0);
        const headers = first?.obj.headers;
        if (!first || !isObj(headers) || headers.Authorization !== "[redacted]" || !isObj(first.obj.profile)) {
          return t.fail({
            message: `The handler's first "crm request" line for task ${s.taskId} is ${first ? `there, but its headers are ${JSON.stringify(headers)} and its profile ${JSON.stringify(first.obj.profile)?.slice(0, 200)}` : "missing"}.`,
            expected: 'the line, with headers.Authorization written as "[redacted]" and the profile as an object whose secret fields say "[redacted]"',
            hint: 'Redact values, not lines or whole objects: keep the key, write "[redacted]" as its value, and keep every other field.',
          });
        }
        if (s.fail) {
          const failed = lines.find((l) => l.obj.msg === "task failed" && l.obj.taskId === s.taskId);
          const error = failed?.obj.error;
          const cause = isObj(error) ? error.cause : undefined;
          if (
            !isObj(error) ||
            typeof error.message !== "string" ||
            !isObj(cause) ||
            typeof cause.message !== "string" ||
            !cause.message.includes("crm.example")
          ) {
            return t.fail({
              message: `The "task failed" line of task ${s.taskId} has error ${JSON.stringify(error)?.slice(0, 300)}.`,
              expected: 'error: { type, message, …, cause: { type, message: "CRM unreachable at https://[redacted]@crm.example/…", code, config } }',
              hint: "Log the error with its message, type and cause; scrub the credentials out of the URL inside the message rather than dropping the message.",
            });
          }
        }
      }
    },

    "levels-and-fields": async (t) => {
      const probe = await t.load("probe.ts", { name: "probe", limits: LIMITS });
      for (const level of [undefined, ...LEVELS]) {
        const calls: Call[] = [];
        for (let i = 0; i < 8; i++) calls.push({ method: LEVELS[Math.floor(t.random() * 4)]!, msg: `event ${t.id("m")}` });
        const bound = { component: t.id("c") };
        const more = { region: t.id("r"), component: t.id("c2") };
        const ctx = { correlationId: t.id("corr"), taskId: t.id("task") };
        calls.push({ method: "error", msg: `child ${t.id("m")}`, children: [bound, more], fields: { t: "obj", v: [["attempt", { t: "num", v: 3 }]] } });
        calls.push({ method: "error", msg: `context ${t.id("m")}`, context: ctx, later: true, children: [bound] });
        calls.push({ method: "error", msg: `after ${t.id("m")}` });
        const service = `svc-${t.id("s")}`;
        const { lines, threw } = await probeRun(t, probe, { service, ...(level ? { level } : {}), calls });
        const who = level ? `createLogger({ service, level: "${level}" })` : "createLogger({ service }) (no level: info)";
        const rank = (l: Level) => LEVELS.indexOf(l);
        const threshold = rank(level ?? "info");
        const want = calls.filter((c) => rank(c.method) >= threshold);
        const thrown = threw.find((x) => x !== null);
        if (thrown) return t.fail({ message: `A log call on ${who} threw: ${thrown}.`, hint: "A logger never throws at its caller." });
        const got = lines.map((raw) => parseOne(t, raw, `for ${who}`));
        const gotMsgs = got.map((o) => `${String(o.level)} ${String(o.msg)}`);
        const wantMsgs = want.map((c) => `${c.method} ${c.msg}`);
        if (!isDeepStrictEqual(gotMsgs, wantMsgs)) {
          return t.fail({
            message: `${who} was called at ${calls.map((c) => c.method).join(", ")} and printed ${got.length} lines.`,
            expected: wantMsgs.join("\n") || "nothing",
            actual: gotMsgs.join("\n") || "nothing",
            hint: "Write a line only when its level is at or above the threshold (debug < info < warn < error), one line per call, in order, with level set to the method called.",
          });
        }
        for (const o of got)
          if (o.service !== service)
            return t.fail({
              message: `A line of ${who} has service ${JSON.stringify(o.service)}.`,
              expected: JSON.stringify(service),
              hint: "Every line carries the service given to createLogger.",
            });
        const child = got.find((o) => String(o.msg).startsWith("child "))!;
        if (child.component !== more.component || child.region !== more.region || child.attempt !== 3) {
          return t.fail({
            message: "A line from logger.child(a).child(b).error(msg, { attempt: 3 }) lacks the bound fields.",
            expected: `component ${more.component} (b's, over a's), region ${more.region}, attempt 3`,
            actual: show(JSON.stringify(child)),
            hint: "child(fields) returns a logger whose lines carry its parent's bound fields and its own (its own win), plus the call's fields.",
          });
        }
        const inCtx = got.find((o) => String(o.msg).startsWith("context "))!;
        if (inCtx.correlationId !== ctx.correlationId || inCtx.taskId !== ctx.taskId || inCtx.component !== bound.component) {
          return t.fail({
            message: "A line written inside withContext({ correlationId, taskId }, …), after an await, lacks them.",
            expected: `correlationId ${ctx.correlationId}, taskId ${ctx.taskId}, and the child's component`,
            actual: show(JSON.stringify(inCtx)),
            hint: "Keep the context in an AsyncLocalStorage: run(fields, fn), and read getStore() on every line.",
          });
        }
        const after = got.find((o) => String(o.msg).startsWith("after "))!;
        if ("correlationId" in after || "taskId" in after || "component" in after) {
          return t.fail({
            message: "A line written after withContext(…) had returned, on the root logger, still carries the context or a child's fields.",
            actual: show(JSON.stringify(after)),
            hint: "The context belongs to the run() call only; child() must not change its parent.",
          });
        }
      }
    },

    "errors-with-causes": async (t) => {
      const probe = await t.load("probe.ts", { name: "probe", limits: LIMITS });
      const prop = fc
        .string({ unit: "grapheme-ascii", minLength: 1, maxLength: 6 })
        .filter((k) => !CORE.has(k) && !SECRET_KEY.test(k) && !["type", "message", "stack", "cause", "name"].includes(k));
      const { error: errorArb } = fc.letrec<{ error: Desc }>((tie) => ({
        error: fc
          .record({
            name: fc.constantFrom("Error", "TypeError", "RangeError", "ReplyError", "TimeoutError"),
            message: text(40),
            props: fc.uniqueArray(
              fc.tuple(
                prop,
                fc.oneof(
                  text(10).map((v): Desc => ({ t: "str", v })),
                  fc.integer().map((v): Desc => ({ t: "num", v })),
                ),
              ),
              { maxLength: 2, selector: ([k]) => k },
            ),
            cause: fc.option(
              fc.oneof(
                { depthSize: "small" },
                tie("error"),
                text(20).map((v): Desc => ({ t: "str", v })),
                fc.constant<Desc>({ t: "obj", v: [["code", { t: "str", v: "ECONNRESET" }]] }),
              ),
              { nil: undefined },
            ),
          })
          .map((r): Desc => ({ t: "error", name: r.name, message: r.message, props: r.props, ...(r.cause === undefined ? {} : { cause: r.cause }) })),
      }));
      await t.property(
        errorArb,
        async (error) => {
          const msg = "task failed";
          const { lines, threw } = await probeRun(t, probe, {
            service: "worker",
            calls: [
              {
                method: "error",
                msg,
                fields: {
                  t: "obj",
                  v: [
                    ["error", error],
                    ["attempt", { t: "num", v: 1 }],
                  ],
                },
              },
            ],
          });
          if (threw[0]) return t.fail({ message: `log.error("task failed", { error }) threw: ${threw[0]}.`, hint: "A logger never throws at its caller." });
          if (lines.length !== 1)
            return t.fail({
              message: `log.error("task failed", { error }) printed ${lines.length} lines.`,
              expected: "exactly one",
              actual: lines.map((l) => show(l)).join("\n"),
              hint: "Serialise the error into the one JSON line; its stack's newlines become \\n inside a string.",
            });
          const obj = parseOne(t, lines[0]!, 'for log.error("task failed", { error })');
          const why = compare(obj.error, error, "error", false);
          if (why) {
            return t.fail({
              message: `log.error("task failed", { error }) wrote the error wrongly: ${why}.`,
              expected: "error: { type: its name, message, stack (optional), its own properties, cause: the same for the cause, recursively }",
              actual: show(lines[0]!, 600),
              hint: 'JSON.stringify(error) is "{}": message, name, stack and cause are not enumerable. Copy type (error.name), message, stack, the error\'s own properties and cause, and redact the cause the same way, recursively.',
            });
          }
        },
        { runs: 60, noun: "error" },
      );
    },

    "awkward-values": async (t) => {
      const probe = await t.load("probe.ts", { name: "probe", limits: LIMITS });
      const arb = fc.record({ msg: text(40), fields: fieldsArb.map((d) => clampCycles(d)), method: fc.constantFrom<Level>("info", "warn", "error") });
      await t.property(
        arb,
        async ({ msg, fields, method }) => {
          const { lines, threw } = await probeRun(t, probe, { service: "worker", calls: [{ method, msg, fields }] });
          const call = `log.${method}(${JSON.stringify(msg)}, fields)`;
          if (threw[0])
            return t.fail({
              message: `${call} threw: ${threw[0]}.`,
              hint: "A logger never throws at its caller: JSON.stringify throws on a bigint and on a cycle, so turn values into plain JSON first.",
            });
          if (lines.length !== 1)
            return t.fail({
              message: `${call} printed ${lines.length} lines.`,
              expected: "exactly one line per call, whatever the message holds",
              actual: lines.map((l) => show(l)).join("\n"),
              hint: "Let JSON.stringify escape newlines; do not indent the JSON; write one line per call.",
            });
          const obj = parseOne(t, lines[0]!, `for ${call}`);
          if (obj.msg !== msg)
            return t.fail({
              message: `${call} wrote msg ${JSON.stringify(obj.msg)}.`,
              expected: JSON.stringify(msg),
              hint: "The message must parse back to exactly the string logged.",
            });
          const why = compare(obj, fields, "line", false);
          if (why)
            return t.fail({
              message: `${call} wrote a field wrongly: ${why}.`,
              actual: show(lines[0]!, 600),
              hint: 'bigint → its digits as a string; Date → toISOString(); undefined left out (null in arrays); an object met again on its own path → "[circular]"; the rest as JSON.stringify writes it.',
            });
        },
        { runs: 80, noun: "log call" },
      );
      // Very long strings: kept, or cut to no fewer than 10,000 characters, and still one line.
      for (let i = 0; i < 2; i++) {
        const long = Array.from({ length: between(t, 12_000, 40_000) / 13 }, () => t.id("x")).join("\n");
        const fields: Desc = { t: "obj", v: [["body", { t: "str", v: long }]] };
        const { lines, threw } = await probeRun(t, probe, { service: "worker", calls: [{ method: "info", msg: long.slice(0, 200), fields }] });
        if (threw[0] || lines.length !== 1)
          return t.fail({
            message: `Logging a ${long.length}-character string with newlines ${threw[0] ? `threw ${threw[0]}` : `printed ${lines.length} lines`}.`,
            expected: "one line",
            hint: "Escape the newlines (JSON.stringify does) and never throw.",
          });
        const obj = parseOne(t, lines[0]!, "for a very long string");
        const why = compare(obj.body, { t: "str", v: long }, "body", false);
        if (why)
          return t.fail({
            message: `A ${long.length}-character field was written wrongly: ${why}.`,
            hint: "Keep long strings whole, or cut them after at least their first 10,000 characters.",
          });
      }
    },
  },
});
