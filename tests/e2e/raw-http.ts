/**
 * Node's own HTTP client and /proc, for what Playwright's request API cannot do: send a body in
 * chunks with no Content-Length, hold a live event stream open, and find the web server's
 * process to count its Redis connections.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import http from "node:http";
import type { BrowserContext } from "@playwright/test";

export const cookieHeader = async (context: BrowserContext) => (await context.cookies()).map((c) => `${c.name}=${c.value}`).join("; ");

export interface SentBody {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Bytes the client got onto the wire before the server answered or closed. */
  sent: number;
}

/**
 * POSTs (or PUTs) `total` bytes in 64 KiB chunks with Transfer-Encoding: chunked, as an attacker
 * would, and resolves with the server's answer as soon as it comes (the server may stop reading).
 */
export function sendChunked(
  port: number,
  path: string,
  {
    method = "POST",
    headers = {},
    total = 64 * 1024 * 1024,
    fill = "a",
  }: { method?: string; headers?: Record<string, string>; total?: number; fill?: string } = {},
): Promise<SentBody> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const req = http.request({ host: "127.0.0.1", port, method, path, agent: false, headers: { "content-type": "application/json", ...headers } }, (res) => {
      answered = true;
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, sent }));
      res.on("error", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, sent }));
    });
    req.on("error", (error) => {
      if (!answered) reject(new Error(`no answer after ${sent} bytes: ${error.message}`));
    });
    // A JSON-looking start, then filler: `{"lab":"aaaa…`.
    const chunk = Buffer.alloc(64 * 1024, fill);
    const pump = () => {
      while (sent < total && !answered && !req.destroyed) {
        const piece = sent === 0 ? Buffer.concat([Buffer.from('{"lab":"'), chunk.subarray(8)]) : chunk;
        sent += piece.length;
        if (!req.write(piece)) return void req.once("drain", pump);
      }
      if (!answered && !req.destroyed) req.end();
    };
    pump();
  });
}

export interface OpenStream {
  status: number;
  /** Everything received so far. */
  text: () => string;
  /** Resolves with the whole body once the server ends the stream. */
  ended: Promise<string>;
  close: () => void;
}

/** Opens a GET (an event stream) and resolves once the status line is in; the body keeps flowing into text(). */
export function openStream(port: number, path: string, headers: Record<string, string>): Promise<OpenStream> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path, agent: false, headers: { accept: "text/event-stream", ...headers } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      const ended = new Promise<string>((done) => {
        res.on("data", (c: string) => (body += c));
        res.on("end", () => done(body));
        res.on("close", () => done(body));
      });
      resolve({ status: res.statusCode ?? 0, text: () => body, ended, close: () => req.destroy() });
    });
    req.on("error", reject);
  });
}

/** The pid of the process listening on 127.0.0.1:`port` (the web server), from /proc. */
export function listenerPid(port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  const inodes = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[1]?.endsWith(`:${hexPort}`) && f[3] === "0A") inodes.add(f[9]!); // 0A: LISTEN
    }
  }
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m && inodes.has(m[1]!)) return Number(pid);
      } catch {
        // closed meanwhile
      }
    }
  }
  throw new Error(`nothing listens on port ${port}`);
}

/** Server-sent events in a body, as a browser parses them. */
export function sseEvents(body: string): { id?: string; event: string; data: Record<string, unknown> }[] {
  return body
    .split("\n\n")
    .filter((block) => block.includes("data: "))
    .map((block) => ({
      ...(/^id: (.*)$/m.test(block) ? { id: /^id: (.*)$/m.exec(block)![1]! } : {}),
      event: /^event: (.*)$/m.exec(block)?.[1] ?? "message",
      data: JSON.parse(/^data: (.*)$/m.exec(block)![1]!) as Record<string, unknown>,
    }));
}
