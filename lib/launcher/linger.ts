/**
 * Lingering close (RFC 9112 §9.6) for responses sent before the request's body was read, such as
 * a 413 at the body cap. Node then closes the connection as soon as the response is written, and
 * closing a socket with unread bytes in it sends a reset, which can destroy the response before
 * the client reads it: the client sees "connection reset" instead of the reason. Here the server
 * sends the response and a FIN, reads nothing more (the client's sending stalls), and closes a
 * moment later, or as soon as the client, having read the answer, closes its end.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";

/** How long a connection with an unread body stays half-closed after its response. @default 2000 */
export const LINGER_MS = 2000;

export function lingerOnEarlyResponse(req: IncomingMessage, res: ServerResponse, ms = LINGER_MS): void {
  // Runs before Node's own "finish" handler, which ends the connection with destroySoon().
  res.prependListener("finish", () => {
    const socket: Socket | null = res.socket ?? req.socket;
    if (req.complete || !socket || socket.destroyed) return;
    socket.destroySoon = function lingeringClose(this: Socket) {
      req.pause(); // Node "dumps" an unread body by reading and discarding it; stop, so nothing more is read at all
      this.end();
      const timer = setTimeout(() => this.destroy(), ms).unref();
      this.once("close", () => clearTimeout(timer));
    };
  });
}
