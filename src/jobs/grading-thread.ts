import { parentPort, workerData } from "node:worker_threads";
import { hmacAuditChain } from "../crypto/hmac-audit-chain.js";
import { type AuditScope, inAuditScope } from "../domain/audit/audit-scope.js";
import type { AuditEntry } from "../domain/audit/model.js";
import { systemClock } from "../domain/clock.js";
import {
  createGradingService,
  type GradingInputs,
  type GradingProgress,
} from "../domain/rules/grading-service.js";
import type { IdRange } from "../domain/rules/ports.js";
import { createChangeAudit } from "../storage/change-audit.js";
import { openDatabase } from "../storage/database.js";
import { createSqlGradingStore } from "../storage/sql-grading-store.js";

/**
 * A thread of grading-threads.ts: grades the ranges of records it is given, with connections of its
 * own to the database, by the inputs (rules, trust set, revoked, names) the calling thread read once
 * for the whole grading. Its writes carry their audit intent rows as the calling thread's would:
 * `audit` is the calling thread's audit entry, and the thread holds the audit chain's key.
 */
export type GradingTask =
  | { task: "grade"; session: number; inputs?: GradingInputs; range: IdRange; audit?: AuditEntry }
  | { task: "end"; session: number };

/** A range graded, and the audit intent rows its writes committed. */
export interface GradedRange {
  progress: GradingProgress;
  intents: number;
}

const port = parentPort;
if (!port) throw new Error("grading-thread.ts runs only as a worker thread");

const { url, poolSize, auditKey } = workerData as { url: string; poolSize: number; auditKey: Uint8Array };
const storage = openDatabase(url, { poolSize });
storage.changeAudit = createChangeAudit({
  engine: storage.engine,
  // Only SQLite appends through the audit service (its log is a file of its own); PostgreSQL writes
  // the intent rows in the change's transaction, which is where a grading thread runs.
  audit: {
    recordWritten: () => Promise.reject(new Error("grading threads write audit rows on PostgreSQL only")),
  },
  chain: hmacAuditChain(Buffer.from(auditKey)),
});
auditKey.fill(0);
const given = () => Promise.reject(new Error("a grading thread is given its inputs, it does not read them"));
const grading = createGradingService({
  store: createSqlGradingStore(storage),
  rules: { list: given, revision: given },
  anchors: given,
  vaultIds: given,
  caIds: given,
  clock: systemClock,
});
const sessions = new Map<number, GradingInputs>();
const never = new AbortController().signal;

port.on("message", async ({ id, work }: { id: number; work: GradingTask }) => {
  try {
    if (work.task === "end") {
      sessions.delete(work.session);
      port.postMessage({ id, result: null });
      return;
    }
    if (work.inputs) sessions.set(work.session, work.inputs);
    const inputs = sessions.get(work.session);
    if (!inputs) throw new Error(`grading session ${work.session} was never given its inputs`);
    const scope: AuditScope | undefined = work.audit && { entry: () => work.audit as AuditEntry, intents: 0 };
    const grade = () => grading.gradeRange(inputs, work.range, never);
    const progress = await (scope ? inAuditScope(scope, grade) : grade());
    const result: GradedRange = { progress, intents: scope?.intents ?? 0 };
    port.postMessage({ id, result });
  } catch (error) {
    port.postMessage({ id, error: (error as Error).message ?? String(error) });
  }
});
