import type { CertificatePolicy } from "../domain/certificates/model.js";
import type {
  DuePurge,
  ExpiringObject,
  LeaseStore,
  NoticeStore,
  RenewalCandidate,
  RenewalStore,
  RotationCandidate,
} from "../domain/jobs/ports.js";
import type { RotationPolicy } from "../domain/keys/model.js";
import type { StorageHandle } from "./database.js";
import { insertEvents } from "./sql-event-store.js";
import { objectsWithLatest } from "./sql-object-store.js";
import { toDate, writeTransaction } from "./transactions.js";

export function createSqlLeaseStore({ db }: StorageHandle): LeaseStore {
  return {
    async acquire(job, owner, now, until) {
      // One statement on both engines: insert, or take over an expired or own lease.
      const row = await db
        .insertInto("job_leases")
        .values({ name: job, owner, lease_until: until.getTime() })
        .onConflict((oc) =>
          oc
            .column("name")
            .doUpdateSet({ owner, lease_until: until.getTime() })
            .where((eb) =>
              eb.or([eb("job_leases.lease_until", "<=", now.getTime()), eb("job_leases.owner", "=", owner)]),
            ),
        )
        .returning("owner")
        .executeTakeFirst();
      return row?.owner === owner;
    },
    async release(job, owner) {
      await db
        .updateTable("job_leases")
        .set({ lease_until: 0 })
        .where("name", "=", job)
        .where("owner", "=", owner)
        .execute();
    },
  };
}

/** Deleted objects whose scheduled purge time has come, oldest first. */
export async function findDuePurges({ db }: StorageHandle, now: Date, limit: number): Promise<DuePurge[]> {
  const rows = await db
    .selectFrom("objects")
    .select(["vault_id", "collection", "name"])
    .where("deleted_at", "is not", null)
    .where("scheduled_purge_at", "<=", now.getTime())
    .orderBy("scheduled_purge_at")
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    vaultId: r.vault_id,
    collection: r.collection as DuePurge["collection"],
    name: r.name,
  }));
}

const DAY_MS = 86_400_000;

/**
 * Keyset paging over live objects in primary-key order (vault, collection, name), which the index serves: a
 * sweep over many objects reads each once instead of sorting them all for every page.
 */
const cursorOf = (r: { vault_id: string; collection: string; name_key: string }) =>
  `${r.vault_id}\u0000${r.collection}\u0000${r.name_key}`;

// biome-ignore lint/suspicious/noExplicitAny: the builder's type differs per query; only o.vault_id and o.name_key are used
function afterCursor<Q extends { where: (...args: any[]) => Q }>(q: Q, after: string | undefined): Q {
  if (!after) return q;
  const [vaultId = "", collection = "", nameKey = ""] = after.split("\u0000");
  // A row-value comparison, which both engines can answer from the index (an OR of two
  // comparisons makes SQLite scan).
  // biome-ignore lint/suspicious/noExplicitAny: see above
  return q.where((eb: any) =>
    eb(eb.refTuple("o.vault_id", "o.collection", "o.name_key"), ">", eb.tuple(vaultId, collection, nameKey)),
  );
}

export function createSqlNoticeStore(storage: StorageHandle): NoticeStore {
  const { db } = storage;
  return {
    async findExpiring(now, limit, after) {
      // The widest window any vault may set bounds the scan; each row is checked against its own.
      const q = objectsWithLatest(db)
        .innerJoin("vaults", "vaults.id", "o.vault_id")
        .select([
          "o.vault_id",
          "vaults.name as vault_name",
          "vaults.near_expiry_days",
          "o.collection",
          "o.name",
          "o.name_key",
          "v.version",
          "v.not_before",
          "v.expires_at",
        ])
        .where("o.deleted_at", "is", null)
        .where("v.expires_at", "is not", null)
        .where("v.expires_at", "<=", now.getTime() + 365 * DAY_MS);
      const rows = await afterCursor(q, after)
        .orderBy("o.vault_id")
        .orderBy("o.collection")
        .orderBy("o.name_key")
        .limit(limit + 1)
        .execute();
      const items = rows
        .slice(0, limit)
        .filter((r) => (r.expires_at as number) <= now.getTime() + r.near_expiry_days * DAY_MS)
        .map(
          (r): ExpiringObject => ({
            vaultId: r.vault_id,
            vaultName: r.vault_name,
            collection: r.collection as ExpiringObject["collection"],
            name: r.name,
            version: r.version,
            notBefore: toDate(r.not_before),
            expiresAt: new Date(r.expires_at as number),
            nearExpiryDays: r.near_expiry_days,
          }),
        );
      const last = rows[limit - 1];
      return rows.length > limit && last ? { items, next: cursorOf(last) } : { items };
    },

    async raiseOnce(o, kind, event) {
      return writeTransaction(storage, async (trx) => {
        const inserted = await trx
          .insertInto("event_marks")
          .values({
            vault_id: o.vaultId,
            collection: o.collection,
            name_key: o.name.toLowerCase(),
            version: o.version,
            kind,
          })
          .onConflict((oc) => oc.doNothing())
          .executeTakeFirst();
        if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) return false;
        await insertEvents(trx, [event]);
        return true;
      });
    },
  };
}

export function createSqlRenewalStore(storage: StorageHandle): RenewalStore {
  const { db } = storage;
  const row = (vaultId: string, name: string, fromVersion: string) =>
    db
      .updateTable("certificate_renewals")
      .where("vault_id", "=", vaultId)
      .where("name_key", "=", name.toLowerCase())
      .where("from_version", "=", fromVersion);
  return {
    async candidates(limit, after) {
      const q = objectsWithLatest(db)
        .select(["o.vault_id", "o.name", "v.version", "v.not_before", "v.expires_at", "o.policy"])
        .where("o.collection", "=", "certificates")
        .where("o.deleted_at", "is", null)
        .where((eb) =>
          eb.or([eb("o.policy", "like", "%AutoRenew%"), eb("o.policy", "like", "%EmailContacts%")]),
        );
      const rows = await afterCursor(q, after)
        .select(["o.collection", "o.name_key"])
        .orderBy("o.vault_id")
        .orderBy("o.collection")
        .orderBy("o.name_key")
        .limit(limit + 1)
        .execute();
      const items = rows.slice(0, limit).map(
        (r): RenewalCandidate => ({
          vaultId: r.vault_id,
          name: r.name,
          version: r.version,
          notBefore: new Date(r.not_before ?? 0),
          expiresAt: new Date(r.expires_at ?? 0),
          policy: JSON.parse(r.policy ?? "{}") as CertificatePolicy,
        }),
      );
      const last = rows[limit - 1];
      return rows.length > limit && last ? { items, next: cursorOf(last) } : { items };
    },

    async claim(vaultId, name, fromVersion, now, staleBefore) {
      // One statement on both engines: a new claim, or taking over a due retry or a stale claim.
      const taken = await db
        .insertInto("certificate_renewals")
        .values({
          vault_id: vaultId,
          name_key: name.toLowerCase(),
          from_version: fromVersion,
          status: "claimed",
          attempts: 0,
          retry_at: null,
          claimed_at: now.getTime(),
          error: null,
        })
        .onConflict((oc) =>
          oc
            .columns(["vault_id", "name_key", "from_version"])
            .doUpdateSet({ status: "claimed", claimed_at: now.getTime() })
            .where((eb) =>
              eb.or([
                eb.and([
                  eb("certificate_renewals.status", "=", "failed"),
                  eb("certificate_renewals.retry_at", "<=", now.getTime()),
                ]),
                eb.and([
                  eb("certificate_renewals.status", "=", "claimed"),
                  eb("certificate_renewals.claimed_at", "<", staleBefore.getTime()),
                ]),
              ]),
            ),
        )
        .executeTakeFirst();
      if (Number(taken.numInsertedOrUpdatedRows ?? 0) === 0) return undefined;
      const claimed = await db
        .selectFrom("certificate_renewals")
        .select("attempts")
        .where("vault_id", "=", vaultId)
        .where("name_key", "=", name.toLowerCase())
        .where("from_version", "=", fromVersion)
        .executeTakeFirstOrThrow();
      return { attempts: claimed.attempts };
    },

    async complete(vaultId, name, fromVersion) {
      await row(vaultId, name, fromVersion).set({ status: "done", error: null }).execute();
    },

    async fail(vaultId, name, fromVersion, error, retryAt, event) {
      return writeTransaction(storage, async (trx) => {
        await trx
          .updateTable("certificate_renewals")
          .set((eb) => ({
            status: "failed",
            error,
            retry_at: retryAt.getTime(),
            attempts: eb("attempts", "+", 1),
          }))
          .where("vault_id", "=", vaultId)
          .where("name_key", "=", name.toLowerCase())
          .where("from_version", "=", fromVersion)
          .execute();
        await insertEvents(trx, [event]);
      });
    },
  };
}

/** Live keys with a rotation policy, not backing a certificate (those rotate with it), with their latest version. */
export async function findRotationCandidates({ db }: StorageHandle): Promise<RotationCandidate[]> {
  const rows = await objectsWithLatest(db)
    .select(["o.vault_id", "o.name", "v.version", "v.created_at", "v.expires_at", "o.policy"])
    .where("o.collection", "=", "keys")
    .where("o.deleted_at", "is", null)
    .where("o.policy", "is not", null)
    .where("v.managed", "=", 0)
    .execute();
  return rows.map((r) => ({
    vaultId: r.vault_id,
    name: r.name,
    version: r.version,
    createdAt: new Date(r.created_at),
    expiresAt: toDate(r.expires_at),
    policy: JSON.parse(r.policy ?? "{}") as RotationPolicy,
  }));
}
