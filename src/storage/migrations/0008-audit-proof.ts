import { type Kysely, sql } from "kysely";

type Engine = "sqlite" | "postgres";

/**
 * `audit_changes` lives where the changes are stored (the main SQLite file, or PostgreSQL): each
 * audited change writes its row in its own transaction, so a log cut, reset or replaced by an older
 * copy no longer accounts for every change. The head gains the base the kept log starts from (moved
 * by retention) and a MAC over all of it. On SQLite the head lives in the audit file, where
 * database.ts adds the same columns.
 */
export async function up(db: Kysely<unknown>, engine: Engine): Promise<void> {
  await db.schema
    .createTable("audit_changes")
    .addColumn("seq", "bigint", (c) => c.primaryKey())
    .addColumn("request_id", "text", (c) => c.notNull())
    .addColumn("mac", "text", (c) => c.notNull())
    .execute();
  if (engine !== "postgres") return;
  await sql`alter table audit_head add column base_seq bigint not null default 0`.execute(db);
  await sql`alter table audit_head add column base_hash text not null default ${sql.lit("0".repeat(64))}`.execute(
    db,
  );
  await sql`alter table audit_head add column mac text`.execute(db);
}
