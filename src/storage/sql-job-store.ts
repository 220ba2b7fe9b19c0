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
import { databaseTime } from "./database-clock.js";
import { insertEvents } from "./sql-event-store.js";
import { objectsWithLatest } from "./sql-object-store.js";
import { toDate, writeTransaction } from "./transactions.js";

export function createSqlLeaseStore({ db, engine }: StorageHandle): LeaseStore {
  return {
    async acquire(job, owner, now, until) {
      // One statement on both engines: insert, or take over an expired or own lease.
      const row = await db
        .insertInto("job_leases")
        .values({ name: job, owner, lease_until: databaseTime(engine, until) })
        .onConflict((oc) =>
          oc
            .column("name")
            .doUpdateSet({ owner, lease_until: databaseTime(engine, until) })
            .where((eb) =>
              eb.or([
                eb("job_leases.lease_until", "<=", databaseTime(engine, now)),
                eb("job_leases.owner", "=", owner),
              ]),
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

type Collection = "secrets" | "keys" | "certificates";

/**
 * Pages through live objects one (vault, collection) at a time in name order, which the
 * (vault_id, collection, deleted_at, name_key) index serves without sorting: a sweep over many
 * objects reads each row once. The cursor names the vault, collection and last name.
 */
async function scopedPage<R extends { name_key: string }>(
  db: StorageHandle["db"],
  collections: readonly Collection[],
  after: string | undefined,
  limit: number,
  read: (vaultId: string, collection: Collection, afterName: string, limit: number) => Promise<R[]>,
): Promise<{ rows: R[]; next?: string }> {
  const vaults = (await db.selectFrom("vaults").select("id").orderBy("id").execute()).map((v) => v.id);
  const scopes = vaults.flatMap((vaultId) => collections.map((collection) => ({ vaultId, collection })));
  const [vaultId, collection, afterName = ""] = after
    ? after.split("\u0000")
    : [scopes[0]?.vaultId, scopes[0]?.collection];
  const at = scopes.findIndex((s) => s.vaultId === vaultId && s.collection === collection);
  const scope = scopes[at];
  if (!scope) return { rows: [] };
  const rows = await read(scope.vaultId, scope.collection, afterName, limit + 1);
  const last = rows[limit - 1];
  if (rows.length > limit && last) {
    return {
      rows: rows.slice(0, limit),
      next: `${scope.vaultId}\u0000${scope.collection}\u0000${last.name_key}`,
    };
  }
  const following = scopes[at + 1];
  return { rows, ...(following && { next: `${following.vaultId}\u0000${following.collection}\u0000` }) };
}

export function createSqlNoticeStore(storage: StorageHandle): NoticeStore {
  const { db } = storage;
  return {
    async findExpiring(now, limit, after) {
      // The widest window any vault may set bounds the scan; each row is checked against its own.
      const { rows, next } = await scopedPage(
        db,
        ["certificates", "keys", "secrets"],
        after,
        limit,
        (vaultId, collection, afterName, n) =>
          objectsWithLatest(db)
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
            .where("o.vault_id", "=", vaultId)
            .where("o.collection", "=", collection)
            .where("o.deleted_at", "is", null)
            .where("o.name_key", ">", afterName)
            .where("v.expires_at", "is not", null)
            .where("v.expires_at", "<=", now.getTime() + 365 * DAY_MS)
            .orderBy("o.name_key")
            .limit(n)
            .execute(),
      );
      const items = rows
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
      return next ? { items, next } : { items };
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
  const { db, engine } = storage;
  const row = (vaultId: string, name: string, fromVersion: string) =>
    db
      .updateTable("certificate_renewals")
      .where("vault_id", "=", vaultId)
      .where("name_key", "=", name.toLowerCase())
      .where("from_version", "=", fromVersion);
  return {
    async candidates(limit, after) {
      const { rows, next } = await scopedPage(
        db,
        ["certificates"],
        after,
        limit,
        (vaultId, collection, afterName, n) =>
          objectsWithLatest(db)
            .select([
              "o.vault_id",
              "o.name",
              "o.name_key",
              "v.version",
              "v.not_before",
              "v.expires_at",
              "o.policy",
            ])
            .where("o.vault_id", "=", vaultId)
            .where("o.collection", "=", collection)
            .where("o.deleted_at", "is", null)
            .where("o.name_key", ">", afterName)
            .where((eb) =>
              eb.or([eb("o.policy", "like", "%AutoRenew%"), eb("o.policy", "like", "%EmailContacts%")]),
            )
            .orderBy("o.name_key")
            .limit(n)
            .execute(),
      );
      const items = rows.map(
        (r): RenewalCandidate => ({
          vaultId: r.vault_id,
          name: r.name,
          version: r.version,
          notBefore: new Date(r.not_before ?? 0),
          expiresAt: new Date(r.expires_at ?? 0),
          policy: JSON.parse(r.policy ?? "{}") as CertificatePolicy,
        }),
      );
      return next ? { items, next } : { items };
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
          claimed_at: databaseTime(engine, now),
          error: null,
          request_id: null,
        })
        .onConflict((oc) =>
          oc
            .columns(["vault_id", "name_key", "from_version"])
            .doUpdateSet({ status: "claimed", claimed_at: databaseTime(engine, now) })
            .where((eb) =>
              eb.or([
                eb.and([
                  eb("certificate_renewals.status", "=", "failed"),
                  eb("certificate_renewals.retry_at", "<=", databaseTime(engine, now)),
                ]),
                eb.and([
                  eb("certificate_renewals.status", "=", "claimed"),
                  eb("certificate_renewals.claimed_at", "<", databaseTime(engine, staleBefore)),
                ]),
              ]),
            ),
        )
        .executeTakeFirst();
      if (Number(taken.numInsertedOrUpdatedRows ?? 0) === 0) return undefined;
      const claimed = await db
        .selectFrom("certificate_renewals")
        .select(["attempts", "request_id"])
        .where("vault_id", "=", vaultId)
        .where("name_key", "=", name.toLowerCase())
        .where("from_version", "=", fromVersion)
        .executeTakeFirstOrThrow();
      return { attempts: claimed.attempts, requestId: claimed.request_id ?? undefined };
    },

    async awaiting(vaultId, name, fromVersion, requestId) {
      await row(vaultId, name, fromVersion).set({ request_id: requestId }).execute();
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
            // The next attempt makes a new operation rather than waiting on the failed one.
            request_id: null,
            retry_at: databaseTime(engine, retryAt),
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
