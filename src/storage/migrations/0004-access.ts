import type { Kysely } from "kysely";

type Engine = "sqlite" | "postgres";

export async function up(db: Kysely<unknown>, engine: Engine): Promise<void> {
  const bytes = engine === "postgres" ? "bytea" : "blob";
  const principal = "principals.id";

  await db.schema
    .createTable("client_certificates")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("principal_id", "text", (c) => c.notNull().references(principal).onDelete("cascade"))
    .addColumn("thumbprint_sha1", "text", (c) => c.notNull())
    .addColumn("thumbprint_sha256", "text", (c) => c.notNull())
    .addColumn("der", bytes, (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("client_certificates_principal")
    .on("client_certificates")
    .column("principal_id")
    .execute();

  await db.schema
    .createTable("federated_credentials")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("principal_id", "text", (c) => c.notNull().references(principal).onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("issuer", "text", (c) => c.notNull())
    .addColumn("subject", "text", (c) => c.notNull())
    .addColumn("audiences", "text", (c) => c.notNull())
    .addColumn("jwks", "text")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addUniqueConstraint("federated_credentials_name", ["principal_id", "name"])
    .execute();

  await db.schema
    .createTable("group_members")
    .addColumn("group_id", "text", (c) => c.notNull().references(principal).onDelete("cascade"))
    .addColumn("member_id", "text", (c) => c.notNull().references(principal).onDelete("cascade"))
    .addPrimaryKeyConstraint("group_members_pk", ["group_id", "member_id"])
    .execute();
  await db.schema.createIndex("group_members_member").on("group_members").column("member_id").execute();

  // Custom roles only: the built-in ones are code, so an upgrade can correct them.
  await db.schema
    .createTable("role_definitions")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name_key", "text", (c) => c.notNull().unique())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("description", "text", (c) => c.notNull())
    .addColumn("actions", "text", (c) => c.notNull())
    .addColumn("not_actions", "text", (c) => c.notNull())
    .addColumn("data_actions", "text", (c) => c.notNull())
    .addColumn("not_data_actions", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("role_assignments")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("principal_id", "text", (c) => c.notNull().references(principal).onDelete("cascade"))
    .addColumn("role_id", "text", (c) => c.notNull())
    .addColumn("scope", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addUniqueConstraint("role_assignments_unique", ["principal_id", "role_id", "scope"])
    .execute();
  await db.schema.createIndex("role_assignments_role").on("role_assignments").column("role_id").execute();

  await db.schema
    .createTable("access_policies")
    .addColumn("vault_id", "text", (c) => c.notNull().references("vaults.id").onDelete("cascade"))
    .addColumn("principal_id", "text", (c) => c.notNull().references(principal).onDelete("cascade"))
    .addColumn("keys", "text", (c) => c.notNull())
    .addColumn("secrets", "text", (c) => c.notNull())
    .addColumn("certificates", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("access_policies_pk", ["vault_id", "principal_id"])
    .execute();
  await db.schema
    .createIndex("access_policies_principal")
    .on("access_policies")
    .column("principal_id")
    .execute();

  await db.schema
    .createTable("vault_access")
    .addColumn("vault_id", "text", (c) => c.primaryKey().references("vaults.id").onDelete("cascade"))
    .addColumn("enable_rbac_authorization", "integer", (c) => c.notNull())
    .addColumn("ip_rules", "text", (c) => c.notNull())
    .execute();
}
