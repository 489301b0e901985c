import net from "node:net";
import { redisSocketPath } from "@faultline/lab";

/**
 * A reply as plain JSON: simple and bulk strings are strings, integers numbers, a null bulk or
 * null array null, arrays arrays, and an error reply `{ error: "ERR …" }`.
 */
export type Reply = string | number | null | { error: string } | Reply[];

/**
 * One command as RESP: `*<number of args>\r\n`, then for each arg `$<length>\r\n<arg>\r\n`.
 * encode(["GET", "k"]) is the bytes of "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n".
 */
export function encode(args: string[]): Buffer {
  // TODO: build the header and one bulk string per arg, then Buffer.concat them.
  // What does the length count when an arg is "héllo"?
  throw new Error(`TODO: encode ${JSON.stringify(args)}`);
}

/**
 * A streaming parser: feed it bytes as they arrive, in pieces of any size, and it returns every
 * reply completed by them (often none, sometimes several).
 */
export class RespParser {
  push(chunk: Buffer): Reply[] {
    // TODO: keep bytes that do not finish a reply yet; parse complete replies from the front:
    //   +OK\r\n → "OK"        -ERR …\r\n → { error: "ERR …" }     :42\r\n → 42
    //   $5\r\nhello\r\n → "hello"   $-1\r\n → null
    //   *2\r\n<reply><reply> → [reply, reply]   *-1\r\n → null
    throw new Error(`TODO: parse ${chunk.length} bytes`);
  }
}

let socket: net.Socket | null = null;

/** The one connection this module shares, opened on first use and again after it closes. */
function connection(): net.Socket {
  if (socket && !socket.destroyed) return socket;
  socket = net.connect(redisSocketPath);
  // TODO: on "data", push the chunk into a RespParser of this connection's own, and hand each
  // reply to the caller that has waited longest: Redis answers in the order it was asked.
  // On "error", "end" and "close", reject every caller still waiting on this connection, at once,
  // and forget it, so the next call opens a new one. Never resend what was waiting.
  return socket;
}

/** Sends every command in one write, without waiting in between; replies come back in order. */
export async function pipeline(commands: string[][]): Promise<Reply[]> {
  const conn = connection();
  // TODO: register one waiting caller per command, then conn.write every encoded command at once.
  throw new Error(`TODO: send ${commands.length} commands (connection ${conn.readyState})`);
}

/** Sends one command and resolves with its reply; an error reply resolves as `{ error }`. */
export async function command(args: string[]): Promise<Reply> {
  // TODO: a command is a pipeline of one.
  throw new Error(`TODO: send ${args[0]}`);
}
