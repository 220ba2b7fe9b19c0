import { type Kysely, sql } from "kysely";

type Engine = "sqlite" | "postgres";

/**
 * The inventory: one row per certificate (keyed by the SHA-256 of its DER), its locations, a terms
 * table that answers every word, name, owner, source and algorithm filter from one index ordered
 * by expiry, facet counts kept on write, and the positions of the feeds it consumes.
 *
 * Sized for a million certificates and three million locations: records are joined by a 64-bit
 * surrogate id rather than the 32-byte fingerprint, and a term row carries the certificate's
 * notAfter so a filter is answered by one range scan of the terms' primary key, already in the
 * order pages are read (keyset paging by notAfter, id).
 */
export async function up(db: Kysely<unknown>, engine: Engine): Promise<void> {
  const pg = engine === "postgres";
  const id = pg ? "bigint generated always as identity primary key" : "integer primary key";
  const bytes = pg ? "bytea" : "blob";
  // Prefix ranges (uri >= p and uri < p || U+FFFF) and keyset order need byte order, not a locale's.
  const binary = pg ? `collate "C"` : "";
  const withoutRowid = pg ? "" : "without rowid";

  await sql
    .raw(`create table inventory_certificates (
      id ${id},
      sha256 ${bytes} not null unique,
      der ${bytes} not null,
      subject text not null,
      subject_key text ${binary} not null,
      issuer text not null,
      serial text not null,
      not_before bigint not null,
      not_after bigint not null,
      key_type text not null,
      key_size integer,
      curve text,
      signature_algorithm text not null,
      sans text not null,
      self_signed integer not null,
      is_ca integer not null,
      ski text,
      aki text,
      issuer_id bigint,
      first_seen_at bigint not null,
      owner_team text,
      owner_application text,
      owner_contact text,
      owner_origin text
    )`)
    .execute(db);
  await sql
    .raw("create index inventory_certificates_expiry on inventory_certificates (not_after, id)")
    .execute(db);
  await sql
    .raw("create index inventory_certificates_subject on inventory_certificates (subject_key, id)")
    .execute(db);
  await sql
    .raw("create index inventory_certificates_ski on inventory_certificates (ski) where ski is not null")
    .execute(db);
  // Only certificates still waiting for their issuer: linking a newly seen CA looks here.
  await sql
    .raw(
      "create index inventory_certificates_unlinked on inventory_certificates (aki) where issuer_id is null and aki is not null",
    )
    .execute(db);

  await sql
    .raw(`create table inventory_locations (
      id ${id},
      uri text ${binary} not null unique,
      cert_id bigint not null,
      source text not null,
      first_seen_at bigint not null,
      last_seen_at bigint not null,
      gone_at bigint,
      detail text
    )`)
    .execute(db);
  await sql.raw("create index inventory_locations_cert on inventory_locations (cert_id)").execute(db);

  await sql
    .raw(`create table inventory_terms (
      term text ${binary} not null,
      not_after bigint not null,
      cert_id bigint not null,
      primary key (term, not_after, cert_id)
    ) ${withoutRowid}`)
    .execute(db);

  await sql
    .raw(`create table inventory_facets (
      facet text not null,
      value text not null,
      count bigint not null,
      primary key (facet, value)
    )`)
    .execute(db);

  await sql.raw("create table inventory_cursors (name text primary key, value bigint not null)").execute(db);
}
