import type { Kysely } from "kysely";

type Engine = "sqlite" | "postgres";

export async function up(db: Kysely<unknown>, _engine: Engine): Promise<void> {
  const principal = "principals.id";
  // A local user is a principal of kind user with a unique sign-in name; a user who signs in only
  // through single sign-on has no password hash.
  await db.schema
    .createTable("local_users")
    .addColumn("principal_id", "text", (c) => c.primaryKey().references(principal).onDelete("cascade"))
    .addColumn("username", "text", (c) => c.notNull().unique())
    .addColumn("password_hash", "text")
    .addColumn("password_changed_at", "bigint")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();
  // Only a keyed digest of the session id is kept: a copy of the table signs nobody in.
  await db.schema
    .createTable("ui_sessions")
    .addColumn("id_digest", "text", (c) => c.primaryKey())
    .addColumn("principal_id", "text", (c) => c.notNull().references(principal).onDelete("cascade"))
    .addColumn("method", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("last_seen_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("ui_sessions_principal").on("ui_sessions").column("principal_id").execute();
  // Failed sign-ins per user name and per client address, shared by every node so that spreading
  // guesses over several nodes gains nothing.
  await db.schema
    .createTable("sign_in_failures")
    .addColumn("key", "text", (c) => c.primaryKey())
    .addColumn("failures", "integer", (c) => c.notNull())
    .addColumn("first_failure_at", "bigint", (c) => c.notNull())
    .addColumn("locked_until", "bigint")
    .execute();
}
