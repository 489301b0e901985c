/**
 * One blocking Redis reader for every live run stream a web process serves. A stream that has
 * caught up asks the hub to wait for what comes after its cursor; the hub holds a single
 * `XREAD BLOCK` over every watched run stream (per stream, from the earliest cursor waiting on
 * it) and hands each waiter the entries after its own cursor. So 300 viewers cost one
 * connection, not 300.
 *
 * A waiter that the XREAD in flight does not cover (a stream it does not name, or an earlier
 * cursor) interrupts it with CLIENT UNBLOCK from the shared client, so a new viewer is not kept
 * waiting for the block to time out.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";
import { compareIds, type StreamEntry } from "./events.ts";

export interface EventHubOptions {
  /** How long one XREAD blocks before it is issued again. @default 5000 */
  blockMs?: number;
  /** Entries read per stream per XREAD. @default 200 */
  count?: number;
  /** Told once when CLIENT UNBLOCK is refused (an ACL without @admin): new viewers then wait up to blockMs. */
  onUnblockRefused?: (error: unknown) => void;
}

interface Waiter {
  key: string;
  cursor: string;
  done: (entries: StreamEntry[]) => void;
}

/** The XREAD in flight: the cursor it reads each stream from, and the connection it blocks. */
interface Round {
  cursors: Map<string, string>;
  clientId: number | null;
  interrupted: boolean;
}

export class EventHub {
  private readonly waiters = new Map<string, Set<Waiter>>();
  private conn: Redis | null = null;
  private round: Round | null = null;
  private running = false;
  private closed = false;
  private unblockRefused = false;
  private readonly blockMs: number;
  private readonly count: number;

  /** `shared` is the process's ordinary client: it never blocks, and sends CLIENT UNBLOCK. */
  constructor(
    private readonly shared: Redis,
    private readonly options: EventHubOptions = {},
  ) {
    this.blockMs = options.blockMs ?? 5000;
    this.count = options.count ?? 200;
  }

  /**
   * Entries of stream `key` after `cursor`, as soon as there are any, or [] after `waitMs` (or
   * at once when `signal` aborts). Never rejects: a Redis outage looks like a quiet stream, and
   * the caller's own reads on the shared client report it.
   */
  wait(key: string, cursor: string, waitMs: number, signal?: AbortSignal): Promise<StreamEntry[]> {
    if (this.closed || signal?.aborted) return Promise.resolve([]);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        key,
        cursor,
        done: (entries) => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", abandon);
          this.remove(waiter);
          resolve(entries);
        },
      };
      const abandon = () => waiter.done([]);
      const timer = setTimeout(abandon, waitMs);
      signal?.addEventListener("abort", abandon, { once: true });
      let set = this.waiters.get(key);
      if (!set) this.waiters.set(key, (set = new Set()));
      set.add(waiter);
      if (this.covers(waiter)) return;
      if (this.round) void this.interrupt(this.round);
      void this.loop();
    });
  }

  /** Streams and waiters now watched, for tests and metrics. */
  get watching(): { streams: number; waiters: number } {
    let waiters = 0;
    for (const set of this.waiters.values()) waiters += set.size;
    return { streams: this.waiters.size, waiters };
  }

  /** Releases every waiter and the blocking connection. */
  close(): void {
    this.closed = true;
    for (const set of [...this.waiters.values()]) for (const w of [...set]) w.done([]);
    this.conn?.disconnect();
    this.conn = null;
  }

  private remove(waiter: Waiter): void {
    const set = this.waiters.get(waiter.key);
    set?.delete(waiter);
    if (set?.size === 0) this.waiters.delete(waiter.key);
  }

  /** True when the XREAD in flight already reads the waiter's stream from at or before its cursor. */
  private covers(waiter: Waiter): boolean {
    const from = this.round?.cursors.get(waiter.key);
    return from !== undefined && compareIds(from, waiter.cursor) <= 0;
  }

  private connection(): Redis {
    if (!this.conn) {
      // XREAD BLOCK holds this connection, so it cannot be the shared one (whose command timeout would also cut the block short).
      this.conn = this.shared.duplicate({
        commandTimeout: this.blockMs + 3000,
        connectionName: this.shared.options.connectionName ? `${this.shared.options.connectionName}:events` : undefined,
      });
      this.conn.on("error", () => {
        // Reconnects by itself; the loop retries and viewers' own reads report an outage.
      });
    }
    return this.conn;
  }

  private async loop(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.waiters.size > 0 && !this.closed) {
        const cursors = new Map<string, string>();
        for (const [key, set] of this.waiters) {
          for (const w of set) {
            const from = cursors.get(key);
            if (from === undefined || compareIds(w.cursor, from) < 0) cursors.set(key, w.cursor);
          }
        }
        const round: Round = { cursors, clientId: null, interrupted: false };
        this.round = round;
        try {
          const conn = this.connection();
          // Sent together on the same connection, so the id is the one the XREAD blocks, even after a reconnect.
          const id = conn.client("ID");
          const read = conn.xread("COUNT", this.count, "BLOCK", this.blockMs, "STREAMS", ...cursors.keys(), ...cursors.values());
          round.clientId = Number(await id);
          const reply = (await read) as [string, StreamEntry[]][] | null;
          this.round = null;
          if (reply) this.deliver(reply);
        } catch {
          this.round = null;
          if (!this.closed) await sleep(250); // Redis is down or the connection was cut: waiters time out by themselves
        }
      }
    } finally {
      this.round = null;
      this.running = false;
    }
  }

  private deliver(reply: [string, StreamEntry[]][]): void {
    for (const [key, entries] of reply) {
      for (const w of [...(this.waiters.get(key) ?? [])]) {
        const fresh = entries.filter(([id]) => compareIds(id, w.cursor) > 0);
        if (fresh.length > 0) w.done(fresh);
      }
    }
  }

  /**
   * Ends the XREAD of `round` early so the next one includes a new waiter. The XREAD may not be
   * blocking yet when this is sent (UNBLOCK then answers 0), so it is tried until it lands or
   * the round ends by itself.
   */
  private async interrupt(round: Round): Promise<void> {
    if (round.interrupted || this.unblockRefused) return;
    round.interrupted = true;
    while (this.round === round && !this.closed) {
      if (round.clientId !== null) {
        try {
          if (Number(await this.shared.client("UNBLOCK", round.clientId)) === 1) return;
        } catch (error) {
          if (/NOPERM/i.test(String(error))) {
            this.unblockRefused = true;
            this.options.onUnblockRefused?.(error);
          }
          return;
        }
      }
      await sleep(5);
    }
  }
}
