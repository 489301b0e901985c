import net from "node:net";
import { redisSocketPath } from "@faultline/lab";

/**
 * A reply as plain JSON: simple and bulk strings are strings, integers numbers, a null bulk or
 * null array null, arrays arrays, and an error reply `{ error: "ERR …" }`.
 */
export type Reply = string | number | null | { error: string } | Reply[];

const CRLF = Buffer.from("\r\n");

/** One command as RESP: an array of bulk strings, each prefixed with its length in bytes. */
export function encode(args: string[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    // "é" is one character but two bytes; Redis counts bytes, so measure the encoded bytes.
    const bytes = Buffer.from(arg, "utf8");
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, CRLF);
  }
  return Buffer.concat(parts);
}

/** A reply and the offset just past it, or null when its bytes have not all arrived yet. */
type Parsed = { reply: Reply; end: number } | null;

/**
 * A streaming parser: feed it bytes as they arrive, in pieces of any size, and it returns each
 * reply once its last byte is in. Bytes stay bytes until a reply is complete, so a multi-byte
 * character split between two chunks is decoded whole.
 */
export class RespParser {
  private buffer: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Reply[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const replies: Reply[] = [];
    let pos = 0;
    for (;;) {
      const parsed = this.parse(pos);
      if (!parsed) break;
      replies.push(parsed.reply);
      pos = parsed.end;
    }
    // Keep the start of an incomplete reply for the next chunk. Re-parsing it from its start on each
    // push is simple, and fast enough: a socket's chunks are large (up to 64 KB).
    this.buffer = this.buffer.subarray(pos);
    return replies;
  }

  private parse(pos: number): Parsed {
    if (pos >= this.buffer.length) return null;
    const eol = this.buffer.indexOf(CRLF, pos);
    // No full header line yet, which includes a chunk that ends between '\r' and '\n'.
    if (eol === -1) return null;
    const type = String.fromCharCode(this.buffer[pos]!);
    const line = this.buffer.toString("utf8", pos + 1, eol);
    const next = eol + 2;
    switch (type) {
      case "+":
        return { reply: line, end: next };
      case "-":
        return { reply: { error: line }, end: next };
      case ":":
        return { reply: Number(line), end: next };
      case "$": {
        const length = Number(line);
        if (length === -1) return { reply: null, end: next };
        const end = next + length + 2;
        if (this.buffer.length < end) return null;
        return { reply: this.buffer.toString("utf8", next, next + length), end };
      }
      case "*": {
        const count = Number(line);
        if (count === -1) return { reply: null, end: next };
        const items: Reply[] = [];
        let at = next;
        for (let i = 0; i < count; i++) {
          const item = this.parse(at);
          if (!item) return null;
          items.push(item.reply);
          at = item.end;
        }
        return { reply: items, end: at };
      }
      default:
        throw new Error(`RESP: unexpected type byte ${JSON.stringify(type)} at offset ${pos}`);
    }
  }
}

interface Waiter {
  resolve: (reply: Reply) => void;
  reject: (error: Error) => void;
}

/** One connection to Redis, its parser, and the calls waiting for its replies. */
interface Connection {
  socket: net.Socket;
  // Redis answers in the order it was asked, so the oldest waiter gets the next reply.
  waiting: Waiter[];
}

let current: Connection | null = null;

/**
 * Opens a connection with a parser of its own. When it ends, for whatever reason, every call still
 * waiting on it fails: their replies will never come, and resending a command could run it twice.
 * The next call opens a new connection, so no byte of a reply cut short reaches a new one.
 */
function open(): Connection {
  const socket = net.connect(redisSocketPath);
  const parser = new RespParser();
  const conn: Connection = { socket, waiting: [] };
  const fail = (error: Error) => {
    if (current === conn) current = null;
    for (const waiter of conn.waiting.splice(0)) waiter.reject(error);
    socket.destroy();
  };
  socket.on("data", (chunk: Buffer) => {
    let replies: Reply[];
    try {
      replies = parser.push(chunk);
    } catch (error) {
      return fail(error as Error);
    }
    for (const reply of replies) conn.waiting.shift()?.resolve(reply);
  });
  socket.on("error", fail);
  socket.on("end", () => fail(new Error("Redis closed the connection before every reply arrived")));
  socket.on("close", () => fail(new Error("the connection to Redis closed before every reply arrived")));
  return conn;
}

/** Sends every command in one write, without waiting in between; replies come back in order. */
export function pipeline(commands: string[][]): Promise<Reply[]> {
  if (commands.length === 0) return Promise.resolve([]);
  const bytes = Buffer.concat(commands.map(encode));
  const conn = current ?? (current = open());
  const replies = commands.map(() => new Promise<Reply>((resolve, reject) => conn.waiting.push({ resolve, reject })));
  conn.socket.write(bytes);
  return Promise.all(replies);
}

// Replies to GETs, by key, so that reading the same key again costs no round trip. A write through
// this client drops the key's entry, so what we cache stays what we last wrote or read.
const cache = new Map<string, Reply>();
const WRITES = new Set(["SET", "DEL", "INCR", "APPEND", "GETSET", "GETDEL", "EXPIRE"]);

/** Sends one command and resolves with its reply; an error reply resolves as `{ error }`. */
export async function command(args: string[]): Promise<Reply> {
  const name = args[0]?.toUpperCase() ?? "";
  const key = args[1];
  if (name === "GET" && key !== undefined && cache.has(key)) return cache.get(key)!;
  const [reply] = await pipeline([args]);
  if (key !== undefined && name === "GET") cache.set(key, reply as Reply);
  else if (key !== undefined && WRITES.has(name)) cache.delete(key);
  return reply as Reply;
}
