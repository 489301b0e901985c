/**
 * Creates a Prisma client for a DATABASE_URL: SQLite through better-sqlite3, PostgreSQL through pg.
 * Both clients are generated from the same models (prisma/models.prisma), so they share one API;
 * the PostgreSQL one is typed as the SQLite one below.
 */
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient as SqliteClient } from "./generated/sqlite/client.ts";
import { PrismaClient as PostgresClient } from "./generated/postgres/client.ts";
import { providerOf, sqlitePath, type Provider } from "./providers.ts";

export type Db = SqliteClient;
export { Prisma, Role } from "./generated/sqlite/client.ts";
export type { User } from "./generated/sqlite/client.ts";

/**
 * Marks each client with its provider under a registry symbol, not in a module-level map: Next
 * bundles this module into several chunks, and a client made in one is used from another.
 */
const PROVIDER = Symbol.for("faultline.db.provider");

export function createDb(databaseUrl: string): Db {
  const provider = providerOf(databaseUrl);
  const db =
    provider === "sqlite"
      ? new SqliteClient({ adapter: new PrismaBetterSQLite3({ url: sqlitePath(databaseUrl) }, { timestampFormat: "iso8601" }) })
      : // Same models, same generated API; only the provider differs, so the types line up by construction.
        (new PostgresClient({ adapter: new PrismaPg({ connectionString: databaseUrl }) }) as unknown as Db);
  Object.defineProperty(db, PROVIDER, { value: provider });
  return db;
}

/** Which database a client made by createDb talks to. */
export function providerOfDb(db: Db): Provider {
  const provider = (db as unknown as Record<symbol, Provider | undefined>)[PROVIDER];
  if (!provider) throw new Error("This database client was not made by createDb.");
  return provider;
}
