import type { Kysely, Selectable } from "kysely";
import type { AlertEventData } from "../domain/alerts/model.js";
import type { ApprovalEventData } from "../domain/approvals/model.js";
import type { EventType, ObjectType, StoredEvent, VaultEvent } from "../domain/events/model.js";
import type { StorageHandle } from "./database.js";
import type { Database } from "./schema.js";
import { fromDate, toDate } from "./transactions.js";

const toRow = (e: VaultEvent): Omit<Database["events"], "seq"> => ({
  id: e.id,
  type: e.type,
  vault_id: e.vaultId,
  vault_name: e.vaultName,
  object_type: e.objectType,
  object_name: e.objectName,
  version: e.version,
  not_before: fromDate(e.notBefore),
  expires_at: fromDate(e.expiresAt),
  detail: e.detail ?? null,
  time: e.time.getTime(),
  data: e.alert || e.approval ? JSON.stringify(e.alert ?? e.approval) : null,
});

export const toEvent = (r: Selectable<Database["events"]>): StoredEvent => ({
  seq: Number(r.seq),
  id: r.id,
  type: r.type as EventType,
  vaultId: r.vault_id,
  vaultName: r.vault_name,
  objectType: r.object_type as ObjectType,
  objectName: r.object_name,
  version: r.version,
  notBefore: toDate(r.not_before),
  expiresAt: toDate(r.expires_at),
  detail: r.detail ?? undefined,
  time: new Date(r.time),
  ...(r.data !== null &&
    (r.object_type === "Approval"
      ? { approval: JSON.parse(r.data) as ApprovalEventData }
      : { alert: JSON.parse(r.data) as AlertEventData })),
});

/** Events a statement: 12 values each, within SQLite's 32,766 and PostgreSQL's 65,535 bound parameters. */
const EVENTS_PER_STATEMENT = 500;

/**
 * Writes events inside the caller's transaction, so they exist exactly when the change does; in
 * the order given, which is the order consumers read them in.
 */
export async function insertEvents(
  trx: Kysely<Database>,
  events: readonly VaultEvent[] | undefined,
): Promise<void> {
  if (!events) return;
  for (let i = 0; i < events.length; i += EVENTS_PER_STATEMENT)
    await trx
      .insertInto("events")
      .values(events.slice(i, i + EVENTS_PER_STATEMENT).map(toRow))
      .execute();
}

export function createSqlEventStore({ db }: StorageHandle) {
  return {
    /** The newest event's sequence number, 0 when there is none. */
    async latestSeq(): Promise<number> {
      const row = await db
        .selectFrom("events")
        .select((eb) => eb.fn.max("seq").as("seq"))
        .executeTakeFirst();
      return Number(row?.seq ?? 0);
    },
    /** Events after `afterSeq`, oldest first. */
    async after(afterSeq: number, limit: number): Promise<StoredEvent[]> {
      const rows = await db
        .selectFrom("events")
        .selectAll()
        .where("seq", ">", afterSeq)
        .orderBy("seq")
        .limit(limit)
        .execute();
      return rows.map(toEvent);
    },
  };
}
