/**
 * Applies prisma/migrations/<provider>/NNNN_name/migration.sql in order, once each, and records
 * them in `_faultline_migrations` with a checksum. Kept instead of `prisma migrate deploy`
 * because Prisma 6.19's JS schema engine cannot deploy to PostgreSQL, and one runner for both
 * providers behaves the same on both. Safe to call from several processes at once.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { providerOf, sqlitePath, type Provider } from "./providers.ts";

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrateResult {
  provider: Provider;
  applied: string[];
  alreadyApplied: number;
}

export class MigrationError extends Error {
  override name = "MigrationError";
}

const defaultDir = path.resolve(import.meta.dirname, "../../prisma/migrations");

export function loadMigrations(provider: Provider, migrationsDir = defaultDir): Migration[] {
  const dir = path.join(migrationsDir, provider);
  if (!existsSync(dir)) throw new MigrationError(`No migrations found in ${dir}.`);
  return readdirSync(dir)
    .filter((name) => /^\d{4}_[a-z0-9_]+$/.test(name))
    .sort()
    .map((name) => {
      const sql = readFileSync(path.join(dir, name, "migration.sql"), "utf8");
      return { name, sql, checksum: createHash("sha256").update(sql).digest("hex") };
    });
}

function checkHistory(applied: Map<string, string>, migrations: Migration[]): Migration[] {
  const known = new Set(migrations.map((m) => m.name));
  for (const name of applied.keys()) {
    if (!known.has(name)) {
      throw new MigrationError(
        `The database has migration ${name}, which this version of Faultline does not know. It was made by a newer version: upgrade Faultline, or restore a backup taken before that upgrade.`,
      );
    }
  }
  for (const m of migrations) {
    const checksum = applied.get(m.name);
    if (checksum !== undefined && checksum !== m.checksum) {
      throw new MigrationError(
        `Migration ${m.name} was changed after it was applied to this database. Applied migrations must never be edited: restore prisma/migrations from git and add a new migration with \`npm run db:diff <name>\`.`,
      );
    }
  }
  return migrations.filter((m) => !applied.has(m.name));
}

export async function migrate(databaseUrl: string, migrationsDir = defaultDir): Promise<MigrateResult> {
  const provider = providerOf(databaseUrl);
  const migrations = loadMigrations(provider, migrationsDir);
  return provider === "sqlite" ? migrateSqlite(databaseUrl, migrations) : migratePostgres(databaseUrl, migrations);
}

function migrateSqlite(databaseUrl: string, migrations: Migration[]): MigrateResult {
  const file = sqlitePath(databaseUrl);
  if (file !== ":memory:") mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const db = new Database(file);
  try {
    db.pragma("journal_mode = WAL");
    db.pragma("busy_timeout = 10000");
    db.exec(`CREATE TABLE IF NOT EXISTS "_faultline_migrations" (name TEXT PRIMARY KEY, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)`);
    // BEGIN IMMEDIATE takes the write lock first, so two starting processes apply each migration once.
    const run = db.transaction((): MigrateResult => {
      const rows = db.prepare(`SELECT name, checksum FROM "_faultline_migrations"`).all() as { name: string; checksum: string }[];
      const pending = checkHistory(new Map(rows.map((r) => [r.name, r.checksum])), migrations);
      for (const m of pending) {
        db.exec(m.sql);
        db.prepare(`INSERT INTO "_faultline_migrations" (name, checksum, applied_at) VALUES (?, ?, ?)`).run(m.name, m.checksum, new Date().toISOString());
      }
      return { provider: "sqlite", applied: pending.map((m) => m.name), alreadyApplied: rows.length };
    });
    return run.immediate();
  } finally {
    db.close();
  }
}

async function migratePostgres(databaseUrl: string, migrations: Migration[]): Promise<MigrateResult> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    // An advisory lock serialises replicas that start together; it is released with the session.
    await client.query("SELECT pg_advisory_lock(7317001)");
    await client.query(
      `CREATE TABLE IF NOT EXISTS "_faultline_migrations" (name TEXT PRIMARY KEY, checksum TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`,
    );
    const { rows } = await client.query<{ name: string; checksum: string }>(`SELECT name, checksum FROM "_faultline_migrations"`);
    const pending = checkHistory(new Map(rows.map((r) => [r.name, r.checksum])), migrations);
    for (const m of pending) {
      await client.query("BEGIN");
      try {
        await client.query(m.sql);
        await client.query(`INSERT INTO "_faultline_migrations" (name, checksum) VALUES ($1, $2)`, [m.name, m.checksum]);
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK");
        throw new MigrationError(`Migration ${m.name} failed on PostgreSQL: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return { provider: "postgres", applied: pending.map((m) => m.name), alreadyApplied: rows.length };
  } finally {
    await client.end();
  }
}
