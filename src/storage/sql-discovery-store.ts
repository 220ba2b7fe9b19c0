import { hash } from "node:crypto";
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
import { createDerMap } from "../domain/inventory/der-map.js";
import type { StorageHandle } from "./database.js";
import { compiledPerCount, precompiledRows, slotRows } from "./precompiled.js";
import type { Database } from "./schema.js";
import { toDate, writeTransaction } from "./transactions.js";

type RunRow = Database["discovery_runs"];
type ResultRow = Database["discovery_results"];

/** The 32-byte SHA-256 of each certificate, leaf first: how a result names its chain. */
const DIGEST = 32;

/** Each chain's SHA-256 names, each distinct certificate of a batch hashed once. */
function chainIds(chains: readonly (readonly Uint8Array[])[]): Buffer[][] {
  const digests = createDerMap<Buffer>();
  return chains.map((chain) => chain.map((der) => digests.valueOf(der, () => hash("sha256", der, "buffer"))));
}

function splitIds(packed: Uint8Array | null): string[] {
  if (!packed) return [];
  const bytes = Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength);
  const ids: string[] = [];
  for (let at = 0; at + DIGEST <= bytes.length; at += DIGEST)
    ids.push(bytes.toString("hex", at, at + DIGEST));
  return ids;
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

const toResult = (r: ResultRow, ders: ReadonlyMap<string, Uint8Array>): EndpointResult => ({
  location: r.location,
  outcome: r.outcome as EndpointResult["outcome"],
  error: r.error ?? undefined,
  chain: splitIds(r.chain_sha256).map((id) => {
    const der = ders.get(id);
    if (!der) throw new Error(`discovery certificate ${id} of ${r.location} is missing`);
    return der;
  }),
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

/**
 * Results are written in slices so one statement stays under both engines' bound-parameter limits
 * (12 columns: 6,000 parameters, under SQLite's 32,766 and PostgreSQL's 65,535); a scan's batch
 * (scan-runner.ts) fits in one.
 */
const RESULT_SLICE = 500;
/** Certificates read or written per statement. */
const CERTIFICATE_SLICE = 500;
const RESULT_COLUMNS = [
  "run_id",
  "location",
  "host",
  "outcome",
  "error",
  "fingerprint",
  "chain_sha256",
  "tls_version",
  "cipher",
  "detail",
  "dns_names",
  "seen_at",
] as const satisfies readonly (keyof ResultRow)[];
/** What a second result for the same location replaces (a run resumed after a takeover). */
const REPLACED = RESULT_COLUMNS.filter((c) => c !== "run_id" && c !== "location" && c !== "host");

function resultRow(runId: string, r: EndpointResult, ids: readonly Buffer[]): ResultRow {
  return {
    run_id: runId,
    location: r.location,
    host: typeof r.detail?.address === "string" ? r.detail.address : null,
    outcome: r.outcome,
    error: r.error?.slice(0, 1000) ?? null,
    fingerprint: r.fingerprint ?? null,
    chain_sha256: ids.length > 0 ? Buffer.concat(ids) : null,
    tls_version: r.tlsVersion ?? null,
    cipher: r.cipher ?? null,
    detail: r.detail ? JSON.stringify(r.detail) : null,
    dns_names: typeof r.detail?.dnsNames === "string" && r.detail.dnsNames ? r.detail.dnsNames : null,
    seen_at: r.seenAt.getTime(),
  };
}

export function createSqlDiscoveryStore(storage: StorageHandle): DiscoveryStore {
  const { db } = storage;
  // Compiled once per slice size: building a 200-row insert through Kysely cost as much as running it.
  const insertResults = compiledPerCount((rows) =>
    precompiledRows(
      db
        .insertInto("discovery_results")
        .values(slotRows(RESULT_COLUMNS, rows) as unknown as ResultRow[])
        .onConflict((oc) =>
          oc
            .columns(["run_id", "location"])
            .doUpdateSet((eb) => Object.fromEntries(REPLACED.map((c) => [c, eb.ref(`excluded.${c}`)]))),
        ),
      RESULT_COLUMNS,
    ),
  );
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

    async saveResults(id, given, total) {
      // One row per location, the last result given winning: a statement may not upsert one row twice.
      const results = [...new Map(given.map((r) => [r.location, r])).values()];
      const ids = chainIds(results.map((r) => r.chain));
      // Each distinct certificate once, in one order, so two PostgreSQL transactions writing the
      // same certificates wait for each other instead of deadlocking.
      const certificates = new Map<string, { sha256: Buffer; der: Buffer }>();
      for (const [i, r] of results.entries()) {
        for (const [j, der] of r.chain.entries()) {
          const sha256 = (ids[i] as Buffer[])[j] as Buffer;
          const key = sha256.toString("hex");
          if (!certificates.has(key)) certificates.set(key, { sha256, der: Buffer.from(der) });
        }
      }
      const distinct = [...certificates.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, c]) => c);
      return writeTransaction(storage, async (trx) => {
        for (let i = 0; i < distinct.length; i += CERTIFICATE_SLICE) {
          await trx
            .insertInto("discovery_certificates")
            .values(distinct.slice(i, i + CERTIFICATE_SLICE))
            .onConflict((oc) => oc.column("sha256").doNothing())
            .execute();
        }
        for (let i = 0; i < results.length; i += RESULT_SLICE) {
          const rows = results
            .slice(i, i + RESULT_SLICE)
            .map((r, j) => resultRow(id, r, ids[i + j] as Buffer[]));
          await insertResults(rows.length)(trx, rows);
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
      const wanted = [...new Set(rows.flatMap((r) => splitIds(r.chain_sha256)))];
      const ders = new Map<string, Uint8Array>();
      for (let i = 0; i < wanted.length; i += CERTIFICATE_SLICE) {
        const found = await db
          .selectFrom("discovery_certificates")
          .select(["sha256", "der"])
          .where(
            "sha256",
            "in",
            wanted.slice(i, i + CERTIFICATE_SLICE).map((hex) => Buffer.from(hex, "hex")),
          )
          .execute();
        for (const c of found) ders.set(Buffer.from(c.sha256).toString("hex"), new Uint8Array(c.der));
      }
      return rows.map((r) => toResult(r, ders));
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
