import type { Kysely } from "kysely";

type Engine = "sqlite" | "postgres";

export async function up(db: Kysely<unknown>, engine: Engine): Promise<void> {
  const bytes = engine === "postgres" ? "bytea" : "blob";

  // Vaults elsewhere (Azure Key Vault, later ACM, Certificate Manager, Kubernetes) read into the
  // inventory; the credential's secret fields are sealed, its other settings are plain JSON.
  await db.schema
    .createTable("remote_vaults")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name_key", "text", (c) => c.notNull().unique())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("url", "text", (c) => c.notNull())
    .addColumn("settings", "text", (c) => c.notNull())
    .addColumn("sealed_secret", bytes, (c) => c.notNull())
    .addColumn("secret_fields", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .addColumn("last_sync_at", "bigint")
    .addColumn("last_sync_status", "text")
    .addColumn("last_sync_error", "text")
    .addColumn("last_sync_certificates", "integer")
    .addColumn("last_sync_gone", "integer")
    .execute();

  // What the last successful sync of each remote vault saw: the next sync forgets what it no longer sees.
  await db.schema
    .createTable("remote_vault_locations")
    .addColumn("remote_vault_id", "text", (c) =>
      c.notNull().references("remote_vaults.id").onDelete("cascade"),
    )
    .addColumn("uri", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("remote_vault_locations_pk", ["remote_vault_id", "uri"])
    .execute();
}
