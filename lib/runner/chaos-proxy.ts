/**
 * The chaos proxy sits between learner code and the run's private Redis. It authenticates upstream
 * itself (learners never hold credentials), enforces the lab's command allow-list and budgets, logs
 * every command with its reply, and injects faults on demand. Learner bytes are forwarded verbatim,
 * except inline commands (`GET k\r\n`), which are split exactly as Redis splits them and sent on as
 * the arrays the proxy checked, so quoting can never make Redis run something the proxy did not
 * see. Only the proxy's own replies (refusals, injected errors) are synthesised. Both directions
 * respect backpressure: a learner that stops reading its replies stops the proxy reading Redis,
 * so unread replies wait in Redis (which caps them) rather than in the runner.
 *
 * Limitation: replies are matched to commands FIFO, so for pub/sub pushes the log's command/reply
 * pairing is approximate; delivery order to the client is always upstream order.
 */
import { EventEmitter } from "node:events";
import { existsSync } from "node:fs";
import net from "node:net";
import { performance } from "node:perf_hooks";
import { setImmediate as nextTick, setTimeout as sleep } from "node:timers/promises";
import type { CommandLogEntry } from "./command-log.ts";
import { encodeCommand, encodeReply, RespParser, type ParsedValue, type RespValue } from "./resp.ts";

export type { CommandLogEntry };

/**
 * Where a learner program "crashes": at the nth command named `match` (or of any name, `*`) that it
 * sends, counted from when the point is set. `before`: that command never reaches Redis. `after`: Redis applies it,
 * and its reply never reaches the program. Either way nothing else the program sends reaches Redis
 * from then on, on any of its connections, as if the machine had died at that instant.
 */
export interface CrashPoint {
  owner: string;
  match: string;
  nth: number;
  when: "before" | "after";
}

interface Trap extends CrashPoint {
  seen: number;
  fire: (entry: CommandLogEntry | null) => void;
}

export interface ChaosBudgets {
  commands?: number;
  bytes?: number;
  connections?: number;
  valueBytes?: number;
}

export interface ChaosProxyOptions {
  listenPath: string;
  upstreamPath: string;
  upstreamUser: string;
  upstreamPassword: string;
  seed: number;
  /** Upper-case command names; undefined allows all. */
  allow?: Set<string>;
  budgets?: ChaosBudgets;
  /**
   * Shared by the proxies of one run (one per check running at once), so the run's command log
   * has one sequence, one set of connection numbers and one clock across them.
   */
  numbering?: ProxyNumbering;
  /**
   * Ablation (`labs:verify --ablate`): every fault a check asks for is logged as ablated and not
   * applied, so an author can see which wrong variants its faults are really what catches.
   */
  inert?: boolean;
}

/** Where a run's proxies take their log sequence, connection numbers and clock from. */
export class ProxyNumbering {
  seq = 0;
  conn = 1;
  readonly startedAt = performance.now();
}

export interface ChaosProxyStats {
  commands: number;
  bytesIn: number;
  bytesOut: number;
  connectionsOpen: number;
  connectionsTotal: number;
  /** Log entries with `fault` set: fault changes (including heal) plus each failed command and dropped reply. */
  faultsInjected: number;
}

export const LOG_CAP = 50_000;
const ARG_PREVIEW_BYTES = 200;

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function preview(buf: Buffer): string {
  return buf.length > ARG_PREVIEW_BYTES ? `${buf.subarray(0, ARG_PREVIEW_BYTES).toString("utf8")}…` : buf.toString("utf8");
}

function summarize(value: RespValue): { type: string; summary: string } {
  switch (value.type) {
    case "bulk":
      return { type: "bulk", summary: value.value === null ? "(nil)" : preview(value.value) };
    case "array":
      return { type: "array", summary: value.value === null ? "(nil)" : `${value.value.length} element(s)` };
    case "integer":
      return { type: "integer", summary: String(value.value) };
    default:
      return { type: value.type, summary: preview(Buffer.from(value.value)) };
  }
}

/** Settles once the socket has room again, or is gone. */
function drained(socket: net.Socket): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      socket.off("drain", done);
      socket.off("close", done);
      resolve();
    };
    socket.on("drain", done);
    socket.on("close", done);
  });
}

const errorReply = (message: string): RespValue => ({ type: "error", value: message.replace(/[\r\n]+/g, " ") });

interface Pending {
  entry: CommandLogEntry | null;
  receivedAt: number;
  /** Called when Redis's reply arrives (a crash point `after` this command). */
  onReply?: () => void;
  /** Set once the reply is known: synthesised locally or parsed from upstream. */
  reply?: { raw: Buffer; value: RespValue };
  drop?: boolean;
}

interface Outgoing {
  raw: Buffer;
  notBefore: number;
  pending: Pending;
}

class Connection {
  readonly clientParser = new RespParser({ requests: true });
  readonly upstreamParser = new RespParser({ inline: false });
  /** Every command in client order, until its reply is delivered or dropped. */
  readonly queue: Pending[] = [];
  /** Forwarded commands still waiting for their upstream reply, in send order. */
  readonly awaiting: (Pending | "auth" | "duplicate")[] = ["auth"];
  readonly out: Outgoing[] = [];
  lastNotBefore = 0;
  pumping = false;
  /** Reading from the learner stopped until Redis takes what was sent (upstream write returned false). */
  clientHeld = false;
  closing = false;
  closed = false;
  /** Inside MULTI (Redis accepted it), and whether a command since was refused here. */
  inMulti = false;
  multiPoisoned = false;
  /** Its program passed a crash point: nothing more goes either way. */
  frozen = false;

  constructor(
    readonly id: number,
    readonly client: net.Socket,
    readonly upstream: net.Socket,
    /** The program whose own socket it came in through. */
    readonly owner?: string,
  ) {}

  destroy(): void {
    this.client.destroy();
    this.upstream.destroy();
  }
}

export class ChaosProxy {
  readonly log: CommandLogEntry[] = [];
  /** Log entries discarded to keep the log at LOG_CAP. */
  dropped = 0;

  private opts: ChaosProxyOptions;
  private readonly events = new EventEmitter();
  private random: () => number;
  private readonly conns = new Set<Connection>();
  private server: net.Server | null = null;
  /** One socket per learner program, so a connection says whose it is (`listenFor`). */
  private readonly ownSockets = new Set<net.Server>();
  private traps: Trap[] = [];
  private readonly frozen = new Set<string>();
  private readonly numbering: ProxyNumbering;
  private admittedCommands = 0;
  private admittedBytes = 0;
  private counters = { commands: 0, bytesIn: 0, bytesOut: 0, connectionsTotal: 0, faultsInjected: 0 };
  private latency = { ms: 0, jitterMs: 0 };
  private failing = { left: 0, match: undefined as string | undefined, owner: undefined as string | undefined, message: "ERR Faultline: injected failure" };
  private dropLeft = 0;
  private duplicating = { left: 0, match: undefined as string | undefined, owner: undefined as string | undefined };
  private fragmentBytes = 0;
  private partitioned = false;
  /** While stalled, commands wait here, in arrival order, as if Redis were too busy to read them. */
  private held: (() => void)[] | null = null;

  constructor(opts: ChaosProxyOptions) {
    this.opts = opts;
    this.random = mulberry32(opts.seed);
    this.numbering = opts.numbering ?? new ProxyNumbering();
  }

  /**
   * Restarts the fault randomness (latency jitter) from `seed`: each check reseeds its proxy, so a
   * replay draws the same delays whichever proxy of the run the check gets.
   */
  reseed(seed: number): void {
    this.random = mulberry32(seed);
  }

  on(event: "command", listener: (entry: CommandLogEntry) => void): this {
    this.events.on(event, listener);
    return this;
  }

  off(event: "command", listener: (entry: CommandLogEntry) => void): this {
    this.events.off(event, listener);
    return this;
  }

  async start(): Promise<void> {
    if (this.server) throw new Error("ChaosProxy already started");
    if (existsSync(this.opts.listenPath)) throw new Error(`ChaosProxy: ${this.opts.listenPath} already exists`);
    const server = net.createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.opts.listenPath, () => {
        server.off("error", reject);
        resolve();
      });
    });
  }

  /**
   * Also accepts connections on `path`, tagging them and every command they carry with `owner` (a
   * learner program's name), for crash points and the command log. Bound before it returns (a Unix
   * socket binds synchronously), so the program may connect at once.
   */
  listenFor(path: string, owner: string): void {
    if (!this.server) throw new Error("ChaosProxy is not started");
    const server = net.createServer((socket) => this.accept(socket, owner));
    server.on("error", () => {});
    server.listen(path);
    this.ownSockets.add(server);
  }

  /** Sets a crash point; `fired` gives the command it stopped at, or null once `reset()` disarmed it. */
  crashPoint(point: CrashPoint): { fired: Promise<CommandLogEntry | null> } {
    if (!(Number.isInteger(point.nth) && point.nth >= 1)) throw new RangeError("a crash point's nth must be a whole number from 1");
    let fire: (entry: CommandLogEntry | null) => void = () => {};
    const fired = new Promise<CommandLogEntry | null>((resolve) => (fire = resolve));
    this.traps.push({ ...point, match: point.match.toUpperCase(), seen: 0, fire });
    return { fired };
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    for (const conn of this.conns) conn.destroy();
    const servers = [server, ...this.ownSockets];
    this.ownSockets.clear();
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }

  stats(): ChaosProxyStats {
    return { ...this.counters, connectionsOpen: this.conns.size };
  }

  setLatency({ ms, jitterMs = 0 }: { ms: number; jitterMs?: number }): void {
    if (!(ms >= 0 && jitterMs >= 0)) throw new RangeError("latency and jitter must be >= 0");
    if (this.ablated(`latency ${ms}±${jitterMs}ms`)) return;
    this.latency = { ms, jitterMs };
    this.fault(`latency ${ms}±${jitterMs}ms`);
  }

  /** Refuses the next n commands (named `match`, sent by the program named `owner`) with `message`. */
  failNext(n: number, { match, owner, message }: { match?: string; owner?: string; message?: string } = {}): void {
    if (this.ablated(`failNext ${n}`)) return;
    this.failing = { left: n, match: match?.toUpperCase(), owner, message: message ?? "ERR Faultline: injected failure" };
    this.fault(`failNext ${n}${match ? ` ${match.toUpperCase()}` : ""}${owner ? ` from ${owner}` : ""}`);
  }

  /**
   * Sends each of the next n (matching) commands to Redis twice and answers once: the effect of
   * a client library retrying a write whose reply was lost, i.e. a duplicated delivery.
   */
  duplicateNext(n: number, { match, owner }: { match?: string; owner?: string } = {}): void {
    if (this.ablated(`duplicateNext ${n}`)) return;
    this.duplicating = { left: n, match: match?.toUpperCase(), owner };
    this.fault(`duplicateNext ${n}${match ? ` ${match.toUpperCase()}` : ""}${owner ? ` from ${owner}` : ""}`);
  }

  dropReplies(n: number): void {
    if (this.ablated(`dropReplies ${n}`)) return;
    this.dropLeft = n;
    this.fault(`dropReplies ${n}`);
  }

  /** Deliver replies in chunks of at most maxChunkBytes; 0 turns fragmentation off. */
  fragment(maxChunkBytes: number): void {
    if (!(Number.isInteger(maxChunkBytes) && maxChunkBytes >= 0)) throw new RangeError("maxChunkBytes must be an integer >= 0");
    if (this.ablated(`fragment ${maxChunkBytes}`)) return;
    this.fragmentBytes = maxChunkBytes;
    this.fault(maxChunkBytes === 0 ? "fragment off" : `fragment ${maxChunkBytes}`);
  }

  cutAll(): void {
    if (this.ablated("cutAll")) return;
    this.fault(`cutAll (${this.conns.size} connections)`);
    for (const conn of this.conns) conn.destroy();
  }

  partition(): void {
    if (this.ablated("partition")) return;
    this.partitioned = true;
    this.fault(`partition (${this.conns.size} connections cut)`);
    for (const conn of this.conns) conn.destroy();
  }

  heal(): void {
    this.partitioned = false;
    this.fault("heal");
  }

  /**
   * Redis stops answering without closing anything, as a server stuck in a slow command, a fork
   * or a long script does: connections stay open and commands are accepted but held, unanswered,
   * until `unstall()` sends them on in the order they came. A client without a command timeout
   * waits the whole stall; one with a timeout gives up, and its command may still run afterwards.
   */
  stall(): void {
    if (this.ablated("stall")) return;
    this.held ??= [];
    this.fault(`stall (${this.conns.size} connections held)`);
  }

  unstall(): void {
    const held = this.held;
    if (!held) return;
    this.held = null;
    this.fault(`unstall (${held.length} commands released)`);
    for (const release of held) release();
  }

  /** Puts every fault back to none, logging one "reset" entry only if something was active. */
  reset(): void {
    const active =
      this.held !== null ||
      this.partitioned ||
      this.latency.ms > 0 ||
      this.latency.jitterMs > 0 ||
      this.failing.left > 0 ||
      this.dropLeft > 0 ||
      this.fragmentBytes > 0 ||
      this.duplicating.left > 0;
    this.duplicating = { left: 0, match: undefined, owner: undefined };
    this.partitioned = false;
    this.latency = { ms: 0, jitterMs: 0 };
    this.failing = { ...this.failing, left: 0 };
    this.dropLeft = 0;
    this.fragmentBytes = 0;
    for (const trap of this.traps.splice(0)) trap.fire(null);
    this.frozen.clear();
    if (active) this.fault("reset");
    // Held commands go on after the reset entry, so the log shows them reaching Redis after it.
    const held = this.held ?? [];
    this.held = null;
    for (const release of held) release();
  }

  /**
   * Points the proxy at another Redis (the run's Redis was replaced): current connections are cut,
   * as if that Redis had gone away, and new ones reach the new one.
   */
  retarget(upstream: { path: string; user: string; password: string }): void {
    this.opts = { ...this.opts, upstreamPath: upstream.path, upstreamUser: upstream.user, upstreamPassword: upstream.password };
    this.fault(`redis replaced (${this.conns.size} connections cut)`);
    for (const conn of this.conns) conn.destroy();
  }

  /** Whether faults are only logged (`labs:verify --ablate`): the run's other fault sources follow it. */
  get inert(): boolean {
    return this.opts.inert === true;
  }

  /** Puts a grader action (a kill, a pause) on the command log's timeline beside the faults. */
  mark(name: string): void {
    this.fault(name);
  }

  /** True (and logged as `ablated: …`, which labs:verify counts as no fault) when the proxy is inert and `what` is not applied. */
  private ablated(what: string): boolean {
    if (!this.opts.inert) return false;
    this.fault(`ablated: ${what}`);
    return true;
  }

  private fault(name: string): void {
    this.emit(this.record(0, [], name));
  }

  private record(conn: number, args: string[], fault?: string, owner?: string): CommandLogEntry {
    const entry: CommandLogEntry = { seq: ++this.numbering.seq, conn, at: performance.now() - this.numbering.startedAt, args };
    if (owner) entry.owner = owner;
    if (fault) this.markFault(entry, fault);
    this.log.push(entry);
    if (this.log.length > LOG_CAP) {
      this.log.shift();
      this.dropped++;
    }
    return entry;
  }

  private markFault(entry: CommandLogEntry, fault: string): void {
    entry.fault = fault;
    this.counters.faultsInjected++;
  }

  private emit(entry: CommandLogEntry | null): void {
    if (entry) this.events.emit("command", entry);
  }

  private accept(client: net.Socket, owner?: string): void {
    if (this.partitioned || (owner !== undefined && this.frozen.has(owner))) {
      client.destroy();
      return;
    }
    const id = this.numbering.conn++;
    const limit = this.opts.budgets?.connections;
    // Open at once, not in total: a client that reconnects after every fault must not run out.
    if (limit !== undefined && this.conns.size >= limit) {
      const reply = errorReply(`ERR Faultline: connection budget of ${limit} open connections exceeded`);
      const entry = this.record(id, ["(connect)"]);
      entry.reply = summarize(reply);
      this.emit(entry);
      client.on("error", () => client.destroy());
      // Destroy once flushed rather than wait for the peer's FIN, so stop() never hangs on it.
      client.end(encodeReply(reply), () => client.destroy());
      return;
    }
    this.counters.connectionsTotal++;
    const upstream = net.createConnection(this.opts.upstreamPath);
    const conn = new Connection(id, client, upstream, owner);
    this.conns.add(conn);
    upstream.write(encodeCommand(["AUTH", this.opts.upstreamUser, this.opts.upstreamPassword]));

    client.on("data", (chunk: Buffer) => this.onClientData(conn, chunk));
    upstream.on("data", (chunk: Buffer) => this.onUpstreamData(conn, chunk));
    client.on("error", () => conn.destroy());
    upstream.on("error", () => conn.destroy());
    client.on("close", () => this.onClose(conn));
    upstream.on("close", () => this.onUpstreamClose(conn));
  }

  private onClientData(conn: Connection, chunk: Buffer): void {
    this.counters.bytesIn += chunk.length;
    if (conn.closing || conn.frozen) return;
    let parsed: ParsedValue[];
    try {
      parsed = conn.clientParser.push(chunk);
    } catch {
      parsed = []; // clientParser.failed says why; answered below
    }
    for (const { value, raw } of parsed) {
      if (value.type !== "array" || value.value === null || value.value.length === 0) continue;
      const args: Buffer[] = [];
      for (const item of value.value) if (item.type === "bulk" && item.value !== null) args.push(item.value);
      if (args.length !== value.value.length) {
        this.replyLocally(conn, { entry: null, receivedAt: performance.now() }, errorReply("ERR Protocol error: commands must be arrays of bulk strings"));
        conn.closing = true;
        break;
      }
      // 42 is "*": a command array goes on byte for byte; an inline command as what was parsed.
      const bytes = raw[0] === 42 ? raw : encodeCommand(args);
      if (this.held) this.held.push(() => this.conns.has(conn) && !conn.closing && this.onCommand(conn, args, bytes));
      else this.onCommand(conn, args, bytes);
    }
    const failed = conn.clientParser.failed;
    if (failed && !conn.closing) {
      // Like Redis: answer what came before, then the protocol error, then hang up.
      this.replyLocally(conn, { entry: null, receivedAt: performance.now() }, errorReply(`ERR ${failed.message}`));
      conn.closing = true;
    }
    this.flush(conn);
  }

  private onCommand(conn: Connection, args: Buffer[], raw: Buffer): void {
    // Pipelined behind a crash point: the program died before these left it.
    if (conn.frozen) return;
    const name = (args[0] as Buffer).toString("utf8").toUpperCase();
    this.counters.commands++;
    const entry = this.record(conn.id, [name, ...args.slice(1).map(preview)], undefined, conn.owner);
    const pending: Pending = { entry, receivedAt: performance.now() };
    const refusal = this.refusal(name, args, raw);
    if (refusal) return this.failLocally(conn, name, pending, refusal);
    this.admittedCommands++;
    this.admittedBytes += raw.length;
    const failing = this.failing;
    if (failing.left > 0 && (failing.match === undefined || failing.match === name) && (failing.owner === undefined || failing.owner === conn.owner)) {
      failing.left--;
      this.markFault(entry, "failNext");
      return this.failLocally(conn, name, pending, failing.message);
    }
    if (name === "EXEC" && conn.multiPoisoned) {
      // Redis would have refused the bad command while queuing and then aborted the transaction.
      return this.failLocally(conn, name, pending, "EXECABORT Transaction discarded because of previous errors.");
    }
    if (name === "MULTI") conn.inMulti = true;
    if (name === "EXEC" || name === "DISCARD") conn.inMulti = conn.multiPoisoned = false;
    const trap = this.trapAt(conn, name);
    if (trap?.when === "before") {
      this.markFault(entry, `crash point: ${trap.owner} stops before this ${name}`);
      this.freeze(trap.owner);
      this.finish(pending);
      trap.fire(entry);
      return;
    }
    if (this.dropLeft > 0) {
      this.dropLeft--;
      pending.drop = true;
      this.markFault(entry, "dropReply");
    }
    if (trap) {
      this.markFault(entry, `crash point: ${trap.owner} stops after this ${name}`);
      pending.onReply = () => trap.fire(entry);
    }
    conn.queue.push(pending);
    conn.awaiting.push(pending);
    const dup = this.duplicating;
    if (dup.left > 0 && (dup.match === undefined || dup.match === name) && (dup.owner === undefined || dup.owner === conn.owner)) {
      dup.left--;
      this.markFault(entry, "duplicate");
      conn.awaiting.push("duplicate");
      conn.upstream.write(raw);
    }
    if (trap) {
      conn.upstream.write(raw);
      return this.freeze(trap.owner);
    }
    if (!conn.upstream.write(raw) && !conn.clientHeld) {
      // Backpressure: stop reading the learner until Redis catches up.
      conn.clientHeld = true;
      conn.client.pause();
      void drained(conn.upstream).then(() => {
        conn.clientHeld = false;
        if (!conn.closed) conn.client.resume();
      });
    }
  }

  /** The crash point this command reaches, if any (each counts its owner's matching commands). */
  private trapAt(conn: Connection, name: string): Trap | undefined {
    if (conn.owner === undefined) return undefined;
    for (const trap of this.traps) {
      if (trap.owner !== conn.owner || (trap.match !== "*" && trap.match !== name)) continue;
      trap.seen++;
      if (trap.seen === trap.nth) {
        this.traps.splice(this.traps.indexOf(trap), 1);
        return trap;
      }
    }
    return undefined;
  }

  /** Nothing more from `owner` reaches Redis, and nothing from Redis reaches it. */
  private freeze(owner: string): void {
    this.frozen.add(owner);
    for (const conn of this.conns) {
      if (conn.owner !== owner) continue;
      conn.frozen = true;
      conn.client.pause();
    }
  }

  /** Why the command must not reach Redis, or null. */
  private refusal(name: string, args: Buffer[], raw: Buffer): string | null {
    const upper = args.map((a) => a.toString("utf8").toUpperCase());
    if (name === "AUTH" || (name === "HELLO" && upper.slice(2).includes("AUTH"))) return "ERR Faultline: authentication is handled by the lab harness";
    // The reply parser speaks RESP2 only; RESP3 maps and pushes would break reply matching.
    if (name === "HELLO" && upper[1] !== undefined && upper[1] !== "2") return "NOPROTO Faultline: only RESP2 is available in this lab";
    if (this.opts.allow && !this.opts.allow.has(name)) return `ERR Faultline: command '${name}' is not allowed in this lab`;
    const budgets = this.opts.budgets ?? {};
    if (budgets.commands !== undefined && this.admittedCommands >= budgets.commands) return `ERR Faultline: command budget of ${budgets.commands} exceeded`;
    if (budgets.bytes !== undefined && this.admittedBytes + raw.length > budgets.bytes) return `ERR Faultline: byte budget of ${budgets.bytes} exceeded`;
    if (budgets.valueBytes !== undefined && args.some((a) => a.length > (budgets.valueBytes as number)))
      return `ERR Faultline: value size budget of ${budgets.valueBytes} bytes exceeded`;
    return null;
  }

  /**
   * Answers a command with an error without sending it to Redis, keeping a transaction honest:
   * a command refused inside MULTI dooms it, as a queuing error in Redis does, and an EXEC that
   * fails here discards it in Redis too (silently), so the connection does not stay in MULTI.
   */
  private failLocally(conn: Connection, name: string, pending: Pending, message: string): void {
    if (conn.inMulti && (name === "EXEC" || name === "DISCARD")) {
      conn.inMulti = conn.multiPoisoned = false;
      conn.awaiting.push("duplicate"); // the DISCARD's own reply is swallowed
      conn.upstream.write(encodeCommand(["DISCARD"]));
    } else if (conn.inMulti && name !== "MULTI") conn.multiPoisoned = true;
    this.replyLocally(conn, pending, errorReply(message));
  }

  private replyLocally(conn: Connection, pending: Pending, value: RespValue): void {
    pending.reply = { raw: encodeReply(value), value };
    conn.queue.push(pending);
  }

  private onUpstreamData(conn: Connection, chunk: Buffer): void {
    let parsed;
    try {
      parsed = conn.upstreamParser.push(chunk);
    } catch {
      return conn.destroy();
    }
    for (const { value, raw } of parsed) {
      const pending = conn.awaiting.shift();
      if (pending === "duplicate") continue; // the learner sees one reply, as if the first was lost
      if (pending === "auth") {
        if (value.type === "error") {
          this.replyLocally(conn, { entry: null, receivedAt: performance.now() }, errorReply("ERR Faultline: the lab harness could not authenticate to Redis"));
          conn.closing = true;
        }
        continue;
      }
      // Replies with no command waiting (pub/sub pushes) are delivered in arrival order.
      if (pending === undefined) conn.queue.push({ entry: null, receivedAt: performance.now(), reply: { raw, value } });
      else {
        pending.reply = { raw, value };
        pending.onReply?.();
      }
    }
    this.flush(conn);
  }

  /** Moves replies that are ready, in command order, to the output schedule. */
  private flush(conn: Connection): void {
    while (conn.queue[0]?.reply) {
      const pending = conn.queue.shift() as Pending;
      const reply = pending.reply as { raw: Buffer; value: RespValue };
      if (pending.drop || conn.frozen) {
        this.finish(pending);
        continue;
      }
      let delay = 0;
      if (this.latency.ms > 0 || this.latency.jitterMs > 0) {
        const jitter = this.latency.jitterMs > 0 ? (this.random() * 2 - 1) * this.latency.jitterMs : 0;
        delay = Math.max(0, Math.round(this.latency.ms + jitter));
        if (pending.entry) pending.entry.faultDelayMs = delay;
      }
      const notBefore = Math.max(performance.now() + delay, conn.lastNotBefore);
      conn.lastNotBefore = notBefore;
      conn.out.push({ raw: reply.raw, notBefore, pending });
    }
    void this.pump(conn);
  }

  private async pump(conn: Connection): Promise<void> {
    if (conn.pumping) return;
    conn.pumping = true;
    while (conn.out[0] && !conn.closed) {
      const item = conn.out[0];
      // Timers may fire a fraction of a ms early against performance.now(); never deliver early.
      for (let wait = item.notBefore - performance.now(); wait > 0; wait = item.notBefore - performance.now()) {
        await sleep(Math.ceil(wait));
      }
      for (let at = 0; at < item.raw.length && !conn.closed;) {
        const size = this.fragmentBytes > 0 ? this.fragmentBytes : item.raw.length;
        const flushed = conn.client.write(item.raw.subarray(at, at + size));
        this.counters.bytesOut += Math.min(size, item.raw.length - at);
        at += size;
        if (!flushed) {
          // The learner is not reading: hold Redis's replies back (in Redis) until it does.
          conn.upstream.pause();
          await drained(conn.client);
          if (!conn.closed) conn.upstream.resume();
        } else if (this.fragmentBytes > 0 && at < item.raw.length) await nextTick();
      }
      if (conn.closed) break; // onClose already finished everything still queued
      conn.out.shift();
      this.finish(item.pending);
    }
    conn.pumping = false;
    if (conn.closing && conn.queue.length === 0 && conn.out.length === 0 && !conn.closed) {
      conn.client.end();
      conn.upstream.destroy();
    }
  }

  private finish(pending: Pending): void {
    const entry = pending.entry;
    if (!entry) return;
    if (pending.reply) entry.reply = summarize(pending.reply.value);
    entry.durationMs = performance.now() - pending.receivedAt;
    this.emit(entry);
  }

  private onUpstreamClose(conn: Connection): void {
    if (conn.closed) return;
    // Commands still waiting on Redis will never be answered; deliver what is ready, then hang up.
    for (const pending of conn.awaiting.splice(0)) {
      if (pending === "auth" || pending === "duplicate") continue;
      const at = conn.queue.indexOf(pending);
      if (at !== -1) conn.queue.splice(at, 1);
      this.finish(pending);
    }
    conn.closing = true;
    this.flush(conn);
  }

  private onClose(conn: Connection): void {
    if (conn.closed) return;
    conn.closed = true;
    conn.upstream.destroy();
    this.conns.delete(conn);
    for (const pending of conn.queue.splice(0)) this.finish(pending);
    for (const item of conn.out.splice(0)) this.finish(item.pending);
  }
}
