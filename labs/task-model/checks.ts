import { isDeepStrictEqual } from "node:util";
import { defineChecks, type CheckContext, type RpcModule } from "../../lib/grader/index.ts";
import type { Outcome, Shape } from "./starter/probe.ts";

// Every call goes through probe.ts (read-only), which builds real Dates, bigints, NaN and
// undefined from the shapes sent here, calls the learner's task.ts and describes the result.
const PROBE = "probe.ts";
const taskKey = (id: string) => `task:${id}`;

type Field = "task" | "id" | "name" | "payload" | "priority" | "attempts";

/** A real value → its shape, exactly as probe.ts describes values (object keys sorted). */
function shape(value: unknown): Shape {
  if (value === undefined) return { $undefined: true };
  if (value === null || typeof value === "boolean" || typeof value === "string") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : { $number: String(value) };
  if (typeof value === "bigint") return { $bigint: value.toString() };
  if (value instanceof Date) return { $date: Number.isNaN(value.getTime()) ? null : value.toISOString() };
  if (Array.isArray(value)) return value.map(shape);
  if (value instanceof Map) return { $map: [...value].map(([k, v]) => [shape(k), shape(v)] as [Shape, Shape]) };
  const entries = Object.entries(value as object).map(([key, item]): [string, Shape] => [key, shape(item)]);
  return { $object: entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) };
}

/** How a shape reads in a failure message. */
function show(s: Shape): string {
  if (s === null) return "null";
  if (typeof s === "string") return `the string ${JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}…` : s)}`;
  if (typeof s !== "object") return `the ${typeof s} ${String(s)}`;
  if (Array.isArray(s)) return `an array of ${s.length}`;
  if ("$object" in s) return `an object with keys ${s.$object.map(([k]) => JSON.stringify(k)).join(", ") || "(none)"}`;
  if ("$date" in s) return s.$date === null ? "an invalid Date" : `the Date ${s.$date}`;
  if ("$bigint" in s) return `the bigint ${s.$bigint}n`;
  if ("$number" in s) return `the number ${s.$number}`;
  if ("$undefined" in s) return "undefined";
  if ("$map" in s) return "a Map";
  return s.$other;
}

const kind = (s: Shape) => (s === null ? "null" : typeof s !== "object" ? typeof s : Array.isArray(s) ? "array" : Object.keys(s)[0]!);

/** The first place where `actual` differs from `expected`, as "path: expected …, got …". */
function firstDifference(expected: Shape, actual: Shape, path: string): { path: string; expected: Shape; actual: Shape; text: string } | null {
  if (isDeepStrictEqual(expected, actual)) return null;
  const at = (text: string, e: Shape, a: Shape) => ({ path, expected: e, actual: a, text: `${path}: ${text}` });
  if (Array.isArray(expected) && Array.isArray(actual)) {
    if (expected.length !== actual.length) return at(`expected ${show(expected)}, got ${show(actual)}`, expected, actual);
    for (let i = 0; i < expected.length; i++) {
      const d = firstDifference(expected[i]!, actual[i]!, `${path}[${i}]`);
      if (d) return d;
    }
  }
  if (kind(expected) === "$object" && kind(actual) === "$object") {
    const e = new Map((expected as { $object: [string, Shape][] }).$object);
    const a = new Map((actual as { $object: [string, Shape][] }).$object);
    for (const [key, value] of e) {
      if (!a.has(key)) return at(`key ${JSON.stringify(key)} (${show(value)}) is missing`, value, { $undefined: true });
      const d = firstDifference(value, a.get(key)!, `${path}.${key}`);
      if (d) return d;
    }
    for (const [key, value] of a) if (!e.has(key)) return at(`unexpected key ${JSON.stringify(key)} holding ${show(value)}`, { $undefined: true }, value);
  }
  return at(`expected ${show(expected)}, got ${show(actual)}`, expected, actual);
}

/** A hint aimed at the kind of difference, since each has its own usual cause. */
function roundTripHint(d: { expected: Shape; actual: Shape }): string {
  const [e, a] = [kind(d.expected), kind(d.actual)];
  if (e === "$date" && a === "string") return "JSON.stringify calls Date.prototype.toJSON before a replacer sees the value, so `value instanceof Date` is never true there (look at this[key] instead, or encode the payload yourself before stringifying). Then turn your tag back into a Date when you read it.";
  if (e === "string" && a === "$date") return "A plain string that happens to look like a date must stay a string. Revive only what you tagged on the way out, never guess a type from a string's content.";
  if (e === "$bigint" && a === "number") return "Number(big) rounds anything beyond 2^53. Carry a bigint as its digits (big.toString()) in a tag, and BigInt(digits) it back.";
  if (e === "$bigint") return "JSON has no bigint: JSON.stringify throws on one. Carry it as its digits (big.toString()) in a tag, and BigInt(digits) it back.";
  if (e === "$object" && a !== "$object") return "A payload object whose keys look like your tags ({\"$date\": …}) is ordinary data, not your tag. Escape keys that start with your tag prefix on the way out (\"$\" → \"$$\") and unescape them on the way in, or keep type information beside the JSON rather than inside it.";
  return "deserialize(serialize(task)) must give back a task deep-equal to the original: every key, every value, every type.";
}

const describeError = (o: Outcome) => (o.ok ? "" : `${o.error.name}: ${o.error.message}`);

// Ids and payload values come from the runner's CSPRNG (t.id, t.unpredictable), never from the
// seed: the kinds of value are fixed (a Date before 1970, a bigint beyond 2^53), the values are
// not, so no program can hard-code what should come back.
const DAY_MS = 86_400_000;
const YEAR_1900 = Date.UTC(1900, 0, 1);
const YEAR_2000 = Date.UTC(2000, 0, 1);
const YEAR_2040 = Date.UTC(2040, 0, 1);
const anyInt = (t: CheckContext, below: number) => Math.floor(t.unpredictable() * below);
const anyDate = (t: CheckContext, from: number, to: number) => new Date(from + anyInt(t, to - from));
const anyBigint = (t: CheckContext) => BigInt(anyInt(t, 2 ** 48));
const anyDigits = (t: CheckContext, n: number) => `${1 + anyInt(t, 9)}${Array.from({ length: n - 1 }, () => anyInt(t, 10)).join("")}`;

const DELETE = Symbol("delete");

/** A valid task, with `changes` applied; a change to DELETE removes the key. */
function taskWith(id: string, changes: Record<string, unknown> = {}): Record<string, unknown> {
  const task: Record<string, unknown> = { id, name: "email.send", payload: { to: "ada@example.com", subject: "Welcome" }, priority: 5, attempts: 0 };
  for (const [key, value] of Object.entries(changes)) {
    if (value === DELETE) delete task[key];
    else task[key] = value;
  }
  return task;
}

async function roundTrip(t: CheckContext, writer: RpcModule, reader: RpcModule, label: string, task: Record<string, unknown>): Promise<void> {
  const expected = shape(task);
  const encoded = await writer.call<Outcome>("trySerialize", [expected]);
  if (!encoded.ok) {
    t.fail({ message: `serialize threw for a valid task (${label}): ${describeError(encoded)}`, expected: "a JSON text", actual: describeError(encoded), hint: "JSON.stringify throws on a bigint (\"Do not know how to serialize a BigInt\"). Encode bigints (and Dates) as tagged values before stringifying." });
  }
  const text = encoded.value;
  if (typeof text !== "string") t.fail({ message: `serialize should return a string, but for a task with ${label} it returned ${show(text)}.`, hint: "Return the JSON text itself: JSON.stringify(...)." });
  try {
    JSON.parse(text);
  } catch {
    t.fail({ message: `serialize returned text that is not JSON (task with ${label}).`, actual: text.slice(0, 300), hint: "serialize must return a JSON text, so any JSON tool (and JSON.parse) can read it; build it with JSON.stringify." });
  }
  const decoded = await reader.call<Outcome>("tryDeserialize", [text]);
  if (!decoded.ok) {
    t.fail({ message: `deserialize threw on the text serialize produced for a valid task (${label}): ${describeError(decoded)}`, actual: text.slice(0, 300), hint: "deserialize must accept everything serialize writes: undo each encoding step before you validate." });
  }
  const difference = firstDifference(expected, decoded.value, "task");
  if (difference) {
    t.fail({
      message: `A task with ${label} did not survive serialize → deserialize (in another process). ${difference.text}.`,
      expected: show(difference.expected),
      actual: `${show(difference.actual)}; serialize wrote ${text.length > 400 ? `${text.slice(0, 400)}…` : text}`,
      hint: roundTripHint(difference),
    });
  }
}

export default defineChecks({
  timeoutMs: 20_000,
  checks: {
    "validates-tasks": async (t) => {
      const probe = await t.load(PROBE);
      const id = t.id("task");

      const valid: [string, Record<string, unknown>][] = [
        ["an ordinary task", taskWith(id)],
        ["priority 0 (the most urgent)", taskWith(id, { priority: 0 })],
        ["priority 1000000", taskWith(id, { priority: 1_000_000 })],
        ["attempts 3", taskWith(id, { attempts: 3 })],
        ["payload null", taskWith(id, { payload: null })],
        ["payload 0", taskWith(id, { payload: 0 })],
        ['payload ""', taskWith(id, { payload: "" })],
        ["payload false", taskWith(id, { payload: false })],
        ["payload []", taskWith(id, { payload: [] })],
        ["a payload with Dates and bigints inside", taskWith(id, { payload: { at: new Date(Date.UTC(2026, 11, 2)), ids: [1n, 2n ** 64n], nested: { ok: true, list: [null, "x", 1.5] } } })],
        ["a bigint as the whole payload", taskWith(id, { payload: -(2n ** 70n) })],
        ["a 128-character id", taskWith("i".repeat(128))],
      ];
      const rejected: string[] = [];
      for (const [label, task] of valid) {
        const outcome = await probe.call<Outcome>("tryValidate", [shape(task)]);
        if (!outcome.ok) {
          rejected.push(`${label} (${describeError(outcome)})`);
          continue;
        }
        const difference = firstDifference(shape(task), outcome.value, "task");
        if (difference) t.fail({ message: `validateTask accepted ${label} but returned a different task: ${difference.text}.`, hint: "Return the task as it was given (or an equal copy); validation checks, it does not convert." });
      }
      if (rejected.length > 0) {
        t.fail({
          message: `validateTask rejected ${rejected.length} valid task(s).`,
          expected: "each accepted",
          actual: rejected.join("\n"),
          hint: "0 is a valid priority and a valid number of attempts, and null, 0, \"\" and false are valid payloads: test for the type and range you need, never for truthiness (`!value`). A required payload is a present key (\"payload\" in task), not a truthy one.",
        });
      }

      const invalid: [string, unknown, Field][] = [
        ["null instead of a task", null, "task"],
        ["a string instead of a task", "email.send", "task"],
        ["an array instead of a task", [taskWith(id)], "task"],
        ["no id", taskWith(id, { id: DELETE }), "id"],
        ['id ""', taskWith(id, { id: "" }), "id"],
        ["id 42 (a number)", taskWith(id, { id: 42 }), "id"],
        ["a 129-character id", taskWith("i".repeat(129)), "id"],
        ["no name", taskWith(id, { name: DELETE }), "name"],
        ['name ""', taskWith(id, { name: "" }), "name"],
        ['name "   "', taskWith(id, { name: "   " }), "name"],
        ["no payload key", taskWith(id, { payload: DELETE }), "payload"],
        ["payload undefined", taskWith(id, { payload: undefined }), "payload"],
        ["payload { retries: NaN }", taskWith(id, { payload: { retries: Number.NaN } }), "payload"],
        ["payload { limit: Infinity }", taskWith(id, { payload: { limit: Number.POSITIVE_INFINITY } }), "payload"],
        ["payload [1, undefined]", taskWith(id, { payload: [1, undefined] }), "payload"],
        ["payload { deep: { note: undefined } }", taskWith(id, { payload: { deep: { note: undefined } } }), "payload"],
        ["payload { at: Invalid Date }", taskWith(id, { payload: { at: new Date(Number.NaN) } }), "payload"],
        ["payload new Map()", taskWith(id, { payload: new Map([["a", 1]]) }), "payload"],
        ["priority NaN", taskWith(id, { priority: Number.NaN }), "priority"],
        ["priority -1", taskWith(id, { priority: -1 }), "priority"],
        ["priority 1.5", taskWith(id, { priority: 1.5 }), "priority"],
        ["priority Infinity", taskWith(id, { priority: Number.POSITIVE_INFINITY }), "priority"],
        ["priority 1000001", taskWith(id, { priority: 1_000_001 }), "priority"],
        ['priority "3" (a string)', taskWith(id, { priority: "3" }), "priority"],
        ["no priority", taskWith(id, { priority: DELETE }), "priority"],
        ["attempts NaN", taskWith(id, { attempts: Number.NaN }), "attempts"],
        ["attempts -1", taskWith(id, { attempts: -1 }), "attempts"],
        ["attempts 0.5", taskWith(id, { attempts: 0.5 }), "attempts"],
        ["attempts null", taskWith(id, { attempts: null }), "attempts"],
      ];
      const accepted: string[] = [];
      const wrongError: string[] = [];
      for (const [label, value, field] of invalid) {
        const outcome = await probe.call<Outcome>("tryValidate", [shape(value)]);
        if (outcome.ok) accepted.push(label);
        else if (!outcome.error.isTaskValidationError) wrongError.push(`${label}: threw ${describeError(outcome)}, not a TaskValidationError`);
        else if (outcome.error.field !== field) wrongError.push(`${label}: field was ${JSON.stringify(outcome.error.field)}, expected "${field}"`);
      }
      if (accepted.length > 0) {
        const numeric = accepted.some((l) => /NaN|1\.5|0\.5|Infinity/.test(l) && !l.startsWith("payload"));
        t.fail({
          message: `validateTask accepted ${accepted.length} invalid task(s).`,
          expected: "a TaskValidationError for each",
          actual: accepted.join("\n"),
          hint: numeric
            ? "Every comparison with NaN is false, so `p < 0 || p > max` lets NaN through, and 1.5 is in range. Number.isInteger(p) is false for NaN, ±Infinity and fractions: test it first, then the range."
            : "Check every field: its type, then its range. Walk the payload too: JSON turns NaN and Infinity into null, drops undefined, and writes a Map as {}, so a round trip would quietly change them; refuse them here instead.",
        });
      }
      if (wrongError.length > 0) {
        t.fail({
          message: `validateTask rejected ${wrongError.length} invalid task(s) the wrong way.`,
          expected: "throw new TaskValidationError(field, message) naming the field at fault",
          actual: wrongError.join("\n"),
          hint: "Check that the value is a plain object before reading its fields (reading .id of null throws a TypeError), and give each TaskValidationError the field that failed: one of task, id, name, payload, priority, attempts.",
        });
      }

      const garbage: [string, string][] = [
        ["text that is not JSON", "{ not json"],
        ["the JSON text null", "null"],
        ['{"id":"x"}, a task missing most fields', JSON.stringify({ id: "x" })],
      ];
      for (const [label, text] of garbage) {
        const outcome = await probe.call<Outcome>("tryDeserialize", [text]);
        if (outcome.ok || !outcome.error.isTaskValidationError) {
          t.fail({
            message: `deserialize(${label}) should throw a TaskValidationError, but it ${outcome.ok ? `returned ${show(outcome.value)}` : `threw ${describeError(outcome)}`}.`,
            hint: "Text read from Redis or the network is input: catch JSON.parse's SyntaxError and rethrow it as a TaskValidationError (field \"task\"), and validate what it parsed to.",
          });
        }
      }
    },

    "json-round-trip": async (t) => {
      const [writer, reader] = await t.loadMany(PROBE, 2);
      const looksLikeDate = anyDate(t, YEAR_2000, YEAR_2040).toISOString();
      const cases: [string, Record<string, unknown>][] = [
        ["a plain JSON payload", taskWith(t.id("task"), { payload: { to: `${t.id("user")}@example.com`, tags: ["welcome", t.id("tag")], cc: null, urgent: t.unpredictable() < 0.5, ratio: t.unpredictable(), count: 2 ** 53 - 1 } })],
        ["Dates in its payload", taskWith(t.id("task"), { payload: { sendAt: anyDate(t, YEAR_2000, YEAR_2040), epoch: new Date(0), before1970: anyDate(t, YEAR_1900, -DAY_MS), list: [new Date(1 + anyInt(t, 1000))] } })],
        ["bigints beyond 2^53 in its payload", taskWith(t.id("task"), { payload: { big: 2n ** 64n + anyBigint(t), negative: -(2n ** 70n) - anyBigint(t), zero: 0n, small: BigInt(1 + anyInt(t, 1000)) } })],
        ["strings that only look like dates and numbers", taskWith(t.id("task"), { payload: { iso: looksLikeDate, day: looksLikeDate.slice(0, 10), digits: anyDigits(t, 20), bigintText: `${anyInt(t, 1e6)}n`, nullText: "null", empty: "" } })],
        ["payload objects whose keys look like tags", taskWith(t.id("task"), { payload: { a: { $date: anyDate(t, YEAR_2000, YEAR_2040).toISOString() }, b: { $bigint: anyDigits(t, 3) }, c: { $type: "x", $$double: 1, plain: 2 } } })],
        ["a Date as the whole payload", taskWith(t.id("task"), { payload: anyDate(t, YEAR_1900, YEAR_2040), priority: 0, attempts: 4 })],
        // Odd and past 2^53, so a Number cannot hold it exactly.
        ["a bigint as the whole payload", taskWith(t.id("task"), { payload: 2n ** 53n + 1n + 2n * anyBigint(t), priority: 1_000_000 })],
        ["payload null, priority 0 and attempts 0", taskWith(t.id("task"), { payload: null, priority: 0, attempts: 0 })],
        ["text with quotes, newlines and emoji", taskWith(t.id("task"), { payload: ["naïve ☃ 🚀", `say "${t.id("hi")}"`, "line\nbreak\ttab", "\u2028", "back\\slash"] })],
      ];
      for (const [label, task] of cases) await roundTrip(t, writer!, reader!, label, task);
      t.note(`${cases.length} tasks serialized by ${writer!.name} and deserialized by ${reader!.name} came back equal`);
    },

    "stores-in-redis": async (t) => {
      const writer = await t.load(PROBE, { name: "writer" });
      const reader = await t.load(PROBE, { name: "reader" });
      const tasks = [
        taskWith(t.id("task"), { name: "invoice.create", payload: { due: anyDate(t, YEAR_2000, YEAR_2040), cents: 10n ** 19n + anyBigint(t), lines: [{ sku: t.id("sku"), qty: 1 + anyInt(t, 9) }] }, priority: 3, attempts: 1 }),
        taskWith(t.id("task"), { payload: null, priority: 0 }),
      ];
      for (const task of tasks) {
        const saved = await writer.call<Outcome>("trySave", [shape(task)]);
        if (!saved.ok) t.fail({ message: `saveTask threw for a valid task: ${describeError(saved)}`, hint: "saveTask(task) validates, then SETs serialize(task) under task:{id}." });
        const key = taskKey(task.id as string);
        const type = await t.redis.type(key);
        if (type !== "string") {
          t.fail({
            message: `After saveTask, ${key} should be a string key holding the task's JSON text, but it is ${type === "none" ? "missing" : `a ${type}`}.`,
            hint: type === "none" ? "Store the task under task:{id}, with the task's own id." : "Store the whole task as one JSON text: SET task:{id} serialize(task). A hash flattens the payload into strings.",
          });
        }
        const stored = (await t.redis.get(key)) ?? "";
        try {
          JSON.parse(stored);
        } catch {
          t.fail({ message: `${key} does not hold JSON text.`, actual: stored.slice(0, 300), hint: "SET the text serialize(task) returns." });
        }
        // What Redis holds must be the task itself, readable by any process from Redis alone.
        const fromRedis = await reader.call<Outcome>("tryDeserialize", [stored]);
        const storedDifference = fromRedis.ok ? firstDifference(shape(task), fromRedis.value, "task") : null;
        if (!fromRedis.ok || storedDifference) {
          t.fail({
            message: `${key} does not hold the task saveTask was given: deserialize of the text stored there ${fromRedis.ok ? `gives a different task (${storedDifference!.text})` : `throws ${describeError(fromRedis)}`}.`,
            actual: stored.slice(0, 300),
            hint: "saveTask stores exactly serialize(task) under task:{id}: the whole task, in the text, so any process can read it back from Redis alone.",
          });
        }
        const loaded = await reader.call<Outcome>("tryLoad", [task.id]);
        if (!loaded.ok) return t.fail({ message: `loadTask(${JSON.stringify(task.id)}) threw: ${describeError(loaded)}`, hint: "loadTask(id) GETs task:{id} and returns deserialize(text)." });
        const difference = firstDifference(shape(task), loaded.value, "task");
        if (difference) {
          t.fail({
            message: `A task saved by one process and loaded by another came back different. ${difference.text}.`,
            expected: show(difference.expected),
            actual: show(difference.actual),
            hint: "Read the text back with deserialize, not JSON.parse: deserialize undoes your encoding of Dates and bigints and validates the result.",
          });
        }
      }

      const missing = t.id("missing");
      const none = await reader.call<Outcome>("tryLoad", [missing]);
      if (!none.ok || none.value !== null) {
        t.fail({ message: `loadTask of an id that was never saved should return null, but it ${none.ok ? `returned ${show(none.value)}` : `threw ${describeError(none)}`}.`, hint: "GET returns null for a missing key: return null then." });
      }

      const bad = taskWith(t.id("task"), { priority: -1 });
      const refused = await writer.call<Outcome>("trySave", [shape(bad)]);
      const written = await t.redis.exists(taskKey(bad.id as string));
      if (refused.ok || !refused.error.isTaskValidationError || written) {
        t.fail({
          message: `saveTask of a task with priority -1 should throw a TaskValidationError and write nothing, but it ${refused.ok ? "returned normally" : `threw ${describeError(refused)}`} and ${written ? `${taskKey(bad.id as string)} was written` : "wrote nothing"}.`,
          hint: "Validate before you write: Redis is shared, and every reader of task:{id} will trust what is there.",
        });
      }
    },
  },
});
