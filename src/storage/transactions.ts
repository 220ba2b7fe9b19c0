import { type Kysely, sql, type Transaction } from "kysely";
import { currentAuditScope } from "../domain/audit/audit-scope.js";
import type { ChangeIntent } from "./change-audit.js";
import type { StorageHandle } from "./database.js";
import type { Database } from "./schema.js";
import { busy, untilLocked } from "./sqlite-write-lock.js";

/**
 * Runs `work` in one write transaction. On SQLite the transaction takes the write lock up front
 * (BEGIN IMMEDIATE), so a reader that later writes cannot deadlock against another process; while
 * another process holds the lock, the attempt gives the connection back and tries again later
 * instead of sleeping in SQLite's busy handler on the event loop.
 */
export async function writeTransaction<T>(
  storage: Pick<StorageHandle, "db" | "engine" | "sqliteLock"> & Partial<Pick<StorageHandle, "changeAudit">>,
  changes: (trx: Kysely<Database>) => Promise<T>,
  intents?: readonly ChangeIntent[],
): Promise<T> {
  const { db, engine, sqliteLock, changeAudit } = storage;
  // Inside a request, command or job, the change commits only with its intent row in the audit log.
  const scope = changeAudit && currentAuditScope();
  const work =
    scope && changeAudit
      ? async (trx: Kysely<Database>) => {
          const result = await changes(trx);
          await changeAudit.beforeCommit(trx, scope, intents);
          return result;
        }
      : changes;
  if (engine === "postgres") return db.transaction().execute((trx: Transaction<Database>) => work(trx));
  if (!sqliteLock) {
    return db.connection().execute(async (conn) => {
      await sql`begin immediate`.execute(conn);
      try {
        const result = await work(conn);
        await sql`commit`.execute(conn);
        return result;
      } catch (error) {
        await sql`rollback`.execute(conn);
        throw error;
      }
    });
  }
  return untilLocked(() =>
    db.connection().execute(async (conn) => {
      if (!sqliteLock.tryBegin()) return busy;
      try {
        const result = await work(conn);
        sqliteLock.commit();
        return result;
      } catch (error) {
        sqliteLock.rollback();
        throw error;
      }
    }),
  );
}

/** Whether a database error is a unique or primary key violation, on either engine. */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "23505" || code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY";
}

export const toBool = (value: number): boolean => value !== 0;
export const fromBool = (value: boolean): number => (value ? 1 : 0);
export const toDate = (ms: number | null): Date | undefined => (ms === null ? undefined : new Date(ms));
export const fromDate = (date: Date | undefined): number | null =>
  date === undefined ? null : date.getTime();
