import type { Selectable } from "kysely";
import type { Alert, AlertKind, AlertState } from "../domain/alerts/model.js";
import type { AlertStore } from "../domain/alerts/ports.js";
import type { StorageHandle } from "./database.js";
import type { Database } from "./schema.js";
import { insertEvents } from "./sql-event-store.js";
import { fromDate, toDate, writeTransaction } from "./transactions.js";

type Row = Database["alerts"];

const toAlert = (r: Selectable<Row>): Alert => ({
  id: r.id,
  kind: r.kind as AlertKind,
  fingerprint: r.fingerprint,
  location: r.location,
  state: r.state as AlertState,
  level: r.level ?? undefined,
  subject: r.subject,
  summary: r.summary,
  notAfter: toDate(r.not_after === null ? null : Number(r.not_after)),
  vaultName: r.vault_name ?? undefined,
  ownerContact: r.owner_contact ?? undefined,
  revision: Number(r.revision),
  openedAt: new Date(Number(r.opened_at)),
  updatedAt: new Date(Number(r.updated_at)),
  acknowledgedAt: toDate(r.acknowledged_at === null ? null : Number(r.acknowledged_at)),
  acknowledgedBy: r.acknowledged_by ?? undefined,
  resolvedAt: toDate(r.resolved_at === null ? null : Number(r.resolved_at)),
  resolvedBy: r.resolved_by ?? undefined,
  note: r.note ?? undefined,
  occurrences: Number(r.occurrences),
});

const toRow = (a: Alert): Row => ({
  id: a.id,
  kind: a.kind,
  fingerprint: a.fingerprint,
  location: a.location,
  state: a.state,
  level: a.level ?? null,
  subject: a.subject,
  summary: a.summary,
  not_after: fromDate(a.notAfter),
  vault_name: a.vaultName ?? null,
  owner_contact: a.ownerContact ?? null,
  revision: a.revision,
  opened_at: a.openedAt.getTime(),
  updated_at: a.updatedAt.getTime(),
  acknowledged_at: fromDate(a.acknowledgedAt),
  acknowledged_by: a.acknowledgedBy ?? null,
  resolved_at: fromDate(a.resolvedAt),
  resolved_by: a.resolvedBy ?? null,
  note: a.note ?? null,
  occurrences: a.occurrences,
});

/** Rolls a transaction back without an error reaching the caller: the change lost a race. */
class LostRace extends Error {}

export function createSqlAlertStore(storage: StorageHandle): AlertStore {
  const { db } = storage;
  return {
    async unresolved(kinds) {
      if (kinds.length === 0) return [];
      const rows = await db
        .selectFrom("alerts")
        .selectAll()
        .where("state", "<>", "resolved")
        .where("kind", "in", [...kinds])
        .execute();
      return rows.map(toAlert);
    },

    async findByKey(kind, fingerprint, location) {
      const row = await db
        .selectFrom("alerts")
        .selectAll()
        .where("kind", "=", kind)
        .where("fingerprint", "=", fingerprint)
        .where("location", "=", location)
        .executeTakeFirst();
      return row && toAlert(row);
    },

    async apply(change, event) {
      try {
        return await writeTransaction(storage, async (trx) => {
          if (change.type === "open") {
            // The unique key, not a read beforehand, decides which node opens the alert.
            const inserted = await trx
              .insertInto("alerts")
              .values(toRow(change.alert))
              .onConflict((oc) => oc.columns(["kind", "fingerprint", "location"]).doNothing())
              .executeTakeFirst();
            if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) throw new LostRace();
          } else {
            const { id, ...rest } = toRow(change.alert);
            const updated = await trx
              .updateTable("alerts")
              .set(rest)
              .where("id", "=", id)
              .where("revision", "=", change.fromRevision)
              .executeTakeFirst();
            if (Number(updated.numUpdatedRows) === 0) throw new LostRace();
          }
          await insertEvents(trx, event ? [event] : []);
          return true;
        });
      } catch (error) {
        if (error instanceof LostRace) return false;
        throw error;
      }
    },

    async get(id) {
      const row = await db.selectFrom("alerts").selectAll().where("id", "=", id).executeTakeFirst();
      return row && toAlert(row);
    },

    async countByKind(state) {
      const rows = await db
        .selectFrom("alerts")
        .select(["kind", (eb) => eb.fn.countAll().as("n")])
        .where("state", "=", state)
        .groupBy("kind")
        .execute();
      return rows
        .map((r) => ({ kind: r.kind, count: Number(r.n) }))
        .sort((a, b) => b.count - a.count || a.kind.localeCompare(b.kind));
    },

    async list(filter) {
      let q = db.selectFrom("alerts").selectAll();
      if (filter.state === "unresolved") q = q.where("state", "<>", "resolved");
      else if (filter.state) q = q.where("state", "=", filter.state);
      if (filter.kind) q = q.where("kind", "=", filter.kind);
      if (filter.fingerprint) q = q.where("fingerprint", "=", filter.fingerprint.toLowerCase());
      const rows = await q
        .orderBy("opened_at", "desc")
        .orderBy("id")
        .limit(filter.limit ?? 1000)
        .execute();
      return rows.map(toAlert);
    },
  };
}
