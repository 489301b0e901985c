import { isDeepStrictEqual } from "node:util";
import { CheckFailure, defineChecks, fc, type CheckContext, type RpcModule } from "../../lib/grader/index.ts";

/** The learner's reply type (instructions.md): JSON, with an error reply as `{ error }`. */
type Reply = string | number | null | { error: string } | Reply[];
type LogEntry = ReturnType<CheckContext["commands"]>[number];

const MODULE = "resp.ts";
const PROBE = "parser-probe.ts";
/** Instances live as long as a check may take on a loaded machine (their default is 10 s). */
const INSTANCE = { limits: { wallMs: 28_000 } };
const CRLF = Buffer.from("\r\n");

/**
 * The largest call the grader sends the learner's module, as JSON. The sandbox's side of the
 * grader's channel decodes each read on its own, so a multi-byte character split between two
 * reads (64 KB each) would arrive as U+FFFD: larger values reach the learner through Redis instead.
 */
const CHANNEL_SAFE_BYTES = 48_000;
const fitsChannel = (args: unknown) => Buffer.byteLength(JSON.stringify(args)) <= CHANNEL_SAFE_BYTES;

/**
 * How long the grader waits for a call that should return at once. Far beyond what a working
 * client needs, because the module shares one sandbox process with the other checks' modules, on
 * two loaded cores: a tight limit here would fail correct code, and a hang still fails.
 */
const CALL_MS = 10_000;
/** Calls the check follows itself (track), judging them by its own deadlines: the channel must not time them out first. */
const TRACKED_MS = 25_000;

/** instructions.md: a call waiting on a connection that closes rejects within 1 s. */
const REJECT_WITHIN_MS = 1000;
/** Room for timers on a loaded machine, beyond the channel's own delay (measured, see settleAfterCut). */
const CHANNEL_MARGIN_MS = 150;
/** instructions.md: a command is never timed out by the client; the grader holds a BLPOP this long. */
const BLOCKED_FOR_MS = 1000;

// Characters of every UTF-8 width (1 to 4 bytes), so random text splits inside characters.
const ALPHABET = ["a", "Z", "7", " ", "-", "é", "ß", "ж", "ñ", "€", "中", "語", "✓", "🎉", "🚀", "😀"];

/**
 * Text no learner program can know in advance (the runner's CSPRNG, never the seed): every value a
 * check asks the learner's client to send or read back, so a reply cannot be hard-coded or
 * computed from the seed, only parsed from what Redis sent.
 */
function unpredictableText(t: CheckContext, length: number): string {
  return Array.from({ length }, () => ALPHABET[Math.floor(t.unpredictable() * ALPHABET.length)]!).join("");
}

/** An integer in [0, below) from the runner's CSPRNG. */
const unpredictableInt = (t: CheckContext, below: number) => Math.floor(t.unpredictable() * below);

/** Characters that do not show: spaces other than " ", controls, format characters, combining marks on their own. */
const INVISIBLE = /[\p{Z}\p{C}\p{M}]/u;
const codePoint = (c: string) => `\\u{${c.codePointAt(0)!.toString(16)}}`;

/** A JSON string literal in which characters that do not show are written as \u{…}. */
function literal(s: string): string {
  return JSON.stringify(s).replace(/[^\x20-\x7e]/gu, (c) => (INVISIBLE.test(c) ? codePoint(c) : c));
}

/** A string as the learner can read it: long ones shortened, with their size. */
function showText(s: string): string {
  const bytes = Buffer.byteLength(s);
  if (bytes <= 240) return literal(s);
  return `${literal([...s].slice(0, 24).join(""))}… (${[...s].length} characters, ${bytes} bytes)`;
}

/** A reply (or any JSON) as the learner can read it: strings as showText shows them. */
function shown(value: unknown): string {
  if (typeof value === "string") return showText(value);
  if (Array.isArray(value)) return `[${value.map(shown).join(", ")}]`;
  if (value === undefined) return "undefined";
  if (typeof value === "object" && value !== null)
    return `{ ${Object.entries(value)
      .map(([k, v]) => `${k}: ${shown(v)}`)
      .join(", ")} }`;
  return JSON.stringify(value);
}
const clipped = (text: string) => (text.length > 1500 ? `${text.slice(0, 1500)}…` : text);

/** t.equal, with expected and actual shown so that invisible characters and long values can be read. */
function same(t: CheckContext, actual: unknown, expected: unknown, details: { message: string; hint?: string }): void {
  if (!isDeepStrictEqual(actual, expected)) t.fail({ ...details, expected: clipped(shown(expected)), actual: clipped(shown(actual)) });
}

/** A command as the learner would type it: `SET utf8:1 "héllo"`. */
function show(args: string[]): string {
  return args.map((a) => (/^[\x21-\x7e]+$/.test(a) ? a : showText(a))).join(" ");
}

/** Bytes as readable text: \r, \n and control bytes escaped, UTF-8 characters as themselves, other bytes as \xNN. */
function wire(bytes: Buffer): string {
  let out = "";
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i]!;
    const width = b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 0;
    if (width === 1) {
      out +=
        b === 13
          ? "\\r"
          : b === 10
            ? "\\n"
            : b === 92
              ? "\\\\"
              : b === 34
                ? '\\"'
                : b < 32 || b === 127
                  ? `\\x${b.toString(16).padStart(2, "0")}`
                  : String.fromCharCode(b);
      i += 1;
      continue;
    }
    const char = width > 0 && i + width <= bytes.length ? bytes.toString("utf8", i, i + width) : "\ufffd";
    if (width > 0 && !char.includes("\ufffd") && Buffer.from(char).equals(bytes.subarray(i, i + width))) {
      out += INVISIBLE.test(char) ? codePoint(char) : char;
      i += width;
    } else {
      out += `\\x${b.toString(16).padStart(2, "0")}`;
      i += 1;
    }
  }
  return `"${out}"`;
}

/** The part of `bytes` around offset `at`, for showing where two byte strings part. */
function wireAround(bytes: Buffer, at: number): string {
  const from = Math.max(0, at - 24);
  const to = Math.min(bytes.length, at + 40);
  return `${from > 0 ? "…" : ""}${wire(bytes.subarray(from, to))}${to < bytes.length ? "…" : ""} (${bytes.length} bytes)`;
}

const firstDifference = (a: Buffer, b: Buffer): number => {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
};

function encodeCommand(args: string[], length: (arg: string) => number = Buffer.byteLength): Buffer {
  return Buffer.concat([Buffer.from(`*${args.length}\r\n`), ...args.flatMap((a) => [Buffer.from(`$${length(a)}\r\n`), Buffer.from(a), CRLF])]);
}

/** encode()'s return value after its trip through JSON: a Buffer arrives as { type: "Buffer", data }. */
function asBytes(value: unknown): Buffer | string {
  if (typeof value === "object" && value !== null && (value as { type?: unknown }).type === "Buffer" && Array.isArray((value as { data?: unknown }).data)) {
    return Buffer.from((value as { data: number[] }).data);
  }
  if (typeof value === "object" && value !== null && !Array.isArray(value) && Object.keys(value).every((k, i) => k === String(i))) {
    return Buffer.from(Object.values(value) as number[]); // a plain Uint8Array
  }
  return typeof value === "string" ? `the string ${showText(value)}` : `${JSON.stringify(value)?.slice(0, 200)}`;
}

const isError = (reply: unknown): reply is { error: string } =>
  typeof reply === "object" && reply !== null && !Array.isArray(reply) && typeof (reply as { error?: unknown }).error === "string";
const holdsError = (reply: unknown): boolean => isError(reply) || (Array.isArray(reply) && reply.some(holdsError));

/** What to change, when a reply shows Redis could not read the command at all. */
function replyHint(reply: unknown, otherwise: string): string {
  if (isError(reply) && reply.error.includes("Protocol error")) {
    return `Redis could not read your command (${reply.error}). Check encode(): each $ length is the argument's length in bytes (Buffer.byteLength), not in characters.`;
  }
  return otherwise;
}

/** What to change when a call hangs, and, where the check knows better than "do not throw", when it throws. */
type FailHints = string | { hang: string; threw: string };

/** Calls the learner's command() and turns a throw or a hang into a failure naming the command. */
async function send(t: CheckContext, resp: RpcModule, args: string[], situation: string, hints: FailHints, timeoutMs = CALL_MS): Promise<Reply> {
  try {
    return await resp.call<Reply>("command", [args], timeoutMs);
  } catch (error) {
    if (!(error instanceof CheckFailure)) throw error;
    const hung = error.message.includes("did not return");
    const hint = typeof hints === "string" ? (hung ? hints : error.hint) : hung ? hints.hang : hints.threw;
    return t.fail({ message: `${error.message} (sending ${show(args)}${situation ? `, ${situation}` : ""})`, actual: error.actual, hint });
  }
}

async function expectReply(
  t: CheckContext,
  resp: RpcModule,
  args: string[],
  expected: Reply,
  situation: string,
  hint: string,
  hangHint: FailHints,
  timeoutMs?: number,
): Promise<void> {
  const reply = await send(t, resp, args, situation, hangHint, timeoutMs);
  same(t, reply, expected, { message: `command(${show(args)})${situation ? ` ${situation}` : ""} returned the wrong reply.`, hint: replyHint(reply, hint) });
}

/**
 * The learner's module for a property: a fresh instance after a run that failed, so a connection
 * one input broke does not fail every later (shrunk) input and hide the smallest one.
 */
function freshAfterFailure(t: CheckContext, first: RpcModule) {
  let resp = first;
  let spoiled = false;
  return async <T>(body: (resp: RpcModule) => Promise<T>): Promise<T> => {
    if (spoiled) {
      void resp.dispose();
      resp = await t.load(MODULE, INSTANCE);
      spoiled = false;
    }
    try {
      return await body(resp);
    } catch (error) {
      spoiled = true;
      throw error;
    }
  };
}

// ---------------------------------------------------------------------------------------------
// Generated text: multi-byte and astral characters, combining marks and joiners, any code point,
// and the bytes that break a protocol written for ASCII lines (\r\n, lone \r or \n, NUL, RESP).

const TRICKY = [
  "\r\n",
  "\r",
  "\n",
  "\u0000",
  "é",
  "e\u0301",
  "ß",
  "中",
  "🎉",
  "👩‍💻",
  "🇨🇭",
  "\u200d",
  "\ufeff",
  "\u{10ffff}",
  "$-1\r\n",
  "*1\r\n$1\r\nx\r\n",
  "+OK\r\n",
  ":1\r\n",
  "-ERR x\r\n",
  "\t",
  "\u007f",
  "\u2028",
  " ",
];
const segment = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 8 }),
  fc.string({ unit: "binary", maxLength: 6 }),
  fc.string({ unit: "grapheme-ascii", maxLength: 8 }),
  fc.constantFrom(...TRICKY),
);
/** Short text of every kind, CRLF included. */
const text = fc.array(segment, { maxLength: 4 }).map((parts) => parts.join(""));
/** A large value (2 KB to `maxBytes`): a generated piece repeated, so it shrinks to a short piece. */
const largeText = (maxBytes: number) =>
  fc
    .tuple(fc.string({ unit: "grapheme", minLength: 1, maxLength: 6 }), fc.constantFrom(...TRICKY), fc.integer({ min: 2_000, max: maxBytes }))
    .map(([a, b, bytes]) => {
      const unit = a + b;
      return unit.repeat(Math.max(1, Math.floor(bytes / Buffer.byteLength(unit))));
    });
/** An argument or value: mostly short text, sometimes empty, now and then large. */
const value = (maxLargeBytes = 0) =>
  maxLargeBytes === 0
    ? fc.oneof({ arbitrary: text, weight: 7 }, { arbitrary: fc.constant(""), weight: 1 })
    : fc.oneof({ arbitrary: text, weight: 14 }, { arbitrary: fc.constant(""), weight: 2 }, { arbitrary: largeText(maxLargeBytes), weight: 1 });
/** The text of a simple string or an error: anything but \r and \n. */
const lineText = text.map((s) => s.replace(/[\r\n]/g, ""));

// ---------------------------------------------------------------------------------------------
// Replies: each piece knows its bytes and the reply it means.

interface Piece {
  name: string;
  raw: Buffer;
  reply: Reply;
}
const piece = (name: string, raw: string | Buffer, reply: Reply): Piece => ({ name, raw: typeof raw === "string" ? Buffer.from(raw) : raw, reply });
const bulk = (name: string, value: string | null): Piece =>
  piece(name, value === null ? "$-1\r\n" : Buffer.concat([Buffer.from(`$${Buffer.byteLength(value)}\r\n`), Buffer.from(value), CRLF]), value);
/** A bulk string of bytes that need not be UTF-8: the client decodes them as UTF-8 (U+FFFD for what is not). */
const bulkBytes = (name: string, bytes: Buffer): Piece =>
  piece(name, Buffer.concat([Buffer.from(`$${bytes.length}\r\n`), bytes, CRLF]), bytes.toString("utf8"));
const array = (name: string, items: Piece[] | null): Piece =>
  items === null
    ? piece(name, "*-1\r\n", null)
    : piece(
        name,
        Buffer.concat([Buffer.from(`*${items.length}\r\n`), ...items.map((i) => i.raw)]),
        items.map((i) => i.reply),
      );

/** Every type of RESP reply, arrays nested in arrays, with generated contents. */
const replyArb: fc.Arbitrary<Piece> = fc.letrec<{ reply: Piece; array: Piece }>((tie) => ({
  reply: fc.oneof(
    { depthSize: "small", withCrossShrink: true, maxDepth: 3 },
    lineText.map((s) => piece("a simple string", `+${s}\r\n`, s)),
    lineText.map((s) => piece("an error", `-ERR ${s}\r\n`, { error: `ERR ${s}` })),
    fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.maxSafeInteger()).map((n) => piece("an integer", `:${n}\r\n`, n)),
    value().map((s) => bulk(s === "" ? "an empty bulk string" : "a bulk string", s)),
    fc.uint8Array({ maxLength: 12 }).map((b) => bulkBytes("a bulk string of raw bytes", Buffer.from(b))),
    fc.constant(bulk("a null bulk string", null)),
    fc.constant(array("a null array", null)),
    tie("array"),
  ),
  array: fc.array(tie("reply"), { maxLength: 4 }).map((items) => array(items.length === 0 ? "an empty array" : `an array of ${items.length}`, items)),
})).reply;

/** Large bulk strings, alone or in an array, among small replies. */
const largeReplyArb: fc.Arbitrary<Piece> = fc.oneof(
  largeText(96_000).map((s) => bulk("a large bulk string", s)),
  fc.array(fc.oneof(largeText(30_000), text), { minLength: 1, maxLength: 3 }).map((items) =>
    array(
      `an array of ${items.length} with large values`,
      items.map((s) => bulk("a bulk string", s)),
    ),
  ),
);

function replyStream(t: CheckContext): Piece[] {
  return [
    piece("a simple string", "+OK\r\n", "OK"),
    piece("an error", "-ERR unknown command 'FOO'\r\n", { error: "ERR unknown command 'FOO'" }),
    piece("an integer", ":42\r\n", 42),
    piece("a negative integer", ":-7\r\n", -7),
    bulk("a bulk string", "hello"),
    bulk("an empty bulk string", ""),
    bulk("a null bulk string", null),
    bulk("a bulk string of multi-byte UTF-8", `héllo wörld 🎉 日本 ${unpredictableText(t, 12)}`),
    bulk("a bulk string holding \\r\\n", "line one\r\nline two\r\n"),
    bulk("a bulk string that looks like RESP", "*1\r\n$-1\r\n"),
    array("an empty array", []),
    array("a null array", null),
    array("an array of mixed replies", [bulk("", "α"), piece("", ":1\r\n", 1), bulk("", null), piece("", "+QUEUED\r\n", "QUEUED")]),
    array("a nested array (an XRANGE reply)", [
      array("", [bulk("", "1-1"), array("", [bulk("", "city"), bulk("", "Zürich")])]),
      array("", [bulk("", "1-2"), array("", [bulk("", "city"), bulk("", "東京")])]),
    ]),
    array("an array holding an error (an EXEC reply)", [
      piece("", "+OK\r\n", "OK"),
      piece("", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", {
        error: "WRONGTYPE Operation against a key holding the wrong kind of value",
      }),
    ]),
  ];
}

const parserHint =
  "Keep the bytes of an unfinished reply in a Buffer and prepend them to the next chunk; parse only complete replies from the front, and decode a bulk string (buffer.toString('utf8', start, end)) only once all its bytes are in. A chunk may end anywhere: inside a \\r\\n, inside a length, inside a multi-byte character.";
const oneChunkHint =
  "One chunk can hold many replies: after parsing one, keep going from where it ended until the bytes run out, and keep what is left for the next push.";

/** One way of cutting a stream into chunks: the offsets where one chunk ends and the next begins. */
interface Cutting {
  how: string;
  at: number[];
}

/** Where offset `at` of the stream falls, as the learner can find it: in which reply, at which byte. */
function placeOf(pieces: Piece[], at: number): string {
  let start = 0;
  for (const [i, p] of pieces.entries()) {
    const end = start + p.raw.length;
    if (at === end && i < pieces.length - 1) return `between reply ${i + 1} and reply ${i + 2}`;
    if (at < end) return `inside reply ${i + 1}, ${p.name}, after its byte ${at - start}`;
    start = end;
  }
  return "at the end";
}

/** The cuttings a generated stream is fed in: whole, byte by byte, in two at every byte, in generated sizes. */
function cuttingsOf(pieces: Piece[], sizes: number[]): Cutting[] {
  const length = pieces.reduce((n, p) => n + p.raw.length, 0);
  const every = Array.from({ length: Math.max(0, length - 1) }, (_, i) => i + 1);
  // Most streams are small; a long one is split at 100 points spread over it and around every reply's edges.
  const edges = pieces.reduce<number[]>((acc, p) => [...acc, (acc.at(-1) ?? 0) + p.raw.length], []);
  const splits =
    length <= 200
      ? every
      : [
          ...new Set([
            ...every.filter((_, i) => i % Math.ceil(length / 100) === 0),
            ...edges.flatMap((e) => [e - 2, e - 1, e, e + 1]).filter((e) => e > 0 && e < length),
          ]),
        ].sort((a, b) => a - b);
  const sized: number[] = [];
  for (let at = sizes[0]!, i = 1; at < length; at += sizes[i++ % sizes.length]!) sized.push(at);
  return [
    { how: "in one chunk", at: [] },
    { how: "one byte at a time", at: every },
    ...splits.map((at) => ({ how: `split in two after byte ${at} (${placeOf(pieces, at)})`, at: [at] })),
    { how: `in chunks of ${sizes.join(", ")}… bytes`, at: sized },
  ];
}

type Fed = Reply[][] | { threw: string; push: number };

/** Judges what one new RespParser returned from each push of one cutting of the stream. */
function judgeFed(t: CheckContext, pieces: Piece[], cutting: Cutting, fed: Fed, hint: string): void {
  const what = `${pieces.length} ${pieces.length === 1 ? "reply" : "replies"} ${cutting.how}`;
  if (!Array.isArray(fed)) {
    return t.fail({
      message: `Fed ${what}, your RespParser's push() number ${fed.push} threw ${fed.threw}.`,
      hint: `push() must not throw on valid replies, however they are split. ${hint}`,
    });
  }
  if (!fed.every((r) => Array.isArray(r))) {
    return t.fail({
      message: `Fed ${what}, your RespParser's push() did not always return an array.`,
      actual: JSON.stringify(fed).slice(0, 400),
      hint: "push(chunk) returns an array of the replies that chunk completed: [] when none, several when the chunk finished several.",
    });
  }
  const replies = fed.flat();
  for (const [i, p] of pieces.entries()) {
    if (i >= replies.length) {
      return t.fail({
        message: `Fed ${what}, your RespParser returned only ${replies.length}; it never returned reply ${i + 1}, ${p.name}.`,
        expected: `${wire(p.raw).slice(0, 400)} → ${clipped(shown(p.reply))}`,
        actual: `${replies.length} replies: ${clipped(shown(replies))}`,
        hint,
      });
    }
    same(t, replies[i], p.reply, {
      message: `Fed ${what}, your RespParser parsed reply ${i + 1}, ${p.name} (${p.raw.length > 300 ? `${p.raw.length} bytes` : wire(p.raw)}), wrongly.`,
      hint:
        holdsError(p.reply) && !holdsError(replies[i])
          ? "An error reply (-…\\r\\n) is not a simple string: return it as { error: \"ERR …\" }, the whole line after the '-'."
          : hint,
    });
  }
  if (replies.length > pieces.length)
    t.fail({
      message: `Fed ${what}, your RespParser returned ${replies.length}.`,
      expected: `${pieces.length} replies`,
      actual: `these more: ${clipped(shown(replies.slice(pieces.length)))}`,
      hint,
    });
  // Each reply must come out of the push that delivered its last byte, not later.
  const ends = [...cutting.at, Infinity];
  let end = 0;
  let chunk = 0;
  let seen = fed[0]?.length ?? 0;
  for (const [i, p] of pieces.entries()) {
    end += p.raw.length;
    while (ends[chunk]! < end) {
      chunk += 1;
      seen += fed[chunk]?.length ?? 0;
    }
    if (seen < i + 1) {
      t.fail({
        message: `Fed ${what}, your RespParser held reply ${i + 1}, ${p.name}, back after its last byte arrived.`,
        expected: `returned by push number ${chunk + 1}`,
        actual: "returned by a later push",
        hint: "Return a reply from the push that completes it: the caller cannot know more bytes are coming.",
      });
    }
  }
}

/** Feeds the stream to a new parser per cutting, in as few calls as the grader's channel allows, and judges each. */
async function feedCuttings(
  t: CheckContext,
  probe: RpcModule,
  pieces: Piece[],
  cuttings: Cutting[],
  hint: (c: Cutting, pieces: Piece[]) => string,
): Promise<void> {
  const stream = Buffer.concat(pieces.map((p) => p.raw));
  const replySize = JSON.stringify(pieces.map((p) => p.reply)).length * 1.2 + 16;
  for (let from = 0; from < cuttings.length;) {
    let budget = 400_000;
    let to = from;
    do budget -= replySize + cuttings[to]!.at.length * 3;
    while (++to < cuttings.length && budget - replySize - cuttings[to]!.at.length * 3 > 0);
    const batch = cuttings.slice(from, to);
    let fed: Fed[];
    try {
      fed = await probe.call<Fed[]>("feedCuts", [stream.toString("base64"), batch.map((c) => c.at)], CALL_MS + 5000);
    } catch (error) {
      if (!(error instanceof CheckFailure)) throw error;
      return t.fail({
        message: `Your RespParser failed when fed ${pieces.length} replies ${batch[0]!.how}${batch.length > 1 ? " (and other ways)" : ""}: ${error.message.replace(/^feedCuts\(\) /, "")}`,
        actual: error.actual,
        hint: `push() must return, without throwing, however the replies are split. ${hint(batch[0]!, pieces)}`,
      });
    }
    if (!Array.isArray(fed) || fed.length !== batch.length)
      return t.fail({
        message: "parser-probe.ts's feedCuts() returned something else than one result per cutting.",
        hint: "parser-probe.ts is read-only: restore it.",
      });
    for (const [i, cutting] of batch.entries()) judgeFed(t, pieces, cutting, fed[i]!, hint(cutting, pieces));
    from = to;
  }
}

/** Whether a reply holds a string with \r or \n: a bulk string, since no other reply can. */
const holdsLineBreak = (r: Reply): boolean => (typeof r === "string" ? /[\r\n]/.test(r) : Array.isArray(r) && r.some(holdsLineBreak));
const hintFor = (c: Cutting, pieces: Piece[]) =>
  `${pieces.some((p) => holdsLineBreak(p.reply)) ? "A bulk string is read by its $ length, never up to a \\r\\n: its value may itself hold \\r\\n. " : ""}${c.at.length === 0 ? oneChunkHint : parserHint}`;
const showStream = ({ pieces }: { pieces: Piece[] }) =>
  `${clipped(shown(pieces.map((p) => p.reply)))}\nas bytes: ${wire(Buffer.concat(pieces.map((p) => p.raw))).slice(0, 900)}`;

// ---------------------------------------------------------------------------------------------
// Calls that may never settle, and cuts placed where the check wants them.

interface Tracked {
  label: string;
  settled: boolean;
  ok: boolean;
  value?: unknown;
  error?: string;
  at: number;
  done: Promise<void>;
}

/** Follows a call to the learner's module without failing the check when it rejects. */
function track(label: string, call: Promise<unknown>): Tracked {
  const tracked: Tracked = { label, settled: false, ok: false, at: 0, done: Promise.resolve() };
  tracked.done = call.then(
    (value) => void Object.assign(tracked, { settled: true, ok: true, value, at: performance.now() }),
    (error: unknown) =>
      void Object.assign(tracked, { settled: true, ok: false, error: error instanceof Error ? error.message : String(error), at: performance.now() }),
  );
  return tracked;
}

/**
 * Waits for the calls that were in flight when the connection went away, as long as the
 * instructions allow plus what the loaded machine holds back: what the grader's channel to the
 * module takes right now (a call with no I/O, encode(), made at the cut and again before calling a
 * call late), and any time the grader's own event loop stood still (the proxy that closes the
 * learner's sockets runs on it). Returns the time allowed, from the cut.
 */
async function settleAfterCut(resp: RpcModule, calls: Tracked[], cutAt: number): Promise<number> {
  let stalled = 0;
  let last = performance.now();
  // Only real stalls count (a timer 100 ms late or more), not the jitter of a busy machine.
  const meter = setInterval(() => {
    const now = performance.now();
    stalled += Math.max(0, now - last - 100);
    last = now;
  }, 10);
  const roundTrip = async () => {
    const sent = performance.now();
    await track("encode()", resp.call("encode", [["PING"]], CALL_MS)).done;
    return performance.now() - sent;
  };
  const settled = () => calls.every((c) => c.settled);
  try {
    let allowed = REJECT_WITHIN_MS + CHANNEL_MARGIN_MS + (await roundTrip());
    for (;;) {
      while (!settled() && performance.now() - cutAt < allowed + stalled) await new Promise((resolve) => setTimeout(resolve, 10));
      if (settled()) break;
      const extra = await roundTrip();
      allowed += extra;
      // The channel answers quickly again: a call still pending now is really pending.
      if (settled() || extra < 100) break;
    }
    return allowed + stalled;
  } finally {
    clearInterval(meter);
  }
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Cuts every connection the moment `ready()` holds, looking on every turn of the event loop: the
 * proxy sends a fragmented reply one piece per turn, so the cut lands within a byte of its aim.
 * Returns when it cut (performance.now()), or null when `giveUp()` came first.
 */
async function cutWhen(t: CheckContext, ready: () => boolean, giveUp: () => boolean): Promise<number | null> {
  for (;;) {
    if (ready()) {
      t.proxy.cutAll();
      return performance.now();
    }
    if (giveUp()) return null;
    await nextTurn();
  }
}

/** Bytes the proxy has written to the learner's sockets since `base` (a bytesOut). */
const bytesOutSince = (t: CheckContext, base: number) => t.proxy.stats().bytesOut - base;

/** Learner commands since `mark` whose first argument after the name is `key`. */
const sentFor = (t: CheckContext, mark: number, key: string): LogEntry[] => t.commands().filter((e) => e.seq > mark && e.args[1] === key);

/** Redis closes every connection the learner's code has (they all log in as the lab's learner user). */
async function redisClosesLearnerConnections(t: CheckContext): Promise<number> {
  return Number(await t.redis.call("CLIENT", "KILL", "USER", "learner"));
}

async function blockedClients(t: CheckContext): Promise<number> {
  const info = await t.redis.info("clients");
  return Number(/blocked_clients:(\d+)/.exec(info)?.[1] ?? 0);
}

/** The learner's connections through the proxy: opened since `since` (a connectionsTotal), open now. */
function connections(t: CheckContext, since: number): { opened: number; open: number } {
  const stats = t.proxy.stats();
  return { opened: stats.connectionsTotal - since, open: stats.connectionsOpen };
}

const closeHint =
  "Listen for 'close' (and 'error', and 'end') on the socket: when it comes, reject every call still waiting on that connection with an Error, at once, and forget the connection, so the next call opens a new one with a new RespParser. Never resend a waiting command: it may have run already.";

/** Judges calls that were waiting when the connection went away: each rejected, in time, none resolved with a reply it never got. */
function judgeCutCalls(
  t: CheckContext,
  resp: RpcModule,
  calls: { call: Tracked; mustReject: boolean; expected: unknown }[],
  cutAt: number,
  allowed: number,
  fault: string,
): void {
  if (!resp.alive) {
    return t.fail({
      message: `Your module's process ended when ${fault}: ${resp.outcome?.kind === "exited" ? `it exited with code ${resp.outcome.code}` : "it died"}.`,
      actual: resp.output().slice(-1500) || undefined,
      hint: `An 'error' event on a socket with no 'error' listener throws and ends the process. ${closeHint}`,
    });
  }
  for (const { call, mustReject, expected } of calls) {
    if (!call.settled) {
      const waited = ((performance.now() - cutAt) / 1000).toFixed(1);
      t.fail({
        message: `${call.label} was still waiting ${waited} s after ${fault}.`,
        expected: `rejected within ${REJECT_WITHIN_MS / 1000} s of the connection closing`,
        actual: `still pending ${waited} s later: no reply will ever come on a closed connection`,
        hint: closeHint,
      });
    }
    const after = Math.round(call.at - cutAt);
    if (call.ok && (mustReject || JSON.stringify(call.value) !== JSON.stringify(expected))) {
      t.fail({
        message: `${call.label} resolved ${after} ms after ${fault}, although its reply never reached your socket.`,
        expected: "rejected with an Error",
        actual: `resolved with ${clipped(shown(call.value))}${call.ok && JSON.stringify(call.value) === JSON.stringify(expected) ? " (its reply: so the command was sent again on a new connection)" : ""}`,
        hint: closeHint,
      });
    }
    if (!call.ok && after > allowed) {
      t.fail({
        message: `${call.label} rejected only ${(after / 1000).toFixed(2)} s after ${fault}.`,
        expected: `rejected within ${REJECT_WITHIN_MS / 1000} s of the connection closing`,
        actual: call.error,
        hint: `Do not wait for a timeout to notice a dead connection. ${closeHint}`,
      });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Callers sharing the module: each owns its keys, so its replies are known whatever the interleaving.

interface Step {
  args: string[];
  expected: Reply;
}

/** A caller's keys and what Redis holds in them, as its commands change it. */
class CallerModel {
  text: string;
  readonly items: string[];
  readonly hash: string[];
  counter = 0;
  appended = 0;
  constructor(
    t: CheckContext,
    readonly prefix: string,
  ) {
    // "v " first: an INCR of this key must fail whatever text follows.
    this.text = `v ${unpredictableText(t, 8)}`;
    this.items = Array.from({ length: 3 }, () => unpredictableText(t, 4));
    this.hash = ["naïve", unpredictableText(t, 5), "emoji", `🎉${unpredictableText(t, 3)}`];
  }
  key(name: string): string {
    return `${this.prefix}:${name}`;
  }
  async seed(t: CheckContext): Promise<void> {
    await Promise.all([t.redis.set(this.key("s"), this.text), t.redis.rpush(this.key("l"), ...this.items), t.redis.hset(this.key("h"), ...this.hash)]);
  }
  /** The next command this caller sends, chosen by the seed, with its reply. */
  step(t: CheckContext, appender: boolean, injected: string): Step {
    const r = Math.floor(t.random() * (appender ? 12 : 11));
    switch (r) {
      case 0:
        return { args: ["GET", this.key("s")], expected: this.text };
      case 1: {
        const next = `v ${unpredictableText(t, 6)}`;
        this.text = next;
        return { args: ["SET", this.key("s"), next], expected: "OK" };
      }
      case 2:
        return { args: ["INCR", this.key("n")], expected: ++this.counter };
      case 3:
        return { args: ["INCR", this.key("s")], expected: { error: "ERR value is not an integer or out of range" } };
      case 4:
        return { args: ["LPUSH", this.key("s"), "x"], expected: { error: "WRONGTYPE Operation against a key holding the wrong kind of value" } };
      case 5: {
        const item = unpredictableText(t, 3);
        this.items.push(item);
        return { args: ["RPUSH", this.key("l"), item], expected: this.items.length };
      }
      case 6:
        return { args: ["LRANGE", this.key("l"), "0", "-1"], expected: [...this.items] };
      case 7:
        return { args: ["HGETALL", this.key("h")], expected: [...this.hash] };
      case 8:
        return { args: ["MGET", this.key("s"), this.key("missing")], expected: [this.text, null] };
      case 9:
        return { args: ["GET", this.key("missing")], expected: null };
      case 10: {
        const echoed = unpredictableText(t, 5);
        return { args: ["ECHO", echoed], expected: echoed };
      }
      default: {
        // Only the appender sends APPEND: the proxy fails its first one, so which call gets the
        // injected error does not depend on how the callers interleave.
        const first = this.appended === 0 && injected !== "";
        if (first) {
          this.appended = -1;
          return { args: ["APPEND", this.key("a"), "ab"], expected: { error: injected } };
        }
        this.appended = Math.max(0, this.appended) + 2;
        return { args: ["APPEND", this.key("a"), "ab"], expected: this.appended };
      }
    }
  }
}

export default defineChecks({
  // Generous: a passing run takes a few seconds, but runs share two loaded cores.
  timeoutMs: 30_000,
  // The live view: the learner's client talks to Redis once a second; every few rounds the proxy
  // starts or stops delivering replies one byte at a time, and now and then cuts the connection.
  playground: async (t) => {
    const limits = { wallMs: 70_000, cpuSeconds: 30 };
    let resp = await t.load(MODULE, { name: "client", limits });
    const call = async (fn: "command" | "pipeline", arg: string[] | string[][], label: string) => {
      try {
        t.note(`${label} → ${JSON.stringify(await resp.call(fn, [arg], 5000))}`);
      } catch (error) {
        t.note(`${label} failed: ${(error as Error).message}`);
      }
    };
    for (let round = 1; !t.signal.aborted; round++) {
      if (!resp.alive) {
        t.note("your module's process stopped; starting a new one");
        resp = await t.load(MODULE, { name: `client-${round}`, limits });
      }
      if (round % 4 === 0) {
        const on = round % 8 === 4;
        t.proxy.fragment(on ? 1 : 0);
        t.note(on ? "replies now arrive 1 byte at a time" : "replies arrive whole again");
      }
      if (round % 6 === 3) {
        t.proxy.cutAll();
        t.note("the proxy cut your connection: the next command must open a new one");
      }
      await call("command", ["PING"], "PING");
      await call("command", ["SET", "play:greeting", "héllo 🌍"], 'SET play:greeting "héllo 🌍"');
      await call("command", ["GET", "play:greeting"], "GET play:greeting");
      await call("command", ["RPUSH", "play:log", `visit ${round} ✓`], `RPUSH play:log "visit ${round} ✓"`);
      await call("command", ["LTRIM", "play:log", "-5", "-1"], "LTRIM play:log -5 -1");
      await call("command", ["LRANGE", "play:log", "0", "-1"], "LRANGE play:log 0 -1");
      const batch = [
        ["INCR", "play:visits"],
        ["INCR", "play:visits"],
        ["GET", "play:missing"],
        ["INCR", "play:greeting"],
        ["GET", "play:visits"],
      ];
      await call("pipeline", batch, `pipeline of ${batch.map((c) => c.join(" ")).join(", ")}`);
      await t.sleep(1500);
    }
  },
  checks: {
    "encode-commands": async (t) => {
      const resp = await t.load(MODULE, INSTANCE);
      // Generated commands first: a failure then shows the smallest command encode() gets wrong.
      await t.property(
        fc.array(value(8_000), { minLength: 1, maxLength: 7 }).filter(fitsChannel),
        async (args) => {
          const got = asBytes(await resp.call("encode", [args], CALL_MS));
          const expected = encodeCommand(args);
          if (typeof got === "string") {
            return t.fail({
              message: `encode() returned ${got}, not a Buffer.`,
              expected: wireAround(expected, 0),
              hint: "Build the bytes with Buffer.from(...) and join the pieces with Buffer.concat([...]); a string cannot say how many bytes it will be.",
            });
          }
          if (!got.equals(expected)) {
            const at = firstDifference(got, expected);
            t.fail({
              message: `encode() produced the wrong bytes for a generated command, from byte ${at} on.`,
              expected: wireAround(expected, at),
              actual: wireAround(got, at),
              hint: got.equals(encodeCommand(args, (a) => a.length))
                ? `The $ lengths count characters, but RESP counts bytes: "é" is one character and two bytes, "🎉" two UTF-16 units and four bytes. Use Buffer.byteLength(arg), or the length of Buffer.from(arg).`
                : "A command is *<number of arguments>\\r\\n, then for each argument $<its length in bytes>\\r\\n<the argument's UTF-8 bytes>\\r\\n. An empty argument is $0\\r\\n\\r\\n; an argument holding \\r\\n is sent as it is, its length says where it ends.",
            });
          }
        },
        { runs: 50, noun: "command", show: (args) => `[${args.map(showText).join(", ")}]` },
      );

      const cases: string[][] = [
        ["PING"],
        ["SET", "greeting", ""],
        ["ECHO", "héllo"],
        ["SET", "emoji:🎉", "naïve café ☕"],
        ["RPUSH", "list", "a", "", "two words", "line one\r\nline two"],
        ["SET", `key:${unpredictableText(t, 6)}`, unpredictableText(t, 20)],
      ];
      for (const args of cases) {
        const got = asBytes(await resp.call("encode", [args], CALL_MS));
        const expected = encodeCommand(args);
        if (typeof got === "string") {
          return t.fail({
            message: `encode(${JSON.stringify(args)}) returned ${got}, not a Buffer.`,
            expected: wire(expected),
            hint: "Build the bytes with Buffer.from(...) and join the pieces with Buffer.concat([...]); a string cannot say how many bytes it will be.",
          });
        }
        if (!got.equals(expected))
          t.fail({
            message: `encode(${JSON.stringify(args)}) produced the wrong bytes.`,
            expected: wire(expected),
            actual: wire(got),
            hint: "A command is *<number of arguments>\\r\\n, then for each argument $<its length in bytes>\\r\\n<the argument>\\r\\n.",
          });
      }

      // Keys and values the learner's code cannot know in advance, and a value only the grader wrote:
      // the replies can come from nowhere but Redis.
      const key = t.id("enc");
      const echoed = `héllo 🎉 ${unpredictableText(t, 8)}`;
      const planted = { key: t.id("enc:grader"), value: unpredictableText(t, 16) };
      await t.redis.set(planted.key, planted.value);
      const script: [string[], Reply][] = [
        [["PING"], "PONG"],
        [["ECHO", echoed], echoed],
        [["SET", key, ""], "OK"],
        [["GET", key], ""],
        [["STRLEN", key], 0],
        [["DEL", key], 1],
        [["GET", key], null],
        [["GET", planted.key], planted.value],
      ];
      const hangHint =
        "command() never returned. Check that every chunk from the socket's 'data' event goes into your RespParser, and that each reply it returns resolves the oldest waiting call.";
      const mark = t.logPosition();
      for (const [args, expected] of script) {
        await expectReply(
          t,
          resp,
          args,
          expected,
          "over your socket",
          "Simple strings (+PONG) become strings, integers (:1) numbers, bulk strings ($0) strings, a null bulk ($-1) null.",
          hangHint,
        );
      }
      const asked = script.map(([args]) => args).filter((args) => args[0] !== "PING");
      const seen = t
        .commands("ECHO", "SET", "GET", "STRLEN", "DEL")
        .filter((e) => e.seq > mark)
        .map((e) => e.args);
      same(t, seen, asked, {
        message: "The commands that reached Redis are not the ones command() was asked to send.",
        hint: "Send each command once, with exactly its arguments, in the order it was asked: command(args) writes encode(args) to the socket.",
      });
    },

    "utf8-values": async (t) => {
      const first = await t.load(MODULE, INSTANCE);
      const hangHint =
        "command() never returned. Check that a reply holding multi-byte characters or \\r\\n inside a value is read by its $ length in bytes, not up to the next \\r\\n.";
      // Generated values through Redis and back: the bytes Redis stores, the reply to GET, and a
      // list of several generated values in one command.
      const withModule = freshAfterFailure(t, first);
      await t.property(
        // The large value first: shrinking tries dropping it before anything else.
        fc
          .record({
            large: fc.option(largeText(100_000), { freq: 5 }),
            keyPart: text,
            value: value(16_000),
            items: fc.array(value(), { minLength: 1, maxLength: 4 }),
          })
          .filter(fitsChannel),
        ({ value: v, items, keyPart, large }) =>
          withModule(async (resp) => {
            const key = `${t.id("rt")}:${keyPart}`;
            if (large !== null) {
              // A large value, stored by the grader, read back through the learner's client.
              await t.redis.set(`${key}:large`, large);
              await expectReply(
                t,
                resp,
                ["GET", `${key}:large`],
                large,
                `for a value of ${Buffer.byteLength(large)} bytes the grader stored`,
                "A large bulk string arrives in many chunks: keep collecting bytes until its $ length in bytes (plus \\r\\n) is in, then decode it once.",
                hangHint,
              );
            }
            await expectReply(t, resp, ["SET", key, v], "OK", "", 'SET replies +OK, a simple string: return "OK".', hangHint);
            const stored = await t.redis.getBuffer(key);
            if (!stored?.equals(Buffer.from(v))) {
              const want = Buffer.from(v);
              const at = stored ? firstDifference(stored, want) : 0;
              t.fail({
                message: `After command(${show(["SET", key, v])}), Redis holds different bytes under the key.`,
                expected: wireAround(want, at),
                actual: stored === null ? "(no such key)" : wireAround(stored, at),
                hint: "Send each argument's UTF-8 bytes (Buffer.from(arg)) and say how many bytes there are: Buffer.byteLength(arg), not arg.length.",
              });
            }
            await expectReply(
              t,
              resp,
              ["GET", key],
              v,
              "",
              "Read a bulk string by its $ length in bytes, then decode those bytes as UTF-8; the value may itself contain \\r\\n.",
              hangHint,
            );
            await expectReply(
              t,
              resp,
              ["RPUSH", `${key}:list`, ...items],
              items.length,
              "",
              "RPUSH replies with an integer (:n): return it as a number.",
              hangHint,
            );
            await expectReply(
              t,
              resp,
              ["LRANGE", `${key}:list`, "0", "-1"],
              items,
              "",
              "An array reply (*n) holds n replies: parse each one by its own type and length.",
              hangHint,
            );
          }),
        {
          runs: 30,
          noun: "value",
          timeLimitMs: 6000,
          show: ({ value: v, items, keyPart, large }) =>
            `value ${showText(v)}, list [${items.map(showText).join(", ")}], key suffix ${showText(keyPart)}${large === null ? "" : `, large value ${showText(large)}`}`,
        },
      );

      // The property held, so the first instance is still the one in use.
      const resp = first;
      const values = [
        "héllo wörld",
        "日本語のテキスト",
        "🎉🚀 👩‍💻 👨‍👩‍👧",
        "line one\r\nline two\r\n",
        "$5\r\nhello\r\n*1\r\n:1\r\n",
        "tab\tand\u0000nul",
        unpredictableText(t, 300),
      ];
      for (const [i, value] of values.entries()) {
        const key = i % 2 === 0 ? `utf8:${i}` : `utf8:ключ:${i}`;
        await expectReply(t, resp, ["SET", key, value], "OK", "", 'SET replies +OK, a simple string: return "OK".', hangHint);
        const stored = await t.redis.getBuffer(key);
        if (!stored?.equals(Buffer.from(value))) {
          t.fail({
            message: `After command(${show(["SET", key, value])}), Redis holds different bytes under ${key}.`,
            expected: JSON.stringify(value),
            actual: stored === null ? "(no such key)" : JSON.stringify(stored.toString("utf8")),
            hint: "Send each argument's UTF-8 bytes (Buffer.from(arg)) and say how many bytes there are: Buffer.byteLength(arg), not arg.length.",
          });
        }
        await expectReply(
          t,
          resp,
          ["GET", key],
          value,
          "",
          "Read a bulk string by its $ length in bytes, then decode those bytes as UTF-8; the value may itself contain \\r\\n.",
          hangHint,
        );
        await expectReply(t, resp, ["STRLEN", key], Buffer.byteLength(value), "", "STRLEN replies with an integer (:n): return it as a number.", hangHint);
      }
      const seeded = unpredictableText(t, 60);
      await t.redis.set("utf8:seeded", seeded);
      await expectReply(
        t,
        resp,
        ["GET", "utf8:seeded"],
        seeded,
        "for a value the grader stored",
        "Decode a bulk string's bytes as UTF-8 once all of them are in.",
        hangHint,
      );
      // Someone else changes the value: a client reads Redis, not what it remembers.
      const changed = unpredictableText(t, 40);
      await t.redis.set("utf8:seeded", changed);
      await expectReply(
        t,
        resp,
        ["GET", "utf8:seeded"],
        changed,
        "after the grader changed the value with its own connection",
        "Every command() goes to Redis and returns what Redis answered this time. Do not answer a GET from a value your client remembers: another client may have changed it since.",
        hangHint,
      );
    },

    "fragmented-replies": async (t) => {
      const probe = await t.load(PROBE, INSTANCE);
      // Generated replies of every type, each stream fed whole, byte by byte, split in two at every
      // byte, and in generated sizes: a failure shows the smallest stream and cut that break it.
      await t.property(
        fc.record({
          pieces: fc.array(replyArb, { minLength: 1, maxLength: 5 }),
          sizes: fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 6 }),
        }),
        ({ pieces: generated, sizes: generatedSizes }) => feedCuttings(t, probe, generated, cuttingsOf(generated, generatedSizes), hintFor),
        { runs: 40, noun: "stream of replies", timeLimitMs: 6000, show: showStream },
      );
      // Large values (up to about 100 KB) in pieces of generated sizes.
      await t.property(
        fc.record({
          pieces: fc.array(fc.oneof(largeReplyArb, replyArb), { minLength: 1, maxLength: 3 }),
          sizes: fc.array(fc.integer({ min: 1, max: 8192 }), { minLength: 1, maxLength: 6 }),
        }),
        ({ pieces: generated, sizes: generatedSizes }) =>
          feedCuttings(t, probe, generated, [{ how: "in one chunk", at: [] }, cuttingsOf(generated, generatedSizes).at(-1)!], hintFor),
        { runs: 8, noun: "stream of replies", timeLimitMs: 6000, show: showStream },
      );
      // And a stream of every kind of reply Redis sends, named, in one chunk, byte by byte, in two at every byte and in pieces.
      const pieces = replyStream(t);
      const sizes = Array.from({ length: 16 }, () => 1 + Math.floor(t.random() * 7));
      await feedCuttings(t, probe, pieces, cuttingsOf(pieces, sizes), hintFor);

      // Every value the client reads back is the grader's and unpredictable, so each reply has to be
      // parsed from the bytes Redis sent; none can be written into the client in advance.
      const emoji = `🎉 fête ünïcödé 日本語 🚀 ${unpredictableText(t, 10)}`;
      const count = unpredictableInt(t, 1e9);
      const list = [`α${unpredictableText(t, 3)}`, "β", `γ🎈${unpredictableText(t, 2)}`, ""];
      const hash = ["naïve", `café ${unpredictableText(t, 4)}`, "emoji", unpredictableText(t, 3)];
      const city = [`Zürich ${unpredictableText(t, 3)}`, `東京 ${unpredictableText(t, 3)}`];
      const temp = String(unpredictableInt(t, 80) - 40);
      const after = `still in step ✓ ${unpredictableText(t, 4)}`;
      // Bytes that are not UTF-8 (a lone continuation byte, a cut 4-byte character): decoded whole, as U+FFFD.
      const raw = Buffer.concat([
        Buffer.from(unpredictableText(t, 4)),
        Buffer.from([0x80, 0xf0, 0x9f, 0x8e]),
        Buffer.from(unpredictableText(t, 4)),
        Buffer.from([0xff, 0xc3]),
      ]);
      const long = unpredictableText(t, 600);
      await Promise.all([
        t.redis.set("frag:emoji", emoji),
        t.redis.set("frag:empty", ""),
        t.redis.set("frag:count", String(count)),
        t.redis.set("frag:raw", raw),
        t.redis.set("frag:long", long),
        t.redis.rpush("frag:list", ...list),
        t.redis.hset("frag:hash", ...hash),
        t.redis.xadd("frag:stream", "1-1", "city", city[0]!).then(() => t.redis.xadd("frag:stream", "1-2", "city", city[1]!, "temp", temp)),
      ]);
      const resp = await t.load(MODULE, INSTANCE);
      t.proxy.fragment(1);
      t.note("the proxy now delivers every reply 1 byte at a time");
      const wrongType = { error: "WRONGTYPE Operation against a key holding the wrong kind of value" };
      const script: [string[], Reply][] = [
        [["PING"], "PONG"],
        [["GET", "frag:missing"], null],
        [["GET", "frag:emoji"], emoji],
        [["GET", "frag:empty"], ""],
        [["GET", "frag:raw"], raw.toString("utf8")],
        [["GET", "frag:long"], long],
        [["INCR", "frag:count"], count + 1],
        [["LRANGE", "frag:list", "0", "-1"], list],
        [["LRANGE", "frag:missing", "0", "-1"], []],
        [["HGETALL", "frag:hash"], hash],
        [
          ["MGET", "frag:emoji", "frag:missing", "frag:empty"],
          [emoji, null, ""],
        ],
        [
          ["XRANGE", "frag:stream", "-", "+"],
          [
            ["1-1", ["city", city[0]!]],
            ["1-2", ["city", city[1]!, "temp", temp]],
          ],
        ],
        [["LPUSH", "frag:emoji", "x"], wrongType],
        [["BLPOP", "frag:missing", "0.01"], null],
        [["SET", "frag:after", after], "OK"],
        [["GET", "frag:after"], after],
      ];
      const hangHint =
        "command() never returned while the reply trickled in 1 byte at a time. One 'data' event is not one reply: feed every chunk into the same RespParser and answer a call only when it returns a complete reply.";
      for (const [args, expected] of script) {
        const hint = isError(expected)
          ? 'An error reply (-WRONGTYPE …) must come back as { error: "WRONGTYPE …" }, and the connection must stay in step for the next command.'
          : parserHint;
        await expectReply(t, resp, args, expected, "with replies arriving 1 byte at a time", hint, hangHint);
      }

      // Generated lists read through the proxy, which cuts each reply into pieces of a generated size.
      const withModule = freshAfterFailure(t, resp);
      await t.property(
        fc.record({ items: fc.array(value(), { maxLength: 5 }), size: fc.integer({ min: 1, max: 7 }) }),
        ({ items, size }) =>
          withModule(async (client) => {
            const key = t.id("frag:gen");
            if (items.length > 0) await t.redis.rpush(key, ...items);
            t.proxy.fragment(size);
            await expectReply(
              t,
              client,
              ["LRANGE", key, "0", "-1"],
              items,
              `with replies arriving ${size} byte${size > 1 ? "s" : ""} at a time`,
              parserHint,
              hangHint,
            );
          }),
        {
          runs: 25,
          noun: "list",
          timeLimitMs: 5000,
          show: ({ items, size }) => `[${items.map(showText).join(", ")}] read ${size} byte${size > 1 ? "s" : ""} at a time`,
        },
      );
    },

    "pipelined-batch": async (t) => {
      const resp = await t.load(MODULE, INSTANCE);
      await t.redis.set("pipe:name", "not a number");
      const keys = Array.from({ length: 8 }, (_, i) => `pipe:k${i}`);
      // The grader's own values to start from, unpredictable, so a GET's reply can only come from
      // Redis: a client that kept its own model of the keys would not know them.
      const model = new Map<string, string>(keys.map((k) => [k, unpredictableText(t, 6)]));
      let counter = unpredictableInt(t, 1e9);
      await t.redis.mset(...[...model].flat());
      await t.redis.set("pipe:counter", String(counter));
      const errorsAt = new Set<number>();
      while (errorsAt.size < 4) errorsAt.add(1 + Math.floor(t.random() * 98));
      const batch: { args: string[]; expected: Reply }[] = [];
      for (let i = 0; i < 100; i++) {
        const key = keys[Math.floor(t.random() * keys.length)]!;
        const r = t.random();
        if (errorsAt.has(i)) batch.push({ args: ["INCR", "pipe:name"], expected: { error: "ERR value is not an integer or out of range" } });
        else if (r < 0.35) {
          const value = `${unpredictableText(t, 1 + Math.floor(t.random() * 8))} #${i}`;
          model.set(key, value);
          batch.push({ args: ["SET", key, value], expected: "OK" });
        } else if (r < 0.6) batch.push({ args: ["INCR", "pipe:counter"], expected: ++counter });
        else batch.push({ args: ["GET", key], expected: model.get(key) ?? null });
      }

      const latency = { ms: 25, jitterMs: 15 };
      t.proxy.setLatency(latency);
      t.note(
        `every reply now takes ${latency.ms}±${latency.jitterMs} ms more: 100 commands sent one after another would take over ${(100 * (latency.ms - latency.jitterMs)) / 1000} s`,
      );
      let replies: Reply[] | "stalled";
      let settled = false;
      // A client that waits for each reply still finishes in about 2.6 s; the log judges it below.
      const call = resp.call<Reply[]>("pipeline", [batch.map((b) => b.args)], 15_000).finally(() => (settled = true));
      // A client holding every reply without resolving fails as soon as that is clear, not at the timeout.
      const stalled = async (): Promise<"stalled" | null> => {
        while (!settled) {
          const seen = t.commands("SET", "INCR", "GET");
          if (seen.length === batch.length && seen.every((e) => e.reply)) {
            await t.sleep(2500);
            return settled ? null : "stalled";
          }
          await t.sleep(25);
        }
        return null;
      };
      try {
        replies = (await Promise.race([call, stalled()])) ?? (await call);
      } catch (error) {
        if (!(error instanceof CheckFailure)) throw error;
        const seen = t.commands("SET", "INCR", "GET");
        const answered = seen.filter((e) => e.reply).length;
        return t.fail({
          message: `pipeline() of 100 commands: ${error.message}`,
          actual: `${seen.length} of the 100 commands reached Redis; ${answered} replies went back to your socket.${error.actual ? `\n${error.actual}` : ""}`,
          hint: "pipeline(commands) should write every encoded command, then resolve with one reply per command, in order.",
        });
      }
      if (replies === "stalled") {
        return t.fail({
          message: "Redis answered all 100 pipelined commands and every reply reached your socket, but pipeline() had not resolved 2.5 s later.",
          hint: "Many replies can arrive in one 'data' event: your parser must return every reply in the chunk, and each one must resolve its own waiting call.",
        });
      }
      if (!Array.isArray(replies) || replies.length !== batch.length) {
        t.fail({
          message: "pipeline() of 100 commands did not return 100 replies.",
          expected: "an array of 100 replies",
          actual: Array.isArray(replies) ? `${replies.length} replies` : JSON.stringify(replies),
          hint: "Resolve with one reply per command, in the order the commands were given.",
        });
      }
      for (const [i, { args, expected }] of batch.entries()) {
        same(t, replies[i], expected, {
          message: `In a pipeline of 100 commands, reply ${i + 1} (to ${show(args)}) is wrong.`,
          hint: isError(expected)
            ? 'An error reply answers its own command only: return it in its place as { error: "ERR …" } and keep matching the replies after it.'
            : "Redis answers pipelined commands in the order they were sent: give the n-th reply to the n-th command (a first-in first-out queue of waiting calls).",
        });
      }

      const sent = t.commands("SET", "INCR", "GET");
      const first = sent[0];
      if (!first || sent.length !== batch.length) {
        return t.fail({
          message: `Redis saw ${sent.length} SET/INCR/GET commands for a pipeline of 100.`,
          expected: "each command sent once",
          hint: "Write each command of the pipeline exactly once.",
        });
      }
      const firstReplyAt = first.at + (first.durationMs ?? Infinity);
      const late = sent.filter((e) => e.at > firstReplyAt);
      if (late.length > 0) {
        const waited = sent.filter((e, i) => i > 0 && e.at >= sent[i - 1]!.at + (sent[i - 1]!.durationMs ?? 0)).length;
        t.fail({
          message: `${late.length} of the 100 pipelined commands reached Redis only after the reply to the first had come back; ${waited} waited for the reply to the command before them.`,
          expected: `all 100 sent before the first reply arrived (about ${latency.ms} ms after the first command)`,
          actual: `command ${sent.indexOf(late[0]!) + 1} (${late[0]!.args.join(" ")}) arrived ${Math.round(late[0]!.at - first.at)} ms after the first`,
          hint: "Do not await each reply before sending the next command: encode every command, write them all with one socket.write(Buffer.concat(...)), then wait for all the replies together.",
        });
      }

      // What the pipeline wrote is really in Redis, as the grader's own connection reads it.
      const stored = await t.redis.mget(...keys, "pipe:counter");
      same(t, stored, [...keys.map((k) => model.get(k)!), String(counter)], {
        message: "After the pipeline, Redis (read with the grader's own connection) does not hold what its SETs and INCRs wrote.",
        hint: "Every command of the pipeline must reach Redis once, in order, with exactly its arguments: write encode(command) for each, in one write.",
      });

      // Independent callers at once: each must get the reply to its own command, a value the
      // grader stored under a key of its own.
      const planted = Array.from({ length: 20 }, (_, i) => ({ key: `pipe:own:${i}`, value: `value ${i} ${unpredictableText(t, 5)}` }));
      await t.redis.mset(...planted.flatMap((p) => [p.key, p.value]));
      const hangHint =
        "A command() call never returned while 19 others were in flight on the same connection. Queue every waiting call, and hand each reply to the oldest.";
      const values = await Promise.all(planted.map((p) => send(t, resp, ["GET", p.key], "(one of 20 calls at once)", hangHint)));
      same(
        t,
        values,
        planted.map((p) => p.value),
        {
          message: "20 command(GET …) calls made at once did not each get their own reply.",
          hint: "Calls made while others wait share one connection: replies come back in the order the commands were written, so keep the waiting calls in a first-in first-out queue.",
        },
      );
    },

    "connection-cut": async (t) => {
      const resp = await t.load(MODULE, INSTANCE);
      const hangHint =
        "The call after the cut never returned. It must go out on a new connection with a new RespParser: the bytes of a reply cut short, or calls left waiting from the old connection, must not take the new connection's replies.";
      await expectReply(t, resp, ["PING"], "PONG", "", "PING replies +PONG.", hangHint);
      const incrKeys: string[] = [];

      // Cut in the middle of a reply, one byte at a time so the cut lands on a byte the seed picks:
      // inside a length, between \r and \n, inside a multi-byte character, inside a nested array.
      const kinds = ["bulk", "list", "stream"] as const;
      for (let round = 1; round <= 2; round++) {
        const kind = kinds[Math.floor(t.random() * kinds.length)]!;
        const key = t.id(`cut:${kind}`);
        let readArgs: string[];
        let expected: Piece;
        if (kind === "bulk") {
          const v = unpredictableText(t, 80 + Math.floor(t.random() * 120));
          await t.redis.set(key, v);
          readArgs = ["GET", key];
          expected = bulk("", v);
        } else if (kind === "list") {
          const items = Array.from({ length: 6 + Math.floor(t.random() * 10) }, () => unpredictableText(t, 1 + Math.floor(t.random() * 8)));
          await t.redis.rpush(key, ...items);
          readArgs = ["LRANGE", key, "0", "-1"];
          expected = array(
            "",
            items.map((s) => bulk("", s)),
          );
        } else {
          const entries = Array.from({ length: 3 + Math.floor(t.random() * 3) }, (_, i) => ({
            id: `${i + 1}-1`,
            fields: ["city", unpredictableText(t, 6), "note", unpredictableText(t, 4)],
          }));
          for (const e of entries) await t.redis.xadd(key, e.id, ...e.fields);
          readArgs = ["XRANGE", key, "-", "+"];
          expected = array(
            "",
            entries.map((e) =>
              array("", [
                bulk("", e.id),
                array(
                  "",
                  e.fields.map((f) => bulk("", f)),
                ),
              ]),
            ),
          );
        }
        const length = expected.raw.length;
        const offset = 2 + Math.floor(t.random() * (length - 4));
        const incrKey = t.id("cut:incr");
        incrKeys.push(incrKey);
        t.proxy.fragment(1);
        const mark = t.logPosition();
        const base = t.proxy.stats().bytesOut;
        const started = performance.now();
        const read = track(`command(${show(readArgs)})`, resp.call("command", [readArgs], TRACKED_MS));
        const incr = track(`command(INCR ${incrKey}), sent right after it,`, resp.call("command", [["INCR", incrKey]], TRACKED_MS));
        const out = () => bytesOutSince(t, base);
        const cutAt = await cutWhen(
          t,
          () => out() >= offset && (sentFor(t, mark, incrKey).length > 0 || out() >= length - 2),
          () => read.settled || performance.now() - started > 5000,
        );
        // What had gone out when the cut came (the proxy may count a byte it wrote to the cut socket later).
        const outAtCut = out();
        const fault = `the proxy cut the connection after ${outAtCut} of the ${length} bytes of the reply to ${show(readArgs)} (round ${round}, delivering 1 byte at a time)`;
        if (cutAt === null) {
          return t.fail({
            message: `command(${show(readArgs)}) ${read.settled ? `settled before its reply had reached your socket: ${read.ok ? `resolved with ${clipped(shown(read.value))}` : read.error}` : "sent nothing that Redis answered within 5 s"}.`,
            hint: "command(args) writes encode(args) to the module's one connection and resolves with the reply parsed from it.",
          });
        }
        t.note(fault);
        const incrWaiting = sentFor(t, mark, incrKey).length > 0;
        const allowed = await settleAfterCut(resp, [read, incr], cutAt);
        judgeCutCalls(
          t,
          resp,
          [
            { call: read, mustReject: outAtCut < length, expected: expected.reply },
            { call: incr, mustReject: incrWaiting && outAtCut < length + ":1\r\n".length, expected: 1 },
          ],
          cutAt,
          allowed,
          fault,
        );

        const fresh = { key: t.id("cut:after"), value: unpredictableText(t, 12) };
        await t.redis.set(fresh.key, fresh.value);
        const staleHint =
          "Give each connection its own RespParser: the bytes of the reply cut short belong to the dead connection, and must not be read as the start of the next connection's first reply.";
        await expectReply(t, resp, ["GET", fresh.key], fresh.value, `after ${fault}`, staleHint, { hang: hangHint, threw: staleHint });
        t.proxy.fragment(0);
      }

      // Cut in the middle of a pipeline: after the seed's number of replies went back, with a
      // pipeline and single commands from other callers waiting on the same connection.
      t.proxy.setLatency({ ms: 30, jitterMs: 20 });
      const planted = { key: t.id("cut:p"), value: unpredictableText(t, 10) };
      await t.redis.set(planted.key, planted.value);
      const pipelined: Step[] = Array.from({ length: 10 }, (_, i) => {
        if (i % 3 === 1) {
          const k = t.id("cut:incr");
          incrKeys.push(k);
          return { args: ["INCR", k], expected: 1 };
        }
        return i % 3 === 0
          ? { args: ["SET", t.id("cut:s"), unpredictableText(t, 5)], expected: "OK" }
          : { args: ["GET", planted.key], expected: planted.value };
      });
      const singles: Step[] = Array.from({ length: 5 }, () => {
        const k = t.id("cut:incr");
        incrKeys.push(k);
        return { args: ["INCR", k], expected: 1 };
      });
      const total = pipelined.length + singles.length;
      const k = 1 + Math.floor(t.random() * (total - 2));
      const mark = t.logPosition();
      const delivered = new Set<number>();
      let cutAt: number | null = null;
      let logged = new Set<number>();
      let cut: () => void = () => {};
      const cutDone = new Promise<void>((resolve) => (cut = resolve));
      const onReply = (e: LogEntry) => {
        if (cutAt !== null || e.seq <= mark || e.owner !== resp.name || e.args.length === 0 || !e.reply) return;
        delivered.add(e.seq);
        if (delivered.size === k) {
          logged = new Set(
            t
              .commands()
              .filter((c) => c.seq > mark)
              .map((c) => c.seq),
          );
          t.proxy.cutAll();
          cutAt = performance.now();
          cut();
        }
      };
      t.proxy.on("command", onReply);
      let calls: { call: Tracked; steps: Step[] }[];
      try {
        calls = [
          { call: track(`pipeline() of ${pipelined.length} commands`, resp.call("pipeline", [pipelined.map((s) => s.args)], TRACKED_MS)), steps: pipelined },
          ...singles.map((s, i) => ({
            call: track(
              `command(${show(s.args)}), call ${i + 1} of ${singles.length} made at once beside the pipeline,`,
              resp.call("command", [s.args], TRACKED_MS),
            ),
            steps: [s],
          })),
        ];
        await Promise.race([cutDone, t.sleep(6000), Promise.all(calls.map((c) => c.call.done))]);
      } finally {
        t.proxy.off("command", onReply);
      }
      if (cutAt === null) {
        return t.fail({
          message: `Of the ${total} commands sent at once, fewer than ${k} replies went back to your socket within 6 s.`,
          actual: calls.map((c) => `${c.call.label}: ${c.call.settled ? (c.call.ok ? "resolved" : `rejected: ${c.call.error}`) : "waiting"}`).join("\n"),
          hint: "pipeline() writes every command at once; command() calls made meanwhile go out on the same connection.",
        });
      }
      const fault = `the proxy cut the connection after ${k} of ${total} replies had gone back (a pipeline of ${pipelined.length} and ${singles.length} single commands waiting on it)`;
      t.note(fault);
      const judged = calls.map(({ call, steps }) => {
        const entries = steps.map((s) => sentFor(t, mark, s.args[1]!).find((e) => e.args[0] === s.args[0]));
        // Waiting on the dead connection: sent before the cut, its reply (or one of them) not back.
        const waiting = entries.some((e) => e !== undefined && logged.has(e.seq) && !delivered.has(e.seq));
        return { call, mustReject: waiting, expected: steps.length === 1 ? steps[0]!.expected : steps.map((s) => s.expected) };
      });
      const allowed = await settleAfterCut(
        resp,
        calls.map((c) => c.call),
        cutAt,
      );
      judgeCutCalls(t, resp, judged, cutAt, allowed, fault);
      const fresh = { key: t.id("cut:after"), value: unpredictableText(t, 12) };
      await t.redis.set(fresh.key, fresh.value);
      const after = [
        ["GET", fresh.key],
        ["ECHO", fresh.value],
        ["GET", planted.key],
      ];
      let replies: Reply[];
      try {
        replies = await resp.call<Reply[]>("pipeline", [after], CALL_MS);
      } catch (error) {
        if (!(error instanceof CheckFailure)) throw error;
        return t.fail({ message: `pipeline(${after.map(show).join(", ")}) after ${fault}: ${error.message}`, hint: hangHint });
      }
      same(t, replies, [fresh.value, fresh.value, planted.value], {
        message: `The first pipeline after ${fault} got the wrong replies.`,
        hint: "Calls that waited on the old connection were rejected: none of them may stay in the queue of waiting calls and take a reply meant for a new one.",
      });

      // While the proxy refuses every connection (a partition), a call fails within 1 s instead of
      // waiting for a connection that will not come; once healed, the next call works.
      t.proxy.setLatency({ ms: 0 });
      t.proxy.partition();
      const partitionedAt = performance.now();
      const partitionFault = "the proxy cut the connection and refused every new one (a network partition)";
      t.note(partitionFault);
      const during = track(`command(GET ${planted.key}), made during the partition,`, resp.call("command", [["GET", planted.key]], TRACKED_MS));
      const allowedDuring = await settleAfterCut(resp, [during], partitionedAt);
      judgeCutCalls(t, resp, [{ call: during, mustReject: true, expected: null }], partitionedAt, allowedDuring, partitionFault);
      t.proxy.heal();
      await expectReply(
        t,
        resp,
        ["GET", planted.key],
        planted.value,
        "after the partition healed",
        "A call after the connection came back opens a new connection.",
        {
          hang: hangHint,
          threw:
            "The first call after the partition healed failed: every call opens a new connection if the last one closed, even if the one before that failed too.",
        },
      );

      // Nothing was sent twice: a command that was waiting when the connection died may have run.
      const resent = incrKeys.map((key) => ({ key, times: t.commands("INCR").filter((e) => e.args[1] === key).length })).filter((r) => r.times > 1);
      if (resent.length > 0) {
        t.fail({
          message: `After the connection was cut, your client sent ${resent.length} INCR command(s) again on its new connection.`,
          expected: "each command sent once",
          actual: resent.map((r) => `INCR ${r.key} ×${r.times}`).join(", "),
          hint: "Never resend a command whose reply did not arrive: Redis may have run it already (an INCR would count twice). Reject the call and let the caller decide.",
        });
      }
    },

    "server-closes": async (t) => {
      const resp = await t.load(MODULE, INSTANCE);
      const hangHint = {
        hang: "The call after Redis closed the connection never returned. Forget a connection once it has closed, and open a new one (with a new RespParser) on the next call.",
        threw:
          "The call after Redis closed the connection failed. Forget a connection once it has closed (its socket is useless), and open a new one, with a new RespParser, on the next call.",
      };
      await expectReply(
        t,
        resp,
        ["PING"],
        "PONG",
        "",
        "PING replies +PONG.",
        "command() never returned. Each reply the parser returns resolves the oldest waiting call.",
      );

      // Redis closes an idle connection (as its `timeout` setting or a failover would).
      const killed = await redisClosesLearnerConnections(t);
      t.note(`Redis closed your idle connection (CLIENT KILL: ${killed} connection${killed === 1 ? "" : "s"})`);
      // Wait until the client has seen it: a command written at the very instant of a close may fail.
      await t.waitFor(() => t.proxy.stats().connectionsOpen === 0, {
        timeoutMs: 4000,
        message: "After Redis closed the connection, your socket stayed open for 4 s.",
        hint: "When the socket emits 'end', close your side too (the default), and forget the connection.",
      });
      await t.sleep(50);
      const planted = { key: t.id("srv"), value: unpredictableText(t, 12) };
      await t.redis.set(planted.key, planted.value);
      await expectReply(
        t,
        resp,
        ["GET", planted.key],
        planted.value,
        "after Redis closed the idle connection",
        "After the connection closed, the next call opens a new one.",
        hangHint,
      );

      // Redis closes the connection while a BLPOP blocks on it, with a pipeline waiting behind it.
      const listKey = t.id("srv:list");
      const counterKey = t.id("srv:n");
      const sentAt = performance.now();
      const blpop = track(`command(BLPOP ${listKey} 0)`, resp.call("command", [["BLPOP", listKey, "0"]], TRACKED_MS));
      const behind = track(
        `pipeline(INCR ${counterKey}, GET ${planted.key}), sent while the BLPOP blocked,`,
        resp.call(
          "pipeline",
          [
            [
              ["INCR", counterKey],
              ["GET", planted.key],
            ],
          ],
          TRACKED_MS,
        ),
      );
      await t.waitFor(async () => (await blockedClients(t)) > 0 || blpop.settled, {
        timeoutMs: 5000,
        message: `command(BLPOP ${listKey} 0) did not reach Redis within 5 s.`,
        hint: "command(args) writes encode(args) to the module's connection at once.",
      });
      await t.waitFor(() => sentFor(t, 0, counterKey).length > 0 || behind.settled, {
        timeoutMs: 5000,
        message: "A pipeline sent while a BLPOP was blocking did not reach Redis within 5 s.",
        hint: "Calls made while another waits go out on the same connection at once; Redis answers them in order.",
      });
      // A command has no deadline of its own: BLPOP 0 waits as long as Redis does.
      await t.sleep(Math.max(0, sentAt + BLOCKED_FOR_MS - performance.now()));
      for (const call of [blpop, behind]) {
        if (call.settled) {
          t.fail({
            message: `${call.label} ${call.ok ? `resolved with ${clipped(shown(call.value))}` : `rejected (${call.error})`} ${Math.round(call.at - sentAt)} ms after it was sent, while Redis was still blocking the BLPOP and the connection was open.`,
            expected: `still waiting ${BLOCKED_FOR_MS / 1000} s after it was sent`,
            hint: "Do not time commands out in the client: a BLPOP with timeout 0 waits as long as Redis keeps it, and every call behind it waits too. A call fails only when its connection fails.",
          });
        }
      }
      await redisClosesLearnerConnections(t);
      const cutAt = performance.now();
      const fault = `Redis closed the connection (CLIENT KILL) while BLPOP ${listKey} 0 was blocking and a pipeline waited behind it`;
      t.note(fault);
      const allowed = await settleAfterCut(resp, [blpop, behind], cutAt);
      judgeCutCalls(
        t,
        resp,
        [
          { call: blpop, mustReject: true, expected: null },
          { call: behind, mustReject: true, expected: null },
        ],
        cutAt,
        allowed,
        fault,
      );

      // The next calls reconnect; the INCR that Redis dropped with the connection is not resent.
      const item = unpredictableText(t, 8);
      await t.redis.rpush(listKey, item);
      await expectReply(
        t,
        resp,
        ["BLPOP", listKey, "1"],
        [listKey, item],
        `after ${fault}`,
        "A BLPOP that finds an item replies with an array: [key, value].",
        hangHint,
      );
      await expectReply(
        t,
        resp,
        ["GET", planted.key],
        planted.value,
        `after ${fault}`,
        "Each reply goes to the oldest call waiting on the connection it came from.",
        hangHint,
      );
      const incrs = t.commands("INCR").filter((e) => e.args[1] === counterKey).length;
      const counter = await t.redis.get(counterKey);
      if (incrs > 1 || counter !== null) {
        t.fail({
          message: `After ${fault}, INCR ${counterKey} was sent ${incrs} times and the key holds ${JSON.stringify(counter)}.`,
          expected: "sent once, before the close, and never run: Redis dropped it with the connection",
          hint: "Never resend a command whose reply did not arrive; reject its call.",
        });
      }
    },

    "concurrent-callers": async (t) => {
      const resp = await t.load(MODULE, INSTANCE);
      const callers = Array.from({ length: 8 }, (_, i) => new CallerModel(t, t.id(`c${i + 1}`)));
      await Promise.all(callers.map((c) => c.seed(t)));
      const appender = Math.floor(t.random() * callers.length);
      const injected = `ERR Faultline: injected failure ${unpredictableText(t, 6)}`;
      // Each caller: a few calls in a row, each a command() or a pipeline() of several commands.
      const scripts = callers.map((c, ci) =>
        Array.from({ length: 4 }, () => {
          const size = t.random() < 0.5 ? 1 : 2 + Math.floor(t.random() * 5);
          const steps = Array.from({ length: size }, () => c.step(t, ci === appender, injected));
          return { fn: size === 1 && t.random() < 0.8 ? ("command" as const) : ("pipeline" as const), steps };
        }),
      );
      if (!scripts[appender]!.some((call) => call.steps.some((s) => s.args[0] === "APPEND")))
        scripts[appender]!.push({ fn: "command", steps: [callers[appender]!.step(t, true, injected)] });
      const latency = { ms: 8, jitterMs: 8 };
      t.proxy.setLatency(latency);
      t.proxy.failNext(1, { match: "APPEND", message: injected });
      t.note(
        `${callers.length} callers use your module at once (replies ${latency.ms}±${latency.jitterMs} ms late); the proxy fails caller ${appender + 1}'s first APPEND with an error reply`,
      );

      const describe = (call: { fn: "command" | "pipeline"; steps: Step[] }) =>
        call.fn === "command" ? `command(${show(call.steps[0]!.args)})` : `pipeline(${call.steps.map((s) => show(s.args)).join(", ")})`;
      const hangHint =
        "A call never returned while other callers used the same connection. Every call's commands join one first-in first-out queue of waiting calls, and each reply from the one parser goes to the oldest.";
      const orderHint =
        "Calls from different callers share one connection: replies come back in the order the commands were written, so queue every waiting call in that order and hand each reply from the connection's one parser to the oldest. Do not let each call read 'the next replies to arrive' on its own.";
      const results = await Promise.all(
        scripts.map(async (script, ci) => {
          const got: Reply[] = [];
          for (const call of script) {
            try {
              got.push(await resp.call<Reply>(call.fn, [call.fn === "command" ? call.steps[0]!.args : call.steps.map((s) => s.args)], CALL_MS));
            } catch (error) {
              if (!(error instanceof CheckFailure)) throw error;
              return t.fail({
                message: `Caller ${ci + 1} of ${callers.length} (all using your module at once): ${describe(call)} failed: ${error.message}`,
                hint: error.message.includes("did not return") ? hangHint : error.hint,
              });
            }
          }
          return got;
        }),
      );
      for (const [ci, script] of scripts.entries()) {
        for (const [n, call] of script.entries()) {
          const expected = call.fn === "command" ? call.steps[0]!.expected : call.steps.map((s) => s.expected);
          const afterError =
            (call.fn === "command" ? [call.steps[0]!] : call.steps).some((s) => isError(s.expected)) ||
            script.slice(0, n).some((c) => c.steps.some((s) => isError(s.expected)));
          same(t, results[ci]![n], expected, {
            message: `Caller ${ci + 1} of ${callers.length}, all using your module at once: its call ${n + 1}, ${describe(call)}, got the wrong reply.`,
            hint: `${orderHint}${afterError ? " An error reply is one reply like any other: it answers its own command with { error }, and the replies after it still go to the calls after it." : ""}`,
          });
        }
      }

      // 40 more calls at once, every other one answered with an error reply.
      const burst = Array.from({ length: 40 }, (_, i) => {
        const c = callers[i % callers.length]!;
        return i % 2 === 0
          ? { args: ["GET", c.key("s")], expected: c.text as Reply }
          : { args: ["INCR", c.key("s")], expected: { error: "ERR value is not an integer or out of range" } as Reply };
      });
      const burstReplies = await Promise.all(
        burst.map((b) => send(t, resp, b.args, "(one of 40 calls at once, half of them answered with an error)", hangHint)),
      );
      for (const [i, b] of burst.entries()) {
        same(t, burstReplies[i], b.expected, {
          message: `Of 40 calls made at once, half of them answered with an error reply, call ${i + 1} (${show(b.args)}) got the wrong reply.`,
          hint: "Each reply, error or not, goes to the oldest waiting call, in the order the commands were written.",
        });
      }

      // Redis, read with the grader's own connection, holds what each caller's commands wrote, once each.
      for (const [ci, c] of callers.entries()) {
        const [text, counter, items, appended] = await Promise.all([
          t.redis.get(c.key("s")),
          t.redis.get(c.key("n")),
          t.redis.lrange(c.key("l"), 0, -1),
          t.redis.get(c.key("a")),
        ]);
        same(
          t,
          { text, counter: Number(counter ?? 0), items, appended: appended?.length ?? 0 },
          { text: c.text, counter: c.counter, items: c.items, appended: Math.max(0, c.appended) },
          {
            message: `After ${callers.length} callers used your module at once, Redis (read with the grader's own connection) does not hold what caller ${ci + 1}'s commands wrote.`,
            hint: "Send every command once, with exactly its arguments: each call's commands go out in one write, as the caller gave them.",
          },
        );
      }
    },

    "one-connection": async (t) => {
      const resp = await t.load(MODULE, INSTANCE);
      const since = t.proxy.stats().connectionsTotal;
      const hangHint = "A call never returned. All calls share the module's one connection.";
      const planted = Array.from({ length: 10 }, () => ({ key: t.id("conn"), value: unpredictableText(t, 8) }));
      await t.redis.mset(...planted.flatMap((p) => [p.key, p.value]));
      // One after another, in pipelines, and many at once; counted after each, before a client
      // with a socket per call runs into the lab's limit of open connections.
      const hint =
        "Open the socket once, on first use, keep it in a module-level variable and send every call over it; a socket per call leaks one connection each time, and Redis limits how many a client may hold.";
      const expectOne = async (calls: string) => {
        const used = connections(t, since);
        const clients = String(await t.redis.call("CLIENT", "LIST", "TYPE", "normal"))
          .split("\n")
          .filter((l) => l.includes(" user=learner ")).length;
        if (used.opened !== 1 || used.open !== 1 || clients !== 1) {
          t.fail({
            message: `For ${calls} your module opened ${used.opened} connection${used.opened === 1 ? "" : "s"} to Redis; ${used.open} ${used.open === 1 ? "is" : "are"} open now.`,
            expected: "1 connection, opened on the first call and shared by every call after it",
            actual: `${used.opened} opened, ${used.open} open (Redis counts ${clients} client${clients === 1 ? "" : "s"} for your code)`,
            hint,
          });
        }
      };
      for (const p of planted) await expectReply(t, resp, ["GET", p.key], p.value, "", "GET replies with the value.", hangHint);
      await expectOne(`${planted.length} command() calls one after another`);
      for (let i = 0; i < 3; i++) {
        const replies = await resp.call<Reply[]>("pipeline", [planted.map((p) => ["GET", p.key])], CALL_MS);
        same(
          t,
          replies,
          planted.map((p) => p.value),
          { message: `pipeline() of ${planted.length} GETs returned the wrong replies.`, hint: "One reply per command, in order." },
        );
      }
      await expectOne(`${planted.length} command() calls and 3 pipeline() calls`);
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          expectReply(
            t,
            resp,
            ["GET", planted[i % planted.length]!.key],
            planted[i % planted.length]!.value,
            "(one of 20 calls at once)",
            "GET replies with the value.",
            hangHint,
          ),
        ),
      );
      await expectOne(`${planted.length} command() calls, 3 pipeline() calls and 20 calls at once`);

      // After a cut: one new connection, opened by the next call, not one per call or a storm of retries.
      t.proxy.cutAll();
      t.note("the proxy cut your connection");
      await t.waitFor(() => t.proxy.stats().connectionsOpen === 0, {
        timeoutMs: 4000,
        message: "After the proxy cut the connection, your socket stayed open for 4 s.",
        hint: "Let a closed socket close; forget it and open a new one on the next call.",
      });
      const afterCut = {
        hang: hangHint,
        threw: "A call after the proxy cut the connection failed: forget a closed connection and open a new one, with a new RespParser, on the next call.",
      };
      await t.sleep(200);
      const sinceCut = t.proxy.stats().connectionsTotal;
      for (const p of planted.slice(0, 3))
        await expectReply(
          t,
          resp,
          ["GET", p.key],
          p.value,
          "after the proxy cut the connection",
          "The next call after a close opens a new connection.",
          afterCut,
        );
      await Promise.all(
        planted.map((p) =>
          expectReply(
            t,
            resp,
            ["GET", p.key],
            p.value,
            "(one of 10 calls at once, after the proxy cut the connection)",
            "The next call after a close opens a new connection.",
            afterCut,
          ),
        ),
      );
      await t.sleep(200);
      const again = connections(t, sinceCut);
      if (again.opened !== 1 || again.open !== 1) {
        t.fail({
          message: `After the proxy cut the connection, 13 calls made your module open ${again.opened} new connection${again.opened === 1 ? "" : "s"}; ${again.open} ${again.open === 1 ? "is" : "are"} open now.`,
          expected: "1 new connection, opened by the first call after the cut and shared by the rest",
          hint: "After a close, forget the dead socket and open one new connection on the next call; calls made meanwhile share it.",
        });
      }
    },
  },
});
