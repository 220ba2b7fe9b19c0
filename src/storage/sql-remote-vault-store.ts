import type { RemoteVault } from "../domain/remote-vaults/model.js";
import type { RemoteVaultStore } from "../domain/remote-vaults/ports.js";
import type { StorageHandle } from "./database.js";
import type { Database } from "./schema.js";
import { isUniqueViolation, writeTransaction } from "./transactions.js";

type Row = Database["remote_vaults"];

/** Rows per insert statement when a sync's seen set is written; PostgreSQL allows 65,535 parameters. */
const LOCATION_CHUNK = 1000;

const toVault = (r: Row): RemoteVault => ({
  id: r.id,
  name: r.name,
  kind: r.kind,
  url: r.url,
  settings: JSON.parse(r.settings) as Record<string, string>,
  sealedSecret: Buffer.from(r.sealed_secret),
  secretFields: JSON.parse(r.secret_fields) as string[],
  createdAt: new Date(Number(r.created_at)),
  updatedAt: new Date(Number(r.updated_at)),
  lastSync:
    r.last_sync_at === null
      ? undefined
      : {
          at: new Date(Number(r.last_sync_at)),
          status: r.last_sync_status === "ok" ? "ok" : "failed",
          error: r.last_sync_error ?? undefined,
          certificates: Number(r.last_sync_certificates ?? 0),
          gone: Number(r.last_sync_gone ?? 0),
        },
});

export function createSqlRemoteVaultStore(storage: StorageHandle): RemoteVaultStore {
  const { db } = storage;
  return {
    async insert(v) {
      try {
        await db
          .insertInto("remote_vaults")
          .values({
            id: v.id,
            name_key: v.name.toLowerCase(),
            name: v.name,
            kind: v.kind,
            url: v.url,
            settings: JSON.stringify(v.settings),
            sealed_secret: v.sealedSecret,
            secret_fields: JSON.stringify(v.secretFields),
            created_at: v.createdAt.getTime(),
            updated_at: v.updatedAt.getTime(),
            last_sync_at: null,
            last_sync_status: null,
            last_sync_error: null,
            last_sync_certificates: null,
            last_sync_gone: null,
          })
          .execute();
        return true;
      } catch (error) {
        if (isUniqueViolation(error)) return false;
        throw error;
      }
    },

    async get(name) {
      const row = await db
        .selectFrom("remote_vaults")
        .selectAll()
        .where("name_key", "=", name.toLowerCase())
        .executeTakeFirst();
      return row && toVault(row);
    },

    async list() {
      return (await db.selectFrom("remote_vaults").selectAll().orderBy("name_key").execute()).map(toVault);
    },

    async locations(id) {
      const rows = await db
        .selectFrom("remote_vault_locations")
        .select("uri")
        .where("remote_vault_id", "=", id)
        .execute();
      return rows.map((r) => r.uri);
    },

    async recordSync(id, sync, locations) {
      return writeTransaction(storage, async (trx) => {
        const updated = await trx
          .updateTable("remote_vaults")
          .set({
            last_sync_at: sync.at.getTime(),
            last_sync_status: sync.status,
            last_sync_error: sync.error ?? null,
            last_sync_certificates: sync.certificates,
            last_sync_gone: sync.gone,
          })
          .where("id", "=", id)
          .executeTakeFirst();
        if (Number(updated.numUpdatedRows) === 0) return false;
        if (!locations) return true;
        await trx.deleteFrom("remote_vault_locations").where("remote_vault_id", "=", id).execute();
        for (let i = 0; i < locations.length; i += LOCATION_CHUNK) {
          await trx
            .insertInto("remote_vault_locations")
            .values(locations.slice(i, i + LOCATION_CHUNK).map((uri) => ({ remote_vault_id: id, uri })))
            .execute();
        }
        return true;
      });
    },

    async remove(id) {
      return writeTransaction(storage, async (trx) => {
        await trx.deleteFrom("remote_vault_locations").where("remote_vault_id", "=", id).execute();
        const deleted = await trx.deleteFrom("remote_vaults").where("id", "=", id).executeTakeFirst();
        return Number(deleted.numDeletedRows) > 0;
      });
    },
  };
}
