import type { Kysely } from "kysely";

type Engine = "sqlite" | "postgres";

export async function up(db: Kysely<unknown>, engine: Engine): Promise<void> {
  const serial = engine === "postgres" ? "bigserial" : "integer";
  await db.schema
    .alterTable("vaults")
    .addColumn("near_expiry_days", "integer", (c) => c.notNull().defaultTo(30))
    .execute();

  // The outbox: events are written with the change that caused them and delivered from here.
  await db.schema
    .createTable("events")
    .addColumn("seq", serial, (c) => (engine === "sqlite" ? c.primaryKey().autoIncrement() : c.primaryKey()))
    .addColumn("id", "text", (c) => c.notNull().unique())
    .addColumn("type", "text", (c) => c.notNull())
    .addColumn("vault_id", "text", (c) => c.notNull())
    .addColumn("vault_name", "text", (c) => c.notNull())
    .addColumn("object_type", "text", (c) => c.notNull())
    .addColumn("object_name", "text", (c) => c.notNull())
    .addColumn("version", "text", (c) => c.notNull())
    .addColumn("not_before", "bigint")
    .addColumn("expires_at", "bigint")
    .addColumn("detail", "text")
    .addColumn("time", "bigint", (c) => c.notNull())
    .execute();

  // One row per certificate version being renewed: the claim is written before anything is issued.
  await db.schema
    .createTable("certificate_renewals")
    .addColumn("vault_id", "text", (c) => c.notNull())
    .addColumn("name_key", "text", (c) => c.notNull())
    .addColumn("from_version", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("attempts", "integer", (c) => c.notNull())
    .addColumn("retry_at", "bigint")
    .addColumn("claimed_at", "bigint", (c) => c.notNull())
    .addColumn("error", "text")
    .addPrimaryKeyConstraint("certificate_renewals_pk", ["vault_id", "name_key", "from_version"])
    .execute();

  const bytes = engine === "postgres" ? "bytea" : "blob";
  await db.schema
    .createTable("webhook_subscriptions")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull().unique())
    .addColumn("endpoint", "text", (c) => c.notNull())
    .addColumn("event_types", "text", (c) => c.notNull())
    .addColumn("vaults", "text", (c) => c.notNull())
    .addColumn("subject_begins_with", "text")
    .addColumn("schema_name", "text", (c) => c.notNull())
    .addColumn("sealed_secret", bytes)
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("cursor", "bigint", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();

  // One row per event to deliver to a subscription: at least once, with a stable event id.
  await db.schema
    .createTable("webhook_deliveries")
    .addColumn("subscription_id", "text", (c) =>
      c.notNull().references("webhook_subscriptions.id").onDelete("cascade"),
    )
    .addColumn("event_id", "text", (c) => c.notNull())
    .addColumn("event_seq", "bigint", (c) => c.notNull())
    .addColumn("attempts", "integer", (c) => c.notNull())
    .addColumn("next_attempt_at", "bigint", (c) => c.notNull())
    .addColumn("since", "bigint", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("last_error", "text")
    .addPrimaryKeyConstraint("webhook_deliveries_pk", ["subscription_id", "event_id"])
    .execute();
  await db.schema
    .createIndex("webhook_deliveries_due")
    .on("webhook_deliveries")
    .columns(["status", "next_attempt_at"])
    .execute();

  await db.schema
    .createTable("event_marks")
    .addColumn("vault_id", "text", (c) => c.notNull())
    .addColumn("collection", "text", (c) => c.notNull())
    .addColumn("name_key", "text", (c) => c.notNull())
    .addColumn("version", "text", (c) => c.notNull())
    .addColumn("kind", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("event_marks_pk", ["vault_id", "collection", "name_key", "version", "kind"])
    .execute();

  // One row per scheduled job: which node runs it, until when.
  await db.schema
    .createTable("job_leases")
    .addColumn("name", "text", (c) => c.primaryKey())
    .addColumn("owner", "text", (c) => c.notNull())
    .addColumn("lease_until", "bigint", (c) => c.notNull())
    .execute();
}
