import "server-only";
import { hostname } from "node:os";
import { keys, redis } from "../redis/index.ts";
import { StreamGauge } from "./store.ts";

// One gauge per process; Next's dev server reloads modules, so keep it on globalThis.
const holder = globalThis as unknown as { __faultlineStreamGauge?: StreamGauge };

/** This web process's open-SSE-streams gauge, named host:pid among the replicas. */
export function streamGauge(): StreamGauge {
  holder.__faultlineStreamGauge ??= new StreamGauge(redis, keys, `${hostname()}:${process.pid}`);
  return holder.__faultlineStreamGauge;
}
