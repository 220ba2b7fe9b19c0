import type { Kysely } from "kysely";

type Engine = "sqlite" | "postgres";

export async function up(db: Kysely<unknown>, _engine: Engine): Promise<void> {
  // Re-issuance campaigns: the inventory query and options as JSON, so a campaign re-read on any
  // node does the same thing.
  await db.schema
    .createTable("campaigns")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull().unique())
    .addColumn("query", "text", (c) => c.notNull())
    .addColumn("options", "text", (c) => c.notNull())
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("started_at", "bigint")
    .addColumn("finished_at", "bigint")
    .execute();

  // One row per selected certificate: its plan, its claim (claimed_at, first_claimed_at) and its
  // outcome. The claim is a conditional update of this row, so each item is in one node's hands.
  await db.schema
    .createTable("campaign_items")
    .addColumn("campaign_id", "text", (c) => c.notNull().references("campaigns.id").onDelete("cascade"))
    .addColumn("fingerprint", "text", (c) => c.notNull())
    .addColumn("subject", "text", (c) => c.notNull())
    .addColumn("action", "text", (c) => c.notNull())
    .addColumn("vault_name", "text")
    .addColumn("certificate_name", "text")
    .addColumn("from_version", "text")
    .addColumn("locations", "text", (c) => c.notNull())
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("attempts", "integer", (c) => c.notNull())
    .addColumn("claimed_at", "bigint")
    .addColumn("first_claimed_at", "bigint")
    .addColumn("to_version", "text")
    .addColumn("revocation", "text")
    .addColumn("error", "text")
    .addColumn("done_at", "bigint")
    .addPrimaryKeyConstraint("campaign_items_pk", ["campaign_id", "fingerprint"])
    .execute();
  await db.schema
    .createIndex("campaign_items_state")
    .on("campaign_items")
    .columns(["campaign_id", "state", "fingerprint"])
    .execute();
}
