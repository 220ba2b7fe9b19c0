import type { Kysely } from "kysely";

type Engine = "sqlite" | "postgres";

export async function up(db: Kysely<unknown>, _engine: Engine): Promise<void> {
  // One row per (kind, certificate, location): the unique key is what keeps two nodes evaluating at
  // once from opening the same alert twice. `fingerprint` and `location` are '' when the alert has
  // none (an expiring certificate has no location, a silent agent no certificate), because NULLs
  // are distinct in a unique index on both engines.
  await db.schema
    .createTable("alerts")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("fingerprint", "text", (c) => c.notNull())
    .addColumn("location", "text", (c) => c.notNull())
    .addColumn("state", "text", (c) => c.notNull())
    // The expiring threshold (days) last notified; lower is more urgent. Null for other kinds.
    .addColumn("level", "integer")
    .addColumn("subject", "text", (c) => c.notNull())
    .addColumn("summary", "text", (c) => c.notNull())
    .addColumn("not_after", "bigint")
    .addColumn("vault_name", "text")
    .addColumn("owner_contact", "text")
    // Bumped on every change: a transition applies only to the revision it was computed from.
    .addColumn("revision", "integer", (c) => c.notNull())
    .addColumn("opened_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .addColumn("acknowledged_at", "bigint")
    .addColumn("acknowledged_by", "text")
    .addColumn("resolved_at", "bigint")
    .addColumn("resolved_by", "text")
    .addColumn("note", "text")
    .addColumn("occurrences", "integer", (c) => c.notNull())
    .addUniqueConstraint("alerts_key", ["kind", "fingerprint", "location"])
    .execute();
  await db.schema.createIndex("alerts_state").on("alerts").columns(["state", "opened_at"]).execute();

  // Alert events are not about a vault object: their structured data rides beside the outbox row.
  await db.schema.alterTable("events").addColumn("data", "text").execute();
}
