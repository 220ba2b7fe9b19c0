import type { Kysely } from "kysely";

type Engine = "sqlite" | "postgres";

export async function up(db: Kysely<unknown>, engine: Engine): Promise<void> {
  const bytes = engine === "postgres" ? "bytea" : "blob";

  // A renewal whose issuer answers later (ACME) waits on this operation; its outcome settles the claim.
  await db.schema.alterTable("certificate_renewals").addColumn("request_id", "text").execute();

  // Key Vault issuer objects have no field for a directory or challenge method: they live here,
  // beside the issuer, keyed by its lower-cased name.
  await db.schema
    .createTable("acme_issuer_settings")
    .addColumn("vault_id", "text", (c) => c.notNull().references("vaults.id").onDelete("cascade"))
    .addColumn("issuer_key", "text", (c) => c.notNull())
    .addColumn("issuer_name", "text", (c) => c.notNull())
    .addColumn("directory_url", "text", (c) => c.notNull())
    .addColumn("contacts", "text", (c) => c.notNull())
    .addColumn("challenge", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("acme_issuer_settings_pk", ["vault_id", "issuer_key"])
    .execute();

  // One account per issuer and directory; its key is sealed and made once, by whichever node came first.
  await db.schema
    .createTable("acme_accounts")
    .addColumn("vault_id", "text", (c) => c.notNull().references("vaults.id").onDelete("cascade"))
    .addColumn("issuer_key", "text", (c) => c.notNull())
    .addColumn("directory_url", "text", (c) => c.notNull())
    .addColumn("sealed_key", bytes, (c) => c.notNull())
    .addColumn("account_url", "text")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("acme_accounts_pk", ["vault_id", "issuer_key", "directory_url"])
    .execute();

  // An order in flight, by the certificate operation's request id.
  await db.schema
    .createTable("acme_orders")
    .addColumn("request_id", "text", (c) => c.primaryKey())
    .addColumn("vault_id", "text", (c) => c.notNull().references("vaults.id").onDelete("cascade"))
    .addColumn("issuer_name", "text", (c) => c.notNull())
    .addColumn("order_url", "text", (c) => c.notNull())
    .addColumn("presented", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();

  // http-01 answers any node can give: the challenge responder reads them by token.
  await db.schema
    .createTable("acme_challenges")
    .addColumn("token", "text", (c) => c.primaryKey())
    .addColumn("key_authorization", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();

  // RFC 9773 renewal information per issued version: when to renew, and when to ask the CA again.
  await db.schema
    .createTable("acme_renewal_info")
    .addColumn("vault_id", "text", (c) => c.notNull().references("vaults.id").onDelete("cascade"))
    .addColumn("name_key", "text", (c) => c.notNull())
    .addColumn("version", "text", (c) => c.notNull())
    .addColumn("issuer_key", "text", (c) => c.notNull())
    .addColumn("renewal_info_url", "text", (c) => c.notNull())
    .addColumn("renew_at", "bigint")
    .addColumn("next_check_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("acme_renewal_info_pk", ["vault_id", "name_key", "version"])
    .execute();
  await db.schema
    .createIndex("acme_renewal_info_due")
    .on("acme_renewal_info")
    .column("next_check_at")
    .execute();
}
