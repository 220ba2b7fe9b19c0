import type { Kysely, Selectable } from "kysely";
import { DomainError } from "../domain/errors.js";
import type { Page, PageRequest } from "../domain/paging.js";
import type { DeletedSecret, SecretVersion, StoredSecretVersion } from "../domain/secrets/model.js";
import type { SecretStore } from "../domain/secrets/ports.js";
import type { StorageHandle } from "./database.js";
import type { Database } from "./schema.js";
import { fromBool, fromDate, toBool, toDate, writeTransaction } from "./transactions.js";

type JoinedRow = Selectable<Database["secret_versions"]> & {
  name: string;
  deleted_at: number | null;
  scheduled_purge_at: number | null;
};

const key = (name: string) => name.toLowerCase();

function toStored(r: JoinedRow): StoredSecretVersion {
  return {
    vaultId: r.vault_id,
    name: r.name,
    version: r.version,
    contentType: r.content_type ?? undefined,
    tags: JSON.parse(r.tags) as Record<string, string>,
    enabled: toBool(r.enabled),
    notBefore: toDate(r.not_before),
    expiresAt: toDate(r.expires_at),
    managed: toBool(r.managed),
    keyId: r.key_id ?? undefined,
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
    sealedValue: Buffer.from(r.sealed_value),
  };
}

function toVersion(r: JoinedRow): SecretVersion {
  const { sealedValue: _sealed, ...version } = toStored(r);
  return version;
}

function toDeleted(r: JoinedRow): DeletedSecret {
  return {
    latest: toVersion(r),
    deletedAt: new Date(r.deleted_at ?? 0),
    scheduledPurgeAt: new Date(r.scheduled_purge_at ?? 0),
  };
}

function versionRow(v: StoredSecretVersion): Omit<Database["secret_versions"], "seq"> {
  return {
    vault_id: v.vaultId,
    name_key: key(v.name),
    version: v.version,
    sealed_value: v.sealedValue,
    content_type: v.contentType ?? null,
    tags: JSON.stringify(v.tags),
    enabled: fromBool(v.enabled),
    not_before: fromDate(v.notBefore),
    expires_at: fromDate(v.expiresAt),
    managed: fromBool(v.managed),
    key_id: v.keyId ?? null,
    created_at: v.createdAt.getTime(),
    updated_at: v.updatedAt.getTime(),
  };
}

function page<T>(rows: T[], limit: number, cursor: (last: T) => string): Page<T> {
  if (rows.length <= limit) return { items: rows };
  const items = rows.slice(0, limit);
  return { items, next: cursor(items[items.length - 1] as T) };
}

const deletedButRecoverable = (name: string) =>
  new DomainError(
    "Conflict",
    `Secret ${name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.`,
    { reason: "ObjectIsDeletedButRecoverable" },
  );

export function createSqlSecretStore(storage: StorageHandle): SecretStore {
  const { db } = storage;

  const joined = (q: Kysely<Database>) =>
    q
      .selectFrom("secrets as s")
      .innerJoin("secret_versions as v", (j) =>
        j.onRef("v.vault_id", "=", "s.vault_id").onRef("v.name_key", "=", "s.name_key"),
      )
      .selectAll("v")
      .select(["s.name", "s.deleted_at", "s.scheduled_purge_at"]);

  const latestOf = (q: Kysely<Database>, vaultId: string) =>
    joined(q).where("s.vault_id", "=", vaultId).whereRef("v.version", "=", "s.latest_version");

  return {
    async addVersion(version) {
      await writeTransaction(storage, async (trx) => {
        const result = await trx
          .insertInto("secrets")
          .values({
            vault_id: version.vaultId,
            name_key: key(version.name),
            name: version.name,
            latest_version: version.version,
            deleted_at: null,
            scheduled_purge_at: null,
            created_at: version.createdAt.getTime(),
          })
          .onConflict((oc) =>
            oc
              .columns(["vault_id", "name_key"])
              .doUpdateSet({ latest_version: version.version })
              .where("secrets.deleted_at", "is", null),
          )
          .executeTakeFirst();
        if (Number(result.numInsertedOrUpdatedRows ?? 0) === 0) throw deletedButRecoverable(version.name);
        await trx.insertInto("secret_versions").values(versionRow(version)).execute();
      });
    },

    async findLatest(vaultId, name) {
      const row = await latestOf(db, vaultId)
        .where("s.name_key", "=", key(name))
        .where("s.deleted_at", "is", null)
        .executeTakeFirst();
      return row && toStored(row);
    },

    async findVersion(vaultId, name, version) {
      const row = await joined(db)
        .where("s.vault_id", "=", vaultId)
        .where("s.name_key", "=", key(name))
        .where("s.deleted_at", "is", null)
        .where("v.version", "=", version)
        .executeTakeFirst();
      return row && toStored(row);
    },

    async updateVersion(v) {
      await db
        .updateTable("secret_versions")
        .set({
          content_type: v.contentType ?? null,
          tags: JSON.stringify(v.tags),
          enabled: fromBool(v.enabled),
          not_before: fromDate(v.notBefore),
          expires_at: fromDate(v.expiresAt),
          updated_at: v.updatedAt.getTime(),
        })
        .where("vault_id", "=", v.vaultId)
        .where("name_key", "=", key(v.name))
        .where("version", "=", v.version)
        .execute();
    },

    async listLatest(vaultId, { after, limit }: PageRequest) {
      let q = latestOf(db, vaultId).where("s.deleted_at", "is", null);
      if (after !== undefined) q = q.where("s.name_key", ">", after);
      const rows = await q
        .orderBy("s.name_key")
        .limit(limit + 1)
        .execute();
      const p = page(rows, limit, (last) => last.name_key);
      return { ...p, items: p.items.map(toVersion) };
    },

    async listVersions(vaultId, name, { after, limit }) {
      let q = joined(db)
        .where("s.vault_id", "=", vaultId)
        .where("s.name_key", "=", key(name))
        .where("s.deleted_at", "is", null);
      if (after !== undefined) q = q.where("v.seq", ">", Number(after));
      const rows = await q
        .orderBy("v.seq")
        .limit(limit + 1)
        .execute();
      const p = page(rows, limit, (last) => String(last.seq));
      return { ...p, items: p.items.map(toVersion) };
    },

    async softDelete(vaultId, name, deletedAt, scheduledPurgeAt) {
      const result = await db
        .updateTable("secrets")
        .set({ deleted_at: deletedAt.getTime(), scheduled_purge_at: scheduledPurgeAt.getTime() })
        .where("vault_id", "=", vaultId)
        .where("name_key", "=", key(name))
        .where("deleted_at", "is", null)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) return undefined;
      return this.findDeleted(vaultId, name);
    },

    async findDeleted(vaultId, name) {
      const row = await latestOf(db, vaultId)
        .where("s.name_key", "=", key(name))
        .where("s.deleted_at", "is not", null)
        .executeTakeFirst();
      return row && toDeleted(row);
    },

    async listDeleted(vaultId, { after, limit }) {
      let q = latestOf(db, vaultId).where("s.deleted_at", "is not", null);
      if (after !== undefined) q = q.where("s.name_key", ">", after);
      const rows = await q
        .orderBy("s.name_key")
        .limit(limit + 1)
        .execute();
      const p = page(rows, limit, (last) => last.name_key);
      return { ...p, items: p.items.map(toDeleted) };
    },

    async recover(vaultId, name) {
      const result = await db
        .updateTable("secrets")
        .set({ deleted_at: null, scheduled_purge_at: null })
        .where("vault_id", "=", vaultId)
        .where("name_key", "=", key(name))
        .where("deleted_at", "is not", null)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) return undefined;
      const latest = await this.findLatest(vaultId, name);
      if (!latest) return undefined;
      const { sealedValue: _sealed, ...version } = latest;
      return version;
    },

    async purge(vaultId, name) {
      return writeTransaction(storage, async (trx) => {
        const result = await trx
          .deleteFrom("secrets")
          .where("vault_id", "=", vaultId)
          .where("name_key", "=", key(name))
          .where("deleted_at", "is not", null)
          .executeTakeFirst();
        if (Number(result.numDeletedRows) === 0) return false;
        await trx
          .deleteFrom("secret_versions")
          .where("vault_id", "=", vaultId)
          .where("name_key", "=", key(name))
          .execute();
        return true;
      });
    },

    async allVersions(vaultId, name) {
      const rows = await joined(db)
        .where("s.vault_id", "=", vaultId)
        .where("s.name_key", "=", key(name))
        .where("s.deleted_at", "is", null)
        .orderBy("v.seq")
        .execute();
      return rows.map(toStored);
    },

    async restore(versions) {
      const first = versions[0];
      const last = versions[versions.length - 1];
      if (!first || !last) return;
      await writeTransaction(storage, async (trx) => {
        const existing = await trx
          .selectFrom("secrets")
          .select("deleted_at")
          .where("vault_id", "=", first.vaultId)
          .where("name_key", "=", key(first.name))
          .executeTakeFirst();
        if (existing) {
          if (existing.deleted_at !== null) throw deletedButRecoverable(first.name);
          throw new DomainError(
            "Conflict",
            `A secret named ${first.name} already exists in this vault; restore into another vault or delete and purge it first`,
            { reason: "SecretAlreadyExists" },
          );
        }
        await trx
          .insertInto("secrets")
          .values({
            vault_id: first.vaultId,
            name_key: key(first.name),
            name: first.name,
            latest_version: last.version,
            deleted_at: null,
            scheduled_purge_at: null,
            created_at: first.createdAt.getTime(),
          })
          .execute();
        await trx.insertInto("secret_versions").values(versions.map(versionRow)).execute();
      });
    },
  };
}
