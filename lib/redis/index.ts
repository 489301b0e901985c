import "server-only";
import { hostname } from "node:os";
import { Redis } from "ioredis";
import { env } from "../env.ts";
import { redisKeys } from "./keys.ts";
import { processSingleton } from "../process-singleton.ts";

/** The platform Redis for this web process. Commands fail fast rather than queue while it is down. */
export function redis(): Redis {
  return processSingleton("redis", () => {
    const url = env().REDIS_URL;
    if (!url) throw new Error("REDIS_URL is not set. Start Faultline with `npm start`, which finds or starts a Redis and sets it.");
    // Named, so CLIENT LIST shows which install and web process holds each connection.
    const connectionName = `${env().FAULTLINE_REDIS_PREFIX}web:${hostname()}:${process.pid}`;
    const client = new Redis(url, { maxRetriesPerRequest: 1, connectTimeout: 2000, commandTimeout: 3000, connectionName });
    client.on("error", () => {
      // ioredis reconnects by itself; /api/ready reports the outage, so no log spam per retry.
    });
    return client;
  });
}

export function keys() {
  return redisKeys(env().FAULTLINE_REDIS_PREFIX);
}
