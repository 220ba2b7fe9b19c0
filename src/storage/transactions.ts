import { type Kysely, sql, type Transaction } from "kysely";
import type { StorageHandle } from "./database.js";
import type { Database } from "./schema.js";

/**
 * Runs `work` in one write transaction. On SQLite the transaction takes the write lock up front
 * (BEGIN IMMEDIATE), so a reader that later writes cannot deadlock against another process.
 */
export async function writeTransaction<T>(
  { db, engine, sqliteControl }: Pick<StorageHandle, "db" | "engine" | "sqliteControl">,
  work: (trx: Kysely<Database>) => Promise<T>,
): Promise<T> {
  if (engine === "postgres") return db.transaction().execute((trx: Transaction<Database>) => work(trx));
  return db.connection().execute(async (conn) => {
    const control = async (statement: "begin immediate" | "commit" | "rollback") => {
      if (sqliteControl) sqliteControl(statement);
      else await sql.raw(statement).execute(conn);
    };
    await control("begin immediate");
    try {
      const result = await work(conn);
      await control("commit");
      return result;
    } catch (error) {
      await control("rollback");
      throw error;
    }
  });
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
