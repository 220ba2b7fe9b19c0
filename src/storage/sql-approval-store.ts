import type { Kysely } from "kysely";
import type { ApprovalRequest, ApprovalState, ApprovalVote } from "../domain/approvals/model.js";
import type { ApprovalChange, ApprovalStore } from "../domain/approvals/ports.js";
import type { EntryPoint, RuleScope } from "../domain/rules/issuance-gate.js";
import type { StorageHandle } from "./database.js";
import type { Database } from "./schema.js";
import { insertEvents } from "./sql-event-store.js";
import { fromDate, toDate, writeTransaction } from "./transactions.js";

type Row = Database["approval_requests"];
type StoredVote = Omit<ApprovalVote, "at"> & { at: number };

const toRequest = (r: Row): ApprovalRequest => ({
  id: r.id,
  entry: r.entry as EntryPoint,
  scope: JSON.parse(r.scope) as RuleScope,
  requester: r.requester,
  summary: r.summary,
  because: JSON.parse(r.because) as string[],
  required: Number(r.required),
  state: r.state as ApprovalState,
  votes: (JSON.parse(r.votes) as StoredVote[]).map((v) => ({ ...v, at: new Date(v.at) })),
  payload: JSON.parse(r.payload) as unknown,
  outcome: r.outcome ?? undefined,
  createdAt: new Date(Number(r.created_at)),
  expiresAt: new Date(Number(r.expires_at)),
  decidedAt: toDate(r.decided_at === null ? null : Number(r.decided_at)),
  issued: r.issued === null ? undefined : (JSON.parse(r.issued) as ApprovalRequest["issued"]),
});

const toRow = (a: ApprovalRequest): Row => ({
  id: a.id,
  entry: a.entry,
  scope: JSON.stringify(a.scope),
  requester: a.requester,
  summary: a.summary,
  because: JSON.stringify(a.because),
  required: a.required,
  state: a.state,
  votes: JSON.stringify(a.votes.map((v): StoredVote => ({ ...v, at: v.at.getTime() }))),
  payload: JSON.stringify(a.payload ?? null),
  outcome: a.outcome ?? null,
  created_at: a.createdAt.getTime(),
  expires_at: a.expiresAt.getTime(),
  decided_at: fromDate(a.decidedAt),
  issued: a.issued ? JSON.stringify(a.issued) : null,
});

/** Inserts a new request with its events inside the caller's transaction (a held operation's). */
export async function insertApproval(trx: Kysely<Database>, { request, events }: ApprovalChange) {
  await trx.insertInto("approval_requests").values(toRow(request)).execute();
  await insertEvents(trx, events);
}

/**
 * Writes a decision taken on a pending request (a withdrawal) inside the caller's transaction, with
 * its events; false, writing nothing, when the request was decided meanwhile: that decision stands.
 */
export async function decidePending(trx: Kysely<Database>, { request, events }: ApprovalChange) {
  const next = toRow(request);
  const result = await trx
    .updateTable("approval_requests")
    .set({ state: next.state, votes: next.votes, outcome: next.outcome, decided_at: next.decided_at })
    .where("id", "=", request.id)
    .where("state", "=", "pending")
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) === 0) return false;
  await insertEvents(trx, events);
  return true;
}

/**
 * Records the certificate an approved request produced, inside the transaction that stores it;
 * false when another signer recorded one first, so the caller rolls its own back.
 */
export async function recordIssued(
  trx: Kysely<Database>,
  id: string,
  issued: NonNullable<ApprovalRequest["issued"]>,
): Promise<boolean> {
  const result = await trx
    .updateTable("approval_requests")
    .set({ issued: JSON.stringify(issued) })
    .where("id", "=", id)
    .where("state", "=", "approved")
    .where("issued", "is", null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export function createSqlApprovalStore(storage: StorageHandle): ApprovalStore {
  const { db, engine } = storage;
  return {
    async insert(change) {
      await writeTransaction(storage, (trx) => insertApproval(trx, change));
    },

    async get(id) {
      const row = await db
        .selectFrom("approval_requests")
        .selectAll()
        .where("id", "=", id)
        .executeTakeFirst();
      return row && toRequest(row);
    },

    async list({ state, limit }) {
      let query = db.selectFrom("approval_requests").selectAll();
      if (state) query = query.where("state", "=", state);
      const rows = await query.orderBy("created_at", "desc").orderBy("id").limit(limit).execute();
      return rows.map(toRequest);
    },

    update(id, change) {
      return writeTransaction(storage, async (trx) => {
        // SQLite's write transaction already holds the database's write lock; PostgreSQL locks the row.
        const base = trx.selectFrom("approval_requests").selectAll().where("id", "=", id);
        const row = await (engine === "postgres" ? base.forUpdate() : base).executeTakeFirst();
        if (!row) return undefined;
        const { request, events } = change(toRequest(row));
        const next = toRow(request);
        await trx
          .updateTable("approval_requests")
          .set({ state: next.state, votes: next.votes, outcome: next.outcome, decided_at: next.decided_at })
          .where("id", "=", id)
          .execute();
        await insertEvents(trx, events);
        return request;
      });
    },

    async pendingExpired(now, limit) {
      const rows = await db
        .selectFrom("approval_requests")
        .select("id")
        .where("state", "=", "pending")
        .where("expires_at", "<=", now.getTime())
        .orderBy("expires_at")
        .limit(limit)
        .execute();
      return rows.map((r) => r.id);
    },
  };
}
