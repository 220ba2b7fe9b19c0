import type { Kysely } from "kysely";

type Engine = "sqlite" | "postgres";

/** The ACME server (issue 21): profiles, EAB keys, nonces, accounts, orders, authorizations, challenges. */
export async function up(db: Kysely<unknown>, engine: Engine): Promise<void> {
  const bytes = engine === "postgres" ? "bytea" : "blob";

  await db.schema
    .createTable("acme_server_profiles")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name_key", "text", (c) => c.notNull().unique())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("ca_id", "text", (c) => c.notNull())
    .addColumn("settings", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();

  // The HMAC key is sealed; account_id is set once, when an account binds the key.
  await db.schema
    .createTable("acme_server_eab_keys")
    .addColumn("key_id", "text", (c) => c.primaryKey())
    .addColumn("profile_id", "text", (c) =>
      c.notNull().references("acme_server_profiles.id").onDelete("cascade"),
    )
    .addColumn("sealed_hmac_key", bytes, (c) => c.notNull())
    .addColumn("account_id", "text")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();

  // Nonces are HMAC-stamped when handed out (no row); a row marks one used until it would expire anyway.
  await db.schema
    .createTable("acme_server_nonces")
    .addColumn("nonce", "text", (c) => c.primaryKey())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("acme_server_accounts")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("profile_id", "text", (c) =>
      c.notNull().references("acme_server_profiles.id").onDelete("cascade"),
    )
    .addColumn("thumbprint", "text", (c) => c.notNull())
    .addColumn("jwk", "text", (c) => c.notNull())
    .addColumn("contacts", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("eab_key_id", "text")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addUniqueConstraint("acme_server_accounts_key", ["profile_id", "thumbprint"])
    .execute();

  await db.schema
    .createTable("acme_server_orders")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("profile_id", "text", (c) =>
      c.notNull().references("acme_server_profiles.id").onDelete("cascade"),
    )
    .addColumn("account_id", "text", (c) =>
      c.notNull().references("acme_server_accounts.id").onDelete("cascade"),
    )
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("identifiers", "text", (c) => c.notNull())
    .addColumn("authz_ids", "text", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("error", "text")
    .addColumn("certificate_serial", "text")
    .addColumn("replaces", "text")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("acme_server_orders_account")
    .on("acme_server_orders")
    .columns(["account_id", "created_at"])
    .execute();
  await db.schema
    .createIndex("acme_server_orders_serial")
    .on("acme_server_orders")
    .column("certificate_serial")
    .execute();

  await db.schema
    .createTable("acme_server_authzs")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("order_id", "text", (c) => c.notNull().references("acme_server_orders.id").onDelete("cascade"))
    .addColumn("profile_id", "text", (c) => c.notNull())
    .addColumn("account_id", "text", (c) => c.notNull())
    .addColumn("identifier_type", "text", (c) => c.notNull())
    .addColumn("identifier_value", "text", (c) => c.notNull())
    .addColumn("wildcard", "integer", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("acme_server_authzs_order")
    .on("acme_server_authzs")
    .column("order_id")
    .execute();
  await db.schema
    .createIndex("acme_server_authzs_identifier")
    .on("acme_server_authzs")
    .columns(["profile_id", "identifier_value", "created_at"])
    .execute();

  // lease_until: the node validating a processing challenge holds it until then.
  await db.schema
    .createTable("acme_server_challenges")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("authz_id", "text", (c) => c.notNull().references("acme_server_authzs.id").onDelete("cascade"))
    .addColumn("type", "text", (c) => c.notNull())
    .addColumn("token", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("validated_at", "bigint")
    .addColumn("error", "text")
    .addColumn("lease_until", "bigint")
    .execute();
  await db.schema
    .createIndex("acme_server_challenges_authz")
    .on("acme_server_challenges")
    .column("authz_id")
    .execute();
  await db.schema
    .createIndex("acme_server_challenges_status")
    .on("acme_server_challenges")
    .column("status")
    .execute();
}
