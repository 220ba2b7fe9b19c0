import type { Kysely } from "kysely";

type Engine = "sqlite" | "postgres";

export async function up(db: Kysely<unknown>, _engine: Engine): Promise<void> {
  // Votes ride in the row as JSON: a request has a handful, always read and decided together.
  await db.schema
    .createTable("approval_requests")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("entry", "text", (c) => c.notNull())
    .addColumn("scope", "text", (c) => c.notNull())
    .addColumn("requester", "text", (c) => c.notNull())
    .addColumn("summary", "text", (c) => c.notNull())
    .addColumn("because", "text", (c) => c.notNull())
    .addColumn("required", "integer", (c) => c.notNull())
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("votes", "text", (c) => c.notNull())
    .addColumn("payload", "text", (c) => c.notNull())
    .addColumn("outcome", "text")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("decided_at", "bigint")
    .execute();
  await db.schema
    .createIndex("approval_requests_pending")
    .on("approval_requests")
    .columns(["state", "expires_at"])
    .execute();
  await db.schema
    .createIndex("approval_requests_created")
    .on("approval_requests")
    .column("created_at")
    .execute();
}
