import type { Kysely } from "kysely";

type Engine = "sqlite" | "postgres";

export async function up(db: Kysely<unknown>, _engine: Engine): Promise<void> {
  // A create held for approval names its approval request; approval_released records that it was
  // approved and handed to its issuer, so an issuer that works in steps is asked once, not resumed
  // before it was asked.
  await db.schema.alterTable("certificate_operations").addColumn("approval_id", "text").execute();
  await db.schema
    .alterTable("certificate_operations")
    .addColumn("approval_released", "integer", (c) => c.notNull().defaultTo(0))
    .execute();
}
