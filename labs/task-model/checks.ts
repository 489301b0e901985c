import { isDeepStrictEqual } from "node:util";
import { defineChecks, fc, type CheckContext, type PropertyOptions, type RpcModule } from "../../lib/grader/index.ts";
import type { Made, Outcome, Shape } from "./starter/probe.ts";

// Every call goes through probe.ts (read-only), which builds real Dates, bigints, NaN, class
// instances and undefined from the shapes sent here, calls the learner's task.ts and describes the
// result. Generated inputs are shapes too, so a failing one can be shrunk and shown as source.
const PROBE = "probe.ts";
const taskKey = (id: string) => `task:${id}`;

type Field = "task" | "id" | "name" | "payload" | "priority" | "attempts";
type TaskField = Exclude<Field, "task">;
type Entries = [string, Shape][];
/** A task as the fields it is made of; a field left out is a missing key. */
type TaskFields = Partial<Record<TaskField, Shape>>;

const byKey = ([a]: [string, unknown], [b]: [string, unknown]) => (a < b ? -1 : a > b ? 1 : 0);
// probe.ts describes object entries sorted by key, so every shape sent is sorted the same way.
const sortEntries = (entries: Entries): Entries => [...entries].sort(byKey);
const taskShape = (fields: TaskFields): Shape => ({ $object: sortEntries(Object.entries(fields) as Entries) });

/** A real value → its shape, exactly as probe.ts describes values (object keys sorted). */
function shape(value: unknown): Shape {
  if (value === undefined) return { $undefined: true };
  if (value === null || typeof value === "boolean" || typeof value === "string") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : { $number: String(value) };
  if (typeof value === "bigint") return { $bigint: value.toString() };
  if (value instanceof Date) return { $date: Number.isNaN(value.getTime()) ? null : value.toISOString() };
  if (Array.isArray(value)) return value.map(shape);
  if (value instanceof Map) return { $map: [...value].map(([k, v]) => [shape(k), shape(v)] as [Shape, Shape]) };
  return { $object: sortEntries(Object.entries(value as object).map(([key, item]): [string, Shape] => [key, shape(item)])) };
}

const MADE_NAMES: Record<Made, string> = {
  set: "a Set",
  regexp: "a RegExp",
  error: "an Error",
  bytes: "a Uint8Array",
  "boxed-number": "a boxed Number (new Number(1))",
  "boxed-string": 'a boxed String (new String("x"))',
  function: "a function",
  symbol: "a symbol",
};
const MADE_SOURCE: Record<Made, string> = {
  set: "new Set([1])",
  regexp: "/x/g",
  error: 'new Error("x")',
  bytes: "new Uint8Array([1, 2])",
  "boxed-number": "new Number(1)",
  "boxed-string": 'new String("x")',
  function: "() => null",
  symbol: 'Symbol("x")',
};

/** How a shape reads in a failure message. */
function show(s: Shape): string {
  if (s === null) return "null";
  if (typeof s === "string") return `the string ${s.length > 60 ? `${quote(fitUnits(s, 60))}… (length ${s.length})` : quote(s)}`;
  if (typeof s !== "object") return `the ${typeof s} ${String(s)}`;
  if (Array.isArray(s)) return `an array of ${s.length}`;
  if ("$object" in s) return `an object with keys ${s.$object.map(([k]) => quote(k)).join(", ") || "(none)"}`;
  if ("$date" in s) return s.$date === null ? "an invalid Date" : `the Date ${s.$date}`;
  if ("$bigint" in s) return `the bigint ${s.$bigint}n`;
  if ("$number" in s) return `the number ${s.$number}`;
  if ("$undefined" in s) return "undefined";
  if ("$map" in s) return "a Map";
  if ("$instance" in s) return `an instance of class ${s.$instance[0]}`;
  if ("$make" in s) return MADE_NAMES[s.$make];
  return s.$other;
}

// Generated strings hold combining marks, astral characters and controls that look alike or not
// at all on screen, so inputs are shown as JavaScript source with everything outside printable
// ASCII escaped: exact, and pasteable into a test of the learner's own.
const escapeText = (s: string) => JSON.stringify(s).replace(/[^\x20-\x7e]/gu, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);

function quote(s: string): string {
  for (let unit = 1; unit <= 4 && unit <= s.length; unit++) {
    const piece = s.slice(0, unit);
    let times = 0;
    while (s.startsWith(piece, times * unit)) times++;
    if (times >= 8) {
      const rest = s.slice(times * unit);
      return `${escapeText(piece)}.repeat(${times})${rest ? ` + ${quote(rest)}` : ""}`;
    }
  }
  if (s.length > 120) return `${escapeText([...s].slice(0, 40).join(""))}… (a string of length ${s.length})`;
  return escapeText(s);
}

const keySource = (k: string) => (k === "__proto__" ? '["__proto__"]' : /^[A-Za-z_$][\w$]*$/.test(k) ? k : quote(k));

/** A shape as the JavaScript expression that builds it. */
function source(s: Shape): string {
  if (s === null || typeof s === "boolean") return String(s);
  if (typeof s === "number") return Object.is(s, -0) ? "-0" : String(s);
  if (typeof s === "string") return quote(s);
  if (Array.isArray(s)) return `[${s.map(source).join(", ")}]`;
  const object = (entries: Entries) => (entries.length === 0 ? "{}" : `{ ${entries.map(([k, v]) => `${keySource(k)}: ${source(v)}`).join(", ")} }`);
  if ("$object" in s) return object(s.$object);
  if ("$date" in s) return s.$date === null ? "new Date(NaN)" : `new Date(${JSON.stringify(s.$date)})`;
  if ("$bigint" in s) return `${s.$bigint}n`;
  if ("$number" in s) return s.$number;
  if ("$undefined" in s) return "undefined";
  if ("$map" in s) return `new Map([${s.$map.map(([k, v]) => `[${source(k)}, ${source(v)}]`).join(", ")}])`;
  if ("$instance" in s) return `Object.assign(new (class ${s.$instance[0]} {})(), ${object(s.$instance[1])})`;
  if ("$make" in s) return MADE_SOURCE[s.$make];
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
    const e = new Map((expected as { $object: Entries }).$object);
    const a = new Map((actual as { $object: Entries }).$object);
    for (const [key, value] of e) {
      if (!a.has(key)) return at(`key ${quote(key)} (${show(value)}) is missing`, value, { $undefined: true });
      const d = firstDifference(value, a.get(key)!, `${path}.${key}`);
      if (d) return d;
    }
    for (const [key, value] of a) if (!e.has(key)) return at(`unexpected key ${quote(key)} holding ${show(value)}`, { $undefined: true }, value);
  }
  return at(`expected ${show(expected)}, got ${show(actual)}`, expected, actual);
}

/** A hint aimed at the kind of difference, since each has its own usual cause. */
function roundTripHint(d: { path: string; expected: Shape; actual: Shape; text: string }): string {
  const [e, a] = [kind(d.expected), kind(d.actual)];
  if (e === "$date" && a === "string")
    return "JSON.stringify calls Date.prototype.toJSON before a replacer sees the value, so `value instanceof Date` is never true there (look at this[key] instead, or encode the payload yourself before stringifying). Then turn your tag back into a Date when you read it.";
  if (e === "string" && a === "$date")
    return "A plain string that happens to look like a date must stay a string. Revive only what you tagged on the way out, never guess a type from a string's content.";
  if (e === "string" && a === "$bigint")
    return 'A plain string that happens to look like a bigint ("12n", "123") must stay a string. Revive only what you tagged on the way out, never guess a type from a string\'s content.';
  if (e === "$bigint" && a === "number")
    return "Number(big) rounds anything beyond 2^53. Carry a bigint as its digits (big.toString()) in a tag, and BigInt(digits) it back.";
  if (e === "$bigint") return "JSON has no bigint: JSON.stringify throws on one. Carry it as its digits (big.toString()) in a tag, and BigInt(digits) it back.";
  if (e === "$object" && a !== "$object")
    return 'A payload object whose keys look like your tags ({"$date": …}) is ordinary data, not your tag. Escape keys that start with your tag prefix on the way out ("$" → "$$") and unescape them on the way in, or keep type information beside the JSON rather than inside it.';
  if (/\.\$/.test(d.path) || /key "\$/.test(d.text)) {
    return 'A payload key that starts with "$" came back changed. Every key that starts with "$" must be escaped on the way out (one more "$" in front) and unescaped on the way in, not only "$date" and "$bigint": otherwise a key that already looks escaped ("$$date") comes back as your tag\'s key.';
  }
  return "deserialize(serialize(task)) must give back a task deep-equal to the original: every key, every value, every type.";
}

type ProbeFn = "tryValidate" | "trySerialize" | "tryDeserialize" | "trySave" | "tryLoad";
// Every list of inputs travels as base64 of its JSON: the sandbox side decodes the channel chunk
// by chunk, so a multi-byte character cut between two chunks would arrive as U+FFFD. ASCII bytes
// can be cut anywhere.
const wire = (value: Shape) => Buffer.from(JSON.stringify(value), "utf8").toString("base64");
const askAll = async (module: RpcModule, fn: ProbeFn, inputs: Shape[]) => (inputs.length === 0 ? [] : module.call<Outcome[]>(fn, [wire(inputs)], 15_000));
const ask = async (module: RpcModule, fn: ProbeFn, input: Shape) => (await askAll(module, fn, [input]))[0]!;

const describeError = (o: Outcome) => (o.ok ? "" : `${o.error.name}: ${o.error.message}`);
const isValidationError = (o: Outcome) => !o.ok && o.error.isTaskValidationError;

// Fixed cases take their ids and payload values from the runner's CSPRNG (t.id, t.unpredictable),
// never from the seed: the kinds of value are fixed (a Date before 1970, a bigint beyond 2^53), the
// values are not, so no program can hard-code what should come back. Generated inputs (t.property)
// are seeded by the run, whose seed the sandbox never sees.
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

/** A task no program can predict: its id and every payload value are fresh. */
const freshTask = (t: CheckContext, name = "email.send") =>
  taskWith(t.id("task"), {
    name,
    payload: { at: anyDate(t, YEAR_1900, YEAR_2040), cents: 2n ** 60n + anyBigint(t), note: `${t.id("note")} ☃ 🚀`, $ref: anyDigits(t, 6) },
    priority: anyInt(t, 1_000_001),
    attempts: anyInt(t, 10),
  });

function shuffled<T>(t: CheckContext, items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(t.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Generated inputs. Each arbitrary yields shapes; fast-check shrinks them towards the first
// alternative of each oneof, so the simplest kinds come first.

/** Every character String.prototype.trim removes: WhiteSpace and LineTerminator in ECMAScript. */
const WHITESPACE = [
  "\t",
  "\n",
  "\v",
  "\f",
  "\r",
  " ",
  "\u00a0",
  "\u1680",
  "\u2000",
  "\u2001",
  "\u2002",
  "\u2003",
  "\u2004",
  "\u2005",
  "\u2006",
  "\u2007",
  "\u2008",
  "\u2009",
  "\u200a",
  "\u2028",
  "\u2029",
  "\u202f",
  "\u205f",
  "\u3000",
  "\ufeff",
];
const codes = (s: string) => [...s].map((c) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`).join(" ");

/** `s` cut to at most `max` UTF-16 units, never between the two halves of a surrogate pair. */
function fitUnits(s: string, max: number): string {
  if (s.length <= max) return s;
  let out = "";
  for (const c of s) {
    if (out.length + c.length > max) break;
    out += c;
  }
  return out;
}

/** `piece` repeated, then padded with "x", to a length of exactly n. */
const exactly = (piece: string, n: number) => {
  const body = piece.repeat(Math.floor(n / piece.length));
  return body + "x".repeat(n - body.length);
};

const graphemes = (maxLength: number) => fc.string({ unit: "grapheme", maxLength });
// Any code point, one by one: controls, noncharacters, lone combining marks, astral planes.
const codePoints = (maxLength: number) => fc.string({ unit: "binary", maxLength });

const MIN_DATE = -8.64e15;
const MAX_DATE = 8.64e15;
const dateValue = fc.oneof(
  fc.date({ min: new Date(MIN_DATE), max: new Date(MAX_DATE), noInvalidDate: true }),
  fc
    .constantFrom(
      MIN_DATE,
      MAX_DATE,
      0,
      -1,
      1,
      Date.parse("0000-01-01T00:00:00Z"),
      Date.parse("9999-12-31T23:59:59.999Z"),
      Date.parse("+010000-01-01T00:00:00Z"),
    )
    .map((ms) => new Date(ms)),
);
const bigValue = fc.oneof(
  fc.bigInt(),
  fc.bigInt({ min: -(2n ** 300n), max: 2n ** 300n }),
  fc.constantFrom(0n, -1n, 2n ** 53n + 1n, -(2n ** 63n), 2n ** 64n - 1n),
);

/** Strings that look like what a serializer might have written for a Date, a bigint or a tag. */
const lookalike: fc.Arbitrary<string> = fc.oneof(
  dateValue.map((d) => d.toISOString()),
  dateValue.map((d) => d.toISOString().slice(0, 10)),
  bigValue.map((b) => `${b}n`),
  bigValue.map(String),
  fc.constantFrom("", "null", "true", "undefined", "NaN", "Infinity", "-0", "0", "1e3", "{}", "[]", "$date", "$bigint", "$", "$$", "__proto__", "\u0000"),
  fc
    .tuple(
      fc.constantFrom("$", "$$", "__", "\u0000", "@", "#"),
      fc.constantFrom("date", "bigint", "type", "undefined", ""),
      fc.oneof(
        fc.constant(""),
        fc.constant(":"),
        dateValue.map((d) => `:${d.toISOString()}`),
      ),
    )
    .map(([a, b, c]) => a + b + c),
);
const text: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: graphemes(12) },
  { weight: 3, arbitrary: codePoints(12) },
  { weight: 3, arbitrary: lookalike },
);
// Long, but cheap to make and to shrink: a short piece repeated. Rare, and a list's size is
// capped (listOf), so a reply always fits the grader's channel.
const hugeOf = (piece: fc.Arbitrary<string>) =>
  fc.tuple(piece, fc.integer({ min: 1_000, max: 10_000 })).map(([p, n]) => p.repeat(Math.max(1, Math.floor(n / p.length))));
const huge = hugeOf(fc.string({ unit: "grapheme", minLength: 1, maxLength: 3 }));

const keyText = fc
  .oneof(
    { weight: 4, arbitrary: graphemes(6) },
    { weight: 1, arbitrary: codePoints(6) },
    { weight: 3, arbitrary: fc.tuple(fc.constantFrom("$", "$$", "$$$"), fc.constantFrom("date", "bigint", "type", "", "x", "value")).map(([a, b]) => a + b) },
    { weight: 1, arbitrary: fc.constantFrom("constructor", "prototype", "toString", "hasOwnProperty", "valueOf", "length", "0") },
  )
  .filter((k) => k !== "__proto__");

const number = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Object.is(n, -0)),
  fc.constantFrom(0, 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 53 + 2, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, -Number.MIN_VALUE, 0.1, 1e21, 1e-7),
);
const leaf: fc.Arbitrary<Shape> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  number,
  text,
  dateValue.map((d): Shape => ({ $date: d.toISOString() })),
  bigValue.map((b): Shape => ({ $bigint: b.toString() })),
);
const entriesOf = (value: fc.Arbitrary<Shape>, maxLength = 4) => fc.uniqueArray(fc.tuple(keyText, value), { selector: ([k]) => k, maxLength });
const objectOf = (value: fc.Arbitrary<Shape>) => entriesOf(value).map((entries): Shape => ({ $object: sortEntries(entries) }));
// Ordinary data shaped like a tag: one key, "$date" or "$bigint" (or an escaped one), holding what a tag would.
const tagLike = fc
  .tuple(fc.constantFrom("$date", "$bigint", "$$date", "$$bigint", "$$$date", "$type", "$"), fc.oneof(lookalike as fc.Arbitrary<Shape>, leaf))
  .map(([k, v]): Shape => ({ $object: [[k, v]] }));

const { payload } = fc.letrec<{ payload: Shape }>((tie) => ({
  payload: fc.oneof(
    { depthSize: "small", withCrossShrink: true, maxDepth: 3 },
    leaf,
    tagLike,
    fc.array(tie("payload"), { maxLength: 4 }),
    objectOf(tie("payload")),
  ),
}));
const taskPayload: fc.Arbitrary<Shape> = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom<Shape>(null, 0, "", false, [], { $object: [] }) },
  { weight: 20, arbitrary: payload },
  { weight: 1, arbitrary: huge },
);

// Ids: any characters (separators, spaces, controls, emoji), length 1 to 128 in UTF-16 units.
const idUnit = fc.oneof(
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 1 }),
  fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
  fc.constantFrom(":", "{", "}", "*", "?", "[", "]", " ", "\n", "\r\n", "%3A", "task:", "\\", "/", "\u0000", "\u3000"),
);
const validId = fc.oneof(
  fc.string({ unit: idUnit, minLength: 1, maxLength: 24 }).map((s) => fitUnits(s, 128)),
  // Right at the limit, with characters that are 2 units long or combine with the next.
  fc.tuple(fc.constantFrom("x", "é", "e\u0301", "🚀", "👩‍👩‍👧", ":", " ", "\u3000"), fc.constantFrom(1, 2, 127, 128)).map(([piece, n]) => exactly(piece, n)),
);
const nameCore = fc.string({ unit: "grapheme", minLength: 1, maxLength: 16 }).filter((s) => /[^\s\u0085\u180e\u200b-\u200d\u2060]/u.test(s));
const blank = fc.array(fc.constantFrom(...WHITESPACE), { minLength: 1, maxLength: 6 }).map((cs) => cs.join(""));
const validName = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom("email.send", "x", ".", "0", "false", "null") },
  { weight: 6, arbitrary: nameCore },
  { weight: 6, arbitrary: fc.tuple(fc.oneof(fc.constant(""), blank), nameCore, fc.oneof(fc.constant(""), blank)).map(([a, b, c]) => a + b + c) },
  { weight: 1, arbitrary: hugeOf(nameCore.filter((s) => s.length <= 8)) },
);
const validPriority = fc.oneof(fc.constantFrom(0, 1, 999_999, 1_000_000), fc.integer({ min: 0, max: 1_000_000 }));
const validAttempts = fc.oneof(fc.constantFrom(0, 1, Number.MAX_SAFE_INTEGER), fc.nat(1000), fc.maxSafeNat());

const validFields: fc.Arbitrary<Required<TaskFields>> = fc.record({
  id: validId,
  name: validName,
  payload: taskPayload,
  priority: validPriority,
  attempts: validAttempts,
});
// A huge name and a huge payload together would not fit one reply: one huge string per task.
const validTask = validFields
  .filter((f) => !(typeof f.name === "string" && f.name.length > 1000 && typeof f.payload === "string" && f.payload.length > 1000))
  .map(taskShape);

/** What is wrong with a value, and the value; MISSING leaves the key out. */
const MISSING = Symbol("missing");
interface Bad {
  what: string;
  value: Shape | typeof MISSING;
}
interface Invalid {
  field: Field;
  what: string;
  task: Shape;
}

const missing = (field: string): fc.Arbitrary<Bad> => fc.constant({ what: `no ${field} key`, value: MISSING });
const notA = (field: string, type: string, values: Shape[]): fc.Arbitrary<Bad> =>
  fc.constantFrom(...values).map((value) => ({ what: `${field} ${source(value)}, which is not a ${type}`, value }));

const badId = fc.oneof(
  missing("id"),
  notA("id", "string", [42, null, true, { $bigint: "7" }, ["x"], { $make: "boxed-string" }, { $object: [["id", "x"]] }]),
  fc.constant<Bad>({ what: 'id "" (empty)', value: "" }),
  fc
    .tuple(fc.constantFrom("x", "é", "🚀", "e\u0301", "👩‍👩‍👧", ":"), fc.integer({ min: 129, max: 400 }))
    .map(([piece, n]): Bad => ({ what: `an id of length ${n}, over 128`, value: exactly(piece, n) })),
  fc.string({ unit: "binary", minLength: 129, maxLength: 200 }).map((s): Bad => ({ what: `an id of length ${s.length}, over 128`, value: s })),
);
const badName = fc.oneof(
  missing("name"),
  notA("name", "string", [42, null, false, ["email.send"], { $make: "boxed-string" }, { $object: [] }]),
  fc.constant<Bad>({ what: 'name "" (empty)', value: "" }),
  blank.map((s): Bad => ({ what: `a name of only whitespace (${codes(s)})`, value: s })),
);
const badNumber = (field: string, above: fc.Arbitrary<number>): fc.Arbitrary<Bad> =>
  fc.oneof(
    missing(field),
    notA(field, "number", ["3", null, true, { $bigint: "3" }, { $make: "boxed-number" }, [], { $date: "2026-01-01T00:00:00.000Z" }]),
    fc.constantFrom("NaN", "Infinity", "-Infinity").map((n): Bad => ({ what: `${field} ${n}`, value: { $number: n } })),
    fc.oneof(fc.integer({ min: -(2 ** 31), max: -1 }), fc.constant(-Number.MAX_VALUE)).map((n): Bad => ({ what: `${field} ${n}, below 0`, value: n })),
    above.map((n): Bad => ({ what: `${field} ${n}, above its maximum`, value: n })),
    fc
      .oneof(
        fc.constantFrom(0.5, Number.MIN_VALUE, 999_999.5, 1 - 2 ** -53),
        fc.tuple(fc.integer({ min: 0, max: 999_999 }), fc.double({ min: 0, max: 1, noNaN: true })).map(([i, f]) => i + f),
      )
      .filter((n) => !Number.isInteger(n))
      .map((n): Bad => ({ what: `${field} ${n}, not a whole number`, value: n })),
  );
const badPriority = badNumber("priority", fc.oneof(fc.constantFrom(1_000_001, 2 ** 53, Number.MAX_VALUE), fc.integer({ min: 1_000_001, max: 2 ** 31 - 1 })));
// Past 2^53 a number can no longer count by ones: attempts stops at Number.MAX_SAFE_INTEGER.
const badAttempts = badNumber(
  "attempts",
  fc.oneof(fc.constantFrom(2 ** 53, 2 ** 53 + 2, 1e21, Number.MAX_VALUE), fc.double({ min: 2 ** 53, max: 1e300, noNaN: true })),
);

/** One value a payload may not hold anywhere, and what it is. */
const badLeaf: fc.Arbitrary<Bad> = fc.oneof(
  fc.constant<Bad>({ what: "undefined", value: { $undefined: true } }),
  fc.constantFrom("NaN", "Infinity", "-Infinity", "-0").map((n): Bad => ({ what: n, value: { $number: n } })),
  fc.constant<Bad>({ what: "an invalid Date", value: { $date: null } }),
  fc.array(fc.tuple(leaf, leaf), { maxLength: 2 }).map((entries): Bad => ({ what: "a Map", value: { $map: entries } })),
  fc
    .constantFrom<Made>("set", "regexp", "error", "bytes", "boxed-number", "boxed-string", "function", "symbol")
    .map((m): Bad => ({ what: MADE_NAMES[m], value: { $make: m } })),
  entriesOf(leaf, 3).map((entries): Bad => ({ what: "a class instance", value: { $instance: ["Point", sortEntries(entries)] } })),
  fc
    .tuple(payload, entriesOf(leaf, 2))
    .map(([inner, entries]): Bad => ({ what: 'an object with its own key "__proto__"', value: { $object: sortEntries([["__proto__", inner], ...entries]) } })),
);
/** A payload with one bad value somewhere inside it, at any depth, among valid ones. */
const { badTree } = fc.letrec<{ badTree: Bad }>((tie) => ({
  badTree: fc.oneof(
    { depthSize: "small", withCrossShrink: true, maxDepth: 3 },
    badLeaf,
    fc
      .tuple(fc.array(payload, { maxLength: 3 }), tie("badTree"), fc.array(payload, { maxLength: 3 }))
      .map(([before, b, after]): Bad => ({ what: b.what, value: [...before, b.value as Shape, ...after] })),
    fc
      .tuple(entriesOf(payload, 3), keyText, tie("badTree"))
      .map(([entries, k, b]): Bad => ({ what: b.what, value: { $object: sortEntries([...entries.filter(([x]) => x !== k), [k, b.value as Shape]]) } })),
  ),
}));
const badPayload = fc.oneof(
  missing("payload"),
  badTree.map((b): Bad => ({ what: `${b.what} in the payload`, value: b.value })),
);

const withBad = (field: TaskField, badValue: fc.Arbitrary<Bad>): fc.Arbitrary<Invalid> =>
  fc.tuple(validFields, badValue).map(([fields, b]) => {
    const changed: TaskFields = { ...fields };
    if (b.value === MISSING) delete changed[field];
    else changed[field] = b.value;
    return { field, what: b.what, task: taskShape(changed) };
  });

const notATask = (what: string, arbitrary: fc.Arbitrary<Shape>): fc.Arbitrary<Invalid> => arbitrary.map((task) => ({ field: "task", what, task }));
const badTask = fc.oneof(
  notATask("not an object", fc.constantFrom<Shape>(null, { $undefined: true }, "email.send", 42, true, { $bigint: "1" }, { $make: "function" })),
  notATask(
    "an array holding a task",
    validTask.map((task) => [task]),
  ),
  notATask(
    "a Date",
    dateValue.map((d): Shape => ({ $date: d.toISOString() })),
  ),
  notATask(
    "a Map of a task's fields",
    validFields.map((f): Shape => ({ $map: Object.entries(f).map(([k, v]): [Shape, Shape] => [k, v]) })),
  ),
  notATask(
    "an instance of a class Task with the five fields",
    validFields.map((f): Shape => ({ $instance: ["Task", sortEntries(Object.entries(f) as Entries)] })),
  ),
  notATask("a boxed String", fc.constant<Shape>({ $make: "boxed-string" })),
);
// Every field equally often; the payload has the most ways to be wrong, so twice as often.
const invalidTask: fc.Arbitrary<Invalid> = fc.oneof(
  { weight: 2, arbitrary: withBad("id", badId) },
  { weight: 2, arbitrary: withBad("name", badName) },
  { weight: 4, arbitrary: withBad("payload", badPayload) },
  { weight: 2, arbitrary: withBad("priority", badPriority) },
  { weight: 2, arbitrary: withBad("attempts", badAttempts) },
  { weight: 2, arbitrary: badTask },
);

const NOT_PLAIN = Symbol("not plain JSON");
/** The shape as a plain JSON value, when it is one with no key that starts with "$" (the learner may give those a meaning). */
function plainJson(s: Shape): unknown {
  if (s === null || typeof s === "boolean" || typeof s === "string") return s;
  if (typeof s === "number") return Object.is(s, -0) ? NOT_PLAIN : s;
  if (Array.isArray(s)) {
    const items = s.map(plainJson);
    return items.includes(NOT_PLAIN) ? NOT_PLAIN : items;
  }
  if ("$object" in s) {
    const entries = s.$object.map(([k, v]) => [k, plainJson(v)] as const);
    return entries.some(([k, v]) => k.startsWith("$") || v === NOT_PLAIN) ? NOT_PLAIN : Object.fromEntries(entries);
  }
  return NOT_PLAIN;
}

/** Text deserialize must refuse: not JSON, JSON that is not an object, or the JSON of an invalid task. */
const invalidText: fc.Arbitrary<{ what: string; text: string }> = fc.oneof(
  fc
    .oneof(codePoints(20), fc.constantFrom("", "{", "{ not json", "undefined", "NaN", "{'id': 'x'}", "[1,]", '{"id":"x",}'))
    .filter((s) => {
      try {
        JSON.parse(s);
        return false;
      } catch {
        return true;
      }
    })
    .map((text) => ({ what: "text that is not JSON", text })),
  fc.constantFrom("null", "[]", "42", '"task"', "true", "{}").map((text) => ({ what: "JSON that is not a task", text })),
  invalidTask
    .map((i) => ({ i, json: plainJson(i.task) }))
    .filter(({ json }) => json !== NOT_PLAIN)
    .map(({ i, json }) => ({ what: `the JSON of a task with ${i.what}`, text: JSON.stringify(json) })),
);

/** A valid task, likely to carry bigint and Date tags, and how to damage the text serialize makes of it. */
const damaged = fc.record({
  task: fc
    .record({
      id: validId,
      name: validName,
      payload: fc.oneof(
        payload,
        fc.array(
          bigValue.map((b): Shape => ({ $bigint: b.toString() })),
          { minLength: 1, maxLength: 3 },
        ),
      ),
      priority: validPriority,
      attempts: validAttempts,
    })
    .map(taskShape),
  how: fc.constantFrom("truncate", "delete", "replace", "digit"),
  at: fc.nat(100_000),
  by: fc.constantFrom('"', "{", "}", "[", ",", ":", "x", "1", "\\", " ", "-", ".", "e", "n"),
});

const damageText = ({ how, at, by }: { how: string; at: number; by: string }) =>
  how === "digit"
    ? `digit number ${at} (modulo the number of digits) replaced by ${JSON.stringify(by)}`
    : how === "truncate"
      ? `cut at position ${at} (modulo the text's length)`
      : how === "delete"
        ? `the character at position ${at} (modulo the text's length) deleted`
        : `the character at position ${at} (modulo the text's length) replaced by ${JSON.stringify(by)}`;

function damage(text: string, { how, at, by }: { how: string; at: number; by: string }): string {
  if (how === "digit") {
    const digits = [...text.matchAll(/\d/g)].map((m) => m.index);
    if (digits.length === 0) return text.slice(0, -1);
    const i = digits[at % digits.length]!;
    return text.slice(0, i) + by + text.slice(i + 1);
  }
  const i = at % text.length;
  if (how === "truncate") return text.slice(0, i);
  if (how === "delete") return text.slice(0, i) + text.slice(i + 1);
  return text.slice(0, i) + by + text.slice(i + 1);
}

/** Two different ids that careless key building (trimming, case, normalizing, escaping) would merge. */
const relatedIds = fc
  .tuple(fc.string({ unit: idUnit, minLength: 1, maxLength: 10 }), fc.integer({ min: 0, max: 8 }))
  .map(([base, how]): [string, string] => {
    const pairs: [string, string][] = [
      [`${base}a`, `${base}A`],
      [base, ` ${base}`],
      [`${base} `, base],
      [`${base}\u00e9`, `${base}e\u0301`],
      [`${base}:x`, `${base}_x`],
      [`${base} x`, `${base}_x`],
      [`${base} `, `${base}%20`],
      [base, `${base}\u0000`],
      [base, `task:${base}`],
    ];
    const [a, b] = pairs[how]!;
    return [fitUnits(a, 128), fitUnits(b, 128)];
  })
  .filter(([a, b]) => a !== b);

// ---------------------------------------------------------------------------------------------

const FIELD_HINTS: Record<Field, string> = {
  task: 'Only a plain object is a task: Object.getPrototypeOf(value) === Object.prototype. Arrays, Dates, Maps, boxed strings and class instances are objects too, and Object.prototype.toString calls a class instance "[object Object]", so test the prototype.',
  id: "An id is a string whose id.length is 1 to 128: JavaScript's length, in UTF-16 code units, so an emoji counts 2. Count with id.length, not [...id].length or Buffer.byteLength.",
  name: 'A name is blank when name.trim() === "": trim removes tabs, line breaks, no-break spaces, U+3000 and every other Unicode space. A list of the spaces you thought of misses some.',
  payload:
    'Walk the whole payload, at every depth: refuse undefined, NaN, ±Infinity and -0 (JSON writes 0), invalid Dates, Maps, Sets and other built-ins, class instances (any object whose prototype is not Object.prototype, other than arrays and valid Dates), functions, symbols, and a key "__proto__". Test the prototype, not Object.prototype.toString.',
  priority:
    'typeof p === "number" && Number.isInteger(p) && p >= 0 && p <= 1_000_000. Number.isInteger is false for NaN, ±Infinity and fractions, so test it before the range.',
  attempts:
    "Number.isSafeInteger(a) && a >= 0: a whole number from 0 to Number.MAX_SAFE_INTEGER. Past 2^53 a number can no longer count by ones, and Number.isInteger(1e21) is true.",
};

const VALID_HINTS: Record<Field, string> = {
  task: "Any plain object with the five fields is a task.",
  id: "An id is valid whenever id.length is 1 to 128, whatever characters it holds: spaces, colons, line breaks, emoji, even only whitespace.",
  name: "A name is valid when name.trim() keeps at least one character, however much whitespace is around it, and however long it is.",
  payload:
    'A payload may hold null, booleans, every finite number but -0, strings of any characters and any length, bigints of any size, Dates from year -271821 to 275760, arrays, and plain objects with any keys ("$date", "constructor", ""), nested to any depth.',
  priority: "0 and 1,000,000 are both valid priorities.",
  attempts: "0 and Number.MAX_SAFE_INTEGER are both valid numbers of attempts.",
};

/** A case's name in a message; generated ones are named by their source, made only on a failure. */
type Label = string | (() => string);
const labelText = (label: Label) => (typeof label === "string" ? label : label());

/** How a generated input is named in a message: its source, cut short. */
const named = (s: Shape) => {
  const text = source(s);
  return text.length > 400 ? `${text.slice(0, 400)}…` : text;
};

/**
 * Up to `max` generated inputs per property run, sent in one call: on a loaded machine the RPC
 * round trips, not the generating, are what takes the time. Shrinking drops the inputs that do
 * not matter, so a failure still ends at one smallest input. `size` keeps a list's text well
 * inside what one call may carry (1 MiB a reply).
 */
const listOf = <T>(arbitrary: fc.Arbitrary<T>, size: (items: T[]) => Shape[], max = 25) =>
  fc.array(arbitrary, { minLength: 1, maxLength: max, size: "max" }).filter((items) => JSON.stringify(size(items)).length < 150_000);
const showList =
  <T>(one: (item: T) => string) =>
  (items: T[]) =>
    items.map(one).join("\n");

/**
 * t.property, then the last predicate awaited: on its time limit fast-check stops waiting for a
 * predicate but cannot stop it, and one still saving tasks must not run on into the next
 * property's Redis.
 */
/**
 * Time for a check's properties, so a loaded machine cuts them short instead of timing the check
 * out: each gets what is left (at most 8 s, for shrinking a failure), less 1.5 s for every
 * property still to come.
 */
function propertyClock(totalMs: number): (left: number) => number {
  const deadline = performance.now() + totalMs;
  return (left) => Math.round(Math.max(1_500, Math.min(8_000, deadline - performance.now() - 1_500 * (left - 1))));
}

async function holds<T>(t: CheckContext, arbitrary: fc.Arbitrary<T>, predicate: (value: T) => Promise<void>, options: PropertyOptions<T>): Promise<void> {
  let last: Promise<unknown> = Promise.resolve();
  try {
    await t.property(
      arbitrary,
      (value) => {
        const run = predicate(value);
        last = run.catch(() => {});
        return run;
      },
      options,
    );
  } finally {
    await last;
  }
}

function judgeValid(t: CheckContext, label: Label, task: Shape, outcome: Outcome): void {
  if (!outcome.ok) {
    const field = outcome.error.field as Field | null;
    t.fail({
      message: `validateTask rejected a valid task (${labelText(label)}): ${describeError(outcome)}`,
      expected: "the task back",
      actual: describeError(outcome),
      hint: field && field in VALID_HINTS ? VALID_HINTS[field] : "Test each field's type and range, never truthiness.",
    });
  }
  const difference = firstDifference(task, outcome.value, "task");
  if (difference)
    t.fail({
      message: `validateTask accepted a valid task (${labelText(label)}) but returned a different one: ${difference.text}.`,
      hint: "Return the task as it was given (or an equal copy); validation checks, it does not convert.",
    });
}

async function expectValid(t: CheckContext, probe: RpcModule, cases: [Label, Shape][]): Promise<void> {
  const outcomes = await askAll(
    probe,
    "tryValidate",
    cases.map(([, task]) => task),
  );
  cases.forEach(([label, task], i) => judgeValid(t, label, task, outcomes[i]!));
}

function judgeRejected(t: CheckContext, invalid: Invalid, outcome: Outcome): void {
  const expected = `a TaskValidationError with field "${invalid.field}"`;
  const which = () => `${invalid.what}: ${named(invalid.task)}`;
  if (outcome.ok)
    t.fail({ message: `validateTask accepted an invalid task, with ${which()}.`, expected, actual: "it returned the task", hint: FIELD_HINTS[invalid.field] });
  if (!outcome.error.isTaskValidationError) {
    t.fail({
      message: `validateTask threw ${describeError(outcome)} for a task with ${which()}, not a TaskValidationError.`,
      expected,
      actual: describeError(outcome),
      hint: "Check that the value is a plain object before reading its fields (reading .id of null throws a TypeError), and throw new TaskValidationError(field, message) for every invalid value.",
    });
  }
  if (outcome.error.field !== invalid.field) {
    t.fail({
      message: `validateTask rejected a task with ${which()}, but named the field ${JSON.stringify(outcome.error.field)}.`,
      expected,
      actual: describeError(outcome),
      hint: `Every invalid task the grader sends has exactly one field at fault: here "${invalid.field}". ${FIELD_HINTS[invalid.field]}`,
    });
  }
}

async function expectRejected(t: CheckContext, probe: RpcModule, invalid: Invalid[]): Promise<void> {
  const outcomes = await askAll(
    probe,
    "tryValidate",
    invalid.map((i) => i.task),
  );
  invalid.forEach((i, n) => judgeRejected(t, i, outcomes[n]!));
}

/** Each task serialized by `writer` and deserialized by `reader` (another module) comes back equal. */
async function roundTrip(t: CheckContext, writer: RpcModule, reader: RpcModule, cases: [Label, Shape][]): Promise<void> {
  const encoded = await askAll(
    writer,
    "trySerialize",
    cases.map(([, task]) => task),
  );
  const texts = cases.map(([label], i): string => {
    const outcome = encoded[i]!;
    if (!outcome.ok) {
      t.fail({
        message: `serialize threw for a valid task (${labelText(label)}): ${describeError(outcome)}`,
        expected: "a JSON text",
        actual: describeError(outcome),
        hint: 'JSON.stringify throws on a bigint ("Do not know how to serialize a BigInt"). Encode bigints (and Dates) as tagged values before stringifying.',
      });
    }
    const text = outcome.value;
    if (typeof text !== "string")
      return t.fail({
        message: `serialize should return a string, but for a task with ${labelText(label)} it returned ${show(text)}.`,
        hint: "Return the JSON text itself: JSON.stringify(...).",
      });
    try {
      JSON.parse(text);
    } catch {
      t.fail({
        message: `serialize returned text that is not JSON (task with ${labelText(label)}).`,
        actual: text.slice(0, 300),
        hint: "serialize must return a JSON text, so any JSON tool (and JSON.parse) can read it; build it with JSON.stringify.",
      });
    }
    return text;
  });
  const decoded = await askAll(reader, "tryDeserialize", texts);
  cases.forEach(([label, expected], i) => {
    const [outcome, text] = [decoded[i]!, texts[i]!];
    if (!outcome.ok) {
      t.fail({
        message: `deserialize threw on the text serialize produced for a valid task (${labelText(label)}): ${describeError(outcome)}`,
        actual: text.slice(0, 300),
        hint: "deserialize must accept everything serialize writes: undo each encoding step before you validate.",
      });
    }
    const difference = firstDifference(expected, outcome.value, "task");
    if (difference) {
      t.fail({
        message: `A task with ${labelText(label)} did not survive serialize → deserialize (in another process). ${difference.text}.`,
        expected: show(difference.expected),
        actual: `${show(difference.actual)}; serialize wrote ${text.length > 400 ? `${text.slice(0, 400)}…` : text}`,
        hint: roundTripHint(difference),
      });
    }
  });
}

const idOf = (task: Shape) => ((task as { $object: Entries }).$object.find(([k]) => k === "id")?.[1] ?? "") as string;

/**
 * What Redis holds under task:{id} for each task, read with the grader's own connection: a string
 * key with no expiry whose text, deserialized by another module, is that task. Returns the texts.
 */
async function expectStored(
  t: CheckContext,
  reader: RpcModule,
  tasks: Shape[],
  context: string,
  hint = "saveTask stores exactly serialize(task) under task:{id}: the whole task, in the text, so any process can read it back from Redis alone.",
): Promise<string[]> {
  const found = await Promise.all(
    tasks.map(async (task) => {
      const key = taskKey(idOf(task));
      const [type, ttl, text] = await Promise.all([t.redis.type(key), t.redis.pttl(key), t.redis.get(key)]);
      return { key, type, ttl, text: text ?? "" };
    }),
  );
  for (const { key, type, ttl, text } of found) {
    if (type !== "string") {
      t.fail({
        message: `${context}: the key ${quote(key)} should be a string holding the task's JSON text, but it is ${type === "none" ? "missing" : `a ${type}`}.`,
        hint:
          type === "none"
            ? 'Store the task under exactly "task:" + id: the id as it is, whatever characters it holds (Redis keys are binary-safe), never trimmed, lower-cased, normalized or escaped.'
            : "Store the whole task as one JSON text: SET task:{id} serialize(task). A hash flattens the payload into strings.",
      });
    }
    if (ttl !== -1)
      t.fail({
        message: `${context}: ${quote(key)} has an expiry (PTTL ${ttl} ms), so Redis would delete the task by itself.`,
        expected: "no expiry (PTTL -1)",
        actual: `PTTL ${ttl}`,
        hint: "A task lives until the system removes it: SET the key without EX/PX, and set no EXPIRE on it.",
      });
    try {
      JSON.parse(text);
    } catch {
      t.fail({ message: `${context}: ${quote(key)} does not hold JSON text.`, actual: text.slice(0, 300), hint: "SET the text serialize(task) returns." });
    }
  }
  // What Redis holds must be the task itself, readable by any process from Redis alone.
  const texts = found.map((f) => f.text);
  const fromRedis = await askAll(reader, "tryDeserialize", texts);
  tasks.forEach((task, i) => {
    const outcome = fromRedis[i]!;
    const difference = outcome.ok ? firstDifference(task, outcome.value, "task") : null;
    if (!outcome.ok || difference) {
      t.fail({
        message: `${context}: ${quote(found[i]!.key)} does not hold the task that was saved: deserialize of the text stored there ${outcome.ok ? `gives a different task (${difference!.text})` : `throws ${describeError(outcome)}`}.`,
        actual: texts[i]!.slice(0, 300),
        hint,
      });
    }
  });
  return texts;
}

/** loadTask(id) in `module` gives each expected task (null: none stored). */
async function expectLoads(t: CheckContext, module: RpcModule, cases: [string, Shape | null][], context: string, hint: string): Promise<void> {
  const loaded = await askAll(
    module,
    "tryLoad",
    cases.map(([id]) => id),
  );
  cases.forEach(([id, expected], i) => {
    const outcome = loaded[i]!;
    if (!outcome.ok)
      t.fail({
        message: `${context}: loadTask(${quote(id)}) in ${module.name} threw ${describeError(outcome)}.`,
        hint: "loadTask(id) GETs task:{id} and returns deserialize(text), or null when the key is missing.",
      });
    if (expected === null) {
      if (outcome.value !== null)
        t.fail({
          message: `${context}: loadTask(${quote(id)}) in ${module.name} returned ${show(outcome.value)}, but Redis holds no task:{id}.`,
          expected: "null",
          actual: named(outcome.value),
          hint,
        });
      return;
    }
    const difference = firstDifference(expected, outcome.value, "task");
    if (difference)
      t.fail({
        message: `${context}: loadTask(${quote(id)}) in ${module.name} did not return the task Redis holds. ${difference.text}.`,
        expected: show(difference.expected),
        actual: show(difference.actual),
        hint,
      });
  });
}

const save = (module: RpcModule, task: Shape) => ask(module, "trySave", task);

/** The names of the commands `module` sent while `action` ran, in order (from the proxy's log). */
async function commandsDuring(t: CheckContext, module: RpcModule, action: () => Promise<unknown>): Promise<string[]> {
  const mark = t.logPosition();
  await action();
  return t
    .commands()
    .filter((e) => e.seq > mark && e.owner === module.name)
    .map((e) => e.args[0]!);
}

const redisErrorHint =
  "A Redis failure is not a validation failure and not a missing task: let the error reach the caller (await the command, do not catch it, or rethrow it as it is), so a caller can retry. Never log it and carry on.";
const loadHint = "Read the text back with deserialize, not JSON.parse: deserialize undoes your encoding of Dates and bigints and validates the result.";
// The check's own time limit applies; an instance's default wall clock (10 s) is shorter.
const LIMITS = { limits: { wallMs: 30_000 } };

export default defineChecks({
  timeoutMs: 25_000,
  checks: {
    "validates-tasks": async (t) => {
      const clock = propertyClock(16_000);
      const probe = await t.load(PROBE, LIMITS);
      const tasks = (items: Shape[]) => items;
      const tasksOf = (items: Invalid[]) => items.map((i) => i.task);

      await holds(
        t,
        listOf(validTask, tasks),
        (items) =>
          expectValid(
            t,
            probe,
            items.map((task) => [() => `generated: ${named(task)}`, task]),
          ),
        { runs: 30, timeLimitMs: clock(4), noun: "list of valid tasks", show: showList(source) },
      );
      await holds(t, listOf(invalidTask, tasksOf), (items) => expectRejected(t, probe, items), {
        runs: 40,
        timeLimitMs: clock(3),
        noun: "list of invalid tasks",
        show: showList((i) => `${source(i.task)}  // ${i.what}; field at fault: ${i.field}`),
      });

      // Text read from Redis is input like any other: whatever is wrong with it, the answer is a
      // TaskValidationError, never a SyntaxError, a TypeError or a task nobody saved.
      await holds(
        t,
        listOf(invalidText, (items) => items.map((i) => i.text)),
        async (items) => {
          const outcomes = await askAll(
            probe,
            "tryDeserialize",
            items.map((i) => i.text),
          );
          items.forEach(({ what, text }, i) => {
            const outcome = outcomes[i]!;
            if (isValidationError(outcome)) return;
            t.fail({
              message: `deserialize of ${what} (${quote(text.length > 200 ? `${fitUnits(text, 200)}…` : text)}) should throw a TaskValidationError, but it ${outcome.ok ? `returned ${show(outcome.value)}` : `threw ${describeError(outcome)}`}.`,
              hint: 'Catch JSON.parse\'s SyntaxError and throw a TaskValidationError (field "task") instead, and validate what it parsed to with validateTask, which names the field at fault.',
            });
          });
        },
        { runs: 20, timeLimitMs: clock(2), noun: "list of texts", show: showList(({ text }) => quote(text)) },
      );
      await holds(
        t,
        listOf(damaged, (items) => items.map((d) => d.task)),
        async (items) => {
          const encoded = await askAll(
            probe,
            "trySerialize",
            items.map((d) => d.task),
          );
          // json-round-trip judges serialize itself; here only what it wrote, damaged, is read.
          const texts = items.flatMap((d, i) => {
            const e = encoded[i]!;
            return e.ok && typeof e.value === "string" ? [damage(e.value, d)] : [];
          });
          const outcomes = await askAll(probe, "tryDeserialize", texts);
          const accepted: Shape[] = [];
          outcomes.forEach((outcome, i) => {
            if (outcome.ok) return void accepted.push(outcome.value);
            if (outcome.error.isTaskValidationError) return;
            t.fail({
              message: `deserialize threw ${describeError(outcome)} on a damaged copy of a text your serialize wrote, not a TaskValidationError.`,
              actual: texts[i]!.slice(0, 300),
              hint: 'Decoding can fail in more places than JSON.parse: BigInt("1x") throws a SyntaxError, a tag can hold a number instead of a string. Check what a tag holds before you decode it (digits for a bigint) and throw a TaskValidationError for anything else.',
            });
          });
          // A damaged text may still be some valid task; then it must really be one.
          const again = await askAll(probe, "tryValidate", accepted);
          again.forEach((outcome, i) => {
            if (!outcome.ok)
              t.fail({
                message: `deserialize returned a task that validateTask refuses (${describeError(outcome)}), from a damaged text.`,
                actual: named(accepted[i]!),
                hint: "deserialize must validate what it decoded: call validateTask last.",
              });
          });
        },
        {
          runs: 25,
          timeLimitMs: clock(1),
          noun: "list of tasks and damages",
          show: showList((d) => `${source(d.task)}  // serialized, then ${damageText(d)}`),
        },
      );

      // The same rules once more with fixed values, so one case of each kind runs however short
      // the generated runs were cut on a loaded machine.
      const id = t.id("task");
      const withPayload = (payload: Shape) => taskShape({ ...Object.fromEntries((shape(taskWith(id)) as { $object: Entries }).$object), payload });
      const valid: [string, Record<string, unknown>][] = [
        ["an ordinary task", taskWith(id)],
        ["priority 0 (the most urgent)", taskWith(id, { priority: 0 })],
        ["priority 1000000", taskWith(id, { priority: 1_000_000 })],
        ["attempts Number.MAX_SAFE_INTEGER", taskWith(id, { attempts: Number.MAX_SAFE_INTEGER })],
        ["payload null", taskWith(id, { payload: null })],
        ["payload 0", taskWith(id, { payload: 0 })],
        ['payload ""', taskWith(id, { payload: "" })],
        ["payload false", taskWith(id, { payload: false })],
        ["payload []", taskWith(id, { payload: [] })],
        [
          "a payload with Dates and bigints inside",
          taskWith(id, { payload: { at: new Date(Date.UTC(2026, 11, 2)), ids: [1n, 2n ** 64n], nested: { ok: true, list: [null, "x", 1.5] } } }),
        ],
        ["a bigint as the whole payload", taskWith(id, { payload: -(2n ** 70n) })],
        ["payload keys constructor and toString", taskWith(id, { payload: { constructor: 1, toString: "x" } })],
        ["a 128-character id", taskWith("i".repeat(128))],
        ["an id of 64 emoji (length 128)", taskWith("🚀".repeat(64))],
        ["an id of only spaces", taskWith("   ")],
        ["a name with no-break and ideographic spaces around it", taskWith(id, { name: "\u3000 x\u00a0" })],
      ];
      await expectValid(
        t,
        probe,
        valid.map(([label, task]) => [label, shape(task)]),
      );

      const invalid: [string, Shape, Field][] = [
        ["null instead of a task", null, "task"],
        ["a string instead of a task", "email.send", "task"],
        ["an array instead of a task", [shape(taskWith(id))], "task"],
        ["an instance of a class Task", { $instance: ["Task", (shape(taskWith(id)) as { $object: Entries }).$object] }, "task"],
        ["no id", shape(taskWith(id, { id: DELETE })), "id"],
        ['id ""', shape(taskWith(id, { id: "" })), "id"],
        ["id 42 (a number)", shape(taskWith(id, { id: 42 })), "id"],
        ["a 129-character id", shape(taskWith("i".repeat(129))), "id"],
        ["an id of 65 emoji (length 130)", shape(taskWith("🚀".repeat(65))), "id"],
        ["no name", shape(taskWith(id, { name: DELETE })), "name"],
        ['name ""', shape(taskWith(id, { name: "" })), "name"],
        ['name "   "', shape(taskWith(id, { name: "   " })), "name"],
        ["a name of no-break and ideographic spaces", shape(taskWith(id, { name: "\u00a0\u3000\u2003" })), "name"],
        ["no payload key", shape(taskWith(id, { payload: DELETE })), "payload"],
        ["payload undefined", shape(taskWith(id, { payload: undefined })), "payload"],
        ["payload { retries: NaN }", shape(taskWith(id, { payload: { retries: Number.NaN } })), "payload"],
        ["payload { limit: Infinity }", shape(taskWith(id, { payload: { limit: Number.POSITIVE_INFINITY } })), "payload"],
        ["payload { delta: -0 }", withPayload({ $object: [["delta", { $number: "-0" }]] }), "payload"],
        ["payload [1, undefined]", shape(taskWith(id, { payload: [1, undefined] })), "payload"],
        ["payload { deep: { note: undefined } }", shape(taskWith(id, { payload: { deep: { note: undefined } } })), "payload"],
        ["payload { at: Invalid Date }", shape(taskWith(id, { payload: { at: new Date(Number.NaN) } })), "payload"],
        ["payload new Map()", shape(taskWith(id, { payload: new Map([["a", 1]]) })), "payload"],
        ["payload { point: an instance of class Point }", withPayload({ $object: [["point", { $instance: ["Point", [["x", 1]]] }]] }), "payload"],
        ['payload { ["__proto__"]: { admin: true } }', withPayload({ $object: [["__proto__", { $object: [["admin", true]] }]] }), "payload"],
        ["priority NaN", shape(taskWith(id, { priority: Number.NaN })), "priority"],
        ["priority -1", shape(taskWith(id, { priority: -1 })), "priority"],
        ["priority 1.5", shape(taskWith(id, { priority: 1.5 })), "priority"],
        ["priority Infinity", shape(taskWith(id, { priority: Number.POSITIVE_INFINITY })), "priority"],
        ["priority 1000001", shape(taskWith(id, { priority: 1_000_001 })), "priority"],
        ['priority "3" (a string)', shape(taskWith(id, { priority: "3" })), "priority"],
        ["no priority", shape(taskWith(id, { priority: DELETE })), "priority"],
        ["attempts NaN", shape(taskWith(id, { attempts: Number.NaN })), "attempts"],
        ["attempts -1", shape(taskWith(id, { attempts: -1 })), "attempts"],
        ["attempts 0.5", shape(taskWith(id, { attempts: 0.5 })), "attempts"],
        ["attempts 2^53", shape(taskWith(id, { attempts: 2 ** 53 })), "attempts"],
        ["attempts null", shape(taskWith(id, { attempts: null })), "attempts"],
      ];
      await expectRejected(
        t,
        probe,
        invalid.map(([what, task, field]) => ({ what, task, field })),
      );

      // Your own text for a task holding a bigint, with one of its digits turned into an "x".
      const digits = anyDigits(t, 24);
      const written = await ask(probe, "trySerialize", shape(taskWith(id, { payload: { big: BigInt(digits) } })));
      const brokenTag =
        written.ok && typeof written.value === "string" && written.value.includes(digits)
          ? written.value.replace(digits, `${digits.slice(0, 5)}x${digits.slice(6)}`)
          : null;
      const garbage: [string, string][] = [
        ["text that is not JSON", "{ not json"],
        ["the JSON text null", "null"],
        ['{"id":"x"}, a task missing most fields', JSON.stringify({ id: "x" })],
        ...(brokenTag === null
          ? []
          : [[`the text serialize wrote for a task holding ${digits}n, with one digit replaced by "x"`, brokenTag] as [string, string]]),
      ];
      const outcomes = await askAll(
        probe,
        "tryDeserialize",
        garbage.map(([, text]) => text),
      );
      garbage.forEach(([label], i) => {
        const outcome = outcomes[i]!;
        if (isValidationError(outcome)) return;
        t.fail({
          message: `deserialize(${label}) should throw a TaskValidationError, but it ${outcome.ok ? `returned ${show(outcome.value)}` : `threw ${describeError(outcome)}`}.`,
          hint: 'Text read from Redis or the network is input: catch JSON.parse\'s SyntaxError and rethrow it as a TaskValidationError (field "task"), check what each of your tags holds before decoding it (BigInt("12x") throws a SyntaxError), and validate what it parsed to.',
        });
      });
    },

    "json-round-trip": async (t) => {
      const clock = propertyClock(12_000);
      const [writer, reader] = await t.loadMany(PROBE, 2, LIMITS);
      await holds(
        t,
        listOf(validTask, (items) => items),
        (items) =>
          roundTrip(
            t,
            writer!,
            reader!,
            items.map((task) => [() => `generated values (${named(task)})`, task]),
          ),
        { runs: 30, timeLimitMs: clock(1), noun: "list of tasks", show: showList(source) },
      );

      const looksLikeDate = anyDate(t, YEAR_2000, YEAR_2040).toISOString();
      const cases: [string, Record<string, unknown>][] = [
        [
          "a plain JSON payload",
          taskWith(t.id("task"), {
            payload: {
              to: `${t.id("user")}@example.com`,
              tags: ["welcome", t.id("tag")],
              cc: null,
              urgent: t.unpredictable() < 0.5,
              ratio: t.unpredictable(),
              count: 2 ** 53 - 1,
            },
          }),
        ],
        [
          "Dates in its payload",
          taskWith(t.id("task"), {
            payload: {
              sendAt: anyDate(t, YEAR_2000, YEAR_2040),
              epoch: new Date(0),
              before1970: anyDate(t, YEAR_1900, -DAY_MS),
              list: [new Date(1 + anyInt(t, 1000))],
              last: new Date(8.64e15 - anyInt(t, 1000) * DAY_MS),
            },
          }),
        ],
        [
          "bigints beyond 2^53 in its payload",
          taskWith(t.id("task"), {
            payload: { big: 2n ** 64n + anyBigint(t), negative: -(2n ** 70n) - anyBigint(t), zero: 0n, small: BigInt(1 + anyInt(t, 1000)) },
          }),
        ],
        [
          "strings that only look like dates and numbers",
          taskWith(t.id("task"), {
            payload: {
              iso: looksLikeDate,
              day: looksLikeDate.slice(0, 10),
              digits: anyDigits(t, 20),
              bigintText: `${anyInt(t, 1e6)}n`,
              nullText: "null",
              empty: "",
            },
          }),
        ],
        [
          "payload objects whose keys look like tags",
          taskWith(t.id("task"), {
            payload: {
              a: { $date: anyDate(t, YEAR_2000, YEAR_2040).toISOString() },
              b: { $bigint: anyDigits(t, 3) },
              c: { $type: "x", $$double: 1, plain: 2 },
              d: { $$date: anyDate(t, YEAR_2000, YEAR_2040).toISOString() },
            },
          }),
        ],
        ["a Date as the whole payload", taskWith(t.id("task"), { payload: anyDate(t, YEAR_1900, YEAR_2040), priority: 0, attempts: 4 })],
        // Odd and past 2^53, so a Number cannot hold it exactly.
        ["a bigint as the whole payload", taskWith(t.id("task"), { payload: 2n ** 53n + 1n + 2n * anyBigint(t), priority: 1_000_000 })],
        ["payload null, priority 0 and attempts 0", taskWith(t.id("task"), { payload: null, priority: 0, attempts: 0 })],
        [
          "text with quotes, newlines, combining marks and emoji",
          taskWith(t.id("task"), { payload: ["naïve ☃ 🚀", "e\u0301", `say "${t.id("hi")}"`, "line\nbreak\ttab", "\u2028", "back\\slash", "\u0000"] }),
        ],
        ["a 200,000-character string", taskWith(t.id("task"), { payload: `${t.id("big")}${"ab🚀".repeat(50_000)}` })],
      ];
      await roundTrip(
        t,
        writer!,
        reader!,
        cases.map(([label, task]) => [label, shape(task)]),
      );
      t.note(`${cases.length} fixed tasks and lists of generated ones serialized by ${writer!.name} and deserialized by ${reader!.name} came back equal`);
    },

    "stores-in-redis": async (t) => {
      const clock = propertyClock(16_000);
      const writer = await t.load(PROBE, { name: "writer", ...LIMITS });
      const reader = await t.load(PROBE, { name: "reader", ...LIMITS });
      const fixed = [
        shape(
          taskWith(t.id("task"), {
            name: "invoice.create",
            payload: { due: anyDate(t, YEAR_2000, YEAR_2040), cents: 10n ** 19n + anyBigint(t), lines: [{ sku: t.id("sku"), qty: 1 + anyInt(t, 9) }] },
            priority: 3,
            attempts: 1,
          }),
        ),
        shape(taskWith(t.id("task"), { payload: null, priority: 0 })),
      ];
      for (const task of fixed) {
        const saved = await save(writer, task);
        if (!saved.ok)
          t.fail({
            message: `saveTask threw for a valid task: ${describeError(saved)}`,
            hint: "saveTask(task) validates, then SETs serialize(task) under task:{id}.",
          });
        await expectStored(t, reader, [task], `After saveTask(${idOf(task)})`);
        await expectLoads(t, reader, [[idOf(task), task]], "A task saved by one process and loaded by another", loadHint);
      }
      await expectLoads(t, reader, [[t.id("missing"), null]], "An id never saved", "GET returns null for a missing key: return null then.");

      const bad = shape(taskWith(t.id("task"), { priority: -1 }));
      const refused = await save(writer, bad);
      const { missing } = await t.viewRedis([idOf(bad)]);
      if (refused.ok || !refused.error.isTaskValidationError || missing.length === 0) {
        t.fail({
          message: `saveTask of a task with priority -1 should throw a TaskValidationError and write nothing, but it ${refused.ok ? "returned normally" : `threw ${describeError(refused)}`} and ${missing.length === 0 ? "its id is now in Redis" : "wrote nothing"}.`,
          hint: "Validate before you write: Redis is shared, and every reader of task:{id} will trust what is there.",
        });
      }

      // Lists of generated tasks, each list on an empty Redis: every task under its own key, as it
      // is, with nothing else written beside it; of two with one id, the later one.
      await holds(
        t,
        listOf(validTask, (items) => items, 15),
        async (items) => {
          await t.redis.flushdb();
          const saved = await askAll(writer, "trySave", items);
          saved.forEach((outcome, i) => {
            if (!outcome.ok)
              t.fail({
                message: `saveTask threw for a valid task (${named(items[i]!)}): ${describeError(outcome)}`,
                hint: "saveTask(task) validates, then SETs serialize(task) under task:{id}.",
              });
          });
          const latest = [...new Map(items.map((task) => [idOf(task), task])).values()];
          await expectStored(t, reader, latest, "After saveTask of generated tasks");
          const keys = await t.redis.dbsize();
          if (keys !== latest.length)
            t.fail({
              message: `saveTask of tasks with ${latest.length} different ids left ${keys} keys in an empty Redis.`,
              expected: `${latest.length} keys: task:{id} for each`,
              actual: (await t.redis.keys("*")).slice(0, 5).map(quote).join(", "),
              hint: "saveTask writes one key, task:{id}, and nothing else.",
            });
          await expectLoads(
            t,
            reader,
            latest.map((task) => [idOf(task), task]),
            "Generated tasks saved by one process and loaded by another",
            loadHint,
          );
        },
        { runs: 25, timeLimitMs: clock(3), noun: "list of tasks", show: showList(source) },
      );
      await holds(
        t,
        listOf(relatedIds, (pairs) => pairs.flat(), 10),
        async (pairs) => {
          await t.redis.flushdb();
          const ids = [...new Set(pairs.flat())];
          const tasks = ids.map((id, i) => taskShape({ id, name: `task ${i}`, payload: `payload of ${id}`, priority: i, attempts: 0 }));
          const saved = await askAll(writer, "trySave", tasks);
          saved.forEach((outcome, i) => {
            if (!outcome.ok)
              t.fail({
                message: `saveTask threw for a valid task with id ${quote(ids[i]!)}: ${describeError(outcome)}`,
                hint: "Any string of length 1 to 128 is a valid id.",
              });
          });
          const context = `After saving tasks with the ids ${ids.map(quote).join(", ")}`;
          await expectStored(t, reader, tasks, context);
          await expectLoads(
            t,
            reader,
            tasks.map((task) => [idOf(task), task]),
            context,
            "Each id has its own key, task: followed by the id exactly as it is.",
          );
        },
        {
          runs: 20,
          timeLimitMs: clock(2),
          noun: "list of ids that careless key building would merge",
          show: showList(([a, b]) => `${quote(a)} and ${quote(b)}`),
        },
      );
      await holds(
        t,
        listOf(invalidTask, (items) => items.map((i) => i.task), 15),
        async (items) => {
          await t.redis.flushdb();
          const outcomes = await askAll(
            writer,
            "trySave",
            items.map((i) => i.task),
          );
          const keys = await t.redis.dbsize();
          items.forEach((invalid, i) => {
            const outcome = outcomes[i]!;
            if (isValidationError(outcome)) return;
            t.fail({
              message: `saveTask of an invalid task (${invalid.what}: ${named(invalid.task)}) should throw a TaskValidationError and write nothing, but it ${outcome.ok ? "returned normally" : `threw ${describeError(outcome)}`}.`,
              hint: "Validate before you touch Redis, with validateTask, and let its TaskValidationError reach the caller.",
            });
          });
          if (keys > 0) {
            t.fail({
              message: `saveTask of invalid tasks only, each refused, left ${keys} key(s) in Redis: ${(await t.redis.keys("*")).slice(0, 3).map(quote).join(", ")}.`,
              hint: "Validate before you touch Redis: an invalid task must never be stored, since every reader of task:{id} trusts what is there.",
            });
          }
        },
        { runs: 25, timeLimitMs: clock(1), noun: "list of invalid tasks", show: showList((i) => `${source(i.task)}  // ${i.what}`) },
      );
    },

    "redis-faults": async (t) => {
      const writer = await t.load(PROBE, { name: "writer", ...LIMITS });
      const reader = await t.load(PROBE, { name: "reader", ...LIMITS });

      // What one save and one load send, on a quiet proxy: the commands the faults are aimed at.
      const quiet = shape(freshTask(t));
      const saveCommands = await commandsDuring(t, writer, () => save(writer, quiet));
      await expectStored(t, reader, [quiet], "After saveTask with no fault");
      const loadCommands = await commandsDuring(t, reader, () =>
        expectLoads(t, reader, [[idOf(quiet), quiet]], "With no fault", "loadTask(id) GETs task:{id} and returns deserialize(text)."),
      );
      if (saveCommands.length === 0 || loadCommands.length === 0) {
        t.fail({
          message: `${saveCommands.length === 0 ? "saveTask" : "loadTask"} sent no command to Redis through its connection, yet the task was stored and loaded.`,
          hint: "Use the connection createRedis() gives you, in the module that calls it.",
        });
      }

      // 1. Redis refuses one command of a save: the save throws, or it really stored the task.
      for (const name of shuffled(t, [...new Set(saveCommands)]).slice(0, 3)) {
        const task = shape(freshTask(t));
        t.note(`the proxy answers ${writer.name}'s next ${name} with an error reply: saveTask(${idOf(task)}) must throw, or store the task`);
        t.proxy.failNext(1, { match: name });
        const outcome = await save(writer, task);
        t.proxy.failNext(0);
        if (outcome.ok) {
          if (!(await t.redis.exists(taskKey(idOf(task))))) {
            t.fail({
              message: `Redis refused the ${name} that saveTask sent from ${writer.name} (the proxy answered it with an error reply), yet saveTask(${quote(idOf(task))}) returned normally and task:{id} is not in Redis: the task was lost without anyone being told.`,
              hint: redisErrorHint,
            });
          }
          await expectStored(t, reader, [task], `saveTask returned normally after Redis refused its ${name}`);
        } else if (outcome.error.isTaskValidationError) {
          t.fail({
            message: `Redis refused the ${name} that saveTask sent from ${writer.name}, and saveTask threw a TaskValidationError (${outcome.error.message}): the task was valid, and a caller would drop it as invalid instead of retrying.`,
            hint: redisErrorHint,
          });
        }
        const retried = await save(writer, task);
        if (!retried.ok)
          t.fail({
            message: `After one refused ${name}, saveTask(${quote(idOf(task))}) threw again with no fault injected: ${describeError(retried)}.`,
            hint: "A failed command must not break the module: the next call uses the same connection as usual.",
          });
        await expectStored(t, reader, [task], `After one refused ${name} and a retry`);
      }

      // 2. Redis refuses one command of a load: the task exists, so null would say it does not.
      for (const name of shuffled(t, [...new Set(loadCommands)]).slice(0, 2)) {
        t.note(`the proxy answers ${reader.name}'s next ${name} with an error reply: loadTask(${idOf(quiet)}) must throw or return the task, never null`);
        t.proxy.failNext(1, { match: name });
        const outcome = await ask(reader, "tryLoad", idOf(quiet));
        t.proxy.failNext(0);
        if (outcome.ok && outcome.value === null) {
          t.fail({
            message: `Redis refused the ${name} that loadTask sent from ${reader.name}, and loadTask(${quote(idOf(quiet))}) returned null, though the task is stored: a caller would think it was gone.`,
            expected: "loadTask throws (or returns the task)",
            actual: "null",
            hint: redisErrorHint,
          });
        }
        if (outcome.ok) {
          const difference = firstDifference(quiet, outcome.value, "task");
          if (difference)
            t.fail({
              message: `Redis refused the ${name} that loadTask sent from ${reader.name}, and loadTask returned a different task: ${difference.text}.`,
              hint: redisErrorHint,
            });
        } else if (outcome.error.isTaskValidationError) {
          t.fail({
            message: `Redis refused the ${name} that loadTask sent from ${reader.name}, and loadTask threw a TaskValidationError (${outcome.error.message}): the stored task is valid, and a caller would treat it as corrupt.`,
            hint: redisErrorHint,
          });
        }
        await expectLoads(
          t,
          reader,
          [[idOf(quiet), quiet]],
          `After one refused ${name}`,
          "A failed command must not break the module: the next call uses the same connection as usual.",
        );
      }

      // 3. Slow replies with jitter, saves from two modules at once: a save returns only once its
      // task is in Redis, so the grader reads each one the moment its save returns.
      const latency = { ms: 5 + Math.floor(t.random() * 20), jitterMs: 25 };
      t.note(`latency ${latency.ms}±${latency.jitterMs} ms on every reply; 8 saves at once from ${writer.name} and ${reader.name}`);
      t.proxy.setLatency(latency);
      const slow = Array.from({ length: 8 }, () => shape(freshTask(t)));
      const saved = await Promise.all(
        slow.map(async (task, i) => {
          const outcome = await save(i % 2 === 0 ? writer : reader, task);
          const text = await t.redis.get(taskKey(idOf(task)));
          return { task, outcome, text };
        }),
      );
      for (const { task, outcome, text } of saved) {
        if (!outcome.ok)
          t.fail({
            message: `With ${latency.ms}±${latency.jitterMs} ms of latency, saveTask(${quote(idOf(task))}) threw ${describeError(outcome)}.`,
            hint: "Slow replies are not errors: await each command.",
          });
        if (text === null)
          t.fail({
            message: `With ${latency.ms}±${latency.jitterMs} ms of latency, saveTask(${quote(idOf(task))}) returned before its task was in Redis.`,
            hint: "Await the SET: saveTask returning must mean the task is stored.",
          });
      }
      await Promise.all(
        slow.map((task) =>
          expectLoads(
            t,
            writer,
            [[idOf(task), task]],
            `With ${latency.ms}±${latency.jitterMs} ms of latency`,
            "Await the GET before you deserialize its reply.",
          ),
        ),
      );
      t.proxy.setLatency({ ms: 0 });

      // 4. Every connection is cut while a save's reply is in flight: the save throws, or the task
      // is stored; either way both modules work again once their client reconnects.
      const cut = shape(freshTask(t));
      t.proxy.setLatency({ ms: 150 });
      const mark = t.logPosition();
      const inFlight = save(writer, cut);
      const sent = await Promise.race([
        t.waitFor(() => t.commands().some((e) => e.seq > mark && e.owner === writer.name), { message: "", timeoutMs: 2000, intervalMs: 2 }).then(() => true),
        inFlight.then(() => false),
      ]).catch(() => false);
      t.note(`every connection is cut ${sent ? "while saveTask's command waits for its reply" : "after saveTask returned"}`);
      t.proxy.cutAll();
      t.proxy.setLatency({ ms: 0 });
      const afterCut = await inFlight;
      if (afterCut.ok) await expectStored(t, reader, [cut], "saveTask returned normally after its connection was cut mid-command");
      else if (afterCut.error.isTaskValidationError)
        t.fail({
          message: `saveTask in ${writer.name} threw a TaskValidationError (${afterCut.error.message}) when the grader cut every connection while its command waited for a reply: the task was valid.`,
          hint: redisErrorHint,
        });
      else {
        const retried = await save(writer, cut);
        if (!retried.ok)
          t.fail({
            message: `After a cut connection, saveTask(${quote(idOf(cut))}) threw again: ${describeError(retried)}.`,
            hint: "createRedis()'s client reconnects by itself; keep using the same client.",
          });
        await expectStored(t, reader, [cut], "After a cut connection and a retry");
      }
      await expectLoads(
        t,
        reader,
        [[idOf(cut), cut]],
        "After every connection was cut",
        "createRedis()'s client reconnects by itself; keep using the same client.",
      );

      // 5. A save that overwrites a task dies at each command boundary in turn: Redis then holds
      // the old task or the new one, whole, never neither.
      const boundaries = [...saveCommands.map((_, i) => ({ nth: i + 1, when: "before" as const })), { nth: saveCommands.length, when: "after" as const }];
      for (const [round, { nth, when }] of shuffled(t, boundaries).slice(0, 4).entries()) {
        const old = shape(freshTask(t, "report.build"));
        const id = idOf(old);
        const first = await save(reader, old);
        if (!first.ok)
          t.fail({
            message: `saveTask threw for a valid task: ${describeError(first)}`,
            hint: "saveTask validates, then SETs serialize(task) under task:{id}.",
          });
        const next = taskShape({ ...Object.fromEntries((shape(freshTask(t, "report.rebuild")) as { $object: Entries }).$object), id });
        const victim = await t.load(PROBE, { name: `saver-${round + 1}`, ...LIMITS });
        const crash = t.crashAt(victim, { match: "*", nth, when });
        const call = save(victim, next).catch(() => null);
        const entry = await Promise.race([crash, call.then(() => t.sleep(1000)).then(() => null)]);
        t.proxy.reset();
        const where = entry
          ? `${when} its command #${nth} (${entry.args
              .slice(0, 2)
              .map((a) => quote(a))
              .join(" ")})`
          : "after it returned (it sent fewer commands this time)";
        t.note(`${victim.name} overwrote ${taskKey(id)} and died ${where}`);
        const text = await t.redis.get(taskKey(id));
        if (text === null) {
          return t.fail({
            message: `${victim.name} died ${where} while saveTask replaced ${quote(taskKey(id))}, and the key is gone: neither the old task nor the new one is stored.`,
            hint: "Replace a task in one command: SET overwrites whatever the key held. Deleting first, or writing in steps, leaves a moment in which a crash loses the task.",
          });
        }
        const decoded = await ask(reader, "tryDeserialize", text);
        if (!decoded.ok || (firstDifference(old, decoded.value, "task") && firstDifference(next, decoded.value, "task"))) {
          t.fail({
            message: `${victim.name} died ${where} while saveTask replaced ${quote(taskKey(id))}, and the key holds neither the old task nor the new one.`,
            actual: text.slice(0, 300),
            hint: "Write the whole task in one command: SET task:{id} serialize(task).",
          });
        }
      }
    },

    "shared-state": async (t) => {
      const connectionsBefore = t.proxy.stats().connectionsTotal;
      const modules = await t.loadMany(PROBE, 3, LIMITS);
      const anyModule = () => modules[Math.floor(t.random() * modules.length)]!;

      // 1. First use, from three modules at once: 8 saves and 3 loads each, all started together.
      const burst = modules.map((module) => ({
        module,
        tasks: Array.from({ length: 8 }, () => shape(freshTask(t))),
        absent: Array.from({ length: 3 }, () => t.id("absent")),
      }));
      t.note(`${modules.length} fresh modules each start 8 saves and 3 loads at once, before any of them has used Redis`);
      // A module that dies (a refused connection, an unhandled error) fails its calls: counted
      // after the connections, which say why.
      const settle = (module: RpcModule, call: string, outcome: Promise<Outcome>) =>
        outcome.then(
          (o) => ({ module, call, outcome: o, died: null }),
          (error: unknown) => ({ module, call, outcome: null, died: error instanceof Error ? error.message : String(error) }),
        );
      const results = await Promise.all(
        burst.flatMap(({ module, tasks, absent }) => [
          ...tasks.map((task) => settle(module, `saveTask(${idOf(task)})`, save(module, task))),
          ...absent.map((id) => settle(module, `loadTask(${id})`, ask(module, "tryLoad", id))),
        ]),
      );
      const opened = t.proxy.stats().connectionsTotal - connectionsBefore;
      if (opened > modules.length) {
        t.fail({
          message: `${modules.length} module instances opened ${opened} connections to Redis for ${results.length} calls started at once.`,
          expected: `at most ${modules.length}: one per module`,
          actual: `${opened} connections`,
          hint: "Create one client per module and reuse it for every call: a client per call leaks a connection each time (or pays a connect each time), and a lazy `if (!client) client = await connect()` lets every call that starts before the first connect finishes make its own. Create it at the top of the module, or keep the promise of the first connect and await that.",
        });
      }
      for (const { module, call, outcome, died } of results) {
        if (outcome === null)
          return t.fail({
            message: `${call} in ${module.name} never returned when it ran at the same time as ${results.length - 1} other calls on first use: ${died}`,
            hint: "Calls made before the module has talked to Redis must work as well as later ones.",
          });
        if (!outcome.ok)
          return t.fail({
            message: `${call} in ${module.name} threw ${describeError(outcome)} when it ran at the same time as ${results.length - 1} other calls on first use.`,
            hint: "Calls made before the module has talked to Redis must work as well as later ones.",
          });
        if (call.startsWith("loadTask") && outcome.value !== null)
          t.fail({
            message: `${call} in ${module.name} returned ${show(outcome.value)} for an id never saved.`,
            hint: "GET returns null for a missing key: return null then.",
          });
      }
      await expectStored(
        t,
        modules[0]!,
        burst.flatMap(({ tasks }) => tasks),
        "After 24 saves from 3 modules at once",
      );
      const keys = await t.redis.dbsize();
      if (keys !== 24)
        t.fail({
          message: `After 24 saves of different tasks, Redis holds ${keys} keys.`,
          expected: "24 keys, task:{id} for each task",
          actual: `${keys}`,
          hint: "saveTask writes one key, task:{id}, and nothing else.",
        });

      // 2. One id, overwritten by one module, deleted and rewritten behind every module's back:
      // every module must read what Redis holds now, not what it saw or wrote before.
      const id = t.id("task");
      const version = () => taskShape({ ...Object.fromEntries((shape(freshTask(t)) as { $object: Entries }).$object), id });
      const staleHint =
        "loadTask must read Redis every time: another process may have saved, replaced or removed the task since this one last saw it. A cache in module memory serves the old task.";
      const steps = ["save", "save", "delete", "save", "rewrite", "save", "delete", "save"] as const;
      for (const [i, step] of steps.entries()) {
        let now: Shape | null;
        let what: string;
        if (step === "delete") {
          await t.redis.del(taskKey(id));
          [now, what] = [null, `the grader deleted ${taskKey(id)}`];
        } else if (step === "rewrite") {
          // The text another module's serialize writes, SET by the grader itself.
          now = version();
          const encoded = await ask(anyModule(), "trySerialize", now);
          if (!encoded.ok || typeof encoded.value !== "string")
            return t.fail({ message: `serialize threw for a valid task: ${describeError(encoded)}`, hint: "json-round-trip shows why." });
          await t.redis.set(taskKey(id), encoded.value);
          what = `the grader SET ${taskKey(id)} to another version`;
        } else {
          now = version();
          const by = anyModule();
          const outcome = await save(by, now);
          if (!outcome.ok)
            t.fail({
              message: `saveTask in ${by.name} threw for a valid task: ${describeError(outcome)}`,
              hint: "saveTask validates, then SETs serialize(task) under task:{id}.",
            });
          what = `${by.name} saved version ${i + 1}`;
          if (i > 0)
            await expectStored(
              t,
              modules[0]!,
              [now],
              `After ${what} over an earlier one`,
              "saveTask replaces whatever task:{id} held: a plain SET, not SET NX, and not only when the key is missing.",
            );
        }
        await Promise.all(
          modules.map((module) =>
            expectLoads(
              t,
              module,
              [[id, now]],
              `After ${what}`,
              step === "save" && i > 0 ? `${staleHint} saveTask replaces what task:{id} held (plain SET, not SET NX).` : staleHint,
            ),
          ),
        );
      }

      // 3. Three modules save three versions of one task at the same moment, with jittered
      // replies: Redis ends with one of them whole, and every module reads that one.
      const raceId = t.id("task");
      const versions = modules.map(() => taskShape({ ...Object.fromEntries((shape(freshTask(t)) as { $object: Entries }).$object), id: raceId }));
      t.proxy.setLatency({ ms: 2, jitterMs: 20 });
      t.note(`${modules.length} modules save 3 versions of ${raceId} at once, replies delayed 2±20 ms`);
      const raced = await Promise.all(modules.map((module, i) => save(module, versions[i]!)));
      t.proxy.setLatency({ ms: 0 });
      raced.forEach((outcome, i) => {
        if (!outcome.ok)
          t.fail({
            message: `saveTask in ${modules[i]!.name} threw while two other modules saved the same id: ${describeError(outcome)}`,
            hint: "Saving a task that exists replaces it.",
          });
      });
      const text = await t.redis.get(taskKey(raceId));
      const decoded = text === null ? null : await ask(modules[0]!, "tryDeserialize", text);
      const winner = decoded?.ok ? versions.find((v) => !firstDifference(v, decoded.value, "task")) : undefined;
      if (!winner)
        return t.fail({
          message: `After 3 modules saved 3 versions of ${raceId} at once, ${taskKey(raceId)} holds ${text === null ? "nothing" : "none of them whole"}.`,
          actual: text?.slice(0, 300),
          hint: "Each save writes the whole task in one SET; the last one to reach Redis wins, whole.",
        });
      await Promise.all(
        modules.map((module) => expectLoads(t, module, [[raceId, winner]], `After 3 modules saved 3 versions of ${raceId} at once`, staleHint)),
      );
    },
  },
});
