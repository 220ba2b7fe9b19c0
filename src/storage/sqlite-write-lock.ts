import type SQLite from "better-sqlite3";

/** What an attempt returns when another connection holds the write lock. */
export const busy: unique symbol = Symbol("busy");

/** How long a write waits for another process's transaction before it fails, as busy_timeout did. */
const WAIT_LIMIT_MS = 5000;

export interface SqliteWriteLock {
  /**
   * BEGIN IMMEDIATE without waiting: false when another connection holds the write lock. SQLite's
   * own busy handler sleeps in the calling thread, which here is the event loop of every request.
   */
  tryBegin(): boolean;
  commit(): void;
  rollback(): void;
}

/**
 * The write-lock statements of one connection, prepared once. `yieldLock` says when this process's
 * own checkpoint thread is waiting for the lock (sqlite-checkpointer.ts): BEGIN then reports busy.
 */
export function sqliteWriteLock(
  sqlite: SQLite.Database,
  busyTimeoutMs: number,
  yieldLock: () => boolean = () => false,
): SqliteWriteLock {
  // SQLite applies busy_timeout when the pragma is prepared, not when it runs: it is prepared anew
  // each time (a few microseconds).
  const noWait = "pragma busy_timeout = 0";
  const wait = `pragma busy_timeout = ${busyTimeoutMs}`;
  const begin = sqlite.prepare("begin immediate");
  const commit = sqlite.prepare("commit");
  const rollback = sqlite.prepare("rollback");
  return {
    tryBegin() {
      if (yieldLock()) return false;
      sqlite.exec(noWait);
      try {
        begin.run();
        return true;
      } catch (error) {
        // Extended codes count too: SQLITE_BUSY_RECOVERY while another connection (the checkpoint
        // thread, say) rebuilds a new WAL index, as CI saw on a fresh database.
        if (String((error as { code?: unknown }).code).startsWith("SQLITE_BUSY")) return false;
        throw error;
      } finally {
        sqlite.exec(wait);
      }
    },
    commit: () => void commit.run(),
    rollback: () => void rollback.run(),
  };
}

/** Transactions here hold the lock for well under a millisecond: retry on the next turns first. */
const SPIN_MS = 5;

/**
 * Runs `attempt` until it gets the write lock (it returns `busy` otherwise), yielding to the event
 * loop between tries: on the next turn for the first few milliseconds, then every millisecond, for
 * at most five seconds.
 */
export async function untilLocked<T>(attempt: () => Promise<T | typeof busy>): Promise<T> {
  const started = Date.now();
  for (;;) {
    const outcome = await attempt();
    if (outcome !== busy) return outcome;
    const waited = Date.now() - started;
    if (waited > WAIT_LIMIT_MS) {
      throw new Error(`the database stayed locked by another process for ${WAIT_LIMIT_MS / 1000} s`);
    }
    await new Promise((resolve) => (waited < SPIN_MS ? setImmediate(resolve) : setTimeout(resolve, 1)));
  }
}
