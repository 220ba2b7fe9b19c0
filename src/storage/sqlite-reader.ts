import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { threadCalls } from "../cluster/thread-calls.js";

/**
 * Long reads of a SQLite file on a thread of their own. better-sqlite3 runs a statement to its end
 * on the calling thread, so a read that scans half a million rows (an inventory's facet counts for
 * one key type) stops every other request of the process — a Key Vault `get`, the page of rows the
 * same browser asked for — until it ends. On this thread, through a read-only connection of its
 * own, it runs beside them on another core; WAL lets it read while the main connection writes, and
 * it sees the last commit before it began, as any reader does.
 */
export interface SqliteReader {
  /** The rows of one read-only statement, as objects keyed by column name. */
  all(sql: string, parameters: readonly unknown[]): Promise<Record<string, unknown>[]>;
  /** False once the thread has died: its reads fail, and a new reader should take its place. */
  alive(): boolean;
  /** Ends the thread and its connection, once the reads already asked have answered. */
  stop(): Promise<void>;
}

// Source text, as the checkpoint thread's is: the test runner loads the sources as TypeScript.
const WORKER_SOURCE = `
const { workerData, parentPort } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.file, { readonly: true, fileMustExist: true });
db.pragma("busy_timeout = 5000");
const statements = new Map();
parentPort.on("message", (message) => {
  if (message === "stop") {
    db.close();
    parentPort.close();
    return;
  }
  try {
    let statement = statements.get(message.sql);
    if (!statement) {
      if (statements.size >= 64) statements.clear();
      statement = db.prepare(message.sql);
      statements.set(message.sql, statement);
    }
    parentPort.postMessage({ id: message.id, result: statement.all(...message.parameters) });
  } catch (error) {
    parentPort.postMessage({ id: message.id, error: String(error && error.message || error) });
  }
});
`;

const driver = createRequire(import.meta.url).resolve("better-sqlite3");
const STOP_TIMEOUT_MS = 2000;

/** Starts the thread on `file`, which must exist. Reads run one at a time, in the order asked. */
export function startSqliteReader(file: string): SqliteReader {
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, driver } });
  const calls = threadCalls(worker, "the SQLite read thread");
  return {
    alive: () => calls.failure() === undefined,
    all: (sql, parameters) => calls.call({ sql, parameters }),
    async stop() {
      if (calls.failure()) return;
      worker.postMessage("stop");
      const timeout = setTimeout(() => void worker.terminate(), STOP_TIMEOUT_MS);
      await calls.exited;
      clearTimeout(timeout);
    },
  };
}
