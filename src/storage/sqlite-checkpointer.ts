import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

/**
 * WAL checkpoints for SQLite files, on a thread of their own instead of in the commit that crosses
 * SQLite's automatic threshold. A checkpoint copies the log's pages into the database and syncs both
 * files; done by the writing connection, that stalls the event loop of whichever request committed:
 * about 125 us per certificate created, half of its commit (measured, see BENCHMARKS.md). A passive
 * checkpoint from another connection takes no lock that readers or writers wait on.
 *
 * Passive checkpoints alone let the log grow without bound under a steady stream of writes (bulk
 * inventory ingest took it to 15 GB): SQLite rewinds the log only when a writer starts after a
 * checkpoint has copied every frame, and a writer that commits again before each checkpoint ends
 * never sees that. Past `walLimitBytes` the thread therefore runs a TRUNCATE checkpoint, which needs
 * the write lock, holds writers off while it copies, and empties the file. A writer that commits and
 * begins again within microseconds (a bulk ingest does) would win every race for the lock against
 * SQLite's sleeping busy handler, so the thread raises a flag in shared memory first: `waiting(i)`
 * tells this process's writers on file `i` to let it in (see sqlite-write-lock.ts), and they retry
 * their BEGIN on the event loop meanwhile. That wait is the ingest's back-pressure.
 */
export interface Checkpointer {
  /** Whether the thread is waiting for the write lock of file `index` to empty its log. */
  waiting(index: number): boolean;
  /** Stops the thread and closes its connections, so the last connection to close removes the log. */
  stop(): Promise<void>;
}

const INTERVAL_MS = 100;
const STOP_TIMEOUT_MS = 2000;
/** A log this large is emptied even if writers have to wait for it. */
export const WAL_LIMIT_BYTES = 64 * 1024 * 1024;
/**
 * How long the truncating checkpoint waits for the write lock: the lock is free between transactions,
 * and SQLite's busy handler retries every few milliseconds, so this is many chances, not one wait.
 */
const TRUNCATE_WAIT_MS = 2000;

// The worker is given as source text: a module file would exist only in dist/ as JavaScript, and
// the test runner loads the sources as TypeScript. It needs nothing but the driver, by its path.
const WORKER_SOURCE = `
const { workerData, parentPort } = require("node:worker_threads");
const { statSync } = require("node:fs");
const Database = require(workerData.driver);
const connections = workerData.files.map((file) => {
  const db = new Database(file, { fileMustExist: true });
  db.pragma("busy_timeout = 0");
  db.pragma("synchronous = NORMAL");
  return db;
});
const walSize = (db) => {
  try {
    return statSync(db.name + "-wal").size;
  } catch {
    return 0;
  }
};
const waiting = new Int32Array(workerData.waiting);
const checkpoint = () => {
  for (const [index, db] of connections.entries()) {
    try {
      if (walSize(db) <= workerData.walLimitBytes) {
        db.pragma("wal_checkpoint(PASSIVE)");
        continue;
      }
      Atomics.store(waiting, index, 1);
      db.pragma("busy_timeout = " + workerData.truncateWaitMs);
      try {
        db.pragma("wal_checkpoint(TRUNCATE)");
      } finally {
        Atomics.store(waiting, index, 0);
        db.pragma("busy_timeout = 0");
      }
    } catch (error) {
      if (!/^SQLITE_(BUSY|LOCKED)/.test(String(error.code))) throw error;
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
  options: { driver?: string; walLimitBytes?: number | undefined } = {},
): Checkpointer {
  const waiting = new Int32Array(new SharedArrayBuffer(4 * files.length));
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      files,
      intervalMs: INTERVAL_MS,
      driver: options.driver ?? driver,
      walLimitBytes: options.walLimitBytes ?? WAL_LIMIT_BYTES,
      truncateWaitMs: TRUNCATE_WAIT_MS,
      waiting: waiting.buffer,
    },
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
    waiting: (index) => Atomics.load(waiting, index) === 1,
    async stop() {
      ended = true;
      worker.postMessage("stop");
      const timeout = setTimeout(() => void worker.terminate(), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timeout);
    },
  };
}
