import type { Kysely } from "kysely";

type Engine = "sqlite" | "postgres";

export async function up(db: Kysely<unknown>, engine: Engine): Promise<void> {
  const bytes = engine === "postgres" ? "bytea" : "blob";

  // EST and SCEP front ends of the private CA, one row per label and protocol. A SCEP profile carries
  // its RA certificate and the RA key sealed under the master key (clients encrypt requests to it).
  await db.schema
    .createTable("enrollment_profiles")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("label_key", "text", (c) => c.notNull())
    .addColumn("label", "text", (c) => c.notNull())
    .addColumn("ca_id", "text", (c) => c.notNull().references("ca_authorities.id"))
    .addColumn("validity_days", "integer", (c) => c.notNull())
    .addColumn("ekus", "text", (c) => c.notNull())
    .addColumn("principals", "text", (c) => c.notNull())
    .addColumn("approval", "integer", (c) => c.notNull())
    .addColumn("ra_certificate", bytes)
    .addColumn("ra_key_sealed", bytes)
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addUniqueConstraint("enrollment_profiles_label", ["kind", "label_key"])
    .execute();

  // One-time SCEP challenge passwords: only their SHA-256 is kept; `used_at` set consumes one.
  await db.schema
    .createTable("scep_challenges")
    .addColumn("hash", "text", (c) => c.primaryKey())
    .addColumn("profile_id", "text", (c) =>
      c.notNull().references("enrollment_profiles.id").onDelete("cascade"),
    )
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("used_at", "bigint")
    .execute();

  // SCEP transactions (RFC 8894 §3.2.1.1 transactionID), so that CertPoll and a retried PKCSReq find
  // what became of a request on any node.
  await db.schema
    .createTable("scep_transactions")
    .addColumn("profile_id", "text", (c) =>
      c.notNull().references("enrollment_profiles.id").onDelete("cascade"),
    )
    .addColumn("transaction_id", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("requester", "text", (c) => c.notNull())
    .addColumn("csr", bytes, (c) => c.notNull())
    .addColumn("ca_id", "text")
    .addColumn("serial", "text")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("scep_transactions_pk", ["profile_id", "transaction_id"])
    .execute();
}
