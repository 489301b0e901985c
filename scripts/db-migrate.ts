/** `npm run db:migrate`: applies pending migrations to DATABASE_URL (SQLite or PostgreSQL). */
import { configOrExit } from "../lib/launcher/config.ts";
import { migrate } from "../lib/db/migrate.ts";

const config = configOrExit();
try {
  const result = await migrate(config.DATABASE_URL);
  console.log(
    result.applied.length > 0
      ? `Applied ${result.applied.length} migration(s) to ${result.provider}: ${result.applied.join(", ")}`
      : `Database (${result.provider}) is up to date (${result.alreadyApplied} migrations).`,
  );
} catch (error) {
  console.error(`Migration failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
