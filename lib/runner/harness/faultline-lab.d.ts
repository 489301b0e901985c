/**
 * Types of `@faultline/lab` for the lab workspace's editor (Monaco loads this as an extra lib,
 * beside ioredis's own types). Kept by hand; lab.test.ts fails if it drifts from lab.ts.
 */
declare module "@faultline/lab" {
  import type { Redis, RedisOptions } from "ioredis";

  /**
   * A new connection to your run's own Redis, through the lab's chaos proxy. Use one per
   * blocking command (BZPOPMIN, BLMOVE, XREADGROUP … BLOCK): a blocked connection cannot send
   * anything else until it returns.
   */
  export function createRedis(options?: Omit<RedisOptions, "path" | "host" | "port" | "username" | "password">): Redis;

  /** Where your Redis listens (a Unix socket), for labs that speak RESP over `net.connect(redisSocketPath)`. */
  export const redisSocketPath: string;

  /** The name the grader gave this process ("worker-1"), or "main". */
  export const workerName: string;

  /** Resolves after `ms` milliseconds. */
  export function sleep(ms: number): Promise<void>;

  export { Redis };
}
