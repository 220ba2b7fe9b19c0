import type { Kysely } from "kysely";
import type { AuditScope } from "../domain/audit/audit-scope.js";
import type { AuditService } from "../domain/audit/audit-service.js";
import { auditUnavailable } from "../domain/audit/audit-unavailable.js";
import type { AuditEntry } from "../domain/audit/model.js";
import type { AuditChain } from "../domain/audit/ports.js";
import type { Engine } from "./database.js";
import type { Database } from "./schema.js";
import { appendInTransaction } from "./sql-audit-store.js";

/** What one of several changes made in one transaction adds to the scope's entry. */
export type ChangeIntent = Pick<AuditEntry, "vault" | "objectId" | "version" | "detail">;

/** Writes a change's intent row as part of the change's own transaction. */
export interface ChangeAudit {
  /**
   * Runs last inside the change's transaction: if it throws, the change rolls back. With
   * `intents`, one row for each (a batch that changes many objects), else one for the transaction.
   */
  beforeCommit(trx: Kysely<Database>, scope: AuditScope, intents?: readonly ChangeIntent[]): Promise<void>;
}

/**
 * On PostgreSQL the intent row is inserted in the change's transaction itself. On SQLite the log is a
 * file of its own (so that reads' rows do not invalidate every process's read cache), and SQLite
 * does not commit two WAL files atomically: the intent row is committed to the log first, while the
 * change's transaction still holds the main file's write lock, and the change then records the row's
 * sequence number beside itself (`audit_changes`) before it commits. A crash between the two leaves
 * an intent whose change never happened, which recovery completes as "not committed"; never a change
 * without its row.
 */
export function createChangeAudit(deps: {
  engine: Engine;
  audit: Pick<AuditService, "recordWritten">;
  chain: AuditChain;
}): ChangeAudit {
  return {
    async beforeCommit(trx, scope, intents) {
      const base = { ...scope.entry(), outcome: "pending" as const, status: 0 };
      const entries = intents && intents.length > 0 ? intents.map((i) => ({ ...base, ...i })) : [base];
      let rows: { seq: number; hash: string }[];
      try {
        rows =
          deps.engine === "postgres"
            ? await appendInTransaction(trx, entries, deps.chain)
            : await Promise.all(entries.map((e) => deps.audit.recordWritten(e)));
      } catch (error) {
        throw auditUnavailable(error);
      }
      try {
        await trx
          .insertInto("audit_changes")
          .values(
            rows.map((row) => ({
              seq: row.seq,
              request_id: base.requestId,
              mac: deps.chain.mac("change", row.seq, row.hash),
            })),
          )
          .execute();
      } catch (error) {
        throw auditUnavailable(error);
      }
      scope.intents += rows.length;
    },
  };
}
