import type { Insertable, Kysely, Selectable } from "kysely";
import { DomainError } from "../domain/errors.js";
import type { Collection, DeletedObject, VersionedObject } from "../domain/objects/model.js";
import { deletedButRecoverable, managedByCertificate } from "../domain/objects/object-lifecycle.js";
import type { VersionedStore } from "../domain/objects/ports.js";
import type { Page } from "../domain/paging.js";
import type { StorageHandle } from "./database.js";
import { boundRows, precompiled, slot, slotRows } from "./precompiled.js";
import { createReadCache } from "./read-cache.js";
import type { Database } from "./schema.js";
import { insertEvents } from "./sql-event-store.js";
import { VALUES_ROWS_PER_STATEMENT } from "./sql-values.js";
import { fromBool, fromDate, toBool, toDate, writeTransaction } from "./transactions.js";

/** How one collection's versions map to the shared tables. */
export interface ObjectCodec<V extends VersionedObject, S extends V> {
  /** "Secret", "Key": used in error messages. */
  noun: string;
  /** The collection's own fields, stored as JSON. */
  properties(version: V): Record<string, unknown>;
  payload(stored: S): Buffer;
  fromRow(common: VersionedObject, properties: Record<string, unknown>): V;
  withPayload(version: V, payload: Buffer): S;
}

type JoinedRow = Selectable<Database["object_versions"]> & {
  name: string;
  deleted_at: number | null;
  scheduled_purge_at: number | null;
};

const nameKey = (name: string) => name.toLowerCase();

function page<T>(rows: T[], limit: number, cursor: (last: T) => string): Page<T> {
  if (rows.length <= limit) return { items: rows };
  const items = rows.slice(0, limit);
  return { items, next: cursor(items[items.length - 1] as T) };
}

function toVersionRow<V extends VersionedObject, S extends V>(
  collection: Collection,
  codec: ObjectCodec<V, S>,
  v: S,
): Omit<Database["object_versions"], "seq"> {
  return {
    vault_id: v.vaultId,
    collection,
    name_key: nameKey(v.name),
    version: v.version,
    payload: codec.payload(v),
    properties: JSON.stringify(codec.properties(v)),
    tags: JSON.stringify(v.tags),
    enabled: fromBool(v.enabled),
    not_before: fromDate(v.notBefore),
    expires_at: fromDate(v.expiresAt),
    managed: fromBool(v.managed),
    created_at: v.createdAt.getTime(),
    updated_at: v.updatedAt.getTime(),
  };
}

/** A version to insert with its collection and codec, and the object's policy (JSON) when it has one. */
export interface VersionInsert {
  collection: Collection;
  codec: ObjectCodec<VersionedObject, VersionedObject>;
  version: VersionedObject;
  policy?: string;
}

const OBJECT_COLUMNS = [
  "vault_id",
  "collection",
  "name_key",
  "name",
  "latest_version",
  "deleted_at",
  "scheduled_purge_at",
  "policy",
  "created_at",
] as const;

const VERSION_COLUMNS = [
  "vault_id",
  "collection",
  "name_key",
  "version",
  "payload",
  "properties",
  "tags",
  "enabled",
  "not_before",
  "expires_at",
  "managed",
  "created_at",
  "updated_at",
] as const;

/**
 * Writes new versions inside the caller's transaction, with statements compiled once per shape
 * (number of rows, backing or not) for the database `db` speaks to.
 */
export function createVersionWriter(db: Kysely<Database>) {
  const upserts = new Map<string, ReturnType<typeof precompiled<unknown, string>>>();
  const inserts = new Map<number, ReturnType<typeof precompiled<unknown, string>>>();

  /**
   * The objects' rows: created, or moved on to the new latest version while live. A backing key or
   * secret (of a certificate) moves on only over a key or secret whose latest version is managed
   * too: one that no certificate manages belongs to someone else.
   */
  function upsertObjects(rows: number, backing: boolean) {
    const key = `${rows}:${backing}`;
    let query = upserts.get(key);
    if (!query) {
      query = precompiled(
        db
          .insertInto("objects")
          .values(slotRows(OBJECT_COLUMNS, rows) as unknown as Insertable<Database["objects"]>[])
          .onConflict((oc) =>
            oc
              .columns(["vault_id", "collection", "name_key"])
              .doUpdateSet((eb) => ({
                latest_version: eb.ref("excluded.latest_version"),
                policy: eb.fn.coalesce(eb.ref("excluded.policy"), eb.ref("objects.policy")),
              }))
              .where((eb) => {
                const live = eb("objects.deleted_at", "is", null);
                if (!backing) return live;
                const managedLatest = eb.exists(
                  eb
                    .selectFrom("object_versions as v")
                    .select("v.version")
                    .whereRef("v.vault_id", "=", "objects.vault_id")
                    .whereRef("v.collection", "=", "objects.collection")
                    .whereRef("v.name_key", "=", "objects.name_key")
                    .whereRef("v.version", "=", "objects.latest_version")
                    .where("v.managed", "=", fromBool(true)),
                );
                return eb.and([live, eb.or([eb("objects.collection", "=", "certificates"), managedLatest])]);
              }),
          ),
      );
      upserts.set(key, query);
    }
    return query;
  }

  function insertRows(rows: number) {
    let query = inserts.get(rows);
    if (!query) {
      query = precompiled(
        db
          .insertInto("object_versions")
          .values(slotRows(VERSION_COLUMNS, rows) as unknown as Insertable<Database["object_versions"]>[]),
      );
      inserts.set(rows, query);
    }
    return query;
  }

  /**
   * Adds versions and makes each its object's latest, creating objects on first use; Conflict while
   * a deleted object of a name awaits recovery or purge. With `backing` (a certificate's key and
   * secret), also Conflict over a key or secret of that name that no certificate manages.
   */
  async function insertVersions(
    trx: Kysely<Database>,
    entries: VersionInsert[],
    { backing = false }: { backing?: boolean } = {},
  ): Promise<void> {
    const objects = entries.map(({ collection, version, policy }) => ({
      vault_id: version.vaultId,
      collection,
      name_key: nameKey(version.name),
      name: version.name,
      latest_version: version.version,
      deleted_at: null,
      scheduled_purge_at: null,
      policy: policy ?? null,
      created_at: version.createdAt.getTime(),
    }));
    const result = await upsertObjects(entries.length, backing)(trx, boundRows(objects));
    if (Number(result.numAffectedRows ?? 0) < entries.length) {
      if (backing) await refuseUnmanagedBacking(trx, entries);
      await refuseDeleted(trx, entries);
      // Neither, read now: on PostgreSQL the upsert's check saw the rows as they were when it began,
      // before another transaction's commit that it waited for (two versions of one certificate
      // stored at once). Nothing is written; the request can be made again.
      const first = entries[0];
      throw new DomainError(
        "Conflict",
        `${first?.codec.noun ?? "Object"} ${first?.version.name ?? ""} was changed by another request while this one was being stored; try again`,
      );
    }
    const versions = entries.map(({ collection, codec, version }) =>
      toVersionRow(collection, codec, version),
    );
    await insertRows(entries.length)(trx, boundRows(versions));
  }

  return { insertVersions };
}

/** Conflict over the first of the entries' names (several certificates' in a batch) that an unmanaged key or secret has. */
async function refuseUnmanagedBacking(trx: Kysely<Database>, entries: VersionInsert[]): Promise<void> {
  const byVault = new Map<string, string[]>();
  for (const { version } of entries)
    byVault.set(version.vaultId, [...(byVault.get(version.vaultId) ?? []), version.name]);
  const clashes = new Map<string, DomainError>();
  for (const [vaultId, names] of byVault)
    for (const [name, clash] of await unmanagedNamesakes(trx, vaultId, names))
      clashes.set(`${vaultId}/${name}`, clash);
  for (const { version } of entries) {
    const clash = clashes.get(`${version.vaultId}/${nameKey(version.name)}`);
    if (clash) throw clash;
  }
}

/**
 * The Conflict of each of `names` (by name key) that a key or secret no certificate manages has: a
 * certificate's backing objects would take it over. Set-based, for a batch of certificates.
 */
export async function unmanagedNamesakes(
  q: Kysely<Database>,
  vaultId: string,
  names: readonly string[],
): Promise<Map<string, DomainError>> {
  const byKey = new Map(names.map((name) => [nameKey(name), name]));
  const keys = [...byKey.keys()];
  const clashes = new Map<string, DomainError>();
  for (let i = 0; i < keys.length; i += VALUES_ROWS_PER_STATEMENT) {
    const rows = await objectsWithLatest(q)
      .select(["o.collection", "o.name_key"])
      .where("o.vault_id", "=", vaultId)
      .where("o.name_key", "in", keys.slice(i, i + VALUES_ROWS_PER_STATEMENT))
      .where("o.collection", "in", ["keys", "secrets"])
      .where("v.managed", "=", fromBool(false))
      .orderBy("o.collection")
      .execute();
    for (const { collection, name_key } of rows) {
      if (clashes.has(name_key)) continue;
      clashes.set(
        name_key,
        new DomainError(
          "Conflict",
          `A ${collection === "keys" ? "key" : "secret"} named ${byKey.get(name_key)} already exists and is not managed by a certificate; choose another certificate name`,
        ),
      );
    }
  }
  return clashes;
}

/**
 * Conflict when a key or secret named `name` exists that no certificate manages: a certificate's
 * backing objects would take it over.
 */
export async function refuseUnmanagedNamesake(
  q: Kysely<Database>,
  vaultId: string,
  name: string,
): Promise<void> {
  const [clash] = (await unmanagedNamesakes(q, vaultId, [name])).values();
  if (clash) throw clash;
}

/** Conflict for the first entry whose object is deleted, as when they were inserted one by one. */
async function refuseDeleted(trx: Kysely<Database>, entries: VersionInsert[]): Promise<void> {
  const deleted = await trx
    .selectFrom("objects")
    .select(["collection", "vault_id", "name_key"])
    .where("deleted_at", "is not", null)
    .where((eb) =>
      eb.or(
        entries.map(({ collection, version }) =>
          eb.and([
            eb("vault_id", "=", version.vaultId),
            eb("collection", "=", collection),
            eb("name_key", "=", nameKey(version.name)),
          ]),
        ),
      ),
    )
    .execute();
  const entry = entries.find(({ collection, version }) =>
    deleted.some(
      (d) =>
        d.collection === collection && d.vault_id === version.vaultId && d.name_key === nameKey(version.name),
    ),
  );
  if (entry) throw deletedButRecoverable(entry.codec.noun, entry.version.name);
}

/** Replaces the mutable fields (everything but the payload) of one version, in the caller's transaction if any. */
export async function updateVersionRow<V extends VersionedObject, S extends V>(
  q: Kysely<Database>,
  collection: Collection,
  codec: ObjectCodec<V, S>,
  v: V,
): Promise<void> {
  await q
    .updateTable("object_versions")
    .set({
      properties: JSON.stringify(codec.properties(v)),
      tags: JSON.stringify(v.tags),
      enabled: fromBool(v.enabled),
      not_before: fromDate(v.notBefore),
      expires_at: fromDate(v.expiresAt),
      updated_at: v.updatedAt.getTime(),
    })
    .where("vault_id", "=", v.vaultId)
    .where("collection", "=", collection)
    .where("name_key", "=", nameKey(v.name))
    .where("version", "=", v.version)
    .execute();
}

/** Every object joined with its latest version, as `o` and `v`: what the sweeps and checks read. */
export const objectsWithLatest = (q: Kysely<Database>) =>
  q
    .selectFrom("objects as o")
    .innerJoin("object_versions as v", (j) =>
      j
        .onRef("v.vault_id", "=", "o.vault_id")
        .onRef("v.collection", "=", "o.collection")
        .onRef("v.name_key", "=", "o.name_key")
        .onRef("v.version", "=", "o.latest_version"),
    );

/** The one SQL implementation of versioned objects with soft delete, over both engines. */
export function createSqlObjectStore<V extends VersionedObject, S extends V>(
  storage: StorageHandle,
  collection: Collection,
  codec: ObjectCodec<V, S>,
): VersionedStore<V, S> {
  const { db } = storage;

  const toVersion = (r: JoinedRow): V =>
    codec.fromRow(
      {
        vaultId: r.vault_id,
        name: r.name,
        version: r.version,
        tags: JSON.parse(r.tags) as Record<string, string>,
        enabled: toBool(r.enabled),
        notBefore: toDate(r.not_before),
        expiresAt: toDate(r.expires_at),
        managed: toBool(r.managed),
        createdAt: new Date(r.created_at),
        updatedAt: new Date(r.updated_at),
      },
      JSON.parse(r.properties) as Record<string, unknown>,
    );

  // Only lookups of one version carry the payload; listings never do.
  const toStored = (r: JoinedRow): S => codec.withPayload(toVersion(r), Buffer.from(r.payload));

  const toDeleted = (r: JoinedRow): DeletedObject<V> => ({
    latest: toVersion(r),
    deletedAt: new Date(r.deleted_at ?? 0),
    scheduledPurgeAt: new Date(r.scheduled_purge_at ?? 0),
  });

  const versionRow = (v: S) => toVersionRow(collection, codec, v);

  const joined = (q: Kysely<Database>, vaultId: string) =>
    q
      .selectFrom("objects as o")
      .innerJoin("object_versions as v", (j) =>
        j
          .onRef("v.vault_id", "=", "o.vault_id")
          .onRef("v.collection", "=", "o.collection")
          .onRef("v.name_key", "=", "o.name_key"),
      )
      .selectAll("v")
      .select(["o.name", "o.deleted_at", "o.scheduled_purge_at"])
      .where("o.vault_id", "=", vaultId)
      .where("o.collection", "=", collection);

  const latestOf = (q: Kysely<Database>, vaultId: string) =>
    joined(q, vaultId).whereRef("v.version", "=", "o.latest_version");

  // The lookups every data-plane read and key operation makes are compiled once, not per request.
  type Lookup = ReturnType<typeof precompiled<JoinedRow, "vaultId" | "nameKey" | "version">>;
  const findLatestQuery: Lookup = precompiled(
    latestOf(db, slot("vaultId")).where("o.name_key", "=", slot("nameKey")).where("o.deleted_at", "is", null),
  );
  const findVersionQuery: Lookup = precompiled(
    joined(db, slot("vaultId"))
      .where("o.name_key", "=", slot("nameKey"))
      .where("o.deleted_at", "is", null)
      .where("v.version", "=", slot("version")),
  );
  const { insertVersions } = createVersionWriter(db);

  // Every data-plane read and key operation starts with one of these lookups.
  const cache = storage.changeStamp && createReadCache<S>(storage.changeStamp);

  async function cachedLookup(
    query: Lookup,
    vaultId: string,
    key: string,
    version: string,
  ): Promise<S | undefined> {
    const cacheKey = `${vaultId}\u0000${key}\u0000${version}`;
    const hit = cache?.get(cacheKey);
    if (hit) return hit;
    const stamp = cache?.stamp();
    const row = (await query(db, { vaultId, nameKey: key, version })).rows[0];
    if (!row) return undefined;
    const stored = toStored(row);
    if (cache && stamp !== undefined) cache.set(cacheKey, stamp, stored);
    return stored;
  }

  // Asked by every key create or import and every secret set, inside its transaction.
  const managedVersionQuery = precompiled<{ version: string }, "vaultId" | "nameKey">(
    db
      .selectFrom("object_versions")
      .select("version")
      .where("vault_id", "=", slot("vaultId"))
      .where("collection", "=", collection)
      .where("name_key", "=", slot("nameKey"))
      .where("managed", "=", fromBool(true))
      .limit(1),
  );
  const hasManagedVersion = async (trx: Kysely<Database>, vaultId: string, name: string) =>
    (await managedVersionQuery(trx, { vaultId, nameKey: nameKey(name) })).rows.length > 0;

  const objectRow = (q: Kysely<Database>, vaultId: string, name: string) =>
    q
      .updateTable("objects")
      .where("vault_id", "=", vaultId)
      .where("collection", "=", collection)
      .where("name_key", "=", nameKey(name));

  const store: VersionedStore<V, S> = {
    async addVersion(version, events) {
      await writeTransaction(storage, async (trx) => {
        await insertVersions(trx, [{ collection, codec: codec as VersionInsert["codec"], version }]);
        // The service refused a managed name before it began; a certificate may have taken the name
        // since. Checked after the upsert, which on PostgreSQL waits for that certificate's commit.
        if (!version.managed && (await hasManagedVersion(trx, version.vaultId, version.name))) {
          throw managedByCertificate(codec.noun, version.name);
        }
        await insertEvents(trx, events);
      });
    },

    findLatest: (vaultId, name) => cachedLookup(findLatestQuery, vaultId, nameKey(name), ""),

    findVersion: (vaultId, name, version) => cachedLookup(findVersionQuery, vaultId, nameKey(name), version),

    async updateVersion(v) {
      await writeTransaction(storage, (trx) => updateVersionRow(trx, collection, codec, v));
    },

    async listLatest(vaultId, { after, limit }) {
      let q = latestOf(db, vaultId).where("o.deleted_at", "is", null);
      if (after !== undefined) q = q.where("o.name_key", ">", after);
      const rows = await q
        .orderBy("o.name_key")
        .limit(limit + 1)
        .execute();
      const p = page(rows, limit, (last) => last.name_key);
      return { ...p, items: p.items.map(toVersion) };
    },

    async listVersions(vaultId, name, { after, limit }) {
      let q = joined(db, vaultId).where("o.name_key", "=", nameKey(name)).where("o.deleted_at", "is", null);
      if (after !== undefined) q = q.where("v.seq", ">", Number(after));
      const rows = await q
        .orderBy("v.seq")
        .limit(limit + 1)
        .execute();
      const p = page(rows, limit, (last) => String(last.seq));
      return { ...p, items: p.items.map(toVersion) };
    },

    async softDelete(vaultId, name, deletedAt, scheduledPurgeAt) {
      const result = await writeTransaction(storage, (trx) =>
        objectRow(trx, vaultId, name)
          .set({ deleted_at: deletedAt.getTime(), scheduled_purge_at: scheduledPurgeAt.getTime() })
          .where("deleted_at", "is", null)
          .executeTakeFirst(),
      );
      if (Number(result.numUpdatedRows) === 0) return undefined;
      return store.findDeleted(vaultId, name);
    },

    async findDeleted(vaultId, name) {
      const row = await latestOf(db, vaultId)
        .where("o.name_key", "=", nameKey(name))
        .where("o.deleted_at", "is not", null)
        .executeTakeFirst();
      return row && toDeleted(row);
    },

    async listDeleted(vaultId, { after, limit }) {
      let q = latestOf(db, vaultId).where("o.deleted_at", "is not", null);
      if (after !== undefined) q = q.where("o.name_key", ">", after);
      const rows = await q
        .orderBy("o.name_key")
        .limit(limit + 1)
        .execute();
      const p = page(rows, limit, (last) => last.name_key);
      return { ...p, items: p.items.map(toDeleted) };
    },

    async recover(vaultId, name) {
      const result = await writeTransaction(storage, (trx) =>
        objectRow(trx, vaultId, name)
          .set({ deleted_at: null, scheduled_purge_at: null })
          .where("deleted_at", "is not", null)
          .executeTakeFirst(),
      );
      if (Number(result.numUpdatedRows) === 0) return undefined;
      const row = await latestOf(db, vaultId).where("o.name_key", "=", nameKey(name)).executeTakeFirst();
      return row && toVersion(row);
    },

    async purgeVersions(vaultId, name) {
      return writeTransaction(storage, async (trx) => {
        // Read before the delete: it cascades to the versions, and HSM keys need their payloads
        // (the token objects' ids) to be destroyed.
        const payloads = (
          await trx
            .selectFrom("object_versions")
            .where("vault_id", "=", vaultId)
            .where("collection", "=", collection)
            .where("name_key", "=", nameKey(name))
            .select("payload")
            .execute()
        ).map((r) => Buffer.from(r.payload));
        const deleted = await trx
          .deleteFrom("objects")
          .where("vault_id", "=", vaultId)
          .where("collection", "=", collection)
          .where("name_key", "=", nameKey(name))
          .where("deleted_at", "is not", null)
          .executeTakeFirst();
        if (Number(deleted.numDeletedRows) === 0) return undefined;
        await trx
          .deleteFrom("object_versions")
          .where("vault_id", "=", vaultId)
          .where("collection", "=", collection)
          .where("name_key", "=", nameKey(name))
          .execute();
        return payloads;
      });
    },

    async allVersions(vaultId, name) {
      const rows = await joined(db, vaultId)
        .where("o.name_key", "=", nameKey(name))
        .where("o.deleted_at", "is", null)
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
          .selectFrom("objects")
          .select("deleted_at")
          .where("vault_id", "=", first.vaultId)
          .where("collection", "=", collection)
          .where("name_key", "=", nameKey(first.name))
          .executeTakeFirst();
        if (existing) {
          if (existing.deleted_at !== null) throw deletedButRecoverable(codec.noun, first.name);
          throw new DomainError(
            "Conflict",
            `A ${codec.noun.toLowerCase()} named ${first.name} already exists in this vault; restore into another vault or delete and purge it first`,
            { reason: `${codec.noun}AlreadyExists` },
          );
        }
        await trx
          .insertInto("objects")
          .values({
            vault_id: first.vaultId,
            collection,
            name_key: nameKey(first.name),
            name: first.name,
            latest_version: last.version,
            deleted_at: null,
            scheduled_purge_at: null,
            policy: null,
            created_at: first.createdAt.getTime(),
          })
          .execute();
        await trx.insertInto("object_versions").values(versions.map(versionRow)).execute();
      });
    },
  };
  return store;
}

/** Reads and writes the policy attached to a live object (a key's rotation policy, a certificate's policy). */
export function createSqlObjectPolicies(storage: StorageHandle, collection: Collection) {
  const { db } = storage;
  const policyQuery = precompiled<{ policy: string | null }, "vaultId" | "nameKey">(
    db
      .selectFrom("objects")
      .select("policy")
      .where("vault_id", "=", slot("vaultId"))
      .where("collection", "=", collection)
      .where("name_key", "=", slot("nameKey"))
      .where("deleted_at", "is", null),
  );
  // A certificate's policy is read with every certificate GET; the cache keeps its JSON text (each
  // caller parses its own copy), and `{ policy: null }` for an object without one.
  const cache = storage.changeStamp && createReadCache<{ policy: string | null }>(storage.changeStamp);
  return {
    async get<P>(vaultId: string, name: string): Promise<P | undefined> {
      const key = `${vaultId}\u0000${nameKey(name)}`;
      let found = cache?.get(key);
      if (!found) {
        const stamp = cache?.stamp();
        const fresh = (await policyQuery(db, { vaultId, nameKey: nameKey(name) })).rows[0];
        if (!fresh) return undefined;
        found = { policy: fresh.policy };
        if (cache && stamp !== undefined) cache.set(key, stamp, found);
      }
      return found.policy ? (JSON.parse(found.policy) as P) : undefined;
    },
    /** False when there is no live object of that name. */
    async put(vaultId: string, name: string, policy: unknown): Promise<boolean> {
      const result = await writeTransaction(storage, (trx) =>
        trx
          .updateTable("objects")
          .set({ policy: JSON.stringify(policy) })
          .where("vault_id", "=", vaultId)
          .where("collection", "=", collection)
          .where("name_key", "=", nameKey(name))
          .where("deleted_at", "is", null)
          .executeTakeFirst(),
      );
      return Number(result.numUpdatedRows) > 0;
    },
  };
}
