import { randomUUID } from "node:crypto";
import { type ExpressionBuilder, sql } from "kysely";
import type {
  Campaign,
  CampaignItem,
  CampaignState,
  ItemAction,
  ItemState,
} from "../domain/campaigns/model.js";
import type { CampaignStore } from "../domain/campaigns/ports.js";
import { DomainError } from "../domain/errors.js";
import type { StorageHandle } from "./database.js";
import { databaseTime } from "./database-clock.js";
import type { Database } from "./schema.js";
import { changeStatusIn, insertIssuedIn } from "./sql-ca-store.js";
import { createIssuedWriter } from "./sql-certificate-store.js";
import { insertEvents } from "./sql-event-store.js";
import { VALUES_ROWS_PER_STATEMENT, type ValuesColumn, valuesTable } from "./sql-values.js";
import { writeTransaction } from "./transactions.js";

const INSERT_CHUNK = 500;
const OUTCOME_COLUMNS: readonly ValuesColumn[] = [
  ["fingerprint", "text"],
  ["state", "text"],
  ["to_version", "text"],
  ["revocation", "text"],
  ["error", "text"],
  ["done_at", "bigint"],
];

/** Vault, then certificate name, then fingerprint: how claims take items, and how a batch is worked. */
function claimOrder(
  a: Pick<CampaignItem, "vaultName" | "certificateName" | "fingerprint">,
  b: Pick<CampaignItem, "vaultName" | "certificateName" | "fingerprint">,
): number {
  const keys = [
    [a.vaultName ?? "", b.vaultName ?? ""],
    [a.certificateName ?? "", b.certificateName ?? ""],
    [a.fingerprint, b.fingerprint],
  ];
  for (const [x, y] of keys) if (x !== y) return (x as string) < (y as string) ? -1 : 1;
  return 0;
}

const at = (ms: number | string | null) => (ms === null ? undefined : new Date(Number(ms)));

const toCampaign = (r: Database["campaigns"]): Campaign => ({
  id: r.id,
  name: r.name,
  query: JSON.parse(r.query) as Campaign["query"],
  options: JSON.parse(r.options) as Campaign["options"],
  state: r.state as CampaignState,
  createdAt: new Date(Number(r.created_at)),
  startedAt: at(r.started_at),
  finishedAt: at(r.finished_at),
});

const toItem = (r: Database["campaign_items"]): CampaignItem => ({
  campaignId: r.campaign_id,
  fingerprint: r.fingerprint,
  subject: r.subject,
  action: r.action as ItemAction,
  vaultName: r.vault_name ?? undefined,
  certificateName: r.certificate_name ?? undefined,
  fromVersion: r.from_version ?? undefined,
  abandonedClaims: r.abandoned_claims ? r.abandoned_claims.split(" ") : undefined,
  locations: JSON.parse(r.locations) as string[],
  state: r.state as ItemState,
  attempts: Number(r.attempts),
  firstClaimedAt: at(r.first_claimed_at),
  toVersion: r.to_version ?? undefined,
  revocation: r.revocation ?? undefined,
  error: r.error ?? undefined,
  doneAt: at(r.done_at),
});

export function createSqlCampaignStore(storage: StorageHandle): CampaignStore {
  const { db, engine } = storage;
  const writeIssued = createIssuedWriter(db);
  const campaignRow = (id: string) => db.selectFrom("campaigns").selectAll().where("id", "=", id);

  return {
    async create(campaign, items) {
      await writeTransaction(storage, async (trx) => {
        await trx
          .insertInto("campaigns")
          .values({
            id: campaign.id,
            name: campaign.name,
            query: JSON.stringify(campaign.query),
            options: JSON.stringify(campaign.options),
            state: campaign.state,
            created_at: campaign.createdAt.getTime(),
            started_at: null,
            finished_at: null,
          })
          .execute();
        // Stored in the order they are claimed in, so that their rows are neighbours too.
        const ordered = [...items].sort(claimOrder);
        for (let i = 0; i < ordered.length; i += INSERT_CHUNK) {
          await trx
            .insertInto("campaign_items")
            .values(
              ordered.slice(i, i + INSERT_CHUNK).map((item) => ({
                campaign_id: campaign.id,
                fingerprint: item.fingerprint,
                subject: item.subject,
                action: item.action,
                vault_name: item.vaultName ?? null,
                certificate_name: item.certificateName ?? null,
                from_version: item.fromVersion ?? null,
                locations: JSON.stringify(item.locations),
                state: item.state,
                attempts: 0,
                claimed_at: null,
                first_claimed_at: null,
                claim_token: null,
                abandoned_claims: null,
                to_version: null,
                revocation: null,
                error: null,
                done_at: null,
              })),
            )
            .execute();
        }
      });
    },

    async find(id) {
      const row = await campaignRow(id).executeTakeFirst();
      return row && toCampaign(row);
    },

    async findByName(name) {
      const row = await db.selectFrom("campaigns").selectAll().where("name", "=", name).executeTakeFirst();
      return row && toCampaign(row);
    },

    async list() {
      return (await db.selectFrom("campaigns").selectAll().orderBy("created_at").execute()).map(toCampaign);
    },

    async transition(id, from, to, now) {
      return writeTransaction(storage, async (trx) => {
        const result = await trx
          .updateTable("campaigns")
          .set({
            state: to,
            ...(to === "running" && { started_at: sql<number>`coalesce(started_at, ${now.getTime()})` }),
            ...((to === "finished" || to === "cancelled") && { finished_at: now.getTime() }),
          })
          .where("id", "=", id)
          .where("state", "in", [...from])
          .executeTakeFirst();
        return Number(result.numUpdatedRows) > 0;
      });
    },

    async items(id, limit, after) {
      const rows = await db
        .selectFrom("campaign_items")
        .selectAll()
        .where("campaign_id", "=", id)
        .$if(after !== undefined, (q) => q.where("fingerprint", ">", after as string))
        .orderBy("fingerprint")
        .limit(limit + 1)
        .execute();
      const items = rows.slice(0, limit).map(toItem);
      const last = items.at(-1);
      return rows.length > limit && last ? { items, next: last.fingerprint } : { items };
    },

    async counts(id) {
      const rows = await db
        .selectFrom("campaign_items")
        .select((eb) => [
          "state",
          eb.fn.countAll<number | string>().as("n"),
          eb.fn.min("done_at").as("first"),
          eb.fn.max("done_at").as("last"),
        ])
        .where("campaign_id", "=", id)
        .groupBy("state")
        .execute();
      const counts = { pending: 0, claimed: 0, done: 0, failed: 0, task: 0 };
      let firstDoneAt: Date | undefined;
      let lastDoneAt: Date | undefined;
      for (const r of rows) {
        counts[r.state as ItemState] = Number(r.n);
        if (r.state === "done") {
          firstDoneAt = at(r.first);
          lastDoneAt = at(r.last);
        }
      }
      return { ...counts, firstDoneAt, lastDoneAt };
    },

    async claim(id, limit, now, staleBefore) {
      const token = randomUUID();
      // Claims are the job's bookkeeping, not changes anyone asked for: no audit row of their own.
      const { changeAudit: _unaudited, ...bookkeeping } = storage;
      const items = await writeTransaction(bookkeeping, async (trx): Promise<CampaignItem[]> => {
        // Stale claims first (few: the items in flight when an attempt died), then pending ones; each
        // through the (campaign, state, vault, name) index rather than one scan of every item, in
        // the order the vaults keep their certificates, so that a batch writes its versions to
        // neighbouring index pages (0030-campaign-claim-order.ts).
        const stale = (eb: ExpressionBuilder<Database, "campaign_items">) =>
          eb.and([eb("state", "=", "claimed"), eb("claimed_at", "<", databaseTime(engine, staleBefore))]);
        const pending = (eb: ExpressionBuilder<Database, "campaign_items">) => eb("state", "=", "pending");
        const taken: CampaignItem[] = [];
        for (const claimable of [stale, pending]) {
          if (taken.length >= limit) break;
          const candidates = trx
            .selectFrom("campaign_items")
            .select("fingerprint")
            .where("campaign_id", "=", id)
            .where(claimable)
            .orderBy("vault_name")
            .orderBy("certificate_name")
            .orderBy("fingerprint")
            .limit(limit - taken.length)
            // Another node claiming at the same moment locks its rows; this one takes the next.
            .$if(engine === "postgres", (q) => q.forUpdate().skipLocked());
          const rows = await trx
            .updateTable("campaign_items")
            .set((eb) => ({
              state: "claimed",
              claim_token: token,
              // A stale claim's token is kept until a commit: the keys its attempt made are found by it.
              abandoned_claims: sql<
                string | null
              >`case when claim_token is null then abandoned_claims else coalesce(abandoned_claims || ' ', '') || claim_token end`,
              claimed_at: databaseTime(engine, now),
              // The node's clock, as the versions it makes are stamped by it (see the campaign job).
              first_claimed_at: sql<number>`coalesce(first_claimed_at, ${now.getTime()})`,
              attempts: eb("attempts", "+", 1),
            }))
            .where("campaign_id", "=", id)
            // On PostgreSQL `in (subquery … limit n for update skip locked)` may be run again for
            // each row the update visits, each run skipping the rows the last one locked: the limit
            // then holds per run, and one claim takes every pending item. `array(…)` runs it once.
            .$if(engine === "postgres", (q) => q.where(sql<boolean>`fingerprint = any(array(${candidates}))`))
            .$if(engine !== "postgres", (q) => q.where("fingerprint", "in", candidates))
            // Checked again on the row itself: of two nodes that saw it claimable, one updates it.
            .where(claimable)
            .returningAll()
            .execute();
          taken.push(...rows.map(toItem));
        }
        return taken;
      });
      return { token, items: items.sort(claimOrder) };
    },

    async commit(id, token, settled) {
      if (settled.length === 0) return;
      const intents = settled.map(({ item, outcome }) => ({
        vault: item.vaultName,
        objectId: item.certificateName && `certificates/${item.certificateName}`,
        version: outcome.state === "done" ? (outcome.toVersion ?? item.fromVersion) : item.fromVersion,
        detail:
          outcome.state === "failed"
            ? `campaign ${id}: failed: ${outcome.error}`.slice(0, 500)
            : outcome.toVersion === undefined
              ? `campaign ${id}: older version ${item.fromVersion}${outcome.revocation ? ` ${outcome.revocation}` : " left as it is"}`
              : `campaign ${id}: replaced version ${item.fromVersion}${outcome.revocation ? `; old ${outcome.revocation}` : ""}`,
      }));
      await writeTransaction(
        storage,
        async (trx) => {
          // The token check comes first and locks the rows: an attempt whose claim was taken over
          // stores nothing at all. One statement settles a few hundred items.
          for (let i = 0; i < settled.length; i += VALUES_ROWS_PER_STATEMENT) {
            const some = settled.slice(i, i + VALUES_ROWS_PER_STATEMENT);
            const outcomes = valuesTable(
              "outcome",
              OUTCOME_COLUMNS,
              some.map(({ item, outcome }) =>
                outcome.state === "done"
                  ? [
                      item.fingerprint,
                      "done",
                      outcome.toVersion ?? null,
                      outcome.revocation ?? null,
                      null,
                      outcome.at.getTime(),
                    ]
                  : [item.fingerprint, "failed", null, null, outcome.error, null],
              ),
            );
            // A failed item keeps what it had (nothing: only a done item has a version or a time).
            const result = await sql`with ${outcomes}
              update campaign_items set
                state = outcome.state,
                claim_token = null,
                abandoned_claims = null,
                to_version = case when outcome.state = 'done' then outcome.to_version else campaign_items.to_version end,
                revocation = case when outcome.state = 'done' then outcome.revocation else campaign_items.revocation end,
                error = outcome.error,
                done_at = case when outcome.state = 'done' then outcome.done_at else campaign_items.done_at end
              from outcome
              where campaign_items.campaign_id = ${id}
                and campaign_items.fingerprint = outcome.fingerprint
                and campaign_items.state = 'claimed'
                and campaign_items.claim_token = ${token}`.execute(trx);
            const lost = some.length - Number(result.numAffectedRows ?? 0);
            if (lost !== 0)
              throw new DomainError(
                "Conflict",
                `The claim on ${lost} of the batch's ${settled.length} items was taken over by another attempt; the batch stores nothing`,
                { reason: "ClaimLost" },
              );
          }
          // Each kind of row for the whole batch at once, a few statements in all rather than ten
          // an item; each item's events keep their order (its version, the CA's record, the revocation).
          const written = settled.flatMap(({ outcome }) =>
            outcome.state === "done" && outcome.writes ? [outcome.writes] : [],
          );
          const revocations = written.flatMap((w) => (w.revocation ? [w.revocation] : []));
          await writeIssued(
            trx,
            written.map((w) => w.version),
            { events: false },
          );
          await insertIssuedIn(
            trx,
            written.map((w) => w.record.issued),
            [],
          );
          await changeStatusIn(trx, revocations, { events: false });
          const events = written.flatMap((w) => [
            ...(w.version.events ?? []),
            ...w.record.events,
            ...(w.revocation?.events ?? []),
          ]);
          await insertEvents(trx, events);
        },
        intents,
      );
    },

    async retryFailed(id) {
      return writeTransaction(storage, async (trx) => {
        const result = await trx
          .updateTable("campaign_items")
          .set({ state: "pending", error: null })
          .where("campaign_id", "=", id)
          .where("state", "=", "failed")
          .executeTakeFirst();
        return Number(result.numUpdatedRows);
      });
    },
  };
}
