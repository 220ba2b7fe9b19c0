import { type ColumnDefinitionBuilder, type Kysely, sql } from "kysely";

type Engine = "sqlite" | "postgres";

export async function up(db: Kysely<unknown>, engine: Engine): Promise<void> {
  const bytes = engine === "postgres" ? "bytea" : "blob";
  const serial = engine === "postgres" ? "bigserial" : "integer";
  // Names list and page in byte order on both engines; PostgreSQL would otherwise follow the
  // database's locale and order "a-b" differently from SQLite.
  const nameKey = (c: ColumnDefinitionBuilder) => (engine === "postgres" ? c.modifyEnd(sql`collate "C"`) : c);

  await db.schema
    .createTable("settings")
    .addColumn("key", "text", (c) => c.primaryKey())
    .addColumn("value", "text", (c) => c.notNull())
    .addColumn("sealed", bytes)
    .execute();

  await db.schema
    .createTable("vaults")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull().unique())
    .addColumn("sku", "text", (c) => c.notNull())
    .addColumn("soft_delete_retention_days", "integer", (c) => c.notNull())
    .addColumn("purge_protection", "integer", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();

  // One pair of tables for every versioned collection (secrets, keys, certificates): soft delete,
  // recovery, paging and purge behave the same for all, so they are written once.
  await db.schema
    .createTable("objects")
    .addColumn("vault_id", "text", (c) => c.notNull().references("vaults.id").onDelete("cascade"))
    .addColumn("collection", "text", (c) => c.notNull())
    .addColumn("name_key", "text", (c) => nameKey(c.notNull()))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("latest_version", "text", (c) => c.notNull())
    .addColumn("deleted_at", "bigint")
    .addColumn("scheduled_purge_at", "bigint")
    .addColumn("policy", "text")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("objects_pk", ["vault_id", "collection", "name_key"])
    .execute();
  // Live and deleted objects of a collection in name order: listings and the jobs' sweeps page
  // through it without sorting.
  await db.schema
    .createIndex("objects_deleted")
    .on("objects")
    .columns(["vault_id", "collection", "deleted_at", "name_key"])
    .execute();

  await db.schema
    .createTable("object_versions")
    .addColumn("seq", serial, (c) => (engine === "sqlite" ? c.primaryKey().autoIncrement() : c.primaryKey()))
    .addColumn("vault_id", "text", (c) => c.notNull())
    .addColumn("collection", "text", (c) => c.notNull())
    .addColumn("name_key", "text", (c) => nameKey(c.notNull()))
    .addColumn("version", "text", (c) => c.notNull())
    .addColumn("payload", bytes, (c) => c.notNull())
    .addColumn("properties", "text", (c) => c.notNull())
    .addColumn("tags", "text", (c) => c.notNull())
    .addColumn("enabled", "integer", (c) => c.notNull())
    .addColumn("not_before", "bigint")
    .addColumn("expires_at", "bigint")
    .addColumn("managed", "integer", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .addForeignKeyConstraint(
      "object_versions_object",
      ["vault_id", "collection", "name_key"],
      "objects",
      ["vault_id", "collection", "name_key"],
      (fk) => fk.onDelete("cascade"),
    )
    .execute();
  await db.schema
    .createIndex("object_versions_version")
    .on("object_versions")
    .columns(["vault_id", "collection", "name_key", "version"])
    .unique()
    .execute();

  await db.schema
    .createTable("principals")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("client_id", "text", (c) => c.notNull().unique())
    .addColumn("display_name", "text", (c) => c.notNull())
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("enabled", "integer", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("client_secrets")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("principal_id", "text", (c) => c.notNull().references("principals.id").onDelete("cascade"))
    .addColumn("hash", "text", (c) => c.notNull())
    .addColumn("hint", "text", (c) => c.notNull())
    .addColumn("expires_at", "bigint")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("client_secrets_principal")
    .on("client_secrets")
    .column("principal_id")
    .execute();

  await db.schema
    .createTable("audit_log")
    .addColumn("seq", "bigint", (c) => c.primaryKey())
    .addColumn("time", "bigint", (c) => c.notNull())
    .addColumn("request_id", "text", (c) => c.notNull())
    .addColumn("principal_id", "text")
    .addColumn("client_id", "text")
    .addColumn("vault", "text")
    .addColumn("operation", "text", (c) => c.notNull())
    .addColumn("object_id", "text")
    .addColumn("version", "text")
    .addColumn("outcome", "text", (c) => c.notNull())
    .addColumn("status", "integer", (c) => c.notNull())
    .addColumn("client_address", "text", (c) => c.notNull())
    .addColumn("detail", "text")
    .addColumn("prev_hash", "text", (c) => c.notNull())
    .addColumn("hash", "text", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("audit_head")
    .addColumn("id", "integer", (c) => c.primaryKey())
    .addColumn("seq", "bigint", (c) => c.notNull())
    .addColumn("hash", "text", (c) => c.notNull())
    .execute();
  await sql`insert into audit_head (id, seq, hash) values (1, 0, ${"0".repeat(64)})`.execute(db);
}
