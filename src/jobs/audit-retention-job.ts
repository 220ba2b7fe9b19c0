import type { AuditService } from "../domain/audit/audit-service.js";
import type { AuditCheckpoint, AuditRecord } from "../domain/audit/model.js";
import type { AuditSigner } from "../domain/audit/ports.js";
import type { Clock } from "../domain/clock.js";
import type { Job } from "../domain/jobs/ports.js";

export interface AuditRetentionJobDeps {
  audit: Pick<AuditService, "prune">;
  signer: AuditSigner;
  clock: Clock;
  retentionDays: number;
  /**
   * Stores the rows about to be pruned with the checkpoint signed at the cut, durably, before they
   * go: if it throws, nothing is pruned. Returns where.
   */
  archive(rows: AuditRecord[], checkpoint: AuditCheckpoint): Promise<string>;
}

const DAY_MS = 86_400_000;

/**
 * Archives audit rows older than the retention, then prunes them. The head's base moves to the last
 * pruned row under the audit key, so `audit verify` checks the kept log from its first row; the
 * archive carries a checkpoint signed at the cut, which proves the archived rows were the log's.
 */
export function createAuditRetentionJob(deps: AuditRetentionJobDeps): Job {
  return {
    name: "audit-retention",
    intervalMs: DAY_MS / 4,
    async run() {
      if (deps.retentionDays <= 0) return "retention off: 0 rows pruned";
      const now = deps.clock.now();
      let where = "";
      const cutoff = new Date(now.getTime() - deps.retentionDays * DAY_MS);
      const pruned = await deps.audit.prune(cutoff, deps.signer, now, async (rows, cut) => {
        where = await deps.archive(rows, cut);
      });
      return pruned === 0 ? "0 rows pruned" : `${pruned} rows archived to ${where} and pruned`;
    },
  };
}
