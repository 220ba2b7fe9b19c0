import { type ExpressionBuilder, sql } from "kysely";
import type {
  Agent,
  EndpointResult,
  RunDiff,
  RunStatus,
  ScanRun,
  ScanSchedule,
  ScanSpec,
} from "../domain/discovery/model.js";
import type { DiscoveryStore } from "../domain/discovery/ports.js";
import type { StorageHandle } from "./database.js";
import type { Database } from "./schema.js";
import { toDate, writeTransaction } from "./transactions.js";

type RunRow = Database["discovery_runs"];
type ResultRow = Database["discovery_results"];

/** Each certificate behind its 4-byte length, so one column holds a whole chain. */
export function packChain(chain: readonly Uint8Array[]): Buffer | null {
  if (chain.length === 0) return null;
  return Buffer.concat(
    chain.flatMap((der) => {
      const length = Buffer.alloc(4);
      length.writeUInt32BE(der.length);
      return [length, der];
    }),
  );
}

export function unpackChain(packed: Buffer | null): Uint8Array[] {
  const chain: Uint8Array[] = [];
  if (!packed) return chain;
  const bytes = Buffer.from(packed);
  for (let at = 0; at + 4 <= bytes.length; ) {
    const length = bytes.readUInt32BE(at);
    chain.push(new Uint8Array(bytes.subarray(at + 4, at + 4 + length)));
    at += 4 + length;
  }
  return chain;
}

const toRun = (r: RunRow): ScanRun => ({
  id: r.id,
  name: r.name,
  spec: JSON.parse(r.spec) as ScanSpec,
  agentId: r.agent_id ?? undefined,
  scheduleId: r.schedule_id ?? undefined,
  status: r.status as RunStatus,
  total: Number(r.total),
  done: Number(r.done),
  failed: Number(r.failed),
  createdAt: new Date(Number(r.created_at)),
  startedAt: toDate(r.started_at === null ? null : Number(r.started_at)),
  finishedAt: toDate(r.finished_at === null ? null : Number(r.finished_at)),
  error: r.error ?? undefined,
  diff: r.diff ? (JSON.parse(r.diff) as RunDiff) : undefined,
});

const toResult = (r: ResultRow): EndpointResult => ({
  location: r.location,
  outcome: r.outcome as EndpointResult["outcome"],
  error: r.error ?? undefined,
  chain: unpackChain(r.chain),
  fingerprint: r.fingerprint ?? undefined,
  tlsVersion: r.tls_version ?? undefined,
  cipher: r.cipher ?? undefined,
  detail: r.detail ? (JSON.parse(r.detail) as EndpointResult["detail"]) : undefined,
  seenAt: new Date(Number(r.seen_at)),
});

const toAgent = (r: Database["discovery_agents"]): Agent => ({
  id: r.id,
  name: r.name,
  principalId: r.principal_id,
  hostname: r.hostname ?? undefined,
  version: r.version ?? undefined,
  createdAt: new Date(Number(r.created_at)),
  registeredAt: toDate(r.registered_at === null ? null : Number(r.registered_at)),
  lastSeenAt: toDate(r.last_seen_at === null ? null : Number(r.last_seen_at)),
});

const toSchedule = (r: Database["discovery_schedules"]): ScanSchedule => ({
  id: r.id,
  name: r.name,
  spec: JSON.parse(r.spec) as ScanSpec,
  agentId: r.agent_id ?? undefined,
  intervalMs: Number(r.interval_ms),
  nextRunAt: new Date(Number(r.next_run_at)),
  createdAt: new Date(Number(r.created_at)),
});

const runRow = (run: ScanRun): RunRow => ({
  id: run.id,
  name: run.name,
  kind: run.spec.kind,
  spec: JSON.stringify(run.spec),
  agent_id: run.agentId ?? null,
  schedule_id: run.scheduleId ?? null,
  status: run.status,
  total: run.total,
  done: run.done,
  failed: run.failed,
  lease_owner: null,
  lease_until: null,
  created_at: run.createdAt.getTime(),
  started_at: null,
  finished_at: null,
  error: null,
  diff: null,
});

/** Results are written in slices so one statement stays under both engines' bound-parameter limits. */
const RESULT_SLICE = 50;

export function createSqlDiscoveryStore(storage: StorageHandle): DiscoveryStore {
  const { db } = storage;
  const claimable = (now: Date) => (eb: ExpressionBuilder<Database, "discovery_runs">) =>
    eb.or([
      eb("status", "=", "queued"),
      eb.and([eb("status", "=", "running"), eb("lease_until", "<", now.getTime())]),
    ]);

  return {
    async insertRun(run) {
      await db.insertInto("discovery_runs").values(runRow(run)).execute();
    },

    async findRun(id) {
      const row = await db.selectFrom("discovery_runs").selectAll().where("id", "=", id).executeTakeFirst();
      return row && toRun(row);
    },

    async listRuns({ status, name, limit }) {
      let query = db.selectFrom("discovery_runs").selectAll();
      if (status) query = query.where("status", "=", status);
      if (name) query = query.where("name", "=", name);
      const rows = await query.orderBy("created_at", "desc").orderBy("id", "desc").limit(limit).execute();
      return rows.map(toRun);
    },

    async claimRun(agentId, owner, now, until) {
      for (;;) {
        let query = db
          .selectFrom("discovery_runs")
          .select("id")
          .where(claimable(now))
          .orderBy("created_at")
          .limit(1);
        query =
          agentId === undefined ? query.where("agent_id", "is", null) : query.where("agent_id", "=", agentId);
        const candidate = await query.executeTakeFirst();
        if (!candidate) return undefined;
        // Another node may take the same candidate between the read and here; only one update matches.
        const taken = await db
          .updateTable("discovery_runs")
          .set({
            status: "running",
            lease_owner: owner,
            lease_until: until.getTime(),
            started_at: sql<number>`coalesce(started_at, ${now.getTime()})`,
          })
          .where("id", "=", candidate.id)
          .where(claimable(now))
          .executeTakeFirst();
        if (Number(taken.numUpdatedRows) === 1) {
          const row = await db
            .selectFrom("discovery_runs")
            .selectAll()
            .where("id", "=", candidate.id)
            .executeTakeFirstOrThrow();
          return toRun(row);
        }
      }
    },

    async renewLease(id, owner, until) {
      const result = await db
        .updateTable("discovery_runs")
        .set({ lease_until: until.getTime() })
        .where("id", "=", id)
        .where("status", "=", "running")
        .where("lease_owner", "=", owner)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async saveResults(id, results, total) {
      return writeTransaction(storage, async (trx) => {
        for (let i = 0; i < results.length; i += RESULT_SLICE) {
          const rows = results.slice(i, i + RESULT_SLICE).map(
            (r): ResultRow => ({
              run_id: id,
              location: r.location,
              host: typeof r.detail?.address === "string" ? r.detail.address : null,
              outcome: r.outcome,
              error: r.error?.slice(0, 1000) ?? null,
              fingerprint: r.fingerprint ?? null,
              chain: packChain(r.chain),
              tls_version: r.tlsVersion ?? null,
              cipher: r.cipher ?? null,
              detail: r.detail ? JSON.stringify(r.detail) : null,
              dns_names:
                typeof r.detail?.dnsNames === "string" && r.detail.dnsNames ? r.detail.dnsNames : null,
              seen_at: r.seenAt.getTime(),
            }),
          );
          await trx
            .insertInto("discovery_results")
            .values(rows)
            .onConflict((oc) =>
              oc.columns(["run_id", "location"]).doUpdateSet((eb) => ({
                outcome: eb.ref("excluded.outcome"),
                error: eb.ref("excluded.error"),
                fingerprint: eb.ref("excluded.fingerprint"),
                chain: eb.ref("excluded.chain"),
                tls_version: eb.ref("excluded.tls_version"),
                cipher: eb.ref("excluded.cipher"),
                detail: eb.ref("excluded.detail"),
                dns_names: eb.ref("excluded.dns_names"),
                seen_at: eb.ref("excluded.seen_at"),
              })),
            )
            .execute();
        }
        const counts = await trx
          .selectFrom("discovery_results")
          .select((eb) => [
            eb.fn.countAll<number>().as("done"),
            eb.fn.sum<number>(eb.case().when("outcome", "!=", "ok").then(1).else(0).end()).as("failed"),
          ])
          .where("run_id", "=", id)
          .executeTakeFirstOrThrow();
        const done = Number(counts.done);
        await trx
          .updateTable("discovery_runs")
          .set({ done, failed: Number(counts.failed ?? 0), total: Math.max(total, done) })
          .where("id", "=", id)
          .execute();
        const row = await trx
          .selectFrom("discovery_runs")
          .selectAll()
          .where("id", "=", id)
          .executeTakeFirstOrThrow();
        return toRun(row);
      });
    },

    async doneLocations(id) {
      const rows = await db
        .selectFrom("discovery_results")
        .select("location")
        .where("run_id", "=", id)
        .execute();
      return new Set(rows.map((r) => r.location));
    },

    async results(id, { after, limit, outcome }) {
      let query = db.selectFrom("discovery_results").selectAll().where("run_id", "=", id);
      if (after !== undefined) query = query.where("location", ">", after);
      if (outcome !== undefined) query = query.where("outcome", "=", outcome);
      const rows = await query.orderBy("location").limit(limit).execute();
      return rows.map(toResult);
    },

    async fingerprints(id) {
      const rows = await db
        .selectFrom("discovery_results")
        .select(["location", "fingerprint"])
        .where("run_id", "=", id)
        .where("outcome", "=", "ok")
        .execute();
      return new Map(rows.map((r) => [r.location, r.fingerprint ?? ""]));
    },

    async finish(id, status, at, { diff, error }) {
      const result = await db
        .updateTable("discovery_runs")
        .set({
          status,
          finished_at: at.getTime(),
          lease_owner: null,
          lease_until: null,
          ...(diff && { diff: JSON.stringify(diff) }),
          ...(error !== undefined && { error: error.slice(0, 1000) }),
        })
        .where("id", "=", id)
        .where("status", "in", ["queued", "running"])
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async previousCompleted(name, before, excludeId) {
      const row = await db
        .selectFrom("discovery_runs")
        .selectAll()
        .where("name", "=", name)
        .where("status", "=", "completed")
        .where("id", "!=", excludeId)
        .where("created_at", "<=", before.getTime())
        .orderBy("created_at", "desc")
        .limit(1)
        .executeTakeFirst();
      return row && toRun(row);
    },

    async namesSeenAt(hosts) {
      const names = new Map<string, string[]>();
      for (let i = 0; i < hosts.length; i += 500) {
        const rows = await db
          .selectFrom("discovery_results")
          .select(["host", "dns_names"])
          .distinct()
          .where("host", "in", hosts.slice(i, i + 500))
          .where("dns_names", "is not", null)
          .execute();
        for (const { host, dns_names } of rows) {
          if (!host || !dns_names) continue;
          const known = new Set([...(names.get(host) ?? []), ...dns_names.split(",")]);
          names.set(host, [...known].filter((n) => !n.startsWith("*.")).sort());
        }
      }
      return names;
    },

    async insertSchedule(s) {
      await db
        .insertInto("discovery_schedules")
        .values({
          id: s.id,
          name: s.name,
          spec: JSON.stringify(s.spec),
          agent_id: s.agentId ?? null,
          interval_ms: s.intervalMs,
          next_run_at: s.nextRunAt.getTime(),
          created_at: s.createdAt.getTime(),
        })
        .execute();
    },

    async listSchedules() {
      return (await db.selectFrom("discovery_schedules").selectAll().orderBy("name").execute()).map(
        toSchedule,
      );
    },

    async removeSchedule(name) {
      const result = await db.deleteFrom("discovery_schedules").where("name", "=", name).executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },

    async fireSchedule(schedule, run, next) {
      return writeTransaction(storage, async (trx) => {
        const moved = await trx
          .updateTable("discovery_schedules")
          .set({ next_run_at: next.getTime() })
          .where("id", "=", schedule.id)
          .where("next_run_at", "=", schedule.nextRunAt.getTime())
          .executeTakeFirst();
        if (Number(moved.numUpdatedRows) !== 1) return false;
        await trx.insertInto("discovery_runs").values(runRow(run)).execute();
        return true;
      });
    },

    async insertAgent(agent) {
      await db
        .insertInto("discovery_agents")
        .values({
          id: agent.id,
          name: agent.name,
          principal_id: agent.principalId,
          hostname: null,
          version: null,
          created_at: agent.createdAt.getTime(),
          registered_at: null,
          last_seen_at: null,
        })
        .execute();
    },

    async listAgents() {
      return (await db.selectFrom("discovery_agents").selectAll().orderBy("name").execute()).map(toAgent);
    },

    async findAgent(idOrName) {
      const row = await db
        .selectFrom("discovery_agents")
        .selectAll()
        .where((eb) => eb.or([eb("id", "=", idOrName), eb("name", "=", idOrName)]))
        .executeTakeFirst();
      return row && toAgent(row);
    },

    async findAgentByPrincipal(principalId) {
      const row = await db
        .selectFrom("discovery_agents")
        .selectAll()
        .where("principal_id", "=", principalId)
        .executeTakeFirst();
      return row && toAgent(row);
    },

    async updateAgent(agent) {
      await db
        .updateTable("discovery_agents")
        .set({
          hostname: agent.hostname ?? null,
          version: agent.version ?? null,
          registered_at: agent.registeredAt?.getTime() ?? null,
          last_seen_at: agent.lastSeenAt?.getTime() ?? null,
        })
        .where("id", "=", agent.id)
        .execute();
    },

    async removeAgent(id) {
      await db.deleteFrom("discovery_agents").where("id", "=", id).execute();
    },
  };
}
