import "server-only";
import { env } from "../env.ts";
import { createDb, type Db } from "./client.ts";

export type { Db } from "./client.ts";

// One client per process; Next's dev server reloads modules, so keep it on globalThis.
const holder = globalThis as unknown as { __faultlineDb?: Db };

export function db(): Db {
  holder.__faultlineDb ??= createDb(env().DATABASE_URL);
  return holder.__faultlineDb;
}
