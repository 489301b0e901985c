import net from "node:net";

/** A line, with its "\n" (and the "\r" before it, if any), is at most this many bytes. */
export const MAX_LINE_BYTES = 4096;
/** A connection on which nothing moved for this long is closed. */
export const IDLE_MS = 2000;

const INTEGER = /^-?(?:0|[1-9][0-9]*)$/;
const MIN = -(2n ** 63n);
const MAX = 2n ** 63n - 1n;
const EMPTY = Buffer.alloc(0);

export interface Running {
  close(): Promise<void>;
}

/** One command line (without its terminator) → its reply (without the "\n"). */
function execute(store: Map<string, string>, line: string): string {
  const space = line.indexOf(" ");
  const name = space === -1 ? line : line.slice(0, space);
  const rest = space === -1 ? null : line.slice(space + 1);
  // GET, INCR and DEL take exactly one key: not empty, no space in it.
  const key = rest !== null && rest !== "" && !rest.includes(" ") ? rest : null;
  switch (name) {
    case "SET": {
      const gap = rest === null ? -1 : rest.indexOf(" ");
      if (rest === null || gap <= 0) return "ERR syntax";
      store.set(rest.slice(0, gap), rest.slice(gap + 1));
      return "OK";
    }
    case "GET": {
      if (key === null) return "ERR syntax";
      const value = store.get(key);
      return value === undefined ? "NIL" : `VALUE ${value}`;
    }
    case "INCR": {
      if (key === null) return "ERR syntax";
      const current = store.get(key) ?? "0";
      if (!INTEGER.test(current) || current === "-0") return "ERR not an integer";
      const n = BigInt(current);
      if (n < MIN || n > MAX) return "ERR not an integer";
      if (n === MAX) return "ERR overflow";
      const next = (n + 1n).toString();
      store.set(key, next);
      return `VALUE ${next}`;
    }
    case "DEL": {
      if (key === null) return "ERR syntax";
      return store.delete(key) ? "DELETED" : "NIL";
    }
    case "QUIT":
      return rest === null ? "BYE" : "ERR syntax";
    default:
      return "ERR unknown command";
  }
}

function serve(socket: net.Socket, store: Map<string, string>): void {
  // This connection's own state: the bytes of a line not finished yet, whether it waits for
  // 'drain', and whether it is closing.
  let buffered: Buffer = EMPTY;
  let waitingForDrain = false;
  let closing = false;

  /** The last reply, then FIN; nothing this client sends afterwards is read as a command. */
  const goodbye = (reply: string) => {
    closing = true;
    buffered = EMPTY;
    socket.end(`${reply}\n`);
  };

  const run = () => {
    while (!waitingForDrain && !closing) {
      const newline = buffered.indexOf(10);
      // No "\n" within the first MAX_LINE_BYTES bytes: this line is too long, whatever follows.
      if (newline === -1 ? buffered.length >= MAX_LINE_BYTES : newline >= MAX_LINE_BYTES) return goodbye("ERR line too long");
      if (newline === -1) return;
      const end = newline > 0 && buffered[newline - 1] === 13 ? newline - 1 : newline;
      // Decoded only now that the whole line is here, so a character split between two reads is whole.
      const line = buffered.toString("utf8", 0, end);
      buffered = buffered.subarray(newline + 1);
      const reply = execute(store, line);
      if (line === "QUIT") return goodbye(reply);
      // The socket's buffer is full: execute nothing more for this client until it drains.
      if (!socket.write(`${reply}\n`)) {
        waitingForDrain = true;
        socket.pause();
      }
    }
  };

  socket.on("data", (chunk: Buffer) => {
    if (closing) return;
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    run();
  });
  socket.on("drain", () => {
    if (!waitingForDrain) return;
    waitingForDrain = false;
    socket.resume();
    run();
  });
  // Fires after IDLE_MS with no bytes in or out. A client that lingers after its goodbye (or
  // reads nothing, so even the goodbye cannot leave) is cut off the next time.
  socket.setTimeout(IDLE_MS);
  socket.on("timeout", () => {
    if (closing || waitingForDrain) return socket.destroy();
    goodbye("ERR idle timeout");
    socket.setTimeout(IDLE_MS);
  });
  // A client that vanishes (ECONNRESET, EPIPE) is not the server's failure; 'close' follows.
  socket.on("error", () => {});
  // The client is done sending: whatever is left is its last command.
  socket.on("end", () => {
    if (closing || buffered.length === 0) return;
    const line = buffered.toString("utf8").replace(/\r$/, "");
    buffered = EMPTY;
    socket.write(`${execute(store, line)}\n`);
  });
}

export function start(port: number): Promise<Running> {
  const store = new Map<string, string>();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    serve(socket, store);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve({
        close: () =>
          new Promise<void>((done) => {
            // Stop accepting; server.close() calls back once every connection is gone, so end
            // them all now instead of waiting for the clients.
            server.close(() => done());
            for (const socket of sockets) socket.destroy();
          }),
      });
    });
  });
}
