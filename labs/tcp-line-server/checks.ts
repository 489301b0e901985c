import { createHash } from "node:crypto";
import { CheckFailure, defineChecks, fc, type CheckContext, type RpcModule } from "../../lib/grader/index.ts";
import type { ClientView, LineView, Step } from "./solution/grader-clients.ts";

/**
 * The learner's server runs in a sandbox with a loopback of its own, which the grader cannot reach
 * from outside. So each check loads the lab's read-only grader-clients.ts in a process of its own:
 * it imports the learner's server.ts, starts it, and opens plain TCP clients to it from inside the
 * same sandbox. Every verdict rests on the bytes those clients received (and when), on the sockets
 * the process holds, and on whether the process is still alive; never on anything server.ts says.
 */
const MODULE = "grader-clients.ts";
/** 50 clients are 100 sockets in one process, beside the listener and the harness's own. */
const LIMITS = { openFiles: 256, wallMs: 40_000, cpuSeconds: 12 };

// The numbers instructions.md states.
/** A line, its "\n" (and a "\r" before it) included, is at most this many bytes. */
const MAX_LINE = 4096;
/** A connection with nothing in or out for 2 s is closed, within 3 s. */
const IDLE_MS = 2000;
const IDLE_LATEST_MS = 3000;
/** ms a timer's start may be rounded down by (the event loop's clock counts whole ms). */
const TIMER_ROUNDING_MS = 10;
/** "ERR line too long" within this long of the byte that made the line too long. */
const TOO_LONG_MS = 500;
/** The connection is closed within this long of BYE, of a too-long line, of a client's FIN. */
const CLOSE_AFTER_MS = 1000;
/** close() resolves within this long, whatever the clients do. */
const CLOSE_MS = 1000;
/** A vanished client's socket is released within this long. */
const RELEASE_MS = 1000;
/** Other clients' commands are answered within this long while one client reads nothing. */
const OTHERS_MS = 500;
/**
 * How long a client waits for more of the replies it is owed once nothing more arrives: a server
 * in the same process answers a pipelined batch within milliseconds (the driver turns the event
 * loop once more before giving up, so a stalled process is not mistaken for a silent server).
 */
const QUIET_MS = 250;
/** Replies a server may hold for one client beyond what the kernel's socket buffers hold. */
const ALLOWANCE_BYTES = 1024 * 1024;

/**
 * Ports the server may be asked to listen on: below Linux's ephemeral range, drawn from the
 * runner's CSPRNG (a port computable from the seed could be taken in advance on a weaker tier).
 */
const PORTS = { from: 10_000, count: 22_000 };

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

// ---------------------------------------------------------------------------------------------
// The protocol, as instructions.md states it: the grader's own model of every reply.

const INTEGER = /^-?(?:0|[1-9][0-9]*)$/;

class Model {
  readonly store = new Map<string, string>();

  /** The reply (without "\n") to one line's content (without its "\n" and the "\r" before it). */
  reply(line: string): string {
    const space = line.indexOf(" ");
    const name = space === -1 ? line : line.slice(0, space);
    const rest = space === -1 ? null : line.slice(space + 1);
    const key = rest !== null && rest !== "" && !rest.includes(" ") ? rest : null;
    switch (name) {
      case "SET": {
        const gap = rest === null ? -1 : rest.indexOf(" ");
        if (rest === null || gap <= 0) return "ERR syntax";
        this.store.set(rest.slice(0, gap), rest.slice(gap + 1));
        return "OK";
      }
      case "GET": {
        if (key === null) return "ERR syntax";
        const value = this.store.get(key);
        return value === undefined ? "NIL" : `VALUE ${value}`;
      }
      case "INCR": {
        if (key === null) return "ERR syntax";
        const current = this.store.get(key) ?? "0";
        if (!INTEGER.test(current) || current === "-0") return "ERR not an integer";
        const n = BigInt(current);
        if (n < INT64_MIN || n > INT64_MAX) return "ERR not an integer";
        if (n === INT64_MAX) return "ERR overflow";
        this.store.set(key, String(n + 1n));
        return `VALUE ${n + 1n}`;
      }
      case "DEL":
        if (key === null) return "ERR syntax";
        return this.store.delete(key) ? "DELETED" : "NIL";
      case "QUIT":
        return rest === null ? "BYE" : "ERR syntax";
      default:
        return "ERR unknown command";
    }
  }

  /** The replies to every complete line of `bytes`, as the server must frame them. */
  replies(bytes: Buffer): { line: Buffer; reply: string }[] {
    const out: { line: Buffer; reply: string }[] = [];
    let from = 0;
    for (let nl = bytes.indexOf(10, from); nl !== -1; nl = bytes.indexOf(10, from)) {
      const line = bytes.subarray(from, nl + 1);
      const end = nl > from && bytes[nl - 1] === 13 ? nl - 1 : nl;
      out.push({ line, reply: this.reply(bytes.toString("utf8", from, end)) });
      from = nl + 1;
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Showing bytes to a learner.

const INVISIBLE = /[\p{Z}\p{C}\p{M}]/u;

/** Bytes as readable text: \r, \n and controls escaped, UTF-8 characters as themselves, other bytes (half a character) as \xNN. */
function wire(bytes: Buffer, max = 160): string {
  let out = "";
  let i = 0;
  for (; i < bytes.length && out.length < max;) {
    const b = bytes[i]!;
    const width = b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 0;
    if (width === 1) {
      out +=
        b === 13
          ? "\\r"
          : b === 10
            ? "\\n"
            : b === 9
              ? "\\t"
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
      out += char === " " ? " " : INVISIBLE.test(char) ? `\\u{${char.codePointAt(0)!.toString(16)}}` : char;
      i += width;
    } else {
      out += `\\x${b.toString(16).padStart(2, "0")}`;
      i += 1;
    }
  }
  return `"${out}"${i < bytes.length ? `… (${bytes.length} bytes)` : ""}`;
}
const wireText = (text: string, max?: number) => wire(Buffer.from(text), max);

const sha = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex").slice(0, 24);

/** A line the server sent, as the learner can read it. */
function shownLine(line: LineView): string {
  const head = Buffer.from(line.b, "base64");
  return line.h ? `${wire(head, 60).replace(/"$/, '…"')} (${line.n} bytes)` : wire(head);
}

function sameLine(line: LineView, expected: Buffer): boolean {
  if (line.n !== expected.length) return false;
  return line.h ? line.h === sha(expected) : line.b === expected.toString("base64");
}

/** The lines of a view, long identical lines in a row counted out again. */
function expand(view: ClientView): LineView[] {
  const out: LineView[] = [];
  for (const line of view.lines) for (let i = 0; i < (line.c ?? 1); i++) out.push(line);
  return out;
}

const ms = (n: number) => `${Math.round(n)} ms`;
const ordinal = (n: number) => `${n}${n % 100 >= 11 && n % 100 <= 13 ? "th" : (["th", "st", "nd", "rd"][n % 10] ?? "th")}`;
const plural = (n: number, word: string) => `${n} ${n === 1 ? word : word.endsWith("y") ? `${word.slice(0, -1)}ies` : `${word}s`}`;
const b64 = (bytes: Buffer) => bytes.toString("base64");
const w = (bytes: Buffer | string): Step => ({ w: b64(Buffer.from(bytes)) });

// ---------------------------------------------------------------------------------------------
// Unpredictable text (the runner's CSPRNG, never the seed): keys and values no program can know.

const KEY_CHARS = [..."abcdefghijkmnpqrstuvwxyz0123456789", "é", "ß", "ж", "中", "語", "✓", "🎉", "🚀", ":", "-", "_", "."];
const VALUE_CHARS = [...KEY_CHARS, " ", " ", " ", "\r", "\t", "€", "😀", "ñ", "\u00a0", "👩‍💻"];
const pick = <T>(t: CheckContext, items: readonly T[]): T => items[Math.floor(t.unpredictable() * items.length)]!;
const text = (t: CheckContext, length: number, chars: readonly string[]) => Array.from({ length }, () => pick(t, chars)).join("");
/** A key: a fresh id and a few characters of every UTF-8 width. */
const freshKey = (t: CheckContext, prefix = "k") => `${t.id(prefix)}${text(t, 2, KEY_CHARS)}`;
const shortKey = (t: CheckContext) => text(t, 3, [..."abcdefghijkmnpqrstuvwxyz0123456789"]);
const between = (t: CheckContext, low: number, high: number) => Math.round(low + t.unpredictable() * (high - low));
/** Seeded shape: an integer in [low, high]. */
const shape = (t: CheckContext, low: number, high: number) => low + Math.floor(t.random() * (high - low + 1));

/** `bytes` cut at `offsets` (sorted, inside the buffer). */
function cut(bytes: Buffer, offsets: number[]): Buffer[] {
  const points = [...new Set(offsets.filter((o) => o > 0 && o < bytes.length))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let from = 0;
  for (const at of [...points, bytes.length]) {
    pieces.push(bytes.subarray(from, at));
    from = at;
  }
  return pieces;
}

// ---------------------------------------------------------------------------------------------
// The server under test.

const crashHint = (output: string) =>
  /ECONNRESET|EPIPE|ERR_STREAM_DESTROYED|write after end/i.test(output)
    ? "A socket whose client vanished emits 'error' (ECONNRESET when the client reset the connection, EPIPE when you write to one that is gone). A socket 'error' with no listener is thrown, and it takes down the whole process, with every other client on it. Listen for 'error' on every socket you accept (the 'close' event follows it)."
    : /heap out of memory|allocat|memory/i.test(output)
      ? "Your server ran out of memory: something grows without bound. Replies queued for a client that does not read them, or a line that never ends, must not pile up in your process."
      : "Your server must survive whatever a client does: catch what your code throws, and listen for 'error' on every socket.";

class Server {
  /** What the grader was doing, for the message if the process dies. */
  situation = "while the grader's clients talked to it";

  constructor(
    readonly t: CheckContext,
    readonly rpc: RpcModule,
    readonly port: number,
  ) {}

  /** Fails the check (with the process's last output) if the server's process has died. */
  requireAlive(): void {
    if (this.rpc.alive) return;
    const outcome = this.rpc.outcome;
    const how = !outcome
      ? "stopped"
      : outcome.kind === "exited"
        ? `exited with code ${outcome.code}`
        : outcome.kind === "signalled"
          ? `was stopped by ${outcome.signal}`
          : outcome.message;
    const output = this.rpc.output();
    this.t.fail({
      message: `Your server's process ${how} ${this.situation}. Every client it served lost its connection.`,
      expected: "the server keeps serving the other clients, whatever one client does",
      actual: output.slice(-1500) || "(it printed nothing)",
      hint: crashHint(output),
    });
  }

  async call<T>(fn: string, args: unknown[], timeoutMs: number): Promise<T> {
    try {
      return await this.rpc.call<T>(fn, args, timeoutMs);
    } catch (error) {
      this.requireAlive();
      if (error instanceof CheckFailure && /did not return within/.test(error.message)) {
        this.t.fail({
          message: `The grader's clients, in your server's process, got no turn for ${ms(timeoutMs)} ${this.situation}: the process's event loop was blocked.`,
          expected: "an event loop that is never blocked for long",
          actual: error.message,
          hint: "Everything in your server runs on one thread: a loop that never ends, or one that waits synchronously, stops every client at once. Look for a while loop whose condition never changes (for example a buffer that is never shortened).",
        });
      }
      throw error;
    }
  }

  /** Opens `n` clients at once; fails unless all of them connect. */
  async connect(n: number): Promise<number[]> {
    const { ids, failed } = await this.call<{ ids: number[]; failed: { id: number; error: string | null }[] }>("connectMany", [n, 3000], 8000);
    if (failed.length > 0) {
      this.t.fail({
        message: `${failed.length} of ${n} clients the grader opened at once ${this.situation} could not connect to your server on 127.0.0.1:${this.port}.`,
        expected: `every connection accepted (${n} at once)`,
        actual: [...new Set(failed.map((f) => f.error ?? "?"))].join(", "),
        hint: "Listen on 127.0.0.1 and the port start() is given, resolve start() once listening, and accept every connection: no limit on how many clients are connected at once, and no client waiting for another to finish.",
      });
    }
    return ids;
  }

  run(id: number, steps: Step[], timeoutMs: number, from = 0): Promise<ClientView> {
    return this.call<ClientView>("run", [id, steps, from], timeoutMs);
  }

  /** Connections the server holds, and the grader's clients still open. */
  sockets(): Promise<{ server: number; clients: number }> {
    return this.call<{ server: number; clients: number }>("sockets", [], 5000);
  }

  /**
   * Waits until the server holds `want` connections (by default, as many as the grader's clients
   * still open); returns the last count when it gives up.
   */
  async settle(withinMs: number, want?: number): Promise<{ server: number; clients: number }> {
    const deadline = performance.now() + withinMs;
    for (;;) {
      const n = await this.sockets();
      if (n.server === (want ?? n.clients) || performance.now() > deadline) return n;
      await this.t.sleep(25);
    }
  }

  /** A fresh client sends `text`, and must get what `model` says; then it leaves. */
  async ask(text: string, model: Model, who: string, hint: string): Promise<void> {
    const [id] = await this.connect(1);
    const bytes = Buffer.from(text);
    const sent = stream(model, bytes, []);
    const view = await this.run(id!, [w(bytes), { lines: sent.length, ms: 3000 }, { destroy: true }], 8000);
    judge(this.t, view, sent, who, hint);
  }
}

async function startServer(t: CheckContext): Promise<Server> {
  for (let attempt = 1; ; attempt++) {
    const port = PORTS.from + Math.floor(t.unpredictable() * PORTS.count);
    const rpc = await t.load(MODULE, { name: attempt === 1 ? "server" : `server-${attempt}`, process: true, limits: LIMITS });
    try {
      const { hasClose } = await rpc.call<{ hasClose: boolean }>("start", [port], 3000);
      if (!hasClose) {
        t.fail({
          message: `start(${port}) resolved without an object that has a close() function.`,
          expected: "start(port) resolves with { close(): Promise<void> } once the server listens",
          hint: "Return { close } from start(): the grader calls it to stop your server.",
        });
      }
      return new Server(t, rpc, port);
    } catch (error) {
      const taken = error instanceof CheckFailure && /EADDRINUSE/.test(`${error.message} ${String(error.actual ?? "")}`);
      if (taken && attempt < 3) {
        t.note(`port ${port} is in use on this machine; trying another`);
        await rpc.kill();
        continue;
      }
      if (error instanceof CheckFailure && /did not return within/.test(error.message)) {
        t.fail({
          message: `start(${port}) did not resolve within 3 s.`,
          expected: "start() resolves as soon as the server listens",
          actual: error.message,
          hint: "Resolve the promise in listen()'s callback; nothing else needs to happen before it.",
        });
      }
      throw error;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Judging what a client received.

/** A command a client sent and what it must get back. */
interface Sent {
  /** Its bytes as written, terminator included. */
  line: Buffer;
  /** The reply (without "\n"), or the shared counter it INCRs (any fresh number). */
  reply: string | { counter: string };
  /** How it reached the server, when it was split: the pieces of it each write carried. */
  split?: Buffer[];
}

/** Which pieces of a stream each line's bytes travelled in, for the message. */
function splits(stream: Buffer, pieces: Buffer[], lines: Buffer[]): (Buffer[] | undefined)[] {
  const ends: number[] = [];
  let at = 0;
  for (const p of pieces) ends.push((at += p.length));
  let from = 0;
  return lines.map((line) => {
    const to = from + line.length;
    const parts: Buffer[] = [];
    let start = from;
    for (const end of ends) {
      if (end <= start) continue;
      parts.push(stream.subarray(start, Math.min(end, to)));
      start = Math.min(end, to);
      if (start >= to) break;
    }
    from = to;
    return parts.length > 1 ? parts : undefined;
  });
}

const showSent = (s: Sent) => `${wire(s.line)}${s.split ? ` (it arrived in ${s.split.length} writes: ${s.split.map((p) => wire(p, 60)).join(" + ")})` : ""}`;

const framingHint =
  'TCP delivers a stream of bytes, not lines: one \'data\' event may hold half a line, or many lines, and a character or a "\\r\\n" may be split between two. Keep each connection\'s unfinished bytes in a Buffer of its own, cut a line at every "\\n" (dropping one "\\r" right before it), decode a line only once it is whole, and answer every line, in order.';

/**
 * Fails at the first reply that is not what the command must get. Returns the numbers that INCRs
 * of shared counters got, by counter.
 */
function judge(t: CheckContext, view: ClientView, sent: Sent[], who: string, hint = framingHint): Map<string, bigint[]> {
  const lines = expand(view);
  const counters = new Map<string, bigint[]>();
  for (const [i, s] of sent.entries()) {
    const got = lines[i];
    const context =
      i > 0
        ? ` It came after ${i === 1 ? "1 command that got its reply" : `${i} commands that got theirs`}; the one before it was ${wire(sent[i - 1]!.line, 80)}.`
        : "";
    if (!got) {
      const closed = view.closedAt !== null ? "and then your server closed the connection" : "and then nothing more arrived";
      const partial = view.partial.n > 0 ? `; after them, ${view.partial.n} bytes with no "\\n": ${wire(Buffer.from(view.partial.b, "base64"), 80)}` : "";
      t.fail({
        message: `${who} sent ${plural(sent.length, "command")} and got only ${plural(i, "reply")}, ${closed}. The first one unanswered: ${showSent(s)}.${context}`,
        expected: typeof s.reply === "string" ? wireText(`${s.reply}\n`) : "VALUE <the counter's new value>",
        actual: `${plural(i, "complete reply")}${partial}`,
        hint,
      });
    }
    if (typeof s.reply !== "string") {
      const match = /^VALUE (-?\d+)$/.exec(Buffer.from(got.b, "base64").toString("utf8"));
      if (!match || got.h) {
        t.fail({
          message: `${who} sent ${showSent(s)} and got ${shownLine(got)}.${context}`,
          expected: `"VALUE <n>": the counter's new value`,
          actual: shownLine(got),
          hint,
        });
      }
      const list = counters.get(s.reply.counter) ?? [];
      list.push(BigInt(match[1]!));
      counters.set(s.reply.counter, list);
      continue;
    }
    const expected = Buffer.from(s.reply);
    if (!sameLine(got, expected)) {
      t.fail({ message: `${who} sent ${showSent(s)} and got the wrong reply.${context}`, expected: wire(expected), actual: shownLine(got), hint });
    }
  }
  if (lines.length > sent.length) {
    const extra = lines[sent.length]!;
    t.fail({
      message: `${who} sent ${plural(sent.length, "command")} and got ${lines.length} reply lines: one line per command, no more.`,
      expected: `${sent.length} lines`,
      actual: `the ${ordinal(sent.length + 1)} line: ${shownLine(extra)}`,
      hint: 'Every line gets exactly one reply line ending in "\\n": no blank lines, no "\\r\\n", nothing split over two lines.',
    });
  }
  return counters;
}

/** A stream of commands for one client, written in the pieces given. */
function stream(model: Model, commands: Buffer, pieces: Buffer[]): Sent[] {
  const replies = model.replies(commands);
  const split = splits(
    commands,
    pieces,
    replies.map((r) => r.line),
  );
  return replies.map((r, i) => ({ line: r.line, reply: r.reply, split: split[i] }));
}

// ---------------------------------------------------------------------------------------------
// Generated commands (fast-check, for shape) with fresh keys and values (for content).

/** Text of every UTF-8 width, spaces and the characters a line protocol trips on. */
const ARB_CHARS = [
  "a",
  "Z",
  "7",
  " ",
  " ",
  "-",
  ":",
  "é",
  "ß",
  "ж",
  "中",
  "語",
  "🎉",
  "😀",
  "👩‍💻",
  "e\u0301",
  "\r",
  "\t",
  "\u00a0",
  "\u2028",
  "\u0000",
  "\u007f",
  "\ufeff",
];
const arbText = (maxLength: number) => fc.array(fc.constantFrom(...ARB_CHARS), { maxLength }).map((c) => c.join(""));
/** Stored values that look like integers and are not, or are out of INCR's range. */
const NOT_INTEGERS = [
  "+5",
  "05",
  "-0",
  "00",
  " 5",
  "5 ",
  "5.0",
  "1e3",
  "0x1f",
  "",
  "-",
  "٣",
  "１",
  "Infinity",
  "NaN",
  "1_000",
  "0b1",
  "--1",
  "9 9",
  String(INT64_MAX + 1n),
  String(INT64_MIN - 1n),
  "99999999999999999999",
];
/** Integers at INCR's edges: the largest (INCR overflows), the smallest, and past what a double holds exactly. */
const EDGE_INTEGERS = [
  String(INT64_MAX),
  String(INT64_MAX - 1n),
  String(INT64_MIN),
  String(INT64_MIN + 1n),
  String(2n ** 53n),
  String(2n ** 53n + 1n),
  "-1",
  "0",
];
/** Stored values INCR must read: canonical integers near every edge, and look-alikes that are not. */
const arbNumberLike = fc.oneof(
  fc.bigInt({ min: -1000n, max: 1000n }).map(String),
  fc.bigInt({ min: INT64_MIN, max: INT64_MAX }).map(String),
  fc.bigInt({ min: 2n ** 53n - 3n, max: 2n ** 53n + 3n }).map(String),
  fc.constantFrom(...EDGE_INTEGERS),
  fc.constantFrom(...NOT_INTEGERS),
);
/** Lines the grader sends as they are (the key slot `@` becomes a fresh key): malformed, unknown, almost right. */
const ODD_LINES = [
  "",
  " ",
  "\r",
  "GET",
  "GET ",
  "GET @ @",
  "GET  @",
  " GET @",
  "GET @ ",
  "get @",
  "Get @",
  "GET\t@",
  "SET @",
  "SET ",
  "SET  v",
  "SET\t@ v",
  "set @ v",
  "INCR",
  "INCR @ 1",
  "DEL",
  "DEL @ @",
  "QUIT now",
  "QUIT ",
  "quit",
  "PING",
  "GETX @",
  "SET@ v",
  "\u0000",
  "GET\u00a0@",
];
/** The empty line first and weighted: its reply is the one most often forgotten. */
const arbOddLine = fc.oneof({ weight: 1, arbitrary: fc.constantFrom("", "\r") }, { weight: 4, arbitrary: fc.constantFrom(...ODD_LINES) });

type Op =
  | { kind: "set"; key: number; value: string; fresh: boolean }
  | { kind: "number"; key: number; value: string }
  | { kind: "count"; key: number; value: string }
  | { kind: "get" | "incr" | "del"; key: number }
  | { kind: "odd"; line: string };

const arbOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("set" as const), key: fc.nat(2), value: arbText(12), fresh: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("number" as const), key: fc.nat(2), value: arbNumberLike }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("count" as const), key: fc.nat(2), value: arbNumberLike }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constantFrom("get" as const, "incr" as const, "del" as const), key: fc.nat(2) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("odd" as const), line: arbOddLine }) },
);

/** The generated ops as command lines, with fresh keys (and a fresh word in most values). */
function opLines(t: CheckContext, ops: Op[], crlf: boolean[]): string[] {
  const prefix = t.id("k");
  const keys = [0, 1, 2].map((i) => `${prefix}${"abc"[i]}`);
  return ops.map((op, i) => {
    const ending = crlf[i % Math.max(1, crlf.length)] ? "\r\n" : "\n";
    const key = "key" in op ? keys[op.key]! : keys[0]!;
    switch (op.kind) {
      case "set":
        return `SET ${key} ${op.value}${op.fresh ? text(t, 3, KEY_CHARS) : ""}${ending}`;
      case "number":
        return `SET ${key} ${op.value}${ending}`;
      case "count":
        return `SET ${key} ${op.value}${ending}INCR ${key}${ending}GET ${key}${ending}`;
      case "get":
        return `GET ${key}${ending}`;
      case "incr":
        return `INCR ${key}${ending}`;
      case "del":
        return `DEL ${key}${ending}`;
      case "odd":
        return `${op.line.replaceAll("@", key)}${ending}`;
    }
  });
}

const showOps = (ops: Op[]) =>
  ops
    .map((op) => {
      switch (op.kind) {
        case "set":
          return `SET k${op.key} ${wireText(op.value)}${op.fresh ? "+<3 fresh characters>" : ""}`;
        case "number":
          return `SET k${op.key} ${wireText(op.value)}`;
        case "count":
          return `SET k${op.key} ${wireText(op.value)}; INCR k${op.key}; GET k${op.key}`;
        case "odd":
          return wireText(op.line.replaceAll("@", "k0"));
        default:
          return `${op.kind.toUpperCase()} k${op.key}`;
      }
    })
    .join("; ");

/** A property's runs share one server: the first run that kills it is reported as such, not shrunk. */
interface Crash {
  input: string;
  output: string;
}

// ---------------------------------------------------------------------------------------------
// many-clients: a command stream per client, private keys and shared counters.

interface ClientPlan {
  id: number;
  steps: Step[];
  sent: Sent[];
}

function planClient(t: CheckContext, id: number, counters: string[]): ClientPlan {
  const model = new Model();
  const keys = [freshKey(t), freshKey(t), freshKey(t)];
  const lines: { text: string; counter?: string }[] = [];
  const count = shape(t, 30, 60);
  for (let i = 0; i < count; i++) {
    const r = t.random();
    const key = keys[Math.floor(t.random() * keys.length)]!;
    const ending = t.random() < 0.5 ? "\r\n" : "\n";
    if (r < 0.25) lines.push({ text: `SET ${key} ${text(t, shape(t, 0, 30), VALUE_CHARS)}${ending}` });
    else if (r < 0.35) lines.push({ text: `SET ${key} ${between(t, -5000, 5000)}${ending}` });
    else if (r < 0.55) lines.push({ text: `GET ${key}${ending}` });
    else if (r < 0.67) lines.push({ text: `INCR ${key}${ending}` });
    else if (r < 0.72) lines.push({ text: `DEL ${key}${ending}` });
    else if (r < 0.92) {
      const counter = counters[Math.floor(t.random() * counters.length)]!;
      lines.push({ text: `INCR ${counter}${ending}`, counter });
    } else lines.push({ text: `${pick(t, ["GET", "SET " + key, "FLUSH", "get " + key, "INCR " + key + " 2", ""])}${ending}` });
  }
  const steps: Step[] = [];
  const sent: Sent[] = [];
  for (let i = 0; i < lines.length;) {
    const batch = lines.slice(i, (i += shape(t, 1, 8)));
    const bytes = Buffer.from(batch.map((l) => l.text).join(""));
    const pieces = cut(
      bytes,
      Array.from({ length: shape(t, 0, 3) }, () => Math.floor(t.random() * bytes.length)),
    );
    const replies = model.replies(bytes);
    const split = splits(
      bytes,
      pieces,
      replies.map((r) => r.line),
    );
    // A counter's INCR is not the model's: its key is shared, so its reply is judged across clients.
    replies.forEach((r, j) => sent.push({ line: r.line, reply: batch[j]!.counter ? { counter: batch[j]!.counter! } : r.reply, split: split[j] }));
    for (const p of pieces) steps.push(w(p));
    steps.push({ lines: sent.length, ms: 6000, quiet: 1000 });
  }
  return { id, steps, sent };
}

// ---------------------------------------------------------------------------------------------

export default defineChecks({
  timeoutMs: 30_000,
  checks: {
    "many-clients": async (t) => {
      const server = await startServer(t);
      const N = 50;
      server.situation = `while ${N} clients sent it commands at once`;
      const ids = await server.connect(N);
      const counters = [t.id("hits"), t.id("hits")];
      const plans = ids.map((id) => planClient(t, id, counters));
      t.note(
        `${N} clients connected at once, each sending 30–60 commands (SET, GET, INCR, DEL on keys of its own, INCR on 2 shared counters), pipelined in batches and split at random bytes`,
      );
      const views = await Promise.all(plans.map((p) => server.run(p.id, p.steps, 25_000)));
      const seen = new Map<string, bigint[]>();
      for (const [i, plan] of plans.entries()) {
        const got = judge(
          t,
          views[i]!,
          plan.sent,
          `Client ${i + 1} of ${N} (all ${N} connected at once)`,
          `${framingHint} Every connection needs its own buffer and its own replies: state kept in module variables is shared by all ${N} clients.`,
        );
        for (const [counter, values] of got) seen.set(counter, [...(seen.get(counter) ?? []), ...values]);
      }
      for (const counter of counters) {
        const values = (seen.get(counter) ?? []).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        const wrongAt = values.findIndex((v, i) => v !== BigInt(i + 1));
        if (wrongAt !== -1) {
          t.fail({
            message: `${N} clients sent ${values.length} INCRs of one shared key between them; their replies should be 1 to ${values.length}, each once.`,
            expected: `1 … ${values.length}, each exactly once`,
            actual: `sorted, the ${ordinal(wrongAt + 1)} reply was ${values[wrongAt]} (${values.slice(Math.max(0, wrongAt - 2), wrongAt + 3).join(", ")}, …)`,
            hint: "All clients share one store: an INCR reads and writes the same value whichever connection it comes from. Keep one Map for the whole server, not one per connection.",
          });
        }
      }
      const [checker] = await server.connect(1);
      const view = await server.run(checker!, [w(counters.map((c) => `GET ${c}\n`).join("")), { lines: counters.length, ms: 3000 }], 8000);
      const model = new Model();
      counters.forEach((c) => model.store.set(c, String(seen.get(c)?.length ?? 0)));
      judge(
        t,
        view,
        stream(model, Buffer.from(counters.map((c) => `GET ${c}\n`).join("")), []),
        "A new client reading the shared counters afterwards",
        "The counters hold one increment for each INCR the clients sent.",
      );
    },

    "split-lines": async (t) => {
      const server = await startServer(t);
      server.situation = "while the grader sent lines split at random bytes";
      // A pipelined batch far over the line limit in one write: many short lines are not one long one.
      const [bulk] = await server.connect(1);
      const prefix = t.id("k");
      const many = Array.from({ length: 180 }, (_, i) =>
        i % 3 === 0 ? `SET ${prefix}${i % 7} ${text(t, 20, VALUE_CHARS)}\n` : i % 3 === 1 ? `GET ${prefix}${(i - 1) % 7}\r\n` : `INCR ${prefix}n\n`,
      ).join("");
      const batch = Buffer.from(many);
      const bulkView = await server.run(bulk!, [w(batch), { lines: 180, ms: 5000, quiet: QUIET_MS }], 10_000);
      judge(
        t,
        bulkView,
        stream(new Model(), batch, [batch]),
        `A client that pipelined 180 commands (${batch.length} bytes) in one write`,
        `${framingHint} The line limit is per line: a write of many short lines is not a long line.`,
      );

      // Generated streams, two clients at once, each cut its own way.
      type Cutting = { how: "bytes" } | { how: "inside" } | { how: "one" } | { how: "random"; at: number[] };
      const arbCutting: fc.Arbitrary<Cutting> = fc.oneof(
        fc.constant({ how: "bytes" as const }),
        fc.constant({ how: "inside" as const }),
        fc.constant({ how: "one" as const }),
        fc.record({ how: fc.constant("random" as const), at: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 10 }) }),
      );
      const offsets = (bytes: Buffer, cutting: Cutting): number[] => {
        if (cutting.how === "one") return [];
        if (cutting.how === "bytes") return Array.from({ length: bytes.length }, (_, i) => i);
        if (cutting.how === "random") return cutting.at.map((f) => Math.floor(f * bytes.length));
        // Inside every multi-byte character, and between every \r and \n.
        const points: number[] = [];
        for (let i = 1; i < bytes.length; i++) {
          if ((bytes[i]! & 0xc0) === 0x80 || (bytes[i] === 10 && bytes[i - 1] === 13)) points.push(i);
        }
        return points;
      };
      const describeCutting = (c: Cutting) =>
        c.how === "bytes"
          ? "one byte per write"
          : c.how === "inside"
            ? "cut inside every multi-byte character and between every \\r and \\n"
            : c.how === "one"
              ? "all in one write"
              : `cut at ${c.at.length} random bytes`;
      const arbClient = fc.record({
        ops: fc.array(arbOp, { minLength: 1, maxLength: 8 }),
        crlf: fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
        cutting: arbCutting,
      });
      let crash: Crash | null = null;
      await t.property(
        fc.tuple(arbClient, arbClient),
        async (pair) => {
          if (crash) return;
          const plans = pair.map((c) => {
            const bytes = Buffer.from(opLines(t, c.ops, c.crlf).join(""));
            const pieces = cut(bytes, offsets(bytes, c.cutting));
            return { id: 0, bytes, pieces, sent: stream(new Model(), bytes, pieces), how: describeCutting(c.cutting) };
          });
          let ids: number[] = [];
          let views: ClientView[];
          try {
            ids = await server.connect(2);
            plans.forEach((p, i) => (p.id = ids[i]!));
            views = await Promise.all(
              plans.map((p) => server.run(p.id, [...p.pieces.map((piece) => w(piece)), { lines: p.sent.length, ms: 3000, quiet: QUIET_MS }], 15_000)),
            );
          } catch (error) {
            if (server.rpc.alive) throw error;
            crash = { input: plans.map((p) => wire(p.bytes, 400)).join(" and "), output: server.rpc.output().slice(-1500) };
            return;
          }
          plans.forEach((p, i) => judge(t, views[i]!, p.sent, `A client whose commands were ${p.how} (another client wrote its own at the same time)`));
          await server.run(ids[0]!, [{ destroy: true }], 5000);
          await server.run(ids[1]!, [{ destroy: true }], 5000);
        },
        {
          runs: 40,
          timeLimitMs: 7000,
          noun: "pair of command streams",
          show: (pair) => pair.map((c, i) => `client ${i + 1}: ${showOps(c.ops)} (${describeCutting(c.cutting)})`).join("\n"),
        },
      );
      if (crash !== null) {
        const { input, output } = crash as Crash;
        t.fail({ message: `Your server's process died while two clients sent ${input}.`, actual: output || "(it printed nothing)", hint: crashHint(output) });
      }
    },

    "protocol-replies": async (t) => {
      const server = await startServer(t);
      server.situation = "while the grader sent generated commands";
      const hint =
        "instructions.md gives the exact reply to every line: check the command name (exact, upper case), the number of single spaces, an empty key, a value with spaces in it, and what INCR accepts as an integer (a signed 64-bit decimal, written the one canonical way).";
      let crash: Crash | null = null;
      /** One client sends `lines` pipelined in one write and must get the model's replies; false if the server died. */
      const exchange = async (lines: string[], who: string): Promise<boolean> => {
        if (crash) return false;
        const bytes = Buffer.from(lines.join(""));
        const sent = stream(new Model(), bytes, [bytes]);
        let id: number | undefined;
        let view: ClientView;
        try {
          [id] = await server.connect(1);
          view = await server.run(id!, [w(bytes), { lines: sent.length, ms: 3000, quiet: QUIET_MS }], 10_000);
        } catch (error) {
          if (server.rpc.alive) throw error;
          crash = { input: wire(bytes, 400), output: server.rpc.output().slice(-1500) };
          return false;
        }
        judge(t, view, sent, who, hint);
        await server.run(id!, [{ destroy: true }], 5000);
        return true;
      };
      await t.property(
        fc.record({ ops: fc.array(arbOp, { minLength: 1, maxLength: 7 }), crlf: fc.array(fc.boolean(), { minLength: 1, maxLength: 7 }) }),
        async ({ ops, crlf }) => {
          await exchange(opLines(t, ops, crlf), "A client");
        },
        { runs: 120, timeLimitMs: 7000, noun: "command sequence", show: ({ ops }) => showOps(ops) },
      );
      // Then every listed kind once, whatever the generated runs happened to draw.
      const every: Op[] = [
        ...ODD_LINES.map((line): Op => ({ kind: "odd", line })),
        ...[...EDGE_INTEGERS, ...NOT_INTEGERS].map((value, i): Op => ({ kind: "count", key: i % 3, value })),
      ];
      for (let i = 0; i < every.length && !crash; i += 12) {
        const ops = every.slice(i, i + 12);
        await exchange(
          opLines(
            t,
            ops,
            ops.map((_, j) => j % 2 === 0),
          ),
          "A client sending one of every kind of malformed line and integer-like value",
        );
      }
      if (crash !== null) {
        const { input, output } = crash as Crash;
        t.fail({ message: `Your server's process died on the commands ${input}.`, actual: output || "(it printed nothing)", hint: crashHint(output) });
      }
    },

    "long-lines": async (t) => {
      const server = await startServer(t);
      server.situation = "while clients sent lines at and over the 4096-byte limit";
      const [atLimit, atLimitCrlf, over, overCrlf, endless] = await server.connect(5);
      const keys = Array.from({ length: 5 }, () => freshKey(t));
      /** A SET line of exactly `bytes` bytes with this ending, its value of 1-, 2- and 3-byte characters. */
      const setLine = (key: string, bytes: number, ending: string) => {
        const head = `SET ${key} `;
        let value = "";
        const room = bytes - Buffer.byteLength(head) - ending.length;
        while (Buffer.byteLength(value) < room) {
          const c = pick(t, ["é", "中", "語", "a", " ", "ж", "✓"]);
          value += Buffer.byteLength(value + c) <= room ? c : "a";
        }
        return { line: Buffer.from(`${head}${value}${ending}`), value };
      };
      // At the limit: accepted. Split just before its last byte, and (with \r\n) between \r and \n.
      const a = setLine(keys[0]!, MAX_LINE, "\n");
      const b = setLine(keys[1]!, MAX_LINE, "\r\n");
      const atSteps = (line: Buffer, key: string) =>
        [...cut(line, [between(t, 1, line.length - 2), line.length - 1]).map((p) => w(p)), w(`GET ${key}\n`), { lines: 2, ms: 3000 }] as Step[];
      // One byte over: refused, with the lines before it answered first.
      const c = setLine(keys[2]!, MAX_LINE + 1, "\n");
      const d = setLine(keys[3]!, MAX_LINE + 1, "\r\n");
      const before = (key: string) => `SET ${key} small\nGET ${key}\n`;
      const overSteps = (line: Buffer, key: string) =>
        [
          w(before(key)),
          ...cut(line, [between(t, 1, line.length - 2)]).map((p) => w(p)),
          { lines: 3, ms: 3000, quiet: 1000 },
          { closed: CLOSE_AFTER_MS },
        ] as Step[];
      // No newline at all: 4096 bytes, then more, 40 bytes every 20 ms, for as long as the connection lasts.
      const endlessHead = Buffer.from(`SET ${keys[4]} ${text(t, MAX_LINE, ["x", "y", "é", "中"])}`).subarray(0, MAX_LINE - 10);
      const trickle: Step[] = [w(endlessHead)];
      for (let i = 0; i < 40; i++) trickle.push(w(text(t, 40, ["x", "y", "z"])), { sleep: 20 });
      t.note("lines of exactly 4096 bytes (\\n and \\r\\n), lines of 4097, and a client that sends 4096 bytes and more without any \\n");
      const [viewA, viewB, viewC, viewD, viewE] = await Promise.all([
        server.run(atLimit!, atSteps(a.line, keys[0]!), 10_000),
        server.run(atLimitCrlf!, atSteps(b.line, keys[1]!), 10_000),
        server.run(over!, overSteps(c.line, keys[2]!), 10_000),
        server.run(overCrlf!, overSteps(d.line, keys[3]!), 10_000),
        server.run(endless!, trickle, 15_000),
      ]);
      const limitHint =
        'Count bytes, not characters (Buffer length, not string length: "中" is 3 bytes), and count the line\'s "\\n" and the "\\r" before it. A line of 4096 bytes in all is fine; as soon as 4096 bytes have arrived without a "\\n" among them, the line is too long, whatever comes next.';
      for (const [view, x, key, how] of [
        [viewA!, a, keys[0]!, "ending in \\n"],
        [viewB!, b, keys[1]!, "ending in \\r\\n, split between the \\r and the \\n"],
      ] as const) {
        const m = new Model();
        const sent = stream(m, Buffer.concat([x.line, Buffer.from(`GET ${key}\n`)]), []);
        judge(t, view, sent, `A client that sent a SET line of exactly ${MAX_LINE} bytes (${how}), then GET`, limitHint);
      }
      for (const [view, x, key, how] of [
        [viewC!, c, keys[2]!, "ending in \\n"],
        [viewD!, d, keys[3]!, "ending in \\r\\n"],
      ] as const) {
        const who = `A client that sent "SET …", "GET …" and then a SET line of ${MAX_LINE + 1} bytes (${how}, ${[...x.line.toString()].length} characters)`;
        const sent: Sent[] = [...stream(new Model(), Buffer.from(before(key)), []), { line: x.line, reply: "ERR line too long" }];
        judge(t, view, sent, who, limitHint);
        const closedAt = view.closedAt ?? view.endedAt;
        const lastWrite = view.writes.at(-1)![0];
        if (closedAt === null || closedAt - lastWrite > CLOSE_AFTER_MS) {
          t.fail({
            message: `${who} got "ERR line too long", but your server did not close the connection within ${ms(CLOSE_AFTER_MS)}.`,
            expected: "the reply, then the connection closed",
            actual: closedAt === null ? "still open" : `closed ${ms(closedAt - lastWrite)} after the line`,
            hint: 'After "ERR line too long" the connection\'s framing is lost: close it (socket.end() with the reply) and read nothing more from it.',
          });
        }
      }
      // The endless line: the reply must come within TOO_LONG_MS of the write that reached 4096 bytes.
      const crossing = viewE!.writes.find(([, total]) => total >= MAX_LINE);
      const reply = expand(viewE!)[0];
      const who = `A client that sent ${MAX_LINE - 10} bytes of "SET …" and then 40 more bytes every 20 ms, never a "\\n"`;
      if (!crossing) throw new Error("the endless client never reached the limit");
      if (!reply || !sameLine(reply, Buffer.from("ERR line too long")) || reply.at - crossing[0] > TOO_LONG_MS) {
        return t.fail({
          message: `${who} ${reply ? `got ${shownLine(reply)} ${ms(reply.at - crossing[0])} after its ${MAX_LINE}th byte` : `got no reply at all (it wrote ${viewE!.writes.at(-1)![1]} bytes over ${ms(viewE!.writes.at(-1)![0] - viewE!.writes[0]![0])})`}.`,
          expected: `"ERR line too long" within ${ms(TOO_LONG_MS)} of the ${MAX_LINE}th byte without a "\\n", then the connection closed`,
          actual: reply ? shownLine(reply) : "nothing",
          hint: `${limitHint} A server that waits for the "\\n" to measure the line buffers whatever a client sends, without bound.`,
        });
      }
      const endedE = viewE!.endedAt ?? viewE!.closedAt;
      if (endedE === null || endedE - reply.at > CLOSE_AFTER_MS) {
        t.fail({
          message: `${who} got "ERR line too long", but your server ${endedE === null ? "kept the connection open while the client went on writing" : `closed the connection only ${ms(endedE - reply.at)} later`}.`,
          expected: `the connection closed within ${ms(CLOSE_AFTER_MS)} of the reply`,
          actual: endedE === null ? "still open" : `closed after ${ms(endedE - reply.at)}`,
          hint: 'Close the connection after "ERR line too long" (socket.end() with the reply) and ignore what else arrives on it.',
        });
      }
      // The refused lines did nothing; the accepted ones did.
      const check = [keys[2]!, keys[3]!, keys[4]!].map((k) => `GET ${k}\n`).join("");
      const m = new Model();
      m.store.set(keys[2]!, "small");
      m.store.set(keys[3]!, "small");
      await server.ask(
        check,
        m,
        "Another client, reading the keys of the refused lines afterwards,",
        "A line that is too long is refused whole: nothing of it is executed.",
      );
      const left = await server.settle(RELEASE_MS);
      if (left.server !== left.clients) {
        t.fail({
          message: `After 3 clients with too-long lines were told so and closed, your server held ${left.server} connections, where the grader had ${left.clients} open.`,
          expected: String(left.clients),
          actual: String(left.server),
          hint: 'Close a connection once you have answered "ERR line too long", and make sure the socket is released (end it, and destroy it if the client does not close its side).',
        });
      }
    },

    "slow-reader": async (t) => {
      const server = await startServer(t);
      server.situation = "while a client read none of its replies";
      const kernel = await server.call<number>("kernelBuffers", [], 10_000);
      const allowed = Math.round(kernel * 1.5) + ALLOWANCE_BYTES;
      const [canary, flood, slow] = await server.connect(3);
      const big = shortKey(t);
      const [countFlood, countSlow] = [`${big}f`, `${big}s`];
      const value = text(t, 4000, [..."abcdefghijklmnopqrstuvwxyz0123456789 "]);
      const reply = Buffer.from(`VALUE ${value}`);
      await server.run(canary!, [w(`SET ${big} ${value}\n`), { lines: 1, ms: 3000 }], 8000);
      // Each block: 15 GETs of the 4 KB value, then an INCR of the client's counter, so the counter
      // tells how many of the client's commands the server executed.
      const block = (counter: string) => `GET ${big}\n`.repeat(15) + `INCR ${counter}\n`;
      const floodBlocks = 12_000;
      const slowBlocks = 250;
      const stall = between(t, 600, 900);
      t.note(
        `the kernel's socket buffers hold ${kernel} bytes; two clients stop reading and pipeline GETs of a 4000-byte value (${floodBlocks * 16} and ${slowBlocks * 16} commands) for ${ms(stall)}`,
      );
      const probes = Math.floor(stall / 60);
      const canarySteps: Step[] = [];
      for (let i = 1; i <= probes; i++) canarySteps.push(w(`GET ${big}z\n`), { lines: 1 + i, ms: OTHERS_MS + 300 }, { sleep: 50 });
      const [, , canaryView] = await Promise.all([
        server.run(flood!, [{ pause: true }, w(block(countFlood).repeat(floodBlocks))], 8000),
        server.run(slow!, [{ pause: true }, w(block(countSlow).repeat(slowBlocks))], 8000),
        server.run(canary!, [{ sleep: 30 }, ...canarySteps, { sleep: Math.max(0, stall - probes * 60) }], 15_000, 1),
      ]);
      // Others were served meanwhile.
      const sentAt: number[] = canaryView.writes.slice(1).map(([at]) => at);
      const lines = expand(canaryView);
      for (const [i, at] of sentAt.entries()) {
        const got = lines[i];
        if (!got || got.at - at > OTHERS_MS) {
          t.fail({
            message: `While one client read none of its replies, another client (sending a GET every 60 ms or so) had its ${ordinal(i + 1)} GET ${got ? `answered only after ${ms(got.at - at)}` : "never answered"}.`,
            expected: `every other client answered within ${ms(OTHERS_MS)}`,
            actual: got ? shownLine(got) : "no reply",
            hint: "Backpressure is per connection: pause the client whose socket is full, and only that one. The others must go on being served; nothing may wait for a slow client's 'drain' but that client's own commands.",
          });
        }
      }
      // How many of each stalled client's commands ran, from its counter.
      const read = `GET ${countFlood}\nGET ${countSlow}\n`;
      const countView = await server.run(canary!, [w(read), { lines: 1 + sentAt.length + 2, ms: 3000 }], 8000, 1 + sentAt.length);
      const counts = expand(countView).map((l) => {
        const m = /^VALUE (\d+)$/.exec(Buffer.from(l.b, "base64").toString());
        return m ? Number(m[1]) : 0;
      });
      for (const [i, [who, blocks]] of (
        [
          ["a client pipelined", floodBlocks],
          ["a second client pipelined", slowBlocks],
        ] as const
      ).entries()) {
        // Every INCR that ran had its block's 15 GETs run before it.
        const count = counts[i] ?? 0;
        const executed = count * 16;
        const bytes = count * 15 * (reply.length + 1);
        if (bytes > allowed && count < blocks) {
          t.fail({
            message: `While ${who} ${blocks * 16} commands without reading any reply, your server executed at least ${executed} of them in ${ms(stall)}: at least ${(bytes / 1024 / 1024).toFixed(1)} MiB of replies for a client that reads nothing. The kernel's socket buffers hold ${(kernel / 1024 / 1024).toFixed(1)} MiB of them; the rest waits in your process.`,
            expected: `at most ${(allowed / 1024 / 1024).toFixed(1)} MiB of replies executed (1 MiB in your process, plus the kernel's buffers and half as much again)`,
            actual: `its INCR counter at ${count}: at least ${executed} commands executed`,
            hint: "When socket.write() returns false, the socket's buffer is full: stop executing that client's commands (and pause reading it) until 'drain'. Check after every command, not once per 'data' event: one 64 KiB chunk can hold 9000 commands, and each GET here answers with 4 KB.",
          });
        }
        if (count === blocks) {
          t.fail({
            message: `While ${who} ${blocks * 16} commands without reading any reply, your server executed all of them within ${ms(stall)}: ${(bytes / 1024 / 1024).toFixed(1)} MiB of replies for a client that reads nothing.`,
            expected: `at most ${(allowed / 1024 / 1024).toFixed(1)} MiB of replies executed`,
            actual: `all ${blocks * 16} commands executed`,
            hint: "When socket.write() returns false, stop executing that client's commands until the socket emits 'drain'.",
          });
        }
      }
      // The first vanishes with its replies stuck; the second reads again and must get every reply.
      await server.run(flood!, [{ reset: true }], 5000);
      const held = await server.settle(RELEASE_MS);
      if (held.server !== held.clients) {
        t.fail({
          message: `A client that read nothing vanished (reset its connection) with replies still queued for it, and ${ms(RELEASE_MS)} later your server held ${held.server} connections, where the grader had ${held.clients} open.`,
          expected: `${held.clients} connections`,
          actual: String(held.server),
          hint: "A socket whose client vanished emits 'error' and then 'close': let it be destroyed (or destroy it), and drop what was queued for it.",
        });
      }
      const total = slowBlocks * 16;
      const resumed = await server.run(slow!, [{ resume: true }, { lines: total, ms: 8000, quiet: 1000 }], 15_000);
      const sent: Sent[] = [];
      for (let b = 1; b <= slowBlocks; b++) {
        for (let g = 0; g < 15; g++) sent.push({ line: Buffer.from(`GET ${big}\n`), reply: `VALUE ${value}` });
        sent.push({ line: Buffer.from(`INCR ${countSlow}\n`), reply: `VALUE ${b}` });
      }
      judge(
        t,
        resumed,
        sent,
        `A client that pipelined ${total} commands, read nothing for ${ms(stall)} and then read again`,
        "A paused client's commands are only postponed: when the socket emits 'drain', resume reading and go on executing its commands where you stopped, in order, until it is caught up.",
      );
    },

    "vanishing-clients": async (t) => {
      const server = await startServer(t);
      server.situation = "while clients vanished in the middle of lines";
      const N = 24;
      const FLOODS = 4;
      const counter = freshKey(t, "c");
      const big = freshKey(t, "big");
      const value = text(t, 4000, [..."abcdefghijklmnopqrstuvwxyz "]);
      await server.ask(`SET ${big} ${value}\n`, new Model(), "A client storing a 4000-byte value", framingHint);
      const ids = await server.connect(N + FLOODS);
      const keys = ids.map(() => freshKey(t));
      const ways = ["end", "end-now", "destroy", "reset"] as const;
      const halves = [
        (k: string) => `SET ${k} ${text(t, 6, VALUE_CHARS)}`,
        (k: string) => `SET ${k} ${text(t, 6, VALUE_CHARS).replace(/\r/g, "")}\r`,
        () => `INCR ${counter}`,
        () => `INCR ${counter}\r`,
        (k: string) => `DEL ${k}`,
        (k: string) => `SET ${k} 語`,
      ];
      const plans = ids.slice(0, N).map((id, i) => {
        const key = keys[i]!;
        const first = text(
          t,
          8,
          VALUE_CHARS.filter((c) => c !== "\r"),
        );
        const half = Buffer.from(halves[Math.floor(t.random() * halves.length)]!(key));
        // Sometimes cut inside the last character: the half line ends with half a character.
        const halfSent = t.random() < 0.3 && half.at(-1)! >= 0x80 ? half.subarray(0, half.length - 1) : half;
        const way = ways[Math.floor(t.random() * ways.length)]!;
        const complete = `SET ${key} ${first}\nINCR ${counter}\n`;
        const vanish: Step = way === "end" || way === "end-now" ? { end: true } : way === "destroy" ? { destroy: true } : { reset: true };
        // "end-now": the complete lines, the half line and the FIN in one go, replies read afterwards.
        const steps: Step[] =
          way === "end-now"
            ? [w(Buffer.concat([Buffer.from(complete), halfSent])), vanish, { lines: 2, ms: 3000 }, { closed: CLOSE_AFTER_MS }]
            : [w(complete), { lines: 2, ms: 3000 }, ...cut(halfSent, [shape(t, 1, halfSent.length - 1)]).map((p) => w(p)), { sleep: shape(t, 0, 30) }, vanish];
        if (way === "end") steps.push({ closed: CLOSE_AFTER_MS });
        return { id, key, first, half: halfSent, way, steps };
      });
      // Clients that pipeline GETs of a 4 KB value, read nothing, and vanish: your server's writes to them fail.
      const floods = ids.slice(N).map((id) => ({
        id,
        steps: [
          { pause: true },
          w(`GET ${big}\n`.repeat(shape(t, 500, 3000))),
          { sleep: shape(t, 20, 150) },
          t.random() < 0.5 ? { reset: true } : { destroy: true },
        ] as Step[],
      }));
      t.note(
        `${N} clients each send a complete SET and INCR, then half a line, and vanish (FIN, close, or RST); ${FLOODS} more pipeline GETs of a 4 KB value without reading and vanish`,
      );
      const views = await Promise.all([...plans, ...floods].map((p) => server.run(p.id, p.steps, 15_000)));
      server.requireAlive();
      for (const [i, plan] of plans.entries()) {
        const view = views[i]!;
        const who =
          plan.way === "end-now"
            ? `A client that sent "SET", "INCR" and half a line (${wire(plan.half, 60)}) in one write and closed its side (FIN) at once`
            : `A client that sent "SET", "INCR", then half a line (${wire(plan.half, 60)}) and ${plan.way === "end" ? "closed its side (FIN)" : plan.way === "destroy" ? "closed its socket" : "reset the connection"}`;
        const sent: Sent[] = [
          { line: Buffer.from(`SET ${plan.key} ${plan.first}\n`), reply: "OK" },
          { line: Buffer.from(`INCR ${counter}\n`), reply: { counter } },
        ];
        judge(t, { ...view, lines: view.lines.slice(0, 2) }, sent, who);
        if ((plan.way === "end" || plan.way === "end-now") && view.closedAt === null) {
          t.fail({
            message: `${who}: your server did not close its side within ${ms(CLOSE_AFTER_MS)} of the client's FIN.`,
            expected: "the connection closed once the client's complete lines are answered",
            actual: "still open",
            hint: "When a client ends its side ('end'), answer the complete lines it sent and close yours: Node does so by itself unless you created the server with allowHalfOpen: true, in which case call socket.end().",
          });
        }
        if (view.lines.length > 2) {
          t.fail({
            message: `${who}, and got a reply to the half line: ${shownLine(view.lines[2]!)}.`,
            expected: "no reply: half a line is not a command",
            actual: shownLine(view.lines[2]!),
            hint: 'A line is a command only once its "\\n" has arrived. The bytes left in a connection\'s buffer when it closes are dropped, never executed.',
          });
        }
      }
      const held = await server.settle(RELEASE_MS, 0);
      if (held.server !== 0) {
        t.fail({
          message: `${N + FLOODS} clients vanished (FIN, close, RST, some with replies still queued), and ${ms(RELEASE_MS)} later your server still held ${held.server} connections, where no client remained.`,
          expected: "0 connections: each vanished client's socket released",
          actual: `${held.server} connections open`,
          hint: "Every socket must end up closed: on 'end' close your side too (Node does it unless allowHalfOpen is true), on 'error' let it be destroyed, and forget it on 'close'. A socket left half-open is a file descriptor your server never gets back.",
        });
      }
      // Nothing of the half lines happened; the complete lines did.
      const check = [...plans.map((p) => `GET ${p.key}\n`), `GET ${counter}\n`].join("");
      const m = new Model();
      for (const p of plans) m.store.set(p.key, p.first);
      m.store.set(counter, String(N));
      await server.ask(
        check,
        m,
        "Another client, reading every vanished client's key and the shared counter afterwards,",
        'A line is a command only once its "\\n" has arrived: when a connection ends (FIN, error, reset, timeout) the bytes of an unfinished line are dropped, never executed.',
      );
      // And the server still takes new clients.
      const fresh = await server.connect(8);
      const again = await Promise.all(fresh.map((id, i) => server.run(id, [w(`GET ${plans[i]!.key}\n`), { lines: 1, ms: 3000 }], 8000)));
      again.forEach((view, i) =>
        judge(t, view, [{ line: Buffer.from(`GET ${plans[i]!.key}\n`), reply: `VALUE ${plans[i]!.first}` }], "A new client after the others vanished"),
      );
    },

    "idle-timeout": async (t) => {
      const server = await startServer(t);
      server.situation = "while some clients sat idle";
      const [silent, half, active, trickler] = await server.connect(4);
      const halfKey = freshKey(t);
      const activeKey = freshKey(t);
      const trickleKey = shortKey(t);
      // The active client sends a command every 300–800 ms for 2.7 s; the trickler sends one line a byte or two at a time, 600–750 ms apart.
      const activeSteps: Step[] = [];
      let spent = 0;
      let asked = 0;
      while (spent < 2700) {
        const gap = between(t, 300, 800);
        activeSteps.push({ sleep: gap }, w(`GET ${activeKey}\n`), { lines: ++asked, ms: 1000 });
        spent += gap;
      }
      const trickleLine = Buffer.from(`INCR ${trickleKey}\n`);
      const trickleSteps: Step[] = [];
      for (const [i, piece] of cut(trickleLine, [3, 5, 7, 8]).entries()) trickleSteps.push(...(i > 0 ? [{ sleep: between(t, 600, 750) }] : []), w(piece));
      trickleSteps.push({ lines: 1, ms: 1500 });
      t.note(
        "one client sends nothing, one sends half a line and stops, one sends a command every 300–800 ms, one sends a line a byte or two every 550–750 ms",
      );
      const [silentView, halfView, activeView, trickleView] = await Promise.all([
        server.run(silent!, [{ closed: IDLE_LATEST_MS + 100 }], 10_000),
        server.run(half!, [w(`SET ${halfKey} v`), { closed: IDLE_LATEST_MS + 100 }], 10_000),
        server.run(active!, activeSteps, 15_000),
        server.run(trickler!, trickleSteps, 15_000),
      ]);
      const idleHint = `Close a connection on which nothing happened for ${IDLE_MS} ms: no byte received and no reply written (socket.setTimeout(${IDLE_MS}) measures exactly that). First write "ERR idle timeout\\n", then close it. Any byte from the client, even part of a line, starts the clock again.`;
      for (const [view, who, since, after] of [
        // Your server's clock starts when it accepts the connection: no sooner than the client began to connect.
        [silentView!, "A client that connected and sent nothing", silentView!.openedAt, "it began to connect"],
        [
          halfView!,
          'A client that sent half a line ("SET … v", no "\\n") and then nothing',
          halfView!.writes.at(-1)?.[0] ?? halfView!.connectedAt!,
          "its last byte",
        ],
      ] as const) {
        const closed = view.endedAt ?? view.closedAt;
        const lines = expand(view);
        if (closed === null || closed - since > IDLE_LATEST_MS || closed - since < IDLE_MS - TIMER_ROUNDING_MS) {
          t.fail({
            message: `${who} ${closed === null ? `was still connected ${ms(IDLE_LATEST_MS + 100)} later` : `was disconnected ${ms(closed - since)} after ${after}`}.`,
            expected: `"ERR idle timeout" and the connection closed between ${IDLE_MS} and ${IDLE_LATEST_MS} ms after the client's last byte`,
            actual: closed === null ? "still open" : `closed after ${ms(closed - since)}`,
            hint: idleHint,
          });
        }
        if (lines.length !== 1 || !sameLine(lines[0]!, Buffer.from("ERR idle timeout"))) {
          t.fail({
            message: `${who} was disconnected after ${ms((closed ?? since) - since)}, but received ${lines.length === 0 ? "no goodbye" : lines.map(shownLine).join(", ")}.`,
            expected: wireText("ERR idle timeout\n"),
            actual: lines.length === 0 ? "nothing" : lines.map(shownLine).join(", "),
            hint: idleHint,
          });
        }
      }
      const activeLines = expand(activeView!);
      if (activeView!.endedAt !== null || activeView!.closedAt !== null || activeLines.length < asked) {
        t.fail({
          message: `A client that sent a GET every 300–800 ms ${activeView!.endedAt !== null || activeView!.closedAt !== null ? `was disconnected ${ms((activeView!.endedAt ?? activeView!.closedAt!) - activeView!.connectedAt!)} after it connected` : `got only ${activeLines.length} of ${asked} replies`}.`,
          expected: "a client that keeps talking is never timed out",
          actual: activeLines.map(shownLine).slice(-3).join(", ") || "no replies",
          hint: `The idle clock measures time since the last activity on the connection, not since it opened. ${idleHint}`,
        });
      }
      const trickleLines = expand(trickleView!);
      if (trickleView!.endedAt !== null || trickleLines.length !== 1 || !sameLine(trickleLines[0]!, Buffer.from("VALUE 1"))) {
        t.fail({
          message: `A client that sent "INCR …\\n" a byte or two at a time, 600–750 ms apart, ${trickleView!.endedAt !== null ? `was disconnected ${ms(trickleView!.endedAt - trickleView!.connectedAt!)} after it connected, with ${plural(trickleView!.writes.length, "write")} done` : `got ${trickleLines.map(shownLine).join(", ") || "no reply"}`}.`,
          expected: `the connection stays open (no gap of ${IDLE_MS} ms) and the line, once whole, gets "VALUE 1"`,
          actual: trickleLines.map(shownLine).join(", ") || "nothing",
          hint: `Any byte that arrives is activity, even part of a line: a client typing slowly is not idle. ${idleHint}`,
        });
      }
      const check = `GET ${halfKey}\n`;
      await server.ask(
        check,
        new Model(),
        "Another client, reading the key of the half line that timed out,",
        "The bytes of an unfinished line are dropped when its connection closes, timed out or not: never executed.",
      );
      const held = await server.settle(RELEASE_MS);
      if (held.server !== held.clients) {
        t.fail({
          message: `After two clients were timed out, your server held ${held.server} connections, where the grader had ${held.clients} open.`,
          expected: String(held.clients),
          actual: String(held.server),
          hint: "After the goodbye, make sure the socket closes: end it, and destroy it if the client does not close its side.",
        });
      }
    },

    "quit-and-close": async (t) => {
      const server = await startServer(t);
      server.situation = "while clients said QUIT and the grader called close()";
      const [q1, q2] = await server.connect(2);
      const k = Array.from({ length: 6 }, () => freshKey(t));
      const v = text(
        t,
        10,
        VALUE_CHARS.filter((c) => c !== "\r"),
      );
      const p1 = Buffer.from(`SET ${k[0]} ${v}\nQUIT\nSET ${k[1]} x\nINCR ${k[2]}\n`);
      const p2 = Buffer.from(`SET ${k[3]} ${v}\r\nQUIT\r\nSET ${k[4]} y\r\nDEL ${k[3]}\r\n`);
      const q2Pieces = cut(p2, [p2.indexOf("QUIT") + 2, p2.indexOf("QUIT") + 5, p2.indexOf("QUIT") + 7]);
      const [v1, v2] = await Promise.all([
        server.run(q1!, [w(p1), { lines: 2, ms: 3000 }, { closed: CLOSE_AFTER_MS }], 10_000),
        server.run(q2!, [...q2Pieces.map((p) => w(p)), { lines: 2, ms: 3000 }, { closed: CLOSE_AFTER_MS }], 10_000),
      ]);
      const quitHint =
        'QUIT is answered "BYE" and ends the conversation: write BYE, close the connection (socket.end), and execute nothing the client sent after QUIT, even lines that arrived in the same chunk.';
      for (const [view, bytes, pieces, who] of [
        [v1, p1, [p1], "A client that pipelined SET, QUIT, SET, INCR in one write"],
        [v2, p2, q2Pieces, "A client that sent SET, QUIT, SET, DEL with \\r\\n, QUIT split in 3 writes"],
      ] as const) {
        const sent = stream(new Model(), bytes, [...pieces]).slice(0, 2);
        judge(t, { ...view, lines: view.lines.slice(0, 2) }, sent, who, quitHint);
        if (view.lines.length > 2)
          t.fail({
            message: `${who} got a reply after BYE: ${shownLine(view.lines[2]!)}.`,
            expected: "nothing after BYE",
            actual: view.lines.slice(2).map(shownLine).join(", "),
            hint: quitHint,
          });
        if (view.closedAt === null)
          t.fail({
            message: `${who} got BYE, but your server did not close the connection within ${ms(CLOSE_AFTER_MS)}.`,
            expected: "the connection closed after BYE",
            actual: "still open",
            hint: quitHint,
          });
      }
      const check = `GET ${k[0]}\nGET ${k[1]}\nGET ${k[2]}\nGET ${k[3]}\nGET ${k[4]}\n`;
      const m = new Model();
      m.store.set(k[0]!, v);
      m.store.set(k[3]!, v);
      await server.ask(check, m, "Another client, reading the keys the lines after QUIT would have changed,", quitHint);

      // close() with clients in every state: idle, half a line, reading nothing with replies queued, busy.
      const big = shortKey(t);
      await server.ask(`SET ${big} ${text(t, 4000, [..."abcdefgh "])}\n`, new Model(), "A client storing a 4000-byte value", framingHint);
      const [idle, halfLine, stuck, busy] = await server.connect(4);
      await Promise.all([
        server.run(halfLine!, [w(`SET ${k[5]} half`)], 5000),
        server.run(stuck!, [{ pause: true }, w(`GET ${big}\n`.repeat(3000)), { sleep: 100 }], 5000),
        server.run(busy!, [w(`GET ${big}\n`), { lines: 1, ms: 2000 }], 5000),
      ]);
      const before = await server.sockets();
      t.note(
        `close() with ${before.server} clients connected: one idle, one in the middle of a line, one reading nothing with replies queued, one that just talked`,
      );
      const stopped = await server.call<{ resolved: boolean; ms: number; threw?: string }>("stop", [CLOSE_MS + 250], CLOSE_MS + 5000);
      const closeHint =
        "server.close() only stops accepting: its callback waits until every connection has closed by itself, and an idle client, or one that reads nothing, may never close. Keep the sockets you accepted (a Set, removed on 'close'), and in close() call server.close() and destroy every one of them (end() would wait for a client that reads nothing); resolve when the server's close callback runs.";
      if (stopped.threw) t.fail({ message: `close() threw ${stopped.threw}.`, hint: closeHint });
      if (!stopped.resolved || stopped.ms > CLOSE_MS) {
        t.fail({
          message: `close() with ${before.server} clients connected (one idle, one mid-line, one reading nothing) ${stopped.resolved ? `took ${ms(stopped.ms)} to resolve` : `had not resolved after ${ms(stopped.ms)}`}.`,
          expected: `close() resolves within ${ms(CLOSE_MS)}, every connection closed`,
          actual: stopped.resolved ? `resolved after ${ms(stopped.ms)}` : "still pending",
          hint: closeHint,
        });
      }
      // The client that reads nothing reads again, so it can see its connection close.
      const views = await Promise.all([idle!, halfLine!, stuck!, busy!].map((id) => server.run(id, [{ resume: true }, { closed: CLOSE_AFTER_MS }], 5000)));
      const open = views.filter((view) => view.closedAt === null).length;
      const held = await server.sockets();
      if (open > 0 || held.server > 0) {
        t.fail({
          message: `close() resolved, but ${open} of the ${views.length} clients' connections were still open a second later (your server held ${held.server}).`,
          expected: "every connection closed by the time close() resolves",
          actual: `${open} client connections open`,
          hint: closeHint,
        });
      }
      const [refused] = (await server.call<{ ids: number[]; failed: { id: number; error: string | null }[] }>("connectMany", [1, 2000], 5000)).failed;
      if (!refused) {
        t.fail({
          message: "After close() resolved, a new client could still connect to your server's port.",
          expected: "connection refused: the server no longer listens",
          actual: "connected",
          hint: "close() must stop the listening socket too: call server.close().",
        });
      }
    },
  },
});
