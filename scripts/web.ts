/**
 * The web process: Next.js behind a small Node HTTP server, so the client address used for rate
 * limits comes from the socket (see lib/launcher/forwarded.ts). Run by the launcher, or alone with
 * `npm run web` (a web replica behind a load balancer).
 */
import { createServer } from "node:http";
import next from "next";
import { configOrExit } from "../lib/launcher/config.ts";
import { authSecret } from "../lib/launcher/secret.ts";
import { trustedClientIp } from "../lib/launcher/forwarded.ts";
import { log } from "../lib/log.ts";
import { lingerOnEarlyResponse } from "../lib/launcher/linger.ts";
import { exitWhenOrphaned } from "../lib/launcher/orphan.ts";

const dev = process.argv.includes("--dev");
const config = configOrExit();
// next-auth reads these names; the data-dir secret keeps a lone web process zero-config.
process.env.AUTH_SECRET = authSecret(config.AUTH_SECRET, config.dataDir);
process.env.NEXTAUTH_SECRET = process.env.AUTH_SECRET;
process.env.NEXTAUTH_URL = config.FAULTLINE_URL;
process.env.DATABASE_URL = config.DATABASE_URL;

const app = next({ dev, dir: process.cwd(), hostname: config.HOST, port: config.PORT, turbopack: dev });
const handle = app.getRequestHandler();
await app.prepare();

const server = createServer((req, res) => {
  lingerOnEarlyResponse(req, res); // a 413 at the body cap reaches the client instead of a reset
  req.headers["x-forwarded-for"] = trustedClientIp(req.headers["x-forwarded-for"], req.socket.remoteAddress, config.FAULTLINE_TRUSTED_PROXIES);
  handle(req, res).catch((error: unknown) => {
    log.error("unhandled request error", { url: req.url, err: error });
    if (!res.headersSent) res.writeHead(500).end("Internal error");
  });
});
server.on("error", (error: NodeJS.ErrnoException) => {
  console.error(
    error.code === "EADDRINUSE"
      ? `Port ${config.PORT} is already in use on ${config.HOST}. Fix: stop the other program, or start Faultline with another port, e.g. PORT=3001 npm start.`
      : `The web server could not listen: ${error.message}`,
  );
  process.exit(1);
});
server.listen(config.PORT, config.HOST, () => {
  log.info("web listening", { url: config.FAULTLINE_URL, host: config.HOST, port: config.PORT, mode: dev ? "development" : "production" });
});

let closing = false;
function shutdown(signal: string) {
  if (closing) return;
  closing = true;
  log.info("web stopping", { signal });
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 5000).unref(); // open SSE streams do not hold shutdown hostage
}
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));
exitWhenOrphaned(() => shutdown("orphaned"));
