import { CheckFailure, defineChecks, type CheckContext, type RpcModule } from "../../lib/grader/index.ts";

/** The learner's reply type (instructions.md): JSON, with an error reply as `{ error }`. */
type Reply = string | number | null | { error: string } | Reply[];

const MODULE = "resp.ts";
const PROBE = "parser-probe.ts";

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

/** A command as the learner would type it: `SET utf8:1 "héllo"`. */
function show(args: string[]): string {
  return args.map((a) => (/^[\x21-\x7e]+$/.test(a) ? a : JSON.stringify(a))).join(" ");
}

/** Bytes as readable text with \r\n visible. */
function wire(bytes: Buffer): string {
  return JSON.stringify(bytes.toString("utf8"));
}

function encodeCommand(args: string[], length: (arg: string) => number = Buffer.byteLength): Buffer {
  return Buffer.concat([Buffer.from(`*${args.length}\r\n`), ...args.flatMap((a) => [Buffer.from(`$${length(a)}\r\n`), Buffer.from(a), Buffer.from("\r\n")])]);
}

/** encode()'s return value after its trip through JSON: a Buffer arrives as { type: "Buffer", data }. */
function asBytes(value: unknown): Buffer | string {
  if (typeof value === "object" && value !== null && (value as { type?: unknown }).type === "Buffer" && Array.isArray((value as { data?: unknown }).data)) {
    return Buffer.from((value as { data: number[] }).data);
  }
  if (typeof value === "object" && value !== null && !Array.isArray(value) && Object.keys(value).every((k, i) => k === String(i))) {
    return Buffer.from(Object.values(value) as number[]); // a plain Uint8Array
  }
  return typeof value === "string" ? `the string ${JSON.stringify(value)}` : `${JSON.stringify(value)}`;
}

const isError = (reply: unknown): reply is { error: string } => typeof reply === "object" && reply !== null && !Array.isArray(reply) && typeof (reply as { error?: unknown }).error === "string";
const holdsError = (reply: unknown): boolean => isError(reply) || (Array.isArray(reply) && reply.some(holdsError));

/** What to change, when a reply shows Redis could not read the command at all. */
function replyHint(reply: unknown, otherwise: string): string {
  if (isError(reply) && reply.error.includes("Protocol error")) {
    return `Redis could not read your command (${reply.error}). Check encode(): each $ length is the argument's length in bytes (Buffer.byteLength), not in characters.`;
  }
  return otherwise;
}

/** Calls the learner's command() and turns a throw or a hang into a failure naming the command. */
async function send(t: CheckContext, resp: RpcModule, args: string[], situation: string, hangHint: string): Promise<Reply> {
  try {
    return await resp.call<Reply>("command", [args], 3000);
  } catch (error) {
    if (!(error instanceof CheckFailure)) throw error;
    const hung = error.message.includes("did not return");
    return t.fail({ message: `${error.message} (sending ${show(args)}${situation ? `, ${situation}` : ""})`, actual: error.actual, hint: hung ? hangHint : error.hint });
  }
}

async function expectReply(t: CheckContext, resp: RpcModule, args: string[], expected: Reply, situation: string, hint: string, hangHint: string): Promise<void> {
  const reply = await send(t, resp, args, situation, hangHint);
  t.equal(reply, expected, { message: `command(${show(args)})${situation ? ` ${situation}` : ""} returned the wrong reply.`, hint: replyHint(reply, hint) });
}

// A stream of replies for the parser probe: each piece knows its bytes and the reply it means.
interface Piece {
  name: string;
  raw: Buffer;
  reply: Reply;
}
const piece = (name: string, raw: string | Buffer, reply: Reply): Piece => ({ name, raw: typeof raw === "string" ? Buffer.from(raw) : raw, reply });
const bulk = (name: string, value: string | null): Piece => piece(name, value === null ? "$-1\r\n" : `$${Buffer.byteLength(value)}\r\n${value}\r\n`, value);
const array = (name: string, items: Piece[] | null): Piece =>
  items === null ? piece(name, "*-1\r\n", null) : piece(name, Buffer.concat([Buffer.from(`*${items.length}\r\n`), ...items.map((i) => i.raw)]), items.map((i) => i.reply));

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
    array("a nested array (an XRANGE reply)", [array("", [bulk("", "1-1"), array("", [bulk("", "city"), bulk("", "Zürich")])]), array("", [bulk("", "1-2"), array("", [bulk("", "city"), bulk("", "東京")])])]),
    array("an array holding an error (an EXEC reply)", [piece("", "+OK\r\n", "OK"), piece("", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", { error: "WRONGTYPE Operation against a key holding the wrong kind of value" })]),
  ];
}

const parserHint =
  "Keep the bytes of an unfinished reply in a Buffer and prepend them to the next chunk; parse only complete replies from the front, and decode a bulk string (buffer.toString('utf8', start, end)) only once all its bytes are in. A chunk may end anywhere: inside a \\r\\n, inside a length, inside a multi-byte character.";

/** Feeds the stream to a fresh RespParser in the given chunks and judges what each push returned. */
async function judgeFeed(t: CheckContext, probe: RpcModule, pieces: Piece[], sizes: number[], how: string, hint: string): Promise<void> {
  const stream = Buffer.concat(pieces.map((p) => p.raw));
  const chunks: number[][] = [];
  for (let at = 0, i = 0; at < stream.length; i++) {
    const size = sizes[i % sizes.length]!;
    chunks.push([...stream.subarray(at, at + size)]);
    at += size;
  }
  let out: Reply[][];
  try {
    out = await probe.call<Reply[][]>("feed", [chunks], 4000);
  } catch (error) {
    if (!(error instanceof CheckFailure)) throw error;
    return t.fail({ message: `Your RespParser failed when fed ${pieces.length} replies ${how}: ${error.message.replace(/^feed\(\) /, "push() ")}`, actual: error.actual, hint: `push() must not throw on valid replies, however they are split. ${hint}` });
  }
  if (!Array.isArray(out) || !out.every((r) => Array.isArray(r))) {
    return t.fail({ message: `Fed ${pieces.length} replies ${how}, your RespParser's push() did not always return an array.`, actual: JSON.stringify(out).slice(0, 400), hint: "push(chunk) returns an array of the replies that chunk completed: [] when none, several when the chunk finished several." });
  }
  const replies = out.flat();
  for (const [i, p] of pieces.entries()) {
    if (i >= replies.length) {
      return t.fail({
        message: `Fed ${pieces.length} replies ${how}, your RespParser returned only ${replies.length}; it never returned reply ${i + 1}, ${p.name}.`,
        expected: `${wire(p.raw)} → ${JSON.stringify(p.reply)}`,
        actual: `${replies.length} replies: ${JSON.stringify(replies).slice(0, 400)}`,
        hint,
      });
    }
    t.equal(replies[i], p.reply, { message: `Fed ${pieces.length} replies ${how}, your RespParser parsed reply ${i + 1}, ${p.name} (${wire(p.raw)}), wrongly.`, hint: holdsError(p.reply) ? "An error reply (-…\\r\\n) is not a simple string: return it as { error: \"ERR …\" }, the whole line after the '-'." : hint });
  }
  if (replies.length > pieces.length) t.fail({ message: `Fed ${pieces.length} replies ${how}, your RespParser returned ${replies.length}.`, expected: `${pieces.length} replies`, actual: JSON.stringify(replies.slice(pieces.length)).slice(0, 400), hint });
  // Each reply must come out of the push that delivered its last byte, not later.
  let end = 0;
  let chunkEnd = 0;
  let chunk = -1;
  let seen = 0;
  for (const [i, p] of pieces.entries()) {
    end += p.raw.length;
    while (chunkEnd < end) {
      chunk += 1;
      chunkEnd += chunks[chunk]!.length;
      seen += out[chunk]!.length;
    }
    if (seen < i + 1) {
      t.fail({ message: `Fed ${pieces.length} replies ${how}, your RespParser held reply ${i + 1}, ${p.name}, back after its last byte arrived.`, expected: `returned by push number ${chunk + 1}`, actual: "returned by a later push", hint: "Return a reply from the push that completes it: the caller cannot know more bytes are coming." });
    }
  }
}

export default defineChecks({
  // The live view: the learner's client talks to Redis once a second; every few rounds the proxy
  // starts or stops delivering replies one byte at a time.
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
      await call("command", ["PING"], "PING");
      await call("command", ["SET", "play:greeting", "héllo 🌍"], 'SET play:greeting "héllo 🌍"');
      await call("command", ["GET", "play:greeting"], "GET play:greeting");
      await call("command", ["RPUSH", "play:log", `visit ${round} ✓`], `RPUSH play:log "visit ${round} ✓"`);
      await call("command", ["LTRIM", "play:log", "-5", "-1"], "LTRIM play:log -5 -1");
      await call("command", ["LRANGE", "play:log", "0", "-1"], "LRANGE play:log 0 -1");
      const batch = [["INCR", "play:visits"], ["INCR", "play:visits"], ["GET", "play:missing"], ["INCR", "play:greeting"], ["GET", "play:visits"]];
      await call("pipeline", batch, `pipeline of ${batch.map((c) => c.join(" ")).join(", ")}`);
      await t.sleep(1500);
    }
  },
  checks: {
    "encode-commands": async (t) => {
      const resp = await t.load(MODULE);
      const cases: string[][] = [
        ["PING"],
        ["SET", "greeting", ""],
        ["ECHO", "héllo"],
        ["SET", "emoji:🎉", "naïve café ☕"],
        ["RPUSH", "list", "a", "", "two words", "line one\r\nline two"],
        ["SET", `key:${unpredictableText(t, 6)}`, unpredictableText(t, 20)],
      ];
      for (const args of cases) {
        const got = asBytes(await resp.call("encode", [args]));
        const expected = encodeCommand(args);
        if (typeof got === "string") {
          return t.fail({ message: `encode(${JSON.stringify(args)}) returned ${got}, not a Buffer.`, expected: wire(expected), hint: "Build the bytes with Buffer.from(...) and join the pieces with Buffer.concat([...]); a string cannot say how many bytes it will be." });
        }
        if (!got.equals(expected)) {
          const charLengths = got.equals(encodeCommand(args, (a) => a.length));
          t.fail({
            message: `encode(${JSON.stringify(args)}) produced the wrong bytes.`,
            expected: wire(expected),
            actual: wire(got),
            hint: charLengths
              ? `The $ lengths count characters, but RESP counts bytes: "é" is one character and two bytes, "🎉" two UTF-16 units and four bytes. Use Buffer.byteLength(arg), or the length of Buffer.from(arg).`
              : "A command is *<number of arguments>\\r\\n, then for each argument $<its length in bytes>\\r\\n<the argument>\\r\\n. An empty argument is $0\\r\\n\\r\\n.",
          });
        }
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
      const hangHint = "command() never returned. Check that every chunk from the socket's 'data' event goes into your RespParser, and that each reply it returns resolves the oldest waiting call.";
      for (const [args, expected] of script) {
        await expectReply(t, resp, args, expected, "over your socket", "Simple strings (+PONG) become strings, integers (:1) numbers, bulk strings ($0) strings, a null bulk ($-1) null.", hangHint);
      }
      const asked = script.map(([args]) => args).filter((args) => args[0] !== "PING");
      const seen = t.commands("ECHO", "SET", "GET", "STRLEN", "DEL").map((e) => e.args);
      t.equal(seen, asked, {
        message: "The commands that reached Redis are not the ones command() was asked to send.",
        hint: "Send each command once, with exactly its arguments, in the order it was asked: command(args) writes encode(args) to the socket.",
      });
    },

    "utf8-values": async (t) => {
      const resp = await t.load(MODULE);
      const values = [
        "héllo wörld",
        "日本語のテキスト",
        "🎉🚀 👩‍💻 👨‍👩‍👧",
        "line one\r\nline two\r\n",
        "$5\r\nhello\r\n*1\r\n:1\r\n",
        "tab\tand\u0000nul",
        unpredictableText(t, 300),
      ];
      const hangHint = "command() never returned. Check that a reply holding multi-byte characters or \\r\\n inside a value is read by its $ length in bytes, not up to the next \\r\\n.";
      for (const [i, value] of values.entries()) {
        const key = i % 2 === 0 ? `utf8:${i}` : `utf8:ключ:${i}`;
        await expectReply(t, resp, ["SET", key, value], "OK", "", "SET replies +OK, a simple string: return \"OK\".", hangHint);
        const stored = await t.redis.getBuffer(key);
        if (!stored?.equals(Buffer.from(value))) {
          t.fail({
            message: `After command(${show(["SET", key, value])}), Redis holds different bytes under ${key}.`,
            expected: JSON.stringify(value),
            actual: stored === null ? "(no such key)" : JSON.stringify(stored.toString("utf8")),
            hint: "Send each argument's UTF-8 bytes (Buffer.from(arg)) and say how many bytes there are: Buffer.byteLength(arg), not arg.length.",
          });
        }
        await expectReply(t, resp, ["GET", key], value, "", "Read a bulk string by its $ length in bytes, then decode those bytes as UTF-8; the value may itself contain \\r\\n.", hangHint);
        await expectReply(t, resp, ["STRLEN", key], Buffer.byteLength(value), "", "STRLEN replies with an integer (:n): return it as a number.", hangHint);
      }
      const seeded = unpredictableText(t, 60);
      await t.redis.set("utf8:seeded", seeded);
      await expectReply(t, resp, ["GET", "utf8:seeded"], seeded, "for a value the grader stored", "Decode a bulk string's bytes as UTF-8 once all of them are in.", hangHint);
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
      const probe = await t.load(PROBE);
      const pieces = replyStream(t);
      await judgeFeed(t, probe, pieces, [Number.MAX_SAFE_INTEGER], "in one chunk", "One chunk can hold many replies: after parsing one, keep going from where it ended until the bytes run out.");
      await judgeFeed(t, probe, pieces, [1], "one byte at a time", parserHint);
      const sizes = Array.from({ length: 16 }, () => 1 + Math.floor(t.random() * 7));
      await judgeFeed(t, probe, pieces, sizes, `in chunks of ${sizes.join(", ")}… bytes`, parserHint);

      // Every value the client reads back is the grader's and unpredictable, so each reply has to be
      // parsed from the bytes Redis sent; none can be written into the client in advance.
      const emoji = `🎉 fête ünïcödé 日本語 🚀 ${unpredictableText(t, 10)}`;
      const count = unpredictableInt(t, 1e9);
      const list = [`α${unpredictableText(t, 3)}`, "β", `γ🎈${unpredictableText(t, 2)}`, ""];
      const hash = ["naïve", `café ${unpredictableText(t, 4)}`, "emoji", unpredictableText(t, 3)];
      const city = [`Zürich ${unpredictableText(t, 3)}`, `東京 ${unpredictableText(t, 3)}`];
      const temp = String(unpredictableInt(t, 80) - 40);
      const after = `still in step ✓ ${unpredictableText(t, 4)}`;
      await Promise.all([
        t.redis.set("frag:emoji", emoji),
        t.redis.set("frag:empty", ""),
        t.redis.set("frag:count", String(count)),
        t.redis.rpush("frag:list", ...list),
        t.redis.hset("frag:hash", ...hash),
        t.redis.xadd("frag:stream", "1-1", "city", city[0]!).then(() => t.redis.xadd("frag:stream", "1-2", "city", city[1]!, "temp", temp)),
      ]);
      const resp = await t.load(MODULE);
      t.proxy.fragment(1);
      t.note("the proxy now delivers every reply 1 byte at a time");
      const wrongType = { error: "WRONGTYPE Operation against a key holding the wrong kind of value" };
      const script: [string[], Reply][] = [
        [["PING"], "PONG"],
        [["GET", "frag:missing"], null],
        [["GET", "frag:emoji"], emoji],
        [["GET", "frag:empty"], ""],
        [["INCR", "frag:count"], count + 1],
        [["LRANGE", "frag:list", "0", "-1"], list],
        [["LRANGE", "frag:missing", "0", "-1"], []],
        [["HGETALL", "frag:hash"], hash],
        [["MGET", "frag:emoji", "frag:missing", "frag:empty"], [emoji, null, ""]],
        [["XRANGE", "frag:stream", "-", "+"], [["1-1", ["city", city[0]!]], ["1-2", ["city", city[1]!, "temp", temp]]]],
        [["LPUSH", "frag:emoji", "x"], wrongType],
        [["BLPOP", "frag:missing", "0.01"], null],
        [["SET", "frag:after", after], "OK"],
        [["GET", "frag:after"], after],
      ];
      const hangHint = "command() never returned while the reply trickled in 1 byte at a time. One 'data' event is not one reply: feed every chunk into the same RespParser and answer a call only when it returns a complete reply.";
      for (const [args, expected] of script) {
        const hint = isError(expected) ? "An error reply (-WRONGTYPE …) must come back as { error: \"WRONGTYPE …\" }, and the connection must stay in step for the next command." : parserHint;
        await expectReply(t, resp, args, expected, "with replies arriving 1 byte at a time", hint, hangHint);
      }
    },

    "pipelined-batch": async (t) => {
      const resp = await t.load(MODULE);
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

      const latencyMs = 25;
      t.proxy.setLatency({ ms: latencyMs });
      t.note(`every reply now takes ${latencyMs} ms more: 100 commands sent one after another would take over ${(100 * latencyMs) / 1000} s`);
      let replies: Reply[] | "stalled";
      let settled = false;
      // A client that waits for each reply still finishes in about 2.6 s; the log judges it below.
      const call = resp.call<Reply[]>("pipeline", [batch.map((b) => b.args)], 7000).finally(() => (settled = true));
      // A client holding every reply without resolving fails as soon as that is clear, not at the timeout.
      const stalled = async (): Promise<"stalled" | null> => {
        while (!settled) {
          const seen = t.commands("SET", "INCR", "GET");
          if (seen.length === batch.length && seen.every((e) => e.reply)) {
            await t.sleep(1500);
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
          message: "Redis answered all 100 pipelined commands and every reply reached your socket, but pipeline() had not resolved 1.5 s later.",
          hint: "Many replies can arrive in one 'data' event: your parser must return every reply in the chunk, and each one must resolve its own waiting call.",
        });
      }
      if (!Array.isArray(replies) || replies.length !== batch.length) {
        t.fail({ message: "pipeline() of 100 commands did not return 100 replies.", expected: "an array of 100 replies", actual: Array.isArray(replies) ? `${replies.length} replies` : JSON.stringify(replies), hint: "Resolve with one reply per command, in the order the commands were given." });
      }
      for (const [i, { args, expected }] of batch.entries()) {
        t.equal(replies[i], expected, {
          message: `In a pipeline of 100 commands, reply ${i + 1} (to ${show(args)}) is wrong.`,
          hint: isError(expected)
            ? "An error reply answers its own command only: return it in its place as { error: \"ERR …\" } and keep matching the replies after it."
            : "Redis answers pipelined commands in the order they were sent: give the n-th reply to the n-th command (a first-in first-out queue of waiting calls).",
        });
      }

      const sent = t.commands("SET", "INCR", "GET");
      const first = sent[0];
      if (!first || sent.length !== batch.length) {
        return t.fail({ message: `Redis saw ${sent.length} SET/INCR/GET commands for a pipeline of 100.`, expected: "each command sent once", hint: "Write each command of the pipeline exactly once." });
      }
      const firstReplyAt = first.at + (first.durationMs ?? Infinity);
      const late = sent.filter((e) => e.at > firstReplyAt);
      if (late.length > 0) {
        const waited = sent.filter((e, i) => i > 0 && e.at >= sent[i - 1]!.at + (sent[i - 1]!.durationMs ?? 0)).length;
        t.fail({
          message: `${late.length} of the 100 pipelined commands reached Redis only after the reply to the first had come back; ${waited} waited for the reply to the command before them.`,
          expected: `all 100 sent before the first reply arrived (about ${latencyMs} ms after the first command)`,
          actual: `command ${sent.indexOf(late[0]!) + 1} (${late[0]!.args.join(" ")}) arrived ${Math.round(late[0]!.at - first.at)} ms after the first`,
          hint: "Do not await each reply before sending the next command: encode every command, write them all with one socket.write(Buffer.concat(...)), then wait for all the replies together.",
        });
      }

      // What the pipeline wrote is really in Redis, as the grader's own connection reads it.
      const stored = await t.redis.mget(...keys, "pipe:counter");
      t.equal(stored, [...keys.map((k) => model.get(k)!), String(counter)], {
        message: "After the pipeline, Redis (read with the grader's own connection) does not hold what its SETs and INCRs wrote.",
        hint: "Every command of the pipeline must reach Redis once, in order, with exactly its arguments: write encode(command) for each, in one write.",
      });

      // Independent callers at once: each must get the reply to its own command, a value the
      // grader stored under a key of its own.
      const planted = Array.from({ length: 20 }, (_, i) => ({ key: `pipe:own:${i}`, value: `value ${i} ${unpredictableText(t, 5)}` }));
      await t.redis.mset(...planted.flatMap((p) => [p.key, p.value]));
      const hangHint = "A command() call never returned while 19 others were in flight on the same connection. Queue every waiting call, and hand each reply to the oldest.";
      const values = await Promise.all(planted.map((p) => send(t, resp, ["GET", p.key], "(one of 20 calls at once)", hangHint)));
      t.equal(values, planted.map((p) => p.value), {
        message: "20 command(GET …) calls made at once did not each get their own reply.",
        hint: "Calls made while others wait share one connection: replies come back in the order the commands were written, so keep the waiting calls in a first-in first-out queue.",
      });
    },
  },
});
