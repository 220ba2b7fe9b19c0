import type { Kysely } from "kysely";

type Engine = "sqlite" | "postgres";

/**
 * The tokens of the attempts that died holding a campaign item (space-separated), kept from the claim
 * that takes the item over until the item's next commit: an HSM key an attempt made is named after
 * its token, so the attempt that takes over finds the keys that were never stored and destroys them
 * instead of leaving them on the token for ever.
 */
export async function up(db: Kysely<unknown>, _engine: Engine): Promise<void> {
  await db.schema.alterTable("campaign_items").addColumn("abandoned_claims", "text").execute();
}
