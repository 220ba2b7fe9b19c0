import type { Kysely } from "kysely";
import type { ApprovalRequest, ApprovalState, ApprovalVote } from "../domain/approvals/model.js";
import type { ApprovalStore } from "../domain/approvals/ports.js";
import type { EntryPoint, RuleScope } from "../domain/rules/issuance-gate.js";
import type { StorageHandle } from "./database.js";
import type { Database } from "./schema.js";
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
});

/** Inserts an approval request inside another store's transaction: the one that holds its request. */
export async function insertApprovalRequest(trx: Kysely<Database>, request: ApprovalRequest): Promise<void> {
  await trx.insertInto("approval_requests").values(toRow(request)).execute();
}

export function createSqlApprovalStore(storage: StorageHandle): ApprovalStore {
  const { db, engine } = storage;
  return {
    async insert(request) {
      await writeTransaction(storage, async (trx) => {
        await insertApprovalRequest(trx, request);
      });
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
        const next = toRow(change(toRequest(row)));
        await trx
          .updateTable("approval_requests")
          .set({ state: next.state, votes: next.votes, outcome: next.outcome, decided_at: next.decided_at })
          .where("id", "=", id)
          .execute();
        return toRequest(next);
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
