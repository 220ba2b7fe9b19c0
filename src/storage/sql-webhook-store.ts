import type { EventType, StoredEvent } from "../domain/events/model.js";
import type { WebhookStore } from "../domain/events/ports.js";
import type { Delivery, WebhookSchema, WebhookSubscription } from "../domain/events/webhooks.js";
import type { StorageHandle } from "./database.js";
import type { Database } from "./schema.js";
import { createSqlEventStore, toEvent } from "./sql-event-store.js";
import { writeTransaction } from "./transactions.js";

type Row = Database["webhook_subscriptions"];

const toSubscription = (r: Row): WebhookSubscription => ({
  id: r.id,
  name: r.name,
  endpoint: r.endpoint,
  eventTypes: JSON.parse(r.event_types) as EventType[],
  vaults: JSON.parse(r.vaults) as string[],
  subjectBeginsWith: r.subject_begins_with ?? undefined,
  schema: r.schema_name as WebhookSchema,
  sealedSecret: r.sealed_secret ? Buffer.from(r.sealed_secret) : undefined,
  status: r.status as WebhookSubscription["status"],
  cursor: Number(r.cursor),
  createdAt: new Date(r.created_at),
  updatedAt: new Date(r.updated_at),
});

const toRow = (s: WebhookSubscription): Row => ({
  id: s.id,
  name: s.name,
  endpoint: s.endpoint,
  event_types: JSON.stringify(s.eventTypes),
  vaults: JSON.stringify(s.vaults),
  subject_begins_with: s.subjectBeginsWith ?? null,
  schema_name: s.schema,
  sealed_secret: s.sealedSecret ?? null,
  status: s.status,
  cursor: s.cursor,
  created_at: s.createdAt.getTime(),
  updated_at: s.updatedAt.getTime(),
});

export function createSqlWebhookStore(storage: StorageHandle): WebhookStore {
  const { db } = storage;
  const events = createSqlEventStore(storage);

  async function deliveries(
    where: { subscriptionId?: string; status: string; dueBefore?: Date },
    limit: number,
  ) {
    // One query with the events joined in, not one more per delivery.
    let q = db
      .selectFrom("webhook_deliveries as d")
      .innerJoin("events as e", "e.seq", "d.event_seq")
      .selectAll("e")
      .select([
        "d.subscription_id",
        "d.attempts",
        "d.next_attempt_at",
        "d.since",
        "d.status as delivery_status",
        "d.last_error",
      ])
      .where("d.status", "=", where.status)
      .orderBy("d.event_seq")
      .limit(limit);
    if (where.subscriptionId) q = q.where("d.subscription_id", "=", where.subscriptionId);
    if (where.dueBefore) q = q.where("d.next_attempt_at", "<=", where.dueBefore.getTime());
    return (await q.execute()).map(
      (r): Delivery => ({
        subscriptionId: r.subscription_id,
        event: toEvent(r),
        attempts: r.attempts,
        nextAttemptAt: new Date(r.next_attempt_at),
        since: new Date(r.since),
        status: r.delivery_status as Delivery["status"],
        lastError: r.last_error ?? undefined,
      }),
    );
  }

  const delivery = (subscriptionId: string, eventId: string) =>
    db
      .updateTable("webhook_deliveries")
      .where("subscription_id", "=", subscriptionId)
      .where("event_id", "=", eventId);

  return {
    /** The newest event's sequence number: new subscriptions start after it. */
    async latestSeq(): Promise<number> {
      const row = await db
        .selectFrom("events")
        .select((eb) => eb.fn.max("seq").as("seq"))
        .executeTakeFirst();
      return Number(row?.seq ?? 0);
    },
    async insert(s: WebhookSubscription) {
      await writeTransaction(storage, (trx) =>
        trx.insertInto("webhook_subscriptions").values(toRow(s)).execute(),
      );
    },
    async update(s: WebhookSubscription) {
      const { id, created_at: _c, cursor: _cursor, ...changes } = toRow(s);
      await writeTransaction(storage, (trx) =>
        trx.updateTable("webhook_subscriptions").set(changes).where("id", "=", id).execute(),
      );
    },
    async list(): Promise<WebhookSubscription[]> {
      return (await db.selectFrom("webhook_subscriptions").selectAll().orderBy("name").execute()).map(
        toSubscription,
      );
    },
    async get(idOrName: string): Promise<WebhookSubscription | undefined> {
      const row = await db
        .selectFrom("webhook_subscriptions")
        .selectAll()
        .where((eb) => eb.or([eb("id", "=", idOrName), eb("name", "=", idOrName)]))
        .executeTakeFirst();
      return row && toSubscription(row);
    },
    async remove(id: string): Promise<boolean> {
      return writeTransaction(storage, async (trx) => {
        await trx.deleteFrom("webhook_deliveries").where("subscription_id", "=", id).execute();
        const result = await trx.deleteFrom("webhook_subscriptions").where("id", "=", id).executeTakeFirst();
        return Number(result.numDeletedRows) > 0;
      });
    },
    events: events.after,
    /** Turns events into pending deliveries and moves the cursor past them, in one transaction. */
    async enqueue(subscriptionId: string, toDeliver: StoredEvent[], cursor: number, now: Date) {
      await writeTransaction(storage, async (trx) => {
        if (toDeliver.length > 0) {
          await trx
            .insertInto("webhook_deliveries")
            .values(
              toDeliver.map((e) => ({
                subscription_id: subscriptionId,
                event_id: e.id,
                event_seq: e.seq,
                attempts: 0,
                next_attempt_at: now.getTime(),
                since: now.getTime(),
                status: "pending",
                last_error: null,
              })),
            )
            .onConflict((oc) => oc.doNothing())
            .execute();
        }
        await trx
          .updateTable("webhook_subscriptions")
          .set({ cursor })
          .where("id", "=", subscriptionId)
          .execute();
      });
    },
    due: (now: Date, limit: number) => deliveries({ status: "pending", dueBefore: now }, limit),
    deadLetters: (subscriptionId: string) => deliveries({ subscriptionId, status: "dead" }, 1000),
    async delivered(subscriptionId: string, eventId: string) {
      await delivery(subscriptionId, eventId).set({ status: "delivered", last_error: null }).execute();
    },
    async retry(subscriptionId: string, eventId: string, attempts: number, next: Date, error: string) {
      await delivery(subscriptionId, eventId)
        .set({ attempts, next_attempt_at: next.getTime(), last_error: error })
        .execute();
    },
    async dead(subscriptionId: string, eventId: string, attempts: number, error: string) {
      await delivery(subscriptionId, eventId).set({ status: "dead", attempts, last_error: error }).execute();
    },
    /** Sends the dead letters of a subscription again, from now. */
    async replay(subscriptionId: string, now: Date): Promise<number> {
      const result = await writeTransaction(storage, (trx) =>
        trx
          .updateTable("webhook_deliveries")
          .set({ status: "pending", attempts: 0, next_attempt_at: now.getTime(), since: now.getTime() })
          .where("subscription_id", "=", subscriptionId)
          .where("status", "=", "dead")
          .executeTakeFirst(),
      );
      return Number(result.numUpdatedRows);
    },
  };
}
