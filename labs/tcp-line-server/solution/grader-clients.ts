// Read-only: how the grader reaches your server.
//
// Your server runs in a sandbox with a network of its own, so the grader cannot connect to it
// from outside. It loads this module in the same process instead: start() imports your server.ts
// and calls its start(port), and the other functions open plain node:net client sockets to that
// port, write the bytes the grader chooses (whole, pipelined, or split anywhere), stop reading,
// vanish, and report back every byte your server sent, with the time it arrived.
//
// You never call anything here; your server only sees ordinary TCP clients.
import { createHash } from "node:crypto";
import net from "node:net";

// Taken before server.ts is imported, so nothing your module changes on sockets, buffers or
// timers changes what the grader's clients do or see.
const { apply } = Reflect;
const invoke = <T, A extends unknown[], R>(fn: (this: T, ...args: A) => R, self: T, ...args: A): R => apply(fn, self, args) as R;
const SocketClass = net.Socket;
const ServerClass = net.Server;
const socketProto = net.Socket.prototype;
const { write, end, destroy, pause, resume, resetAndDestroy, setNoDelay, connect } = socketProto;
const on = socketProto.on as (this: net.Socket, event: string, listener: (...args: never[]) => void) => net.Socket;
const localPortOf = Object.getOwnPropertyDescriptor(socketProto, "localPort")?.get as ((this: net.Socket) => number | undefined) | undefined;
const activeHandles = (process as unknown as { _getActiveHandles: () => unknown[] })._getActiveHandles;
const bufferFrom = Buffer.from as (data: string, encoding: BufferEncoding) => Buffer;
const bufferConcat = Buffer.concat;
const bufferAlloc = Buffer.alloc;
const { indexOf: bufferIndexOf, subarray: bufferSubarray, toString: bufferToString } = Buffer.prototype;
const hashOf = createHash;
const clock = performance.now.bind(performance);
const later = setTimeout;
const cancel = clearTimeout;
const soon = setImmediate;
const PromiseClass = Promise;
const ErrorClass = Error;
const StringOf = String;
const MathRound = Math.round;
const MathMin = Math.min;

/** A reply line longer than this is reported by its length, its hash and its first bytes. */
const FULL_LINE_BYTES = 600;
const HEAD_BYTES = 48;

/** One line the server sent (its bytes without the "\n"), as the grader reads it. */
export interface LineView {
  /** When it arrived (ms, this module's clock). */
  at: number;
  /** Its length in bytes. */
  n: number;
  /** base64 of the whole line, or of its first bytes when it is longer than FULL_LINE_BYTES. */
  b: string;
  /** sha256 (hex, 24 digits) of the whole line, for a long one. */
  h?: string;
  /** How many identical long lines in a row this stands for (the last one arrived at `last`). */
  c?: number;
  last?: number;
}

export interface ClientView {
  id: number;
  /** When the client started connecting, and when it was connected. */
  openedAt: number;
  connectedAt: number | null;
  /** Lines from `from` on. */
  lines: LineView[];
  from: number;
  total: number;
  /** Bytes after the last "\n": a reply not finished (first bytes, base64) and its length. */
  partial: { n: number; b: string };
  /** When the server's FIN arrived, when the socket closed, and why, if it failed. */
  endedAt: number | null;
  closedAt: number | null;
  error: string | null;
  /** [when, total bytes written so far] for every write. */
  writes: [number, number][];
}

interface Client {
  id: number;
  socket: net.Socket;
  openedAt: number;
  connectedAt: number | null;
  lines: LineView[];
  /** Lines received, counting each one a long-line entry stands for. */
  count: number;
  partialHead: Buffer[];
  partialHeadBytes: number;
  partialBytes: number;
  partialHash: ReturnType<typeof createHash>;
  endedAt: number | null;
  closedAt: number | null;
  error: string | null;
  written: number;
  writes: [number, number][];
  /** Bytes received. */
  received: number;
  waiters: Set<() => void>;
}

const clients = new Map<number, Client>();
let nextId = 1;
let port = 0;
let handle: { close(): Promise<void> } | null = null;

const round = (ms: number) => MathRound(ms * 10) / 10;
const now = () => round(clock());
const tick = () => new PromiseClass<void>((resolve) => soon(() => soon(resolve)));
const sleep = (ms: number) => new PromiseClass<void>((resolve) => later(resolve, ms));

function wake(client: Client): void {
  for (const waiter of client.waiters) waiter();
}

/**
 * Waits until `done()` holds or the client closes; returns false if instead `ms` passed, or
 * (with `quiet`) nothing arrived for `quiet` ms. A deadline is only taken once the event loop has
 * been round once more: after a stall of the whole process, timers run before the bytes that
 * arrived meanwhile are read.
 */
async function until(client: Client, done: () => boolean, ms: number, quiet = ms): Promise<boolean> {
  const settled = () => done() || client.closedAt !== null;
  const deadline = clock() + ms;
  for (;;) {
    if (settled()) return true;
    const seen = client.received;
    const wait = MathMin(deadline - clock(), quiet);
    if (wait <= 0) {
      await tick();
      if (settled()) return true;
      if (client.received === seen) return false;
      continue;
    }
    await new PromiseClass<void>((resolve) => {
      const finish = () => {
        cancel(timer);
        client.waiters.delete(check);
        resolve();
      };
      const check = () => {
        if (settled() || client.received !== seen) finish();
      };
      const timer = later(finish, wait);
      client.waiters.add(check);
    });
    if (settled()) return true;
    if (client.received !== seen) continue;
    // The wait ran out with nothing new: one more turn of the event loop, then decide.
    await tick();
    if (settled()) return true;
    if (client.received === seen) return false;
  }
}

function startLine(client: Client): void {
  client.partialHead = [];
  client.partialHeadBytes = 0;
  client.partialBytes = 0;
  client.partialHash = hashOf("sha256");
}

function takePart(client: Client, part: Buffer): void {
  if (part.length === 0) return;
  client.partialBytes += part.length;
  client.partialHash.update(part);
  if (client.partialHeadBytes < FULL_LINE_BYTES + 1) {
    const kept = invoke(bufferSubarray, part, 0, FULL_LINE_BYTES + 1 - client.partialHeadBytes) as Buffer;
    client.partialHead.push(bufferConcat([kept]));
    client.partialHeadBytes += kept.length;
  }
}

function finishLine(client: Client, at: number): void {
  const head = bufferConcat(client.partialHead);
  const n = client.partialBytes;
  client.count += 1;
  if (n <= FULL_LINE_BYTES) {
    client.lines.push({ at, n, b: invoke(bufferToString, head, "base64") });
  } else {
    const h = client.partialHash.digest("hex").slice(0, 24);
    const last = client.lines[client.lines.length - 1];
    if (last && last.h === h && last.n === n) {
      last.c = (last.c ?? 1) + 1;
      last.last = at;
    } else {
      client.lines.push({ at, n, b: invoke(bufferToString, invoke(bufferSubarray, head, 0, HEAD_BYTES) as Buffer, "base64"), h });
    }
  }
  startLine(client);
}

function onData(client: Client, chunk: Buffer): void {
  const at = now();
  client.received += chunk.length;
  let from = 0;
  for (;;) {
    const newline = invoke(bufferIndexOf as (this: Buffer, value: number, offset: number) => number, chunk, 10, from);
    if (newline === -1) break;
    takePart(client, invoke(bufferSubarray, chunk, from, newline) as Buffer);
    finishLine(client, at);
    from = newline + 1;
  }
  takePart(client, invoke(bufferSubarray, chunk, from, chunk.length) as Buffer);
  wake(client);
}

function open(): Client {
  const socket = new SocketClass();
  const client: Client = {
    id: nextId++,
    socket,
    openedAt: now(),
    connectedAt: null,
    lines: [],
    count: 0,
    partialHead: [],
    partialHeadBytes: 0,
    partialBytes: 0,
    partialHash: hashOf("sha256"),
    endedAt: null,
    closedAt: null,
    error: null,
    written: 0,
    writes: [],
    received: 0,
    waiters: new Set(),
  };
  clients.set(client.id, client);
  invoke(on, socket, "data", (chunk: Buffer) => onData(client, chunk));
  invoke(on, socket, "end", () => {
    client.endedAt ??= now();
    wake(client);
  });
  invoke(on, socket, "error", (error: Error) => {
    client.error ??= StringOf((error as NodeJS.ErrnoException).code ?? error.message);
  });
  invoke(on, socket, "close", () => {
    client.closedAt ??= now();
    wake(client);
  });
  invoke(on, socket, "connect", () => {
    client.connectedAt = now();
    invoke(setNoDelay, socket, true);
    wake(client);
  });
  invoke(connect as (this: net.Socket, port: number, host: string) => net.Socket, socket, port, "127.0.0.1");
  return client;
}

function view(client: Client, from = 0): ClientView {
  const head = bufferConcat(client.partialHead);
  return {
    id: client.id,
    openedAt: client.openedAt,
    connectedAt: client.connectedAt,
    lines: client.lines.slice(from),
    from,
    total: client.count,
    partial: { n: client.partialBytes, b: invoke(bufferToString, invoke(bufferSubarray, head, 0, FULL_LINE_BYTES) as Buffer, "base64") },
    endedAt: client.endedAt,
    closedAt: client.closedAt,
    error: client.error,
    writes: client.writes,
  };
}

function get(id: number): Client {
  const client = clients.get(id);
  if (!client) throw new ErrorClass(`no client ${id}`);
  return client;
}

/** Imports your server.ts and starts it on `listenPort`. */
export async function start(listenPort: number): Promise<{ hasClose: boolean }> {
  port = listenPort;
  const server = await import("./server.ts");
  const running = await server.start(listenPort);
  handle = running;
  return { hasClose: typeof running === "object" && running !== null && typeof running.close === "function" };
}

/** Calls close() on what start() returned; reports how long it took, or that it had not resolved after `ms`. */
export async function stop(ms: number): Promise<{ resolved: boolean; ms: number; threw?: string }> {
  const began = clock();
  if (!handle) throw new ErrorClass("the server was not started");
  const running = handle;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const outcome = await PromiseClass.race([
      PromiseClass.resolve(invoke(running.close, running)).then(() => "resolved" as const),
      new PromiseClass<"late">((resolve) => (timer = later(() => resolve("late"), ms))),
    ]);
    return { resolved: outcome === "resolved", ms: round(clock() - began) };
  } catch (error) {
    return { resolved: false, ms: round(clock() - began), threw: error instanceof ErrorClass ? `${error.name}: ${error.message}` : StringOf(error) };
  } finally {
    cancel(timer);
  }
}

/** Opens `n` connections at once; resolves when all are connected (or failed, or `ms` passed). */
export async function connectMany(n: number, ms: number): Promise<{ ids: number[]; failed: { id: number; error: string | null }[] }> {
  const opened = Array.from({ length: n }, () => open());
  await PromiseClass.all(opened.map((c) => until(c, () => c.connectedAt !== null, ms)));
  return { ids: opened.map((c) => c.id), failed: opened.filter((c) => c.connectedAt === null).map((c) => ({ id: c.id, error: c.error ?? (c.closedAt !== null ? "closed" : "no connection yet") })) };
}

/**
 * One step of what a client does:
 * - `w`: write these bytes (base64) in one write, then let the event loop turn twice, so your
 *   server reads them before the next write arrives (on a closed connection: skip the rest)
 * - `sleep`: wait
 * - `lines`: wait until this client has received that many lines in all (or closed); when `ms`
 *   pass first, or nothing arrives for `quiet` ms, the rest of the steps are skipped
 * - `closed`: wait up to that long for the connection to close
 * - `pause` / `resume`: stop / start reading what your server sends
 * - `end` (FIN), `destroy` (close the socket), `reset` (RST): vanish
 */
export type Step =
  | { w: string }
  | { sleep: number }
  | { lines: number; ms: number; quiet?: number }
  | { closed: number }
  | { pause: true }
  | { resume: true }
  | { end: true }
  | { destroy: true }
  | { reset: true };

/** Runs one step; false when a wait for lines ran out. */
async function step(client: Client, s: Step): Promise<boolean> {
  const { socket } = client;
  if ("w" in s) {
    // Closed: nothing more this client can do.
    if (socket.destroyed || !socket.writable) return false;
    const bytes = bufferFrom(s.w, "base64");
    client.written += bytes.length;
    client.writes.push([now(), client.written]);
    invoke(write as (this: net.Socket, data: Buffer) => boolean, socket, bytes);
    await tick();
  } else if ("sleep" in s) await sleep(s.sleep);
  else if ("lines" in s) return until(client, () => client.count >= s.lines, s.ms, s.quiet);
  else if ("closed" in s) await until(client, () => false, s.closed);
  else if ("pause" in s) invoke(pause, socket);
  else if ("resume" in s) invoke(resume, socket);
  else if ("end" in s) invoke(end as (this: net.Socket) => net.Socket, socket);
  else if ("destroy" in s) invoke(destroy as (this: net.Socket) => net.Socket, socket);
  else if ("reset" in s) {
    if (!socket.destroyed) invoke(resetAndDestroy, socket);
  }
  return true;
}

/** Runs `steps` on client `id`, one after the other, and returns what it has received (lines from `from`). */
export async function run(id: number, steps: Step[], from = 0): Promise<ClientView> {
  const client = get(id);
  for (const s of steps) if (!(await step(client, s))) break;
  return view(client, from);
}

/**
 * How many TCP connections your server holds open right now (`server`: the sockets in this
 * process whose local port is the one it listens on), and how many of the grader's clients are
 * still open (`clients`).
 */
export function sockets(): { server: number; clients: number } {
  let server = 0;
  for (const h of invoke(activeHandles, process)) {
    if (!(h instanceof SocketClass) || h.destroyed) continue;
    if (localPortOf && invoke(localPortOf, h) === port) server += 1;
  }
  let open = 0;
  for (const client of clients.values()) if (client.closedAt === null) open += 1;
  return { server, clients: open };
}

/**
 * How many bytes this machine's TCP buffers hold between a writer and a reader that reads
 * nothing (the writer's send buffer and the reader's receive buffer), measured on a connection of
 * this module's own. Replies your server has written that wait there are not "buffered by your
 * server"; the grader allows for them.
 */
export async function kernelBuffers(): Promise<number> {
  const server = new ServerClass();
  const accepted = new PromiseClass<net.Socket>((resolve) => server.once("connection", resolve));
  await new PromiseClass<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as net.AddressInfo;
  const reader = new SocketClass();
  invoke(on, reader, "error", () => {});
  invoke(connect as (this: net.Socket, port: number, host: string) => net.Socket, reader, address.port, "127.0.0.1");
  invoke(on, reader, "connect", () => invoke(pause, reader));
  const writer = await accepted;
  invoke(on, writer, "error", () => {});
  const block = bufferAlloc(256 * 1024, 120);
  let written = 0;
  for (let i = 0; i < 256; i++) {
    invoke(write as (this: net.Socket, data: Buffer) => boolean, writer, block);
    written += block.length;
  }
  let held = -1;
  for (let settled = 0; settled < 4; ) {
    await sleep(40);
    const nowHeld = written - writer.writableLength;
    settled = nowHeld === held ? settled + 1 : 0;
    held = nowHeld;
  }
  invoke(destroy as (this: net.Socket) => net.Socket, writer);
  invoke(destroy as (this: net.Socket) => net.Socket, reader);
  await new PromiseClass<void>((resolve) => server.close(() => resolve()));
  return held;
}
