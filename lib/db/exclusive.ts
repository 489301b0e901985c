import { createHash } from "node:crypto";
import { providerOfDb, type Db } from "./client.ts";

type Tx = Parameters<Parameters<Db["$transaction"]>[0]>[0];

/**
 * Runs a read-then-write rule ("make the first account admin", "never leave no admin") so that
 * no two runs of the same rule overlap. Under PostgreSQL's READ COMMITTED two such transactions
 * each miss the other's write and both act on a stale view (two admins, or none), so the
 * transaction first takes an advisory lock named after the rule; every statement after it sees
 * what the previous holder committed. SQLite transactions are already serialized by the adapter.
 *
 * A lock rather than SERIALIZABLE with retries: @prisma/adapter-pg 6.19 leaks its pool connection
 * when COMMIT fails with a serialization error, and enough leaks hang the web tier.
 */
export async function exclusive<T>(db: Db, rule: string, work: (tx: Tx) => Promise<T>): Promise<T> {
  const postgres = providerOfDb(db) === "postgres";
  return db.$transaction(async (tx) => {
    if (postgres) await tx.$executeRaw`SELECT pg_advisory_xact_lock(${lockKey(rule)})`;
    return work(tx);
  });
}

/** A stable 63-bit key for a rule's name, as pg_advisory_xact_lock takes a bigint. */
function lockKey(rule: string): bigint {
  return createHash("sha256").update(`faultline:${rule}`).digest().readBigInt64BE(0);
}
