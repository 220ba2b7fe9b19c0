import type { AgentSync, DeploymentState, PushTarget } from "../domain/deployments/model.js";
import type { DeploymentStore } from "../domain/deployments/ports.js";
import type { StorageHandle } from "./database.js";
import type { Database } from "./schema.js";
import { fromDate, isUniqueViolation, toDate, writeTransaction } from "./transactions.js";

const toSync = (r: Database["agent_syncs"]): AgentSync => ({
  agentId: r.agent_id,
  name: r.name,
  source: r.source,
  state: r.state as DeploymentState,
  error: r.error ?? undefined,
  version: r.version ?? undefined,
  deliveredVersion: r.delivered_version ?? undefined,
  deliveredAt: toDate(r.delivered_at === null ? null : Number(r.delivered_at)),
  paths: JSON.parse(r.paths) as string[],
  failedSince: toDate(r.failed_since === null ? null : Number(r.failed_since)),
  reportedAt: new Date(Number(r.reported_at)),
});

const toTarget = (r: Database["push_targets"] & { remote_vault_name: string | null }): PushTarget => ({
  id: r.id,
  remoteVaultName: r.remote_vault_name ?? undefined,
  name: r.name,
  vaultName: r.vault_name,
  certificate: r.certificate,
  remoteVaultId: r.remote_vault_id,
  targetCertificate: r.target_certificate,
  state: r.state as DeploymentState,
  error: r.error ?? undefined,
  version: r.version ?? undefined,
  deliveredVersion: r.delivered_version ?? undefined,
  deliveredAt: toDate(r.delivered_at === null ? null : Number(r.delivered_at)),
  failedSince: toDate(r.failed_since === null ? null : Number(r.failed_since)),
  createdAt: new Date(Number(r.created_at)),
  updatedAt: new Date(Number(r.updated_at)),
});

/** Agent syncs and push targets, on either engine. */
export function createSqlDeploymentStore(storage: StorageHandle): DeploymentStore {
  const { db } = storage;
  const targets = () =>
    db
      .selectFrom("push_targets as p")
      .leftJoin("remote_vaults as r", "r.id", "p.remote_vault_id")
      .selectAll("p")
      .select("r.name as remote_vault_name");
  return {
    async findSync(agentId, name) {
      const row = await db
        .selectFrom("agent_syncs")
        .selectAll()
        .where("agent_id", "=", agentId)
        .where("name", "=", name)
        .executeTakeFirst();
      return row && toSync(row);
    },

    async putSync(s) {
      const row = {
        source: s.source,
        state: s.state,
        error: s.error ?? null,
        version: s.version ?? null,
        delivered_version: s.deliveredVersion ?? null,
        delivered_at: fromDate(s.deliveredAt),
        paths: JSON.stringify(s.paths),
        failed_since: fromDate(s.failedSince),
        reported_at: s.reportedAt.getTime(),
      };
      await writeTransaction(storage, (trx) =>
        trx
          .insertInto("agent_syncs")
          .values({ agent_id: s.agentId, name: s.name, ...row })
          .onConflict((oc) => oc.columns(["agent_id", "name"]).doUpdateSet(row))
          .execute(),
      );
    },

    async syncs(agentId) {
      let query = db.selectFrom("agent_syncs").selectAll().orderBy("agent_id").orderBy("name");
      if (agentId !== undefined) query = query.where("agent_id", "=", agentId);
      return (await query.execute()).map(toSync);
    },

    async insertPushTarget(t) {
      try {
        await writeTransaction(storage, (trx) =>
          trx
            .insertInto("push_targets")
            .values({
              id: t.id,
              name: t.name,
              vault_name: t.vaultName,
              certificate: t.certificate,
              remote_vault_id: t.remoteVaultId,
              target_certificate: t.targetCertificate,
              state: t.state,
              error: t.error ?? null,
              version: t.version ?? null,
              delivered_version: t.deliveredVersion ?? null,
              delivered_at: fromDate(t.deliveredAt),
              failed_since: fromDate(t.failedSince),
              created_at: t.createdAt.getTime(),
              updated_at: t.updatedAt.getTime(),
            })
            .execute(),
        );
        return true;
      } catch (error) {
        if (isUniqueViolation(error)) return false;
        throw error;
      }
    },

    async findPushTarget(idOrName) {
      const row = await targets()
        .where((eb) => eb.or([eb("p.id", "=", idOrName), eb("p.name", "=", idOrName)]))
        .executeTakeFirst();
      return row && toTarget(row);
    },

    async pushTargets() {
      return (await targets().orderBy("p.name").execute()).map(toTarget);
    },

    async setPushState(id, s, at) {
      await writeTransaction(storage, (trx) =>
        trx
          .updateTable("push_targets")
          .set({
            state: s.state,
            error: s.error ?? null,
            version: s.version ?? null,
            delivered_version: s.deliveredVersion ?? null,
            delivered_at: fromDate(s.deliveredAt),
            failed_since: fromDate(s.failedSince),
            updated_at: at.getTime(),
          })
          .where("id", "=", id)
          .execute(),
      );
    },

    async removePushTarget(id) {
      const result = await writeTransaction(storage, (trx) =>
        trx.deleteFrom("push_targets").where("id", "=", id).executeTakeFirst(),
      );
      return Number(result.numDeletedRows) > 0;
    },
  };
}
