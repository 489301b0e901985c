import net from "node:net";

/** A line, with its "\n" (and the "\r" before it, if any), is at most this many bytes. */
export const MAX_LINE_BYTES = 4096;
/** A connection on which nothing moved for this long is closed. */
export const IDLE_MS = 2000;

export interface Running {
  close(): Promise<void>;
}

/**
 * One command line, without its terminator, → its reply, without the "\n":
 * SET key value → OK, GET key → VALUE value | NIL, INCR key → VALUE n | ERR …,
 * DEL key → DELETED | NIL, QUIT → BYE; anything else: ERR unknown command or ERR syntax.
 */
function execute(store: Map<string, string>, line: string): string {
  // TODO: split the line exactly as instructions.md says (single spaces; a SET value is the rest
  // of the line, spaces and all), and answer every case it lists. INCR works on signed 64-bit
  // integers: which JavaScript type holds 9223372036854775807 exactly?
  void store;
  return `ERR unknown command ${line}`;
}

/** Everything about one client's connection lives here, not in module variables. */
function serve(socket: net.Socket, store: Map<string, string>): void {
  // TODO: collect the bytes of each line in a Buffer of this connection's own; a line ends at "\n"
  // (drop one "\r" right before it). One 'data' event may hold half a line, or many lines.
  socket.on("data", (chunk: Buffer) => {
    socket.write(`${execute(store, chunk.toString())}\n`);
  });
  // TODO: a line too long; QUIT; backpressure (write() returning false); the idle timeout;
  // clients that vanish (their 'error' events, their half lines).
}

export function start(port: number): Promise<Running> {
  const store = new Map<string, string>();
  const server = net.createServer((socket) => serve(socket, store));
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve({
        // TODO: server.close() waits for every client to leave by itself. Close their connections too.
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}
