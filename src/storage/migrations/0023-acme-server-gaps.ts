import { type Kysely, sql } from "kysely";

type Engine = "sqlite" | "postgres";

/**
 * Issue 21's gaps: orders remember the validity asked for (RFC 8555 §7.4 notBefore/notAfter), and,
 * while an approval holds them, the CSR to sign once approved; authorizations may serve several
 * orders (reuse, as Boulder does); EST profiles name the key type their csrattrs ask for; SCEP
 * requests held for approval name their approval request.
 */
export async function up(db: Kysely<unknown>, engine: Engine): Promise<void> {
  const bytes = engine === "postgres" ? "bytea" : "blob";
  for (const [name, type] of [
    ["not_before", "bigint"],
    ["not_after", "bigint"],
    ["csr", bytes],
    ["approval_id", "text"],
  ] as const)
    await db.schema.alterTable("acme_server_orders").addColumn(name, type).execute();
  // Set once, by the node that signs an approved order: two nodes polling it never both sign.
  await db.schema
    .alterTable("acme_server_orders")
    .addColumn("approval_released", "integer", (c) => c.notNull().defaultTo(0))
    .execute();

  // Which orders an authorization serves: the order that made it and every order that reused it,
  // so that its validation settles all of them.
  await db.schema
    .createTable("acme_server_order_authzs")
    .addColumn("order_id", "text", (c) => c.notNull().references("acme_server_orders.id").onDelete("cascade"))
    .addColumn("authz_id", "text", (c) => c.notNull().references("acme_server_authzs.id").onDelete("cascade"))
    .addPrimaryKeyConstraint("acme_server_order_authzs_pk", ["order_id", "authz_id"])
    .execute();
  await db.schema
    .createIndex("acme_server_order_authzs_authz")
    .on("acme_server_order_authzs")
    .column("authz_id")
    .execute();
  await sql`insert into acme_server_order_authzs (order_id, authz_id) select order_id, id from acme_server_authzs`.execute(
    db,
  );
  await db.schema
    .createIndex("acme_server_authzs_reuse")
    .on("acme_server_authzs")
    .columns(["account_id", "identifier_type", "identifier_value", "status"])
    .execute();

  await db.schema.alterTable("enrollment_profiles").addColumn("key_type", "text").execute();
  await db.schema.alterTable("scep_transactions").addColumn("approval_id", "text").execute();
}
