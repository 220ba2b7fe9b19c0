import { type Kysely, sql } from "kysely";

type Engine = "sqlite" | "postgres";

/**
 * A location remembers the certificate it served before its latest change and when that change was
 * seen, written by the inventory's own upsert: every source that reports locations (discovery runs,
 * agent file scans, remote vault syncs) raises `changed` alerts through it, and none can bypass it.
 */
export async function up(db: Kysely<unknown>, _engine: Engine): Promise<void> {
  await db.schema.alterTable("inventory_locations").addColumn("previous_cert_id", "bigint").execute();
  await db.schema.alterTable("inventory_locations").addColumn("changed_at", "bigint").execute();
  // The alerts job asks for the changes of the last days: few rows among millions of locations.
  await sql
    .raw(
      "create index inventory_locations_changed on inventory_locations (changed_at) where changed_at is not null",
    )
    .execute(db);
}
