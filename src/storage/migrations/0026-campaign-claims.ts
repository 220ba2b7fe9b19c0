import type { Kysely } from "kysely";

type Engine = "sqlite" | "postgres";

/**
 * A campaign item's claim carries the token of the attempt that holds it. The batch that settles
 * the item writes only while its token is still the item's, so an attempt whose lease ran out and
 * whose items another node (or this one after a kill -9) took again can no longer store anything:
 * each certificate is replaced once.
 */
export async function up(db: Kysely<unknown>, _engine: Engine): Promise<void> {
  await db.schema.alterTable("campaign_items").addColumn("claim_token", "text").execute();
}
