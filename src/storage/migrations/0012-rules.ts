import { type Kysely, sql } from "kysely";

type Engine = "sqlite" | "postgres";

/**
 * Organisation rules and what grading found in the inventory. Findings are kept per inventory record
 * (by its surrogate id, with the fingerprint for readers); an open finding is unique per record and
 * key (kind, rule, location), so re-grading the same record twice opens nothing twice.
 */
export async function up(db: Kysely<unknown>, engine: Engine): Promise<void> {
  const pg = engine === "postgres";
  const id = pg ? "bigint generated always as identity primary key" : "integer primary key";

  await sql
    .raw(`create table organisation_rules (
      id text primary key,
      level text not null,
      target text not null,
      target_name text not null,
      kind text not null,
      value text not null,
      locked integer not null,
      entries text,
      created_at bigint not null,
      updated_at bigint not null,
      unique (level, target, kind)
    )`)
    .execute(db);

  await sql
    .raw(`create table inventory_findings (
      id ${id},
      cert_id bigint not null,
      fingerprint_sha256 text not null,
      location_uri text,
      kind text not null,
      rule_id text,
      reason text not null,
      finding_key text not null,
      found_at bigint not null,
      resolved_at bigint
    )`)
    .execute(db);
  await sql
    .raw(
      "create unique index inventory_findings_open on inventory_findings (cert_id, finding_key) where resolved_at is null",
    )
    .execute(db);
  // Alerts and reports page through the open findings in id order.
  await sql
    .raw("create index inventory_findings_open_id on inventory_findings (id) where resolved_at is null")
    .execute(db);
  await sql
    .raw("create index inventory_findings_fingerprint on inventory_findings (fingerprint_sha256)")
    .execute(db);

  // Records changed since they were last graded; the inventory writes here in its own transaction.
  await sql.raw("create table inventory_grading_queue (cert_id bigint primary key)").execute(db);
  // The rules' revision (bumped by every rule change) and the revision the last full grading covered.
  await sql.raw("create table grading_state (name text primary key, value bigint not null)").execute(db);
}
