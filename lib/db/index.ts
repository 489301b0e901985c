import "server-only";
import { env } from "../env.ts";
import { createDb, type Db } from "./client.ts";
import { processSingleton } from "../process-singleton.ts";

export type { Db } from "./client.ts";

/** This process's database client. */
export function db(): Db {
  return processSingleton("db", () => createDb(env().DATABASE_URL));
}
