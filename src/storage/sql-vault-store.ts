import { DomainError } from "../domain/errors.js";
import type { Vault, VaultSku } from "../domain/vaults/model.js";
import type { VaultStore } from "../domain/vaults/ports.js";
import type { StorageHandle } from "./database.js";
import type { Database } from "./schema.js";
import { insertEvents } from "./sql-event-store.js";
import { fromBool, isUniqueViolation, toBool, writeTransaction } from "./transactions.js";

type Row = Database["vaults"];

const toVault = (r: Row): Vault => ({
  id: r.id,
  name: r.name,
  sku: r.sku as VaultSku,
  softDeleteRetentionDays: r.soft_delete_retention_days,
  purgeProtection: toBool(r.purge_protection),
  requireCompleteChain: toBool(r.require_complete_chain),
  nearExpiryDays: r.near_expiry_days,
  createdAt: new Date(r.created_at),
  updatedAt: new Date(r.updated_at),
});

const toRow = (v: Vault): Row => ({
  id: v.id,
  name: v.name,
  sku: v.sku,
  soft_delete_retention_days: v.softDeleteRetentionDays,
  purge_protection: fromBool(v.purgeProtection),
  require_complete_chain: fromBool(v.requireCompleteChain),
  near_expiry_days: v.nearExpiryDays,
  created_at: v.createdAt.getTime(),
  updated_at: v.updatedAt.getTime(),
});

export function createSqlVaultStore(storage: StorageHandle): VaultStore {
  const { db } = storage;
  return {
    async insert(vault) {
      try {
        await writeTransaction(storage, (trx) => trx.insertInto("vaults").values(toRow(vault)).execute());
      } catch (error) {
        if (isUniqueViolation(error)) {
          throw new DomainError("Conflict", `A vault named ${vault.name} already exists`, { cause: error });
        }
        throw error;
      }
    },
    async update(vault) {
      const { id: _id, created_at: _created, ...changes } = toRow(vault);
      await writeTransaction(storage, (trx) =>
        trx.updateTable("vaults").set(changes).where("id", "=", vault.id).execute(),
      );
    },
    async findByName(name) {
      const row = await db
        .selectFrom("vaults")
        .selectAll()
        .where("name", "=", name.toLowerCase())
        .executeTakeFirst();
      return row && toVault(row);
    },
    async list() {
      return (await db.selectFrom("vaults").selectAll().orderBy("name").execute()).map(toVault);
    },
    async remove(id, events) {
      await writeTransaction(storage, async (trx) => {
        for (const table of [
          "certificate_operations",
          "certificate_issuers",
          "certificate_contacts",
        ] as const) {
          await trx.deleteFrom(table).where("vault_id", "=", id).execute();
        }
        await trx.deleteFrom("object_versions").where("vault_id", "=", id).execute();
        await trx.deleteFrom("objects").where("vault_id", "=", id).execute();
        // Assignments name the vault, not its id: a vault made later under the same name must not
        // inherit them.
        const vault = await trx.selectFrom("vaults").select("name").where("id", "=", id).executeTakeFirst();
        if (vault) {
          await trx
            .deleteFrom("role_assignments")
            .where((eb) =>
              eb.or([
                eb("scope", "=", `/vaults/${vault.name}`),
                eb("scope", "like", `/vaults/${vault.name}/%`),
              ]),
            )
            .execute();
        }
        await trx.deleteFrom("access_policies").where("vault_id", "=", id).execute();
        await trx.deleteFrom("vault_access").where("vault_id", "=", id).execute();
        await trx.deleteFrom("vaults").where("id", "=", id).execute();
        await insertEvents(trx, events);
      });
    },
  };
}
