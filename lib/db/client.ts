/**
 * Creates a Prisma client for a DATABASE_URL: SQLite through better-sqlite3, PostgreSQL through pg.
 * Both clients are generated from the same models (prisma/models.prisma), so they share one API;
 * the PostgreSQL one is typed as the SQLite one below.
 */
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient as SqliteClient } from "./generated/sqlite/client.ts";
import { PrismaClient as PostgresClient } from "./generated/postgres/client.ts";
import { providerOf, sqlitePath } from "./providers.ts";

export type Db = SqliteClient;
export { Prisma, Role } from "./generated/sqlite/client.ts";
export type { User } from "./generated/sqlite/client.ts";

export function createDb(databaseUrl: string): Db {
  if (providerOf(databaseUrl) === "sqlite") {
    return new SqliteClient({ adapter: new PrismaBetterSQLite3({ url: sqlitePath(databaseUrl) }, { timestampFormat: "iso8601" }) });
  }
  // Same models, same generated API; only the provider differs, so the types line up by construction.
  return new PostgresClient({ adapter: new PrismaPg({ connectionString: databaseUrl }) }) as unknown as Db;
}
