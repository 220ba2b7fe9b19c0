import type { Kysely } from "kysely";

type Engine = "sqlite" | "postgres";

/**
 * Deployments as the server sees them: each agent sync's state as the agent last reported it, and
 * push targets (imports into another Key Vault) with their own state. A sync row goes with its agent:
 * an agent removed has no syncs left to show or alert on.
 */
export async function up(db: Kysely<unknown>, _engine: Engine): Promise<void> {
  await db.schema
    .createTable("agent_syncs")
    .addColumn("agent_id", "text", (c) => c.notNull().references("discovery_agents.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("source", "text", (c) => c.notNull())
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("error", "text")
    .addColumn("version", "text")
    .addColumn("delivered_version", "text")
    .addColumn("delivered_at", "bigint")
    .addColumn("paths", "text", (c) => c.notNull())
    .addColumn("failed_since", "bigint")
    .addColumn("reported_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("agent_syncs_pk", ["agent_id", "name"])
    .execute();
  // The alerts job asks for the failed ones only.
  await db.schema.createIndex("agent_syncs_state").on("agent_syncs").column("state").execute();

  await db.schema
    .createTable("push_targets")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull().unique())
    .addColumn("vault_name", "text", (c) => c.notNull())
    .addColumn("certificate", "text", (c) => c.notNull())
    // The other vault and its credential: a remote vault, whose secret is already sealed at rest.
    .addColumn("remote_vault_id", "text", (c) =>
      c.notNull().references("remote_vaults.id").onDelete("cascade"),
    )
    .addColumn("target_certificate", "text", (c) => c.notNull())
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("error", "text")
    .addColumn("version", "text")
    .addColumn("delivered_version", "text")
    .addColumn("delivered_at", "bigint")
    .addColumn("failed_since", "bigint")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();
}
