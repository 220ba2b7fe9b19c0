import { parentPort, workerData } from "node:worker_threads";
import { systemClock } from "../domain/clock.js";
import { createGradingService, type GradingInputs } from "../domain/rules/grading-service.js";
import type { IdRange } from "../domain/rules/ports.js";
import { openDatabase } from "../storage/database.js";
import { createSqlGradingStore } from "../storage/sql-grading-store.js";

/**
 * A thread of grading-threads.ts: grades the ranges of records it is given, with connections of its
 * own to the database, by the inputs (rules, trust set, revoked, names) the calling thread read once
 * for the whole grading.
 */
export type GradingTask =
  | { task: "grade"; session: number; inputs?: GradingInputs; range: IdRange }
  | { task: "end"; session: number };

const port = parentPort;
if (!port) throw new Error("grading-thread.ts runs only as a worker thread");

const { url, poolSize } = workerData as { url: string; poolSize: number };
const storage = openDatabase(url, { poolSize });
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
    port.postMessage({ id, result: await grading.gradeRange(inputs, work.range, never) });
  } catch (error) {
    port.postMessage({ id, error: (error as Error).message ?? String(error) });
  }
});
