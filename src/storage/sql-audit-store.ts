import type { AuditOutcome, AuditRecord } from "../domain/audit/model.js";
import type { AuditStore } from "../domain/audit/ports.js";
import type { StorageHandle } from "./database.js";
import type { Database } from "./schema.js";
import { writeTransaction } from "./transactions.js";

const toRecord = (r: Database["audit_log"]): AuditRecord => ({
  seq: r.seq,
  time: new Date(r.time),
  requestId: r.request_id,
  principalId: r.principal_id ?? undefined,
  clientId: r.client_id ?? undefined,
  vault: r.vault ?? undefined,
  operation: r.operation,
  objectId: r.object_id ?? undefined,
  version: r.version ?? undefined,
  outcome: r.outcome as AuditOutcome,
  status: r.status,
  clientAddress: r.client_address,
  detail: r.detail ?? undefined,
  prevHash: r.prev_hash,
  hash: r.hash,
});

export function createSqlAuditStore(storage: StorageHandle): AuditStore {
  const { db, engine } = storage;
  return {
    async append(entries, chain) {
      if (entries.length === 0) return;
      await writeTransaction(storage, async (trx) => {
        // The head row is the chain's lock: on PostgreSQL other nodes wait here; SQLite's write lock
        // is already held by BEGIN IMMEDIATE.
        let headQuery = trx.selectFrom("audit_head").select(["seq", "hash"]).where("id", "=", 1);
        if (engine === "postgres") headQuery = headQuery.forUpdate();
        const head = await headQuery.executeTakeFirstOrThrow();
        let { seq, hash } = head;
        const rows: Database["audit_log"][] = [];
        for (const e of entries) {
          seq += 1;
          const next = chain.link(hash, seq, e);
          rows.push({
            seq,
            time: e.time.getTime(),
            request_id: e.requestId,
            principal_id: e.principalId ?? null,
            client_id: e.clientId ?? null,
            vault: e.vault ?? null,
            operation: e.operation,
            object_id: e.objectId ?? null,
            version: e.version ?? null,
            outcome: e.outcome,
            status: e.status,
            client_address: e.clientAddress,
            detail: e.detail ?? null,
            prev_hash: hash,
            hash: next,
          });
          hash = next;
        }
        // Stay under SQLite's 32,766 bound parameters per statement.
        for (let i = 0; i < rows.length; i += 500) {
          await trx
            .insertInto("audit_log")
            .values(rows.slice(i, i + 500))
            .execute();
        }
        await trx.updateTable("audit_head").set({ seq, hash }).where("id", "=", 1).execute();
      });
    },
    async read(afterSeq, limit) {
      const rows = await db
        .selectFrom("audit_log")
        .selectAll()
        .where("seq", ">", afterSeq)
        .orderBy("seq")
        .limit(limit)
        .execute();
      return rows.map(toRecord);
    },
    async head() {
      return db
        .selectFrom("audit_head")
        .select(["seq", "hash"])
        .where("id", "=", 1)
        .executeTakeFirstOrThrow();
    },
  };
}
