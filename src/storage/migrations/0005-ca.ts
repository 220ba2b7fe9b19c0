import type { ColumnDefinitionBuilder, Kysely } from "kysely";
import { sql } from "kysely";

type Engine = "sqlite" | "postgres";

/** The private CA: its authorities, what they issued (inventory and revocation) and their CRLs. */
export async function up(db: Kysely<unknown>, engine: Engine): Promise<void> {
  const bytes = engine === "postgres" ? "bytea" : "blob";
  const nameKey = (c: ColumnDefinitionBuilder) => (engine === "postgres" ? c.modifyEnd(sql`collate "C"`) : c);

  await db.schema
    .createTable("ca_authorities")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name_key", "text", (c) => nameKey(c.notNull().unique()))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("parent_id", "text", (c) => c.references("ca_authorities.id"))
    .addColumn("subject", "text", (c) => c.notNull())
    .addColumn("key_algorithm", "text", (c) => c.notNull())
    .addColumn("protection", "text", (c) => c.notNull())
    .addColumn("public_key", "text", (c) => c.notNull())
    .addColumn("key_material", bytes, (c) => c.notNull())
    .addColumn("certificate", bytes)
    .addColumn("chain", "text", (c) => c.notNull())
    .addColumn("csr", bytes)
    .addColumn("path_length", "integer")
    .addColumn("name_constraints", "text")
    .addColumn("policies", "text", (c) => c.notNull())
    .addColumn("crl_shards", "integer", (c) => c.notNull())
    .addColumn("crl_number", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("not_after", "bigint")
    .addColumn("responder", "text")
    .addColumn("responder_key_material", bytes)
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("ca_issued")
    .addColumn("ca_id", "text", (c) => c.notNull().references("ca_authorities.id"))
    .addColumn("serial", "text", (c) => c.notNull())
    .addColumn("subject", "text", (c) => c.notNull())
    .addColumn("not_before", "bigint", (c) => c.notNull())
    .addColumn("not_after", "bigint", (c) => c.notNull())
    .addColumn("der", bytes, (c) => c.notNull())
    .addColumn("shard", "integer", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("revoked_at", "bigint")
    .addColumn("reason", "text")
    .addColumn("vault_id", "text")
    .addColumn("vault_name", "text")
    .addColumn("certificate_name_key", "text")
    .addColumn("certificate_name", "text")
    .addColumn("certificate_version", "text")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("ca_issued_pk", ["ca_id", "serial"])
    .execute();
  await db.schema.createIndex("ca_issued_serial").on("ca_issued").column("serial").execute();
  await db.schema
    .createIndex("ca_issued_vault_version")
    .on("ca_issued")
    .columns(["vault_id", "certificate_name_key", "certificate_version"])
    .execute();
  // CRLs list only what is not good; a partial index keeps that scan small on both engines.
  await db.schema
    .createIndex("ca_issued_revoked")
    .on("ca_issued")
    .columns(["ca_id", "shard"])
    .where(sql.ref("status"), "<>", "good")
    .execute();

  await db.schema
    .createTable("ca_crls")
    .addColumn("ca_id", "text", (c) => c.notNull().references("ca_authorities.id"))
    .addColumn("shard", "integer", (c) => c.notNull())
    .addColumn("number", "bigint", (c) => c.notNull())
    .addColumn("this_update", "bigint", (c) => c.notNull())
    .addColumn("next_update", "bigint", (c) => c.notNull())
    .addColumn("der", bytes, (c) => c.notNull())
    .addPrimaryKeyConstraint("ca_crls_pk", ["ca_id", "shard"])
    .execute();
}
