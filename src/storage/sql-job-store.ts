import type { DuePurge, LeaseStore } from "../domain/jobs/ports.js";
import type { StorageHandle } from "./database.js";

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
