import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

/**
 * WAL checkpoints for SQLite files, on a thread of their own instead of in the commit that crosses
 * SQLite's automatic threshold. A checkpoint copies the log's pages into the database and syncs both
 * files; done by the writing connection, that stalls the event loop of whichever request committed:
 * about 125 us per certificate created, half of its commit (measured, see BENCHMARKS.md). A passive
 * checkpoint from another connection takes no lock that readers or writers wait on.
 */
export interface Checkpointer {
  /** Stops the thread and closes its connections, so the last connection to close removes the log. */
  stop(): Promise<void>;
}

const INTERVAL_MS = 100;
const STOP_TIMEOUT_MS = 2000;

// The worker is given as source text: a module file would exist only in dist/ as JavaScript, and
// the test runner loads the sources as TypeScript. It needs nothing but the driver, by its path.
const WORKER_SOURCE = `
const { workerData, parentPort } = require("node:worker_threads");
const Database = require(workerData.driver);
const connections = workerData.files.map((file) => {
  const db = new Database(file, { fileMustExist: true });
  db.pragma("busy_timeout = 0");
  db.pragma("synchronous = NORMAL");
  return db;
});
const checkpoint = () => {
  for (const db of connections) {
    try {
      db.pragma("wal_checkpoint(PASSIVE)");
    } catch (error) {
      if (error.code !== "SQLITE_BUSY" && error.code !== "SQLITE_LOCKED") throw error;
    }
  }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on("message", () => {
  clearInterval(timer);
  checkpoint();
  for (const db of connections) db.close();
  parentPort.close();
});
`;

const driver = createRequire(import.meta.url).resolve("better-sqlite3");

/**
 * Starts checkpointing `files` every INTERVAL_MS. `onFailure` runs if the thread cannot start or
 * dies: the caller then turns automatic checkpoints back on, so the log cannot grow without bound.
 */
export function startCheckpointer(
  files: string[],
  onFailure: (error: Error) => void,
  options: { driver?: string } = {},
): Checkpointer {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { files, intervalMs: INTERVAL_MS, driver: options.driver ?? driver },
  });
  // A server's last request must not wait for this thread to let the process exit.
  worker.unref();
  let ended = false;
  const fail = (error: Error) => {
    if (ended) return;
    ended = true;
    onFailure(error);
  };
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  worker.once("error", fail);
  worker.once("exit", (code) => fail(new Error(`the checkpoint thread exited with code ${code}`)));
  return {
    async stop() {
      ended = true;
      worker.postMessage("stop");
      const timeout = setTimeout(() => void worker.terminate(), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timeout);
    },
  };
}
