import type { Kysely } from "kysely";

type Engine = "sqlite" | "postgres";

/**
 * Approved ACME orders and SCEP requests are signed under a lease instead of a one-time flag: a node
 * that died between taking one and storing its certificate left it taken for ever, so the client
 * polled a processing order (or a pending SCEP request) that nobody would sign. Once the lease runs
 * out the next poll takes it again; the certificate is stored in the same transaction that completes
 * the order or request, so however often it is taken it is issued once.
 */
export async function up(db: Kysely<unknown>, _engine: Engine): Promise<void> {
  await db.schema.alterTable("acme_server_orders").addColumn("lease_until", "bigint").execute();
  await db.schema.alterTable("acme_server_orders").dropColumn("approval_released").execute();
  await db.schema.alterTable("scep_transactions").addColumn("lease_until", "bigint").execute();
}
