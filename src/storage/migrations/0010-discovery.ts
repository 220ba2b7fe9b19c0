import type { Kysely } from "kysely";

type Engine = "sqlite" | "postgres";

export async function up(db: Kysely<unknown>, engine: Engine): Promise<void> {
  const bytes = engine === "postgres" ? "bytea" : "blob";

  // An agent is a principal holding only the agent role; dropping the agent drops its principal too.
  await db.schema
    .createTable("discovery_agents")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull().unique())
    .addColumn("principal_id", "text", (c) => c.notNull().unique())
    .addColumn("hostname", "text")
    .addColumn("version", "text")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("registered_at", "bigint")
    .addColumn("last_seen_at", "bigint")
    .execute();

  await db.schema
    .createTable("discovery_schedules")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull().unique())
    .addColumn("spec", "text", (c) => c.notNull())
    .addColumn("agent_id", "text", (c) => c.references("discovery_agents.id").onDelete("cascade"))
    .addColumn("interval_ms", "bigint", (c) => c.notNull())
    .addColumn("next_run_at", "bigint", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();

  // A run is leased to the node (or agent) scanning it; a lease that runs out lets another take over
  // and skip the endpoints that already have a result.
  await db.schema
    .createTable("discovery_runs")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("spec", "text", (c) => c.notNull())
    .addColumn("agent_id", "text", (c) => c.references("discovery_agents.id").onDelete("set null"))
    .addColumn("schedule_id", "text")
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("total", "integer", (c) => c.notNull())
    .addColumn("done", "integer", (c) => c.notNull())
    .addColumn("failed", "integer", (c) => c.notNull())
    .addColumn("lease_owner", "text")
    .addColumn("lease_until", "bigint")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("started_at", "bigint")
    .addColumn("finished_at", "bigint")
    .addColumn("error", "text")
    .addColumn("diff", "text")
    .execute();
  await db.schema
    .createIndex("discovery_runs_status")
    .on("discovery_runs")
    .columns(["status", "created_at"])
    .execute();
  await db.schema
    .createIndex("discovery_runs_name")
    .on("discovery_runs")
    .columns(["name", "created_at"])
    .execute();

  // One row per endpoint (or file location) of a run: the chain as presented, or why there was none.
  await db.schema
    .createTable("discovery_results")
    .addColumn("run_id", "text", (c) => c.notNull().references("discovery_runs.id").onDelete("cascade"))
    .addColumn("location", "text", (c) => c.notNull())
    .addColumn("host", "text")
    .addColumn("outcome", "text", (c) => c.notNull())
    .addColumn("error", "text")
    .addColumn("fingerprint", "text")
    .addColumn("chain", bytes)
    .addColumn("tls_version", "text")
    .addColumn("cipher", "text")
    .addColumn("detail", "text")
    .addColumn("dns_names", "text")
    .addColumn("seen_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("discovery_results_pk", ["run_id", "location"])
    .execute();
  await db.schema.createIndex("discovery_results_host").on("discovery_results").columns(["host"]).execute();
}
