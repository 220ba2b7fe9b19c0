import type { Kysely } from "kysely";

type Engine = "sqlite" | "postgres";

/**
 * Campaign items are claimed in the order the vaults keep their certificates (vault, then name)
 * rather than by fingerprint, which is random: a batch's new versions then land on neighbouring
 * pages of the objects' and versions' indexes instead of a page of each per certificate. At 100,000
 * certificates on SQLite that took a campaign from 149-165 s to 96 s (BENCHMARKS.md, campaign).
 */
export async function up(db: Kysely<unknown>, _engine: Engine): Promise<void> {
  await db.schema.dropIndex("campaign_items_state").execute();
  await db.schema
    .createIndex("campaign_items_state")
    .on("campaign_items")
    .columns(["campaign_id", "state", "vault_name", "certificate_name", "fingerprint"])
    .execute();
}
