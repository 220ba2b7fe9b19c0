import type { Kysely } from "kysely";

type Engine = "sqlite" | "postgres";

export async function up(db: Kysely<unknown>, _engine: Engine): Promise<void> {
  // A CA sign held for approval is signed by whichever poll first sees it approved; the serial it got
  // is written here in the transaction that stores the certificate, and a second signer's write,
  // which finds it set, rolls its certificate back.
  await db.schema.alterTable("approval_requests").addColumn("issued", "text").execute();
}
