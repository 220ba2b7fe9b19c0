import type { ColumnDefinitionBuilder, Kysely } from "kysely";
import { sql } from "kysely";

type Engine = "sqlite" | "postgres";

export async function up(db: Kysely<unknown>, engine: Engine): Promise<void> {
  const bytes = engine === "postgres" ? "bytea" : "blob";
  const nameKey = (c: ColumnDefinitionBuilder) => (engine === "postgres" ? c.modifyEnd(sql`collate "C"`) : c);

  await db.schema
    .alterTable("vaults")
    .addColumn("require_complete_chain", "integer", (c) => c.notNull().defaultTo(0))
    .execute();

  // The latest pending (or finished) certificate operation of each certificate name.
  await db.schema
    .createTable("certificate_operations")
    .addColumn("vault_id", "text", (c) => c.notNull().references("vaults.id").onDelete("cascade"))
    .addColumn("name_key", "text", (c) => nameKey(c.notNull()))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("request_id", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("status_details", "text")
    .addColumn("issuer_name", "text", (c) => c.notNull())
    .addColumn("csr", bytes, (c) => c.notNull())
    .addColumn("cancellation_requested", "integer", (c) => c.notNull())
    .addColumn("error_code", "text")
    .addColumn("error_message", "text")
    .addColumn("policy", "text", (c) => c.notNull())
    .addColumn("tags", "text", (c) => c.notNull())
    .addColumn("target_version", "text")
    .addColumn("key_material", bytes)
    .addColumn("key_version", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("certificate_operations_pk", ["vault_id", "name_key"])
    .execute();

  await db.schema
    .createTable("certificate_issuers")
    .addColumn("vault_id", "text", (c) => c.notNull().references("vaults.id").onDelete("cascade"))
    .addColumn("name_key", "text", (c) => nameKey(c.notNull()))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("provider", "text", (c) => c.notNull())
    .addColumn("account_id", "text")
    .addColumn("sealed_password", bytes)
    .addColumn("organization_id", "text")
    .addColumn("administrators", "text", (c) => c.notNull())
    .addColumn("enabled", "integer", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("certificate_issuers_pk", ["vault_id", "name_key"])
    .execute();

  await db.schema
    .createTable("certificate_contacts")
    .addColumn("vault_id", "text", (c) => c.primaryKey().references("vaults.id").onDelete("cascade"))
    .addColumn("contacts", "text", (c) => c.notNull())
    .execute();
}
