import type { AuditService } from "../domain/audit/audit-service.js";
import type { AuditSigner, CheckpointSink } from "../domain/audit/ports.js";
import type { Clock } from "../domain/clock.js";
import type { Job } from "../domain/jobs/ports.js";

export interface AuditCheckpointJobDeps {
  audit: Pick<AuditService, "checkpoint" | "completeInterrupted">;
  signer: AuditSigner;
  sinks: readonly CheckpointSink[];
  clock: Clock;
  intervalMs: number;
  /** Intents older than this with no outcome belong to a process that stopped. */
  intentTimeoutMs?: number;
}

/** No request or command holds an intent open longer than this; ACME orders wait in jobs, not requests. */
const INTENT_TIMEOUT_MS = 10 * 60_000;

/**
 * Signs a checkpoint of the audit log and sends it to every sink. A rollback of the database to a
 * copy older than the newest checkpoint a sink holds fails `audit verify --checkpoint`; so the
 * interval is the longest stretch of log that a rollback can hide. One sink failing does not keep
 * the others from getting it. Intents left by a process that stopped are completed first.
 */
export function createAuditCheckpointJob(deps: AuditCheckpointJobDeps): Job {
  return {
    name: "audit-checkpoint",
    intervalMs: deps.intervalMs,
    async run() {
      const now = deps.clock.now();
      const completed = await deps.audit.completeInterrupted(
        new Date(now.getTime() - (deps.intentTimeoutMs ?? INTENT_TIMEOUT_MS)),
        now,
      );
      const checkpoint = await deps.audit.checkpoint(deps.signer, now);
      const failed: string[] = [];
      for (const sink of deps.sinks) {
        try {
          await sink.send(checkpoint);
        } catch (error) {
          failed.push(`${sink.name}: ${(error as Error).message}`);
        }
      }
      const summary = `checkpoint at row ${checkpoint.seq} sent to ${deps.sinks.length - failed.length} of ${deps.sinks.length} sinks, ${completed} interrupted intents completed`;
      if (failed.length > 0) throw new Error(`${summary}; failed: ${failed.join("; ")}`);
      return summary;
    },
  };
}
