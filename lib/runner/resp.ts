/**
 * RESP2 codec for the chaos proxy. The parser is streaming and returns each value together with the
 * exact bytes it was parsed from, so the proxy can forward what the learner sent without re-encoding
 * (re-encoding would hide protocol mistakes the lab is meant to surface).
 */

export type RespValue =
  | { type: "simple"; value: string }
  | { type: "error"; value: string }
  | { type: "integer"; value: number }
  | { type: "bulk"; value: Buffer | null }
  | { type: "array"; value: RespValue[] | null };

/** One parsed value. `raw` is a view (not a copy) of the input bytes that produced it. */
export interface ParsedValue {
  value: RespValue;
  raw: Buffer;
}

export interface RespParserOptions {
  /** Largest accepted `$<len>`; default 64 MiB. */
  maxBulkBytes?: number;
  /** Largest accepted `*<len>`; default 1,000,000. */
  maxArrayLength?: number;
  /** Longest line (header, simple string or inline command) without CRLF; default 64 KiB, as Redis. */
  maxLineBytes?: number;
  /** Deepest array nesting; bounds recursion so `*1\r\n*1\r\n…` cannot overflow the stack. Default 64. */
  maxDepth?: number;
  /** Accept inline commands (`PING\r\n`). On for client input, off for server replies. Default true. */
  inline?: boolean;
  /**
   * Read client requests exactly as Redis does: `*` starts a command array and any other first
   * byte an inline command (`+PING` is the inline command "+PING", not a simple string), so the
   * proxy sees the same commands Redis would run. Default false.
   */
  requests?: boolean;
}

const isSpace = (c: number) => c === 32 || (c >= 9 && c <= 13); // C isspace(): space \t \n \v \f \r
const isHex = (c: number | undefined) => c !== undefined && ((c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102));
const DOUBLE_QUOTE_ESCAPES: Record<number, number> = { 110: 10, 114: 13, 116: 9, 98: 8, 97: 7 }; // \n \r \t \b \a

/**
 * Splits an inline command into arguments exactly like Redis's sdssplitargs(): blanks separate
 * arguments; "double quotes" take \xHH and \n \r \t \b \a escapes (any other escaped byte is
 * itself); 'single quotes' take only \'; a quote may open in the middle of an argument; a closing
 * quote must be followed by a blank or the end. Returns null where Redis answers "unbalanced
 * quotes". The line must not contain a NUL byte (Redis reads it as a C string).
 */
export function splitInlineArgs(line: Buffer): Buffer[] | null {
  const args: Buffer[] = [];
  let p = 0;
  const at = (i: number) => (i < line.length ? (line[i] as number) : 0);
  for (;;) {
    while (p < line.length && isSpace(at(p))) p++;
    if (p >= line.length) return args;
    const current: number[] = [];
    let inDouble = false;
    let inSingle = false;
    let done = false;
    while (!done) {
      const c = at(p);
      if (inDouble) {
        if (c === 92 && at(p + 1) === 120 && isHex(line[p + 2]) && isHex(line[p + 3])) {
          current.push(Number.parseInt(String.fromCharCode(at(p + 2), at(p + 3)), 16));
          p += 3;
        } else if (c === 92 && at(p + 1) !== 0) {
          p++;
          current.push(DOUBLE_QUOTE_ESCAPES[at(p)] ?? at(p));
        } else if (c === 34) {
          if (at(p + 1) !== 0 && !isSpace(at(p + 1))) return null;
          done = true;
        } else if (c === 0) {
          return null;
        } else {
          current.push(c);
        }
      } else if (inSingle) {
        if (c === 92 && at(p + 1) === 39) {
          p++;
          current.push(39);
        } else if (c === 39) {
          if (at(p + 1) !== 0 && !isSpace(at(p + 1))) return null;
          done = true;
        } else if (c === 0) {
          return null;
        } else {
          current.push(c);
        }
      } else if (c === 32 || c === 10 || c === 13 || c === 9 || c === 0) {
        done = true;
      } else if (c === 34) {
        inDouble = true;
      } else if (c === 39) {
        inSingle = true;
      } else {
        current.push(c);
      }
      if (p < line.length) p++;
    }
    args.push(Buffer.from(current));
  }
}

export class RespProtocolError extends Error {
  constructor(message: string) {
    super(`Protocol error: ${message}`);
    this.name = "RespProtocolError";
  }
}

const CRLF = Buffer.from("\r\n");

function header(prefix: string, n: number): Buffer {
  return Buffer.from(`${prefix}${n}\r\n`);
}

function line(prefix: string, text: string): Buffer {
  if (/[\r\n]/.test(text)) throw new Error(`RESP ${prefix === "+" ? "simple string" : "error"} must not contain CR or LF`);
  return Buffer.from(`${prefix}${text}\r\n`);
}

export function encodeCommand(args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [header("*", args.length)];
  for (const arg of args) {
    const data = typeof arg === "string" ? Buffer.from(arg) : arg;
    parts.push(header("$", data.length), data, CRLF);
  }
  return Buffer.concat(parts);
}

export function encodeReply(value: RespValue): Buffer {
  switch (value.type) {
    case "simple":
      return line("+", value.value);
    case "error":
      return line("-", value.value);
    case "integer":
      if (!Number.isSafeInteger(value.value)) throw new Error(`RESP integer must be a safe integer, got ${value.value}`);
      return Buffer.from(`:${value.value}\r\n`);
    case "bulk":
      return value.value === null ? Buffer.from("$-1\r\n") : Buffer.concat([header("$", value.value.length), value.value, CRLF]);
    case "array":
      return value.value === null ? Buffer.from("*-1\r\n") : Buffer.concat([header("*", value.value.length), ...value.value.map(encodeReply)]);
  }
}

type Step = { ok: true; value: RespValue | null; end: number } | { ok: false; need: number };

const TYPE_BYTES = new Set(["+", "-", ":", "$", "*"].map((c) => c.charCodeAt(0)));

export class RespParser {
  private readonly maxBulk: number;
  private readonly maxArray: number;
  private readonly maxLine: number;
  private readonly maxDepth: number;
  private readonly inline: boolean;
  private readonly requests: boolean;
  /** Set once the input had a protocol error; the values before it were returned, nothing after. */
  failed: RespProtocolError | null = null;
  private chunks: Buffer[] = [];
  private buffered = 0;
  // Bytes needed before a re-parse can succeed; avoids O(n²) re-scans when a big bulk trickles in.
  private need = 1;

  constructor(opts: RespParserOptions = {}) {
    this.maxBulk = opts.maxBulkBytes ?? 64 * 1024 * 1024;
    this.maxArray = opts.maxArrayLength ?? 1_000_000;
    this.maxLine = opts.maxLineBytes ?? 64 * 1024;
    this.maxDepth = opts.maxDepth ?? 64;
    this.inline = opts.inline ?? true;
    this.requests = opts.requests ?? false;
  }

  /**
   * Feeds bytes and returns every value completed by them, in order, each with its raw bytes.
   * Partial input is kept for the next call. Malformed or oversized input throws
   * RespProtocolError, from this call when nothing came before it in the input, otherwise from the
   * next call (see `failed`), so the values sent before the mistake are still answered, as Redis
   * answers them. The parser is then unusable and the connection should be closed.
   */
  push(chunk: Buffer): ParsedValue[] {
    if (this.failed) throw this.failed;
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    if (this.buffered < this.need) return [];
    const buf = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.buffered);
    const out: ParsedValue[] = [];
    let pos = 0;
    while (pos < buf.length) {
      let step: Step;
      try {
        step = this.parse(buf, pos, 0);
      } catch (error) {
        this.chunks = [];
        this.buffered = 0;
        this.failed = error instanceof RespProtocolError ? error : new RespProtocolError(String(error));
        if (out.length === 0) throw this.failed;
        return out;
      }
      if (!step.ok) {
        this.need = step.need - pos;
        break;
      }
      if (step.value !== null) out.push({ value: step.value, raw: buf.subarray(pos, step.end) });
      pos = step.end;
    }
    const rest = buf.subarray(pos);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    if (rest.length === 0) this.need = 1;
    return out;
  }

  private lineEnd(buf: Buffer, pos: number, terminator: string): number {
    const at = buf.indexOf(terminator, pos);
    const limit = pos + this.maxLine;
    if ((at === -1 && buf.length > limit) || at > limit) throw new RespProtocolError(`line longer than ${this.maxLine} bytes`);
    return at;
  }

  private parse(buf: Buffer, pos: number, depth: number): Step {
    const first = buf[pos];
    if (first === undefined) return { ok: false, need: pos + 1 };
    if (depth === 0 && this.requests && first !== 42) return this.parseInline(buf, pos);
    if (!TYPE_BYTES.has(first)) {
      if (depth === 0 && this.inline) return this.parseInline(buf, pos);
      throw new RespProtocolError(`expected a RESP type byte, got ${JSON.stringify(String.fromCharCode(first))}`);
    }
    const eol = this.lineEnd(buf, pos + 1, "\r\n");
    if (eol === -1) return { ok: false, need: buf.length + 1 };
    const text = buf.toString("utf8", pos + 1, eol);
    const next = eol + 2;
    switch (String.fromCharCode(first)) {
      case "+":
        return { ok: true, value: { type: "simple", value: text }, end: next };
      case "-":
        return { ok: true, value: { type: "error", value: text }, end: next };
      case ":":
        return { ok: true, value: { type: "integer", value: this.int(text, "integer") }, end: next };
      case "$": {
        const len = this.int(text, "bulk length");
        if (len === -1) return { ok: true, value: { type: "bulk", value: null }, end: next };
        if (len < 0) throw new RespProtocolError(`invalid bulk length ${len}`);
        if (len > this.maxBulk) throw new RespProtocolError(`bulk length ${len} exceeds the limit of ${this.maxBulk} bytes`);
        const end = next + len + 2;
        if (buf.length < end) return { ok: false, need: end };
        if (buf[end - 2] !== 13 || buf[end - 1] !== 10) throw new RespProtocolError("bulk string not terminated by CRLF");
        return { ok: true, value: { type: "bulk", value: buf.subarray(next, next + len) }, end };
      }
      default: {
        const len = this.int(text, "array length");
        if (len === -1) return { ok: true, value: { type: "array", value: null }, end: next };
        if (len < 0) throw new RespProtocolError(`invalid array length ${len}`);
        if (len > this.maxArray) throw new RespProtocolError(`array length ${len} exceeds the limit of ${this.maxArray} elements`);
        if (depth >= this.maxDepth) throw new RespProtocolError(`arrays nested deeper than ${this.maxDepth}`);
        const items: RespValue[] = [];
        let at = next;
        for (let i = 0; i < len; i++) {
          const step = this.parse(buf, at, depth + 1);
          if (!step.ok) return step;
          items.push(step.value as RespValue); // only inline (depth 0) yields null
          at = step.end;
        }
        return { ok: true, value: { type: "array", value: items }, end: at };
      }
    }
  }

  /** An inline command, split as Redis splits it (see splitInlineArgs); blank lines are skipped, as Redis does. */
  private parseInline(buf: Buffer, pos: number): Step {
    const eol = this.lineEnd(buf, pos, "\n");
    if (eol === -1) return { ok: false, need: buf.length + 1 };
    const stop = eol > pos && buf[eol - 1] === 13 ? eol - 1 : eol;
    const line = buf.subarray(pos, stop);
    // Redis looks for the newline with strchr(), so a NUL byte hides the rest of the request from
    // it and the connection stalls; refusing is the only reading both sides agree on.
    if (line.includes(0)) throw new RespProtocolError("NUL byte in an inline request");
    const args = splitInlineArgs(line);
    if (args === null) throw new RespProtocolError("unbalanced quotes in request");
    if (args.length === 0) return { ok: true, value: null, end: eol + 1 };
    return { ok: true, value: { type: "array", value: args.map((a) => ({ type: "bulk", value: a })) }, end: eol + 1 };
  }

  private int(text: string, what: string): number {
    if (!/^-?\d+$/.test(text)) throw new RespProtocolError(`invalid ${what} ${JSON.stringify(text.slice(0, 40))}`);
    return Number(text);
  }
}
