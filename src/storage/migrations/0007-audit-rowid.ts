import { type Kysely, sql } from "kysely";

type Engine = "sqlite" | "postgres";

/**
 * On SQLite a `bigint primary key` is a second B-tree beside the table's own; every request appends
 * an audit row, so the log is rebuilt with `integer primary key`, which is the row id itself and
 * keeps one tree. Nothing changes on PostgreSQL.
 */
export async function up(db: Kysely<unknown>, engine: Engine): Promise<void> {
  if (engine !== "sqlite") return;
  await sql`create table audit_log_rowid (
    seq integer primary key,
    time bigint not null,
    request_id text not null,
    principal_id text,
    client_id text,
    vault text,
    operation text not null,
    object_id text,
    version text,
    outcome text not null,
    status integer not null,
    client_address text not null,
    detail text,
    prev_hash text not null,
    hash text not null
  )`.execute(db);
  await sql`insert into audit_log_rowid select seq, time, request_id, principal_id, client_id, vault,
    operation, object_id, version, outcome, status, client_address, detail, prev_hash, hash
    from audit_log order by seq`.execute(db);
  await sql`drop table audit_log`.execute(db);
  await sql`alter table audit_log_rowid rename to audit_log`.execute(db);
}
