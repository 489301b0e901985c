import "server-only";
import { hostname } from "node:os";
import { keys, redis } from "../redis/index.ts";
import { StreamGauge } from "./store.ts";
import { processSingleton } from "../process-singleton.ts";

/** This web process's open-SSE-streams gauge, named host:pid among the replicas. */
export function streamGauge(): StreamGauge {
  return processSingleton("stream-gauge", () => new StreamGauge(redis, keys, `${hostname()}:${process.pid}`));
}
